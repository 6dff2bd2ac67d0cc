package dispatch

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// A database written before audit entries had a kind column (schema 1)
// opens, and each old entry gets the kind its note prefix told, with the
// prefixes that only named the kind dropped.
func TestSchema1DatabaseOpensAndItsAuditEntriesGetTheirKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tickets.db")
	old, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro()
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		sqliteMigrations(t)[0],
		`INSERT INTO schema_version VALUES (1, 0)`,
		`INSERT INTO tickets (id, violation_id, type, camera_id, camera_name, zone, lat, lon, address, district, team,
			first_seen, confirmed_at, confidence, model_name, model_version, evidence_prefix, evidence_files,
			manifest_sha256, status, version, created_at, updated_at)
		VALUES ('T1', 'V1', 'street_vending', 'cam', 'Cam', 'kerb', 0, 0, '', 'north', 'crew',
			0, 0, 0.9, 'm', '1', 'p/', '[]', 'ab', 'rejected', 6, 0, 0)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Exactly what the service wrote before: the kind in a note prefix.
	entries := []struct{ from, to, reason, note string }{
		{"", "pending_review", "", "created; review required"},
		{"pending_review", "pending_review", "", "note: vendor gone at 10:15"},
		{"pending_review", "pending_review", "", "district east → north (team north-chengguan); wrong side"},
		{"pending_review", "pending_review", "", "keep evidence: true; court case"},
		{"pending_review", "pending_review", "", "note: district meeting at 9"},
		{"pending_review", "rejected", "other", "note: not ours"},
	}
	for _, e := range entries {
		if _, err := old.Exec(`INSERT INTO audit (ticket_id, at, actor, from_status, to_status, reason, note) VALUES ('T1', ?, '李娜', ?, ?, ?, ?)`,
			at, e.from, e.to, e.reason, e.note); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Audit(t.Context(), "T1")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind AuditKind
		note string
	}{
		{AuditStatus, "created; review required"},
		{AuditNote, "vendor gone at 10:15"},
		{AuditReassign, "east → north (team north-chengguan); wrong side"},
		{AuditKeep, "keep evidence: true; court case"},
		{AuditNote, "district meeting at 9"},
		{AuditStatus, "note: not ours"}, // a status change's note is the reviewer's own
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Kind != w.kind || got[i].Note != w.note {
			t.Errorf("entry %d: %s %q, want %s %q", i, got[i].Kind, got[i].Note, w.kind, w.note)
		}
	}
	// New entries name their kind themselves.
	if _, err := db.UpdateTicket(t.Context(), "T1", time.Now(), func(tk *Ticket) (Change, error) {
		return Change{Audit: &AuditEntry{Kind: AuditNote, Actor: "张伟", From: tk.Status, To: tk.Status, Note: "again"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Audit(t.Context(), "T1"); got[len(got)-1].Kind != AuditNote || got[len(got)-1].Note != "again" {
		t.Errorf("new entry %+v", got[len(got)-1])
	}
	if _, err := db.UpdateTicket(t.Context(), "T1", time.Now(), func(tk *Ticket) (Change, error) {
		return Change{Audit: &AuditEntry{Actor: "张伟", From: tk.Status, To: tk.Status}}, nil
	}); err == nil {
		t.Error("an audit entry without a kind was stored")
	}
}
