package review

import (
	"context"
	"encoding/csv"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/streetwatch/streetwatch/dispatch"
)

// The statistics page counts reviewers' verdicts per camera (or type,
// zone, model) over a period, flags a camera whose precision is below
// the configured level, and links the same numbers as CSV from the API.
func TestStatsPageCountsVerdictsAndFlagsLowPrecisionCameras(t *testing.T) {
	f := newFixture(t, func(s *Server) {
		s.Config.PrecisionWarning, s.Config.PrecisionMinReviewed = 0.7, 1
	})
	f.rev.Stats = f.svc
	ctx := context.Background()
	// tickets: 0 dumping on station-1, 1 vending on street-2, 2 pile on station-1 (all pending review).
	if _, err := f.svc.Transition(ctx, f.tickets[0].ID, dispatch.TransitionRequest{To: dispatch.StatusRejected,
		Reason: dispatch.ReasonFalsePositive, Version: f.tickets[0].Version, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Transition(ctx, f.tickets[1].ID, dispatch.TransitionRequest{To: dispatch.StatusConfirmed,
		Version: f.tickets[1].Version, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	c := f.client()
	if a := c.get("/stats"); a.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", a.status)
	}
	c.signIn("vera")
	page := c.get("/stats?from=2026-11-25&to=2026-11-25&lang=en")
	if page.status != http.StatusOK {
		t.Fatalf("/stats: %d %s", page.status, page.body)
	}
	station := row(t, page.body, "data-key", "station-1")
	for col, want := range map[string]string{"cases": "2", "reviewed": "1", "confirmed": "0", "pending": "1", "precision": "0%"} {
		if got := cell(t, station, col); got != want {
			t.Errorf("station-1 %s = %q, want %q", col, got, want)
		}
	}
	if !strings.Contains(station, "precision-warning") || !strings.Contains(station, "false positive 1") {
		t.Errorf("station-1 row lacks its warning or reject reason: %s", station)
	}
	street := row(t, page.body, "data-key", "street-2")
	if cell(t, street, "precision") != "100%" || strings.Contains(street, "precision-warning") {
		t.Errorf("street-2 row: %s", street)
	}
	if total := row(t, page.body, "data-key", "all"); cell(t, total, "cases") != "3" || cell(t, total, "precision") != "50%" {
		t.Errorf("total row: %s", total)
	}
	if !strings.Contains(page.body, `href="/stats" class="current"`) {
		t.Error("the menu does not mark the statistics entry")
	}

	byType := c.get("/stats?from=2026-11-25&to=2026-11-25&by=type&lang=zh-CN")
	if tr := row(t, byType.body, "data-key", "garbage_pile"); cell(t, tr, "pending") != "1" || !strings.Contains(byType.body, "审核统计") {
		t.Errorf("by type in Chinese: %s", tr)
	}
	m := regexp.MustCompile(`href="([^"]+)" id="csv"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatal("no CSV link")
	}
	a := c.get(html.UnescapeString(m[1]))
	rows, err := csv.NewReader(strings.NewReader(a.body)).ReadAll()
	if a.status != http.StatusOK || err != nil || len(rows) != 4 || rows[1][0] != "station-1" || rows[1][2] != "2" {
		t.Errorf("CSV %s: %d %v %q", m[1], a.status, err, rows)
	}
	for _, path := range []string{"/stats?from=2026-11-26&to=2026-11-25", "/stats?from=yesterday", "/stats?by=district"} {
		if a := c.get(path); a.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", path, a.status)
		}
	}
	// A period with nothing in it.
	if empty := c.get("/stats?from=2026-01-01&to=2026-01-07&lang=en"); !strings.Contains(empty.body, "No cases in this period.") {
		t.Errorf("empty period: %s", empty.body)
	}
}
