package dispatch

import (
	"errors"
	"strings"
	"testing"
)

func TestReassignRoutesTheTicketToTheNewDistrictsTeam(t *testing.T) {
	s := testService(t, testConfig(""), t.TempDir(), nil)
	tk := mustCreate(t, s, input(1, "street_vending", "cam-2", "market", 0.5)) // east, review required
	if tk.District != "east" || tk.Team != "enforcement" {
		t.Fatalf("created in %q/%q, want east/enforcement", tk.District, tk.Team)
	}
	moved, err := s.Reassign(t.Context(), tk.ID, tk.Version, "north", "李娜", "wrong side of the street")
	if err != nil {
		t.Fatal(err)
	}
	if moved.District != "north" || moved.Team != "north-chengguan" || moved.Version != tk.Version+1 {
		t.Fatalf("after reassign: %q/%q v%d", moved.District, moved.Team, moved.Version)
	}
	// The same stale version again: a conflict.
	if _, err := s.Reassign(t.Context(), tk.ID, tk.Version, "east", "张伟", ""); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale reassign: %v, want ErrConflict", err)
	}
	if _, err := s.Reassign(t.Context(), tk.ID, moved.Version, "nowhere", "张伟", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown district: %v, want ErrInvalid", err)
	}
	noted, err := s.AddNote(t.Context(), tk.ID, moved.Version, "李娜", "vendor gone at 10:15")
	if err != nil || noted.Status != moved.Status {
		t.Fatalf("note: %v, status %s", err, noted.Status)
	}
	audit, err := s.Audit(t.Context(), tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for _, a := range audit {
		log = append(log, a.Actor+" "+string(a.Kind)+": "+a.Note)
	}
	joined := strings.Join(log, "\n")
	for _, want := range []string{"李娜 reassign: east → north (team north-chengguan); wrong side of the street", "李娜 note: vendor gone at 10:15"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit lacks %q:\n%s", want, joined)
		}
	}
	// A dispatched ticket stays where its work order went.
	done := force(t, s, tk.ID, StatusDispatched)
	if _, err := s.Reassign(t.Context(), tk.ID, done.Version, "east", "张伟", ""); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("reassigning a dispatched ticket: %v, want ErrIllegalTransition", err)
	}
}
