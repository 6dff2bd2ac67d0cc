package dispatch

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/streetwatch/streetwatch/stations"
	"github.com/streetwatch/streetwatch/violation"
)

// StationDay is one station's day in the daily station report: what its
// cameras saw and its weighbridge recorded, and the cases reconciliation
// made of them that still stand (a withdrawn or rejected ticket does not
// count).
type StationDay struct {
	Station string `json:"station"`
	// Day is the calendar day in the report's time zone (weighing.timezone).
	Day string `json:"day"`
	// Visits arrived that day; WeighedVisits of them were matched with a
	// record; OverLimit of those carried more than their class's limit.
	Visits        int `json:"visits"`
	WeighedVisits int `json:"weighed_visits"`
	OverLimit     int `json:"over_limit"`
	// UnweighedUnloads are the day's visits with a standing
	// unweighed_unload ticket.
	UnweighedUnloads int `json:"unweighed_unloads"`
	// Records were weighed that day, NetKG their total net weight;
	// RecordsWithoutVisit of them have a standing weighing_without_visit
	// ticket.
	Records             int     `json:"records"`
	RecordsWithoutVisit int     `json:"records_without_visit"`
	NetKG               float64 `json:"net_kg"`
}

// reportColumns are the CSV columns of the report, in StationDay's order.
var reportColumns = []string{"station", "day", "visits", "weighed_visits", "over_limit", "unweighed_unloads",
	"records", "records_without_visit", "net_kg"}

// maxReportDays bounds one report (a quarter).
const maxReportDays = 92

// maxReportRows bounds what one day reads of visits and of records.
const maxReportRows = 100_000

// StationReport returns a station's days from first to last (dates in
// loc, both included).
func (s *Service) StationReport(ctx context.Context, station string, first, last time.Time, loc *time.Location) ([]StationDay, error) {
	var days []StationDay
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		detail, err := s.StationDayDetail(ctx, station, d, loc)
		if err != nil {
			return nil, err
		}
		days = append(days, detail.StationDay)
	}
	return days, nil
}

// StationDayDetail is one station day with its rows: what the station
// view lists under the day's totals.
type StationDayDetail struct {
	StationDay
	// VisitRows are the visits that arrived that day, by arrival.
	VisitRows []VisitRow
	// RecordRows are the records weighed that day, by time.
	RecordRows []RecordRow
}

// VisitRow is a visit with the record reconciliation matched it with
// (nil: none yet) and its standing unweighed_unload ticket (nil: none).
type VisitRow struct {
	Visit  stations.Visit
	Record *stations.Weighing
	Case   *Ticket
}

// RecordRow is a weighing record with the visit it was matched with (""
// when none) and its standing weighing_without_visit ticket (nil: none).
type RecordRow struct {
	Record stations.Weighing
	Visit  string
	Case   *Ticket
}

// matchSlack widens the day's record query so that a visit just before
// midnight finds its record just after it (and the other way round):
// reconciliation windows are minutes long.
const matchSlack = 12 * time.Hour

// StationDayDetail returns the station's day (the calendar day of day in
// loc): totals as StationReport counts them, and the rows behind them.
func (s *Service) StationDayDetail(ctx context.Context, station string, day time.Time, loc *time.Location) (StationDayDetail, error) {
	if s.visits == nil || s.weighings == nil {
		return StationDayDetail{}, errors.New("station report: the ticket store keeps no visits or weighing records")
	}
	day = day.In(loc)
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
	end := start.AddDate(0, 0, 1)
	out := StationDayDetail{StationDay: StationDay{Station: station, Day: start.Format(time.DateOnly)}}
	fail := func(err error) (StationDayDetail, error) {
		return StationDayDetail{}, fmt.Errorf("station report %s %s: %w", station, out.Day, err)
	}
	visits, err := s.visits.VisitsBetween(ctx, station, start.Add(-matchSlack), end.Add(matchSlack), maxReportRows)
	if err != nil {
		return fail(err)
	}
	records, err := s.weighings.WeighingsBetween(ctx, station, start.Add(-matchSlack), end.Add(matchSlack), maxReportRows)
	if err != nil {
		return fail(err)
	}
	byName := make(map[string]*stations.Weighing, len(records))
	for i := range records {
		byName[recordName(records[i])] = &records[i]
	}
	visitOf := map[string]string{}
	for _, v := range visits {
		if v.Weighing != "" {
			visitOf[v.Weighing] = v.ID
		}
		if v.Arrival.Before(start) || !v.Arrival.Before(end) {
			continue // overlaps the day, arrived on another
		}
		row := VisitRow{Visit: v}
		out.Visits++
		switch {
		case v.Weighing != "":
			out.WeighedVisits++
			if v.OverLimitKG > 0 {
				out.OverLimit++
			}
			row.Record = byName[v.Weighing]
		default:
			if row.Case, err = s.standingCase(ctx, v.ID, violation.UnweighedUnload); err != nil {
				return fail(err)
			}
			if row.Case != nil {
				out.UnweighedUnloads++
			}
		}
		out.VisitRows = append(out.VisitRows, row)
	}
	for _, w := range records {
		if w.Time.Before(start) || !w.Time.Before(end) {
			continue
		}
		row := RecordRow{Record: w, Visit: visitOf[recordName(w)]}
		out.Records++
		out.NetKG += w.NetKG
		if row.Visit == "" {
			if row.Case, err = s.standingCase(ctx, RecordViolationID(w), violation.WeighingWithoutVisit); err != nil {
				return fail(err)
			}
			if row.Case != nil {
				out.RecordsWithoutVisit++
			}
		}
		out.RecordRows = append(out.RecordRows, row)
	}
	return out, nil
}

// standingCase returns the violation's ticket when it is of type typ and
// was not rejected (withdrawn by reconciliation, or by a reviewer); nil
// otherwise.
func (s *Service) standingCase(ctx context.Context, violationID string, typ violation.Type) (*Ticket, error) {
	t, err := s.store.TicketByViolation(ctx, violationID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("station report: ticket of %s: %w", violationID, err)
	}
	if t.Type != string(typ) || t.Status == StatusRejected {
		return nil, nil
	}
	return t, nil
}

var reportParams = map[string]bool{"from": true, "to": true, "format": true}

// apiStationReport serves GET /api/v1/stations/{id}/report?from=DAY&to=DAY
// as JSON ({"days": [...]}) or, with format=csv, as CSV with a header row.
func (s *Service) apiStationReport(w http.ResponseWriter, r *http.Request) {
	if s.visits == nil || s.weighings == nil {
		apiError(w, http.StatusServiceUnavailable, "unavailable", "this ticket store keeps no visits or weighing records")
		return
	}
	station := r.PathValue("id")
	if _, ok := s.station(station); !ok {
		apiError(w, http.StatusNotFound, "not_found", fmt.Sprintf("station: no station %q is configured", clipHeader(station)))
		return
	}
	q := r.URL.Query()
	if !knownParams(w, q, reportParams) {
		return
	}
	loc := s.reportLoc()
	first, last, msg := dayRange(q.Get("from"), q.Get("to"), loc, maxReportDays)
	if msg != "" {
		apiError(w, http.StatusBadRequest, "bad_request", msg)
		return
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		apiError(w, http.StatusBadRequest, "bad_request", "format: json or csv")
		return
	}
	days, err := s.StationReport(r.Context(), station, first, last, loc)
	if err != nil {
		s.internalError(w, err)
		return
	}
	if format != "csv" {
		if days == nil {
			days = []StationDay{}
		}
		writeJSON(w, http.StatusOK, struct {
			Days []StationDay `json:"days"`
		}{days})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="station-%s-%s-%s.csv"`,
		station, first.Format(time.DateOnly), last.Format(time.DateOnly)))
	cw := csv.NewWriter(w)
	cw.Write(reportColumns)
	for _, d := range days {
		cw.Write([]string{d.Station, d.Day, strconv.Itoa(d.Visits), strconv.Itoa(d.WeighedVisits), strconv.Itoa(d.OverLimit),
			strconv.Itoa(d.UnweighedUnloads), strconv.Itoa(d.Records), strconv.Itoa(d.RecordsWithoutVisit),
			strconv.FormatFloat(d.NetKG, 'f', -1, 64)})
	}
	cw.Flush()
}

// knownParams answers 400 and returns false when q has a parameter
// outside known.
func knownParams(w http.ResponseWriter, q url.Values, known map[string]bool) bool {
	for k := range q {
		if !known[k] {
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("unknown query parameter %q", clipHeader(k)))
			return false
		}
	}
	return true
}

// reportLoc is where the days of reports and statistics begin
// (weighing.timezone, which defaults to review.timezone; UTC unset).
func (s *Service) reportLoc() *time.Location {
	if s.StationTimezone == nil {
		return time.UTC
	}
	return s.StationTimezone
}

// dayRange parses a range of days, from and to both included, in loc,
// of at most maxDays; msg names the bad parameter.
func dayRange(fromDay, toDay string, loc *time.Location, maxDays int) (first, last time.Time, msg string) {
	var err error
	if first, err = time.ParseInLocation(time.DateOnly, fromDay, loc); err != nil {
		return first, last, "from: required, a day such as 2026-12-03"
	}
	if last, err = time.ParseInLocation(time.DateOnly, toDay, loc); err != nil {
		return first, last, "to: required, a day such as 2026-12-03"
	}
	switch n := calendarDays(first, last); {
	case last.Before(first):
		return first, last, "to: must not be before from"
	case n > maxDays:
		return first, last, fmt.Sprintf("to: at most %d days from from (got %d)", maxDays, n)
	}
	return first, last, ""
}

// calendarDays counts the days from first to last, both included (days of
// 23 or 25 hours count as one).
func calendarDays(first, last time.Time) int {
	a := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC)
	b := time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, time.UTC)
	return int(b.Sub(a).Hours()/24) + 1
}
