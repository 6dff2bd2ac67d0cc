package review

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/streetwatch/streetwatch/dispatch"
)

// StatsSource computes the review statistics (*dispatch.Service does).
type StatsSource interface {
	ReviewStats(ctx context.Context, from, to time.Time, by string) (dispatch.ReviewStats, error)
}

// statsDays is the default period of the statistics page: the last week.
const statsDays = 7

type statsData struct {
	From, To, By string
	Groupings    []string
	CSV          string
	Rows         []statsRow
	Total        statsRow
	Truncated    bool
	// Warning is the precision below which a camera is flagged, MinReviewed
	// the reviews it takes.
	Warning     float64
	MinReviewed int
	Reasons     []string
}

type statsRow struct {
	dispatch.ReviewStat
	// Warn flags a camera whose precision is below the warning level.
	Warn bool
	// Bar widths (of 100) of confirmed, rejected and not-yet-reviewed
	// cases, for the row's SVG bar.
	ConfirmedW, RejectedW, OpenW float64
	Median                       string // time to review, for people
}

func (s *Server) statsPage(w http.ResponseWriter, r *http.Request) {
	if s.Stats == nil {
		s.render(w, r, http.StatusNotFound, "error", "", errorData{Message: "err.not_found"})
		return
	}
	q := r.URL.Query()
	today := s.today()
	fromDay, toDay := q.Get("from"), q.Get("to")
	if fromDay == "" {
		fromDay = today.AddDate(0, 0, 1-statsDays).Format(time.DateOnly)
	}
	if toDay == "" {
		toDay = today.Format(time.DateOnly)
	}
	by := q.Get("by")
	if by == "" {
		by = dispatch.ByCamera
	}
	from, to, msg := dispatch.StatsPeriod(fromDay, toDay, s.stationLoc())
	if msg != "" || !slices.Contains(dispatch.StatsGroupings, by) {
		s.render(w, r, http.StatusBadRequest, "error", "", errorData{Message: "err.bad_period"})
		return
	}
	st, err := s.Stats.ReviewStats(r.Context(), from, to, by)
	if err != nil {
		s.Log.Error("statistics page", "err", err)
		s.render(w, r, http.StatusInternalServerError, "error", "", errorData{Message: "err.internal"})
		return
	}
	csv := url.Values{"from": {fromDay}, "to": {toDay}, "by": {by}, "format": {"csv"}}
	data := statsData{From: fromDay, To: toDay, By: by, Groupings: dispatch.StatsGroupings, CSV: "/api/v1/stats?" + csv.Encode(),
		Truncated: st.Truncated, Warning: s.Config.PrecisionWarning, MinReviewed: s.Config.PrecisionMinReviewed,
		Reasons: RejectReasons}
	for _, g := range st.Groups {
		row := s.statsRow(g)
		row.Warn = by == dispatch.ByCamera && g.Precision != nil && g.Reviewed >= data.MinReviewed && *g.Precision < data.Warning
		data.Rows = append(data.Rows, row)
	}
	data.Total = s.statsRow(st.Total)
	s.render(w, r, http.StatusOK, "stats", "stats", data)
}

func (s *Server) statsRow(g dispatch.ReviewStat) statsRow {
	row := statsRow{ReviewStat: g, Median: "-"}
	if g.Cases > 0 {
		n := float64(g.Cases)
		row.ConfirmedW = 100 * float64(g.Confirmed) / n
		row.RejectedW = 100 * float64(g.Rejected) / n
		row.OpenW = 100 - row.ConfirmedW - row.RejectedW
	}
	if m := g.MedianReviewSeconds; m != nil {
		row.Median = humanDuration(time.Duration(*m * float64(time.Second)))
	}
	return row
}

// humanDuration is a duration in hours and minutes ("2 h 05 min"), or
// minutes and seconds under an hour.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	}
}
