package dispatch

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Review statistics on a real SQLite file: each ticket counts by its first
// verdict of a person out of pending_review (StreetWatch's own withdrawals
// and policy confirmations are not reviews), precision is confirmed /
// reviewed, the median time to review is from ticket to verdict; the API
// gives the same as JSON and CSV, and the metrics count the verdicts.
func TestReviewStatsCountPeoplesVerdictsByGroup(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		s := testService(t, testConfig(""), t.TempDir(), reg)
		now := baseTime
		s.now = func() time.Time { return now }
		ctx := t.Context()
		create := func(i int, typ, camera, zone string, confidence float32, version string) *Ticket {
			in := input(i, typ, camera, zone, confidence)
			if version != "" {
				in.ModelVersion = version
			}
			now = in.Violation.ConfirmedAt
			return mustCreate(t, s, in)
		}
		decide := func(tk *Ticket, after time.Duration, to Status, reason, actor string) {
			t.Helper()
			now = tk.CreatedAt.Add(after)
			req := TransitionRequest{To: to, Reason: reason, Version: tk.Version, Actor: actor}
			if to == StatusRejected && reason == ReasonOther {
				req.Note = "see the clip"
			}
			if _, err := s.transition(ctx, tk.ID, req, nil); err != nil {
				t.Fatal(err)
			}
		}
		decide(create(1, "illegal_dumping", "cam-1", "kerb", 0.9, ""), 10*time.Minute, StatusConfirmed, "", "alice")
		decide(create(2, "illegal_dumping", "cam-1", "kerb", 0.9, ""), 30*time.Minute, StatusRejected, ReasonFalsePositive, "alice")
		decide(create(3, "illegal_dumping", "cam-2", "market", 0.9, ""), 20*time.Minute, StatusConfirmed, "", "bob")
		decide(create(4, "street_vending", "cam-2", "market", 0.5, ""), time.Hour, StatusRejected, ReasonDuplicate, "bob")
		create(5, "illegal_dumping", "cam-2", "market", 0.9, "")                                         // pending
		if tk := create(6, "garbage_pile", "cam-1", "kerb", 0.9, ""); tk.Status == StatusPendingReview { // confirmed by policy
			t.Fatalf("garbage_pile is auto-confirmed in testConfig, got %s", tk.Status)
		}
		decide(create(7, "illegal_dumping", "cam-1", "kerb", 0.9, ""), time.Minute, StatusRejected, ReasonOther, SystemActor) // withdrawn
		decide(create(8, "illegal_dumping", "cam-1", "lane", 0.9, "2.0"), 5*time.Minute, StatusConfirmed, "", "alice")
		create(3*24*60, "illegal_dumping", "cam-1", "kerb", 0.9, "") // three days later: outside the period

		from, to := baseTime.Truncate(24*time.Hour), baseTime.Truncate(24*time.Hour).AddDate(0, 0, 1)
		st, err := s.ReviewStats(ctx, from, to, ByCamera)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Groups) != 2 {
			t.Fatalf("groups %+v", st.Groups)
		}
		type counts struct{ cases, reviewed, confirmed, rejected, pending, unreviewed int }
		check := func(g ReviewStat, want counts, precision, median float64, rejectedBy map[string]int) {
			t.Helper()
			got := counts{g.Cases, g.Reviewed, g.Confirmed, g.Rejected, g.Pending, g.Unreviewed}
			if got != want {
				t.Errorf("%s: %+v, want %+v", g.Key, got, want)
			}
			if g.Precision == nil || *g.Precision != precision || g.MedianReviewSeconds == nil || *g.MedianReviewSeconds != median {
				t.Errorf("%s: precision %v, median %v s; want %v, %v s", g.Key, deref(g.Precision), deref(g.MedianReviewSeconds), precision, median)
			}
			if len(g.RejectedBy) != len(rejectedBy) {
				t.Errorf("%s: rejected by %v, want %v", g.Key, g.RejectedBy, rejectedBy)
			}
			for r, n := range rejectedBy {
				if g.RejectedBy[r] != n {
					t.Errorf("%s: rejected by %v, want %v", g.Key, g.RejectedBy, rejectedBy)
				}
			}
		}
		check(st.Groups[0], counts{5, 3, 2, 1, 0, 2}, 2.0/3, 600, map[string]int{ReasonFalsePositive: 1})
		check(st.Groups[1], counts{3, 2, 1, 1, 1, 0}, 0.5, 2400, map[string]int{ReasonDuplicate: 1})
		check(st.Total, counts{8, 5, 3, 2, 1, 2}, 0.6, 1200, map[string]int{ReasonFalsePositive: 1, ReasonDuplicate: 1})
		if st.Groups[0].Label != "Camera cam-1" {
			t.Errorf("label %q", st.Groups[0].Label)
		}

		byModel, err := s.ReviewStats(ctx, from, to, ByModel)
		if err != nil || len(byModel.Groups) != 2 || byModel.Groups[0].Key != "streetwatch-demo 1.0" || byModel.Groups[0].Cases != 7 ||
			byModel.Groups[1].Key != "streetwatch-demo 2.0" || byModel.Groups[1].Confirmed != 1 {
			t.Errorf("by model: %+v %v", byModel.Groups, err)
		}
		byZone, err := s.ReviewStats(ctx, from, to, ByZone)
		if err != nil || len(byZone.Groups) != 3 || byZone.Groups[0].Key != "cam-1/kerb" || byZone.Groups[0].Cases != 4 {
			t.Errorf("by zone: %+v %v", byZone.Groups, err)
		}

		a := newAPI(t, s)
		var got ReviewStats
		if code, body := a.do("GET", "/api/v1/stats?from=2026-01-02&to=2026-01-02&by=type", nil, &got); code != http.StatusOK ||
			len(got.Groups) != 3 || got.Groups[1].Key != "illegal_dumping" || got.Groups[1].Cases != 6 || got.Total.Cases != 8 {
			t.Errorf("by type: %d %s", code, body)
		}
		resp, err := http.Get(a.srv.URL + "/api/v1/stats?from=2026-01-02&to=2026-01-02&format=csv")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rows, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil || len(rows) != 4 {
			t.Fatalf("csv: %v %q", err, rows)
		}
		if h := strings.Join(rows[0], ","); h != "camera,label,cases,reviewed,confirmed,rejected,rejected_false_positive,rejected_duplicate,"+
			"rejected_not_a_violation,rejected_other,pending,unreviewed,precision,median_review_seconds" {
			t.Errorf("csv header %s", h)
		}
		if r := strings.Join(rows[1], ","); r != "cam-1,Camera cam-1,5,3,2,1,1,0,0,0,0,2,0.667,600" {
			t.Errorf("csv cam-1 row %s", r)
		}
		if r := strings.Join(rows[3], ","); r != "all,,8,5,3,2,1,1,0,0,1,2,0.600,1200" {
			t.Errorf("csv total row %s", r)
		}
		for _, c := range []struct{ path, says string }{
			{"/api/v1/stats?from=2026-01-02", "to:"},
			{"/api/v1/stats?from=2026-01-02&to=2026-01-01", "must not be before"},
			{"/api/v1/stats?from=2025-01-01&to=2026-01-02", "at most 366 days"},
			{"/api/v1/stats?from=2026-01-02&to=2026-01-02&by=district", "by: one of"},
			{"/api/v1/stats?from=2026-01-02&to=2026-01-02&camera=x", "unknown query parameter"},
		} {
			if code, body := a.do("GET", c.path, nil, nil); code != http.StatusBadRequest || !strings.Contains(body, c.says) {
				t.Errorf("%s: %d %s", c.path, code, body)
			}
		}

		// People's verdicts in metrics; the withdrawal is not one.
		for _, c := range []struct {
			camera, typ, verdict string
			want                 float64
		}{
			{"cam-1", "illegal_dumping", "confirmed", 2}, {"cam-1", "illegal_dumping", "rejected", 1},
			{"cam-2", "street_vending", "rejected", 1}, {"cam-2", "illegal_dumping", "confirmed", 1},
		} {
			if got := testutil.ToFloat64(s.metrics.Reviews.WithLabelValues(c.camera, c.typ, c.verdict)); got != c.want {
				t.Errorf("reviews{%s,%s,%s} = %v, want %v", c.camera, c.typ, c.verdict, got, c.want)
			}
		}
		if n := testutil.CollectAndCount(s.metrics.ReviewLatency); n != 2 {
			t.Errorf("review latency series: %d, want 2 (illegal_dumping, street_vending)", n)
		}
	})
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
