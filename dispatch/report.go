package dispatch

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

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
	if s.visits == nil || s.weighings == nil {
		return nil, errors.New("station report: the ticket store keeps no visits or weighing records")
	}
	var days []StationDay
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
		end := start.AddDate(0, 0, 1)
		day := StationDay{Station: station, Day: start.Format(time.DateOnly)}
		visits, err := s.visits.VisitsBetween(ctx, station, start, end, maxReportRows)
		if err != nil {
			return nil, fmt.Errorf("station report %s %s: %w", station, day.Day, err)
		}
		for _, v := range visits {
			if v.Arrival.Before(start) || !v.Arrival.Before(end) {
				continue // overlaps the day, arrived on another
			}
			day.Visits++
			switch {
			case v.Weighing != "":
				day.WeighedVisits++
				if v.OverLimitKG > 0 {
					day.OverLimit++
				}
			default:
				standing, err := s.standingCase(ctx, v.ID, violation.UnweighedUnload)
				if err != nil {
					return nil, err
				}
				if standing {
					day.UnweighedUnloads++
				}
			}
		}
		records, err := s.weighings.WeighingsBetween(ctx, station, start, end, maxReportRows)
		if err != nil {
			return nil, fmt.Errorf("station report %s %s: %w", station, day.Day, err)
		}
		for _, w := range records {
			day.Records++
			day.NetKG += w.NetKG
			standing, err := s.standingCase(ctx, RecordViolationID(w), violation.WeighingWithoutVisit)
			if err != nil {
				return nil, err
			}
			if standing {
				day.RecordsWithoutVisit++
			}
		}
		days = append(days, day)
	}
	return days, nil
}

// standingCase tells whether the violation has a ticket of type typ that
// was not rejected (withdrawn by reconciliation, or by a reviewer).
func (s *Service) standingCase(ctx context.Context, violationID string, typ violation.Type) (bool, error) {
	t, err := s.store.TicketByViolation(ctx, violationID)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("station report: ticket of %s: %w", violationID, err)
	}
	return t.Type == string(typ) && t.Status != StatusRejected, nil
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
	for k := range q {
		if !reportParams[k] {
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("unknown query parameter %q", clipHeader(k)))
			return
		}
	}
	loc := s.StationTimezone
	if loc == nil {
		loc = time.UTC
	}
	var first, last time.Time
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &first}, {"to", &last}} {
		d, err := time.ParseInLocation(time.DateOnly, q.Get(p.name), loc)
		if err != nil {
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("%s: required, a day such as 2026-12-03", p.name))
			return
		}
		*p.dst = d
	}
	switch n := int(last.Sub(first).Hours()/24) + 1; {
	case last.Before(first):
		apiError(w, http.StatusBadRequest, "bad_request", "to: must not be before from")
		return
	case n > maxReportDays:
		apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("to: at most %d days from from (got %d)", maxReportDays, n))
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
