package dispatch

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Verdict is a ticket and the first verdict a person gave it: confirmed
// or rejected out of pending_review (At zero: none yet). Withdrawals by
// StreetWatch itself (reconciliation) are not a person's verdict.
type Verdict struct {
	TicketID     string
	Camera       string
	CameraName   string
	Type         string
	Zone         string
	Model        string // "name version"
	CreatedAt    time.Time
	Status       Status // now
	At           time.Time
	To           Status // StatusConfirmed or StatusRejected
	RejectReason string
}

// VerdictStore reads verdicts for the review statistics. The SQL stores
// implement it.
type VerdictStore interface {
	// Verdicts returns the tickets confirmed in [from, to) with their
	// first verdict, at most limit of them.
	Verdicts(ctx context.Context, from, to time.Time, limit int) ([]Verdict, error)
}

// Verdicts implements VerdictStore.
func (s *sqlStore) Verdicts(ctx context.Context, from, to time.Time, limit int) ([]Verdict, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT t.id, t.camera_id, t.camera_name, t.type, t.zone, t.model_name, t.model_version,
			t.created_at, t.status, v.at, v.to_status, v.reason
		FROM tickets t
		LEFT JOIN audit v ON v.id = (SELECT a.id FROM audit a WHERE a.ticket_id = t.id AND a.kind = 'status'
			AND a.actor != ? AND a.from_status = ? AND a.to_status IN (?, ?) ORDER BY a.id LIMIT 1)
		WHERE t.confirmed_at >= ? AND t.confirmed_at < ?
		ORDER BY t.confirmed_at LIMIT ?`,
		SystemActor, StatusPendingReview, StatusConfirmed, StatusRejected, micros(from), micros(to), limit)
	if err != nil {
		return nil, fmt.Errorf("verdicts: %w", err)
	}
	defer rows.Close()
	var out []Verdict
	for rows.Next() {
		var v Verdict
		var name, version string
		var created int64
		var at sql.NullInt64
		var to, reason sql.NullString
		if err := rows.Scan(&v.TicketID, &v.Camera, &v.CameraName, &v.Type, &v.Zone, &name, &version, &created, &v.Status, &at, &to, &reason); err != nil {
			return nil, fmt.Errorf("verdicts: %w", err)
		}
		v.Model = strings.TrimSpace(name + " " + version)
		v.CreatedAt = fromMicros(created)
		if at.Valid {
			v.At, v.To, v.RejectReason = fromMicros(at.Int64), Status(to.String), reason.String
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Groupings of the review statistics.
const (
	ByCamera = "camera"
	ByType   = "type"
	ByZone   = "zone"  // camera and zone
	ByModel  = "model" // model name and version
)

// StatsGroupings are the groupings ReviewStats accepts.
var StatsGroupings = []string{ByCamera, ByType, ByZone, ByModel}

// ReviewStat is one group of tickets in the review statistics.
type ReviewStat struct {
	// Key is the group's value (camera id, type, "camera/zone", model);
	// Label names it for people (a camera's name).
	Key   string `json:"key"`
	Label string `json:"label"`
	// Cases were confirmed by the pipeline in the period; Reviewed of
	// them have a person's verdict, Confirmed or Rejected (RejectedBy
	// reason); Pending wait for one; Unreviewed never needed one
	// (confirmed automatically by the review policy, or withdrawn by
	// StreetWatch before anyone looked).
	Cases      int            `json:"cases"`
	Reviewed   int            `json:"reviewed"`
	Confirmed  int            `json:"confirmed"`
	Rejected   int            `json:"rejected"`
	RejectedBy map[string]int `json:"rejected_by"`
	Pending    int            `json:"pending"`
	Unreviewed int            `json:"unreviewed"`
	// Precision is Confirmed / Reviewed (nil when nothing was reviewed);
	// MedianReviewSeconds the median time from ticket to verdict.
	Precision           *float64 `json:"precision"`
	MedianReviewSeconds *float64 `json:"median_review_seconds"`
}

// ReviewStats are the statistics of one period and grouping.
type ReviewStats struct {
	By     string       `json:"by"`
	Groups []ReviewStat `json:"groups"`
	Total  ReviewStat   `json:"total"`
	// Truncated says the period held more than maxStatsTickets tickets:
	// the numbers cover the first ones.
	Truncated bool `json:"truncated"`
}

// maxStatsTickets bounds the tickets one statistics request reads.
const maxStatsTickets = 200_000

// ReviewStats counts the tickets confirmed in [from, to) by grouping.
func (s *Service) ReviewStats(ctx context.Context, from, to time.Time, by string) (ReviewStats, error) {
	vs, ok := s.store.(VerdictStore)
	if !ok {
		return ReviewStats{}, errors.New("review statistics: the ticket store cannot list verdicts")
	}
	if !slices.Contains(StatsGroupings, by) {
		return ReviewStats{}, fmt.Errorf("review statistics: no grouping %q", by)
	}
	verdicts, err := vs.Verdicts(ctx, from, to, maxStatsTickets+1)
	if err != nil {
		return ReviewStats{}, err
	}
	out := ReviewStats{By: by, Truncated: len(verdicts) > maxStatsTickets}
	if out.Truncated {
		verdicts = verdicts[:maxStatsTickets]
	}
	type acc struct {
		stat  ReviewStat
		waits []float64
	}
	groups := map[string]*acc{}
	total := &acc{stat: ReviewStat{Key: "all"}}
	for _, v := range verdicts {
		key, label := v.Camera, v.CameraName
		switch by {
		case ByType:
			key, label = v.Type, v.Type
		case ByZone:
			key, label = v.Camera+"/"+v.Zone, v.CameraName+" / "+v.Zone
		case ByModel:
			key, label = v.Model, v.Model
		}
		g, ok := groups[key]
		if !ok {
			g = &acc{stat: ReviewStat{Key: key, Label: label}}
			groups[key] = g
		}
		for _, a := range []*acc{g, total} {
			a.stat.Cases++
			switch v.To {
			case StatusConfirmed:
				a.stat.Confirmed++
			case StatusRejected:
				a.stat.Rejected++
				if a.stat.RejectedBy == nil {
					a.stat.RejectedBy = map[string]int{}
				}
				a.stat.RejectedBy[v.RejectReason]++
			default:
				if v.Status == StatusPendingReview {
					a.stat.Pending++
				} else {
					a.stat.Unreviewed++
				}
				continue
			}
			a.stat.Reviewed++
			a.waits = append(a.waits, max(0, v.At.Sub(v.CreatedAt).Seconds()))
		}
	}
	finish := func(a *acc) ReviewStat {
		st := a.stat
		if st.RejectedBy == nil {
			st.RejectedBy = map[string]int{}
		}
		if st.Reviewed > 0 {
			p := float64(st.Confirmed) / float64(st.Reviewed)
			m := median(a.waits)
			st.Precision, st.MedianReviewSeconds = &p, &m
		}
		return st
	}
	for _, g := range groups {
		out.Groups = append(out.Groups, finish(g))
	}
	sort.Slice(out.Groups, func(i, j int) bool { return out.Groups[i].Key < out.Groups[j].Key })
	out.Total = finish(total)
	return out, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

var statsParams = map[string]bool{"from": true, "to": true, "by": true, "format": true}

// maxStatsDays bounds one statistics period (a year).
const maxStatsDays = 366

// apiStats serves GET /api/v1/stats?from=DAY&to=DAY&by=camera|type|zone|model
// as JSON or, with format=csv, as CSV (days in the report time zone,
// both included).
func (s *Service) apiStats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, statsParams) {
		return
	}
	from, to, msg := StatsPeriod(q.Get("from"), q.Get("to"), s.reportLoc())
	if msg != "" {
		apiError(w, http.StatusBadRequest, "bad_request", msg)
		return
	}
	by := q.Get("by")
	if by == "" {
		by = ByCamera
	}
	if !slices.Contains(StatsGroupings, by) {
		apiError(w, http.StatusBadRequest, "bad_request", "by: one of "+strings.Join(StatsGroupings, ", "))
		return
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		apiError(w, http.StatusBadRequest, "bad_request", "format: json or csv")
		return
	}
	st, err := s.ReviewStats(r.Context(), from, to, by)
	if err != nil {
		s.internalError(w, err)
		return
	}
	if format != "csv" {
		if st.Groups == nil {
			st.Groups = []ReviewStat{}
		}
		writeJSON(w, http.StatusOK, st)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="review-stats-%s-%s-%s.csv"`,
		by, q.Get("from"), q.Get("to")))
	WriteStatsCSV(w, st)
}

// StatsPeriod parses a statistics period of days (from and to, both
// included, in loc) into [from, to); msg names the bad field.
func StatsPeriod(fromDay, toDay string, loc *time.Location) (from, to time.Time, msg string) {
	first, last, msg := dayRange(fromDay, toDay, loc, maxStatsDays)
	return first, last.AddDate(0, 0, 1), msg
}

// statsReasons are the reject reasons with a CSV column of their own.
var statsReasons = []string{ReasonFalsePositive, ReasonDuplicate, ReasonNotViolation, ReasonOther}

// WriteStatsCSV writes the statistics as CSV with a header row, the total
// last.
func WriteStatsCSV(w io.Writer, st ReviewStats) {
	cw := csv.NewWriter(w)
	head := []string{st.By, "label", "cases", "reviewed", "confirmed", "rejected"}
	for _, r := range statsReasons {
		head = append(head, "rejected_"+r)
	}
	cw.Write(append(head, "pending", "unreviewed", "precision", "median_review_seconds"))
	for _, g := range append(slices.Clone(st.Groups), st.Total) {
		row := []string{g.Key, g.Label, strconv.Itoa(g.Cases), strconv.Itoa(g.Reviewed), strconv.Itoa(g.Confirmed), strconv.Itoa(g.Rejected)}
		for _, r := range statsReasons {
			row = append(row, strconv.Itoa(g.RejectedBy[r]))
		}
		row = append(row, strconv.Itoa(g.Pending), strconv.Itoa(g.Unreviewed), optFloat(g.Precision, 3), optFloat(g.MedianReviewSeconds, 0))
		cw.Write(row)
	}
	cw.Flush()
}

func optFloat(f *float64, prec int) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', prec, 64)
}
