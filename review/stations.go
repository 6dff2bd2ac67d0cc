package review

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/stations"
)

// StationReports reads the daily station report (*dispatch.Service does).
type StationReports interface {
	StationReport(ctx context.Context, station string, first, last time.Time, loc *time.Location) ([]dispatch.StationDay, error)
	StationDayDetail(ctx context.Context, station string, day time.Time, loc *time.Location) (dispatch.StationDayDetail, error)
}

// The station pages: /stations sums each station's last overviewDays
// days; /stations/{id} lists historyDays days up to the chosen one and
// that day's visits and records. The report CSV link covers csvDays.
const (
	overviewDays = 7
	historyDays  = 14
	csvDays      = 31
)

type stationsData struct {
	From, To string // the overview's first and last day
	Rows     []stationOverview
}

type stationOverview struct {
	ID, Name string
	Today    dispatch.StationDay
	Week     dispatch.StationDay // sums over the overview's days
}

type stationData struct {
	ID, Name string
	Day      string // the chosen day
	Today    string
	Prev     string
	Next     string // "" when Day is today or later
	CSV      string // the report API's CSV for csvDays up to Day
	Days     []stationDayRow
	Detail   dispatch.StationDayDetail
	Visits   []visitRow
	Records  []recordRow
}

type stationDayRow struct {
	dispatch.StationDay
	Current bool
}

type visitRow struct {
	dispatch.VisitRow
	// Outcome is weighed, over_limit, unweighed (a standing
	// unweighed_unload case) or unmatched (no record, no standing case:
	// the window is still open, or a reviewer rejected the case).
	Outcome              string
	Score                float64 // the vehicle picture's detector score
	Clip, Picture, Thumb string
}

type recordRow struct {
	dispatch.RecordRow
	// Outcome is matched, without_visit (a standing
	// weighing_without_visit case) or unmatched (no visit, no standing
	// case: the window is open, the camera was not watching, or the case
	// was rejected).
	Outcome string
}

// stationsOn reports whether the station pages are served.
func (s *Server) stationsOn() bool { return len(s.Stations) > 0 && s.StationReports != nil }

// stationLoc is where station days begin.
func (s *Server) stationLoc() *time.Location {
	if s.StationTimezone != nil {
		return s.StationTimezone
	}
	return s.loc
}

// station is the configured station id, its Name defaulted to the id.
func (s *Server) station(id string) (config.Station, bool) {
	for _, st := range s.Stations {
		if st.ID == id {
			return named(st), true
		}
	}
	return config.Station{}, false
}

func named(st config.Station) config.Station {
	if st.Name == "" {
		st.Name = st.ID
	}
	return st
}

// today is the station calendar's current day, at midnight.
func (s *Server) today() time.Time {
	now := s.now().In(s.stationLoc())
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
}

func (s *Server) stationsPage(w http.ResponseWriter, r *http.Request) {
	if !s.stationsOn() {
		s.render(w, r, http.StatusNotFound, "error", "", errorData{Message: "err.not_found"})
		return
	}
	last := s.today()
	first := last.AddDate(0, 0, 1-overviewDays)
	data := stationsData{From: first.Format(time.DateOnly), To: last.Format(time.DateOnly)}
	for _, st := range s.Stations {
		st = named(st)
		days, err := s.StationReports.StationReport(r.Context(), st.ID, first, last, s.stationLoc())
		if err != nil {
			s.Log.Error("stations page", "station", st.ID, "err", err)
			s.render(w, r, http.StatusInternalServerError, "error", "", errorData{Message: "err.internal"})
			return
		}
		row := stationOverview{ID: st.ID, Name: st.Name}
		for _, d := range days {
			row.Week = addDays(row.Week, d)
			if d.Day == data.To {
				row.Today = d
			}
		}
		data.Rows = append(data.Rows, row)
	}
	s.render(w, r, http.StatusOK, "stations", "stations", data)
}

// addDays sums two days' counts (the station and day of a).
func addDays(a, b dispatch.StationDay) dispatch.StationDay {
	a.Visits += b.Visits
	a.WeighedVisits += b.WeighedVisits
	a.OverLimit += b.OverLimit
	a.UnweighedUnloads += b.UnweighedUnloads
	a.Records += b.Records
	a.RecordsWithoutVisit += b.RecordsWithoutVisit
	a.NetKG += b.NetKG
	return a
}

func (s *Server) stationPage(w http.ResponseWriter, r *http.Request) {
	st, ok := s.station(r.PathValue("id"))
	if !s.stationsOn() || !ok {
		s.render(w, r, http.StatusNotFound, "error", "", errorData{Message: "err.not_found"})
		return
	}
	loc, today := s.stationLoc(), s.today()
	day := today
	if q := r.URL.Query().Get("day"); q != "" {
		d, err := time.ParseInLocation(time.DateOnly, q, loc)
		if err != nil {
			s.render(w, r, http.StatusBadRequest, "error", "", errorData{Message: "err.bad_day"})
			return
		}
		day = d
	}
	ctx := r.Context()
	data := stationData{ID: st.ID, Name: st.Name, Day: day.Format(time.DateOnly), Today: today.Format(time.DateOnly),
		Prev: day.AddDate(0, 0, -1).Format(time.DateOnly)}
	if day.Before(today) {
		data.Next = day.AddDate(0, 0, 1).Format(time.DateOnly)
	}
	csv := url.Values{"from": {day.AddDate(0, 0, 1-csvDays).Format(time.DateOnly)}, "to": {data.Day}, "format": {"csv"}}
	data.CSV = "/api/v1/stations/" + url.PathEscape(st.ID) + "/report?" + csv.Encode()
	fail := func(err error) {
		s.Log.Error("station page", "station", st.ID, "day", data.Day, "err", err)
		s.render(w, r, http.StatusInternalServerError, "error", "", errorData{Message: "err.internal"})
	}
	days, err := s.StationReports.StationReport(ctx, st.ID, day.AddDate(0, 0, 1-historyDays), day, loc)
	if err != nil {
		fail(err)
		return
	}
	for i := len(days) - 1; i >= 0; i-- { // newest first
		data.Days = append(data.Days, stationDayRow{StationDay: days[i], Current: days[i].Day == data.Day})
	}
	if data.Detail, err = s.StationReports.StationDayDetail(ctx, st.ID, day, loc); err != nil {
		fail(err)
		return
	}
	for _, v := range data.Detail.VisitRows {
		row := visitRow{VisitRow: v, Outcome: "unmatched", Score: float64(v.Visit.Score)}
		switch {
		case v.Visit.Weighing != "" && v.Visit.OverLimitKG > 0:
			row.Outcome = "over_limit"
		case v.Visit.Weighing != "":
			row.Outcome = "weighed"
		case v.Case != nil:
			row.Outcome = "unweighed"
		}
		if v.Visit.EvidenceStatus == stations.EvidenceStored {
			whose := []any{"visit", v.Visit.ID, "camera", v.Visit.Camera}
			row.Clip = s.bundleLink(ctx, v.Visit.EvidencePrefix, v.Visit.EvidenceFiles, "clip.mp4", whose...)
			row.Picture = s.bundleLink(ctx, v.Visit.EvidencePrefix, v.Visit.EvidenceFiles, "snapshot_annotated.jpg", whose...)
			row.Thumb = s.bundleLink(ctx, v.Visit.EvidencePrefix, v.Visit.EvidenceFiles, "snapshot.jpg", whose...)
			if row.Thumb == "" {
				row.Thumb = row.Picture
			}
		}
		data.Visits = append(data.Visits, row)
	}
	for _, rec := range data.Detail.RecordRows {
		row := recordRow{RecordRow: rec, Outcome: "unmatched"}
		switch {
		case rec.Visit != "":
			row.Outcome = "matched"
		case rec.Case != nil:
			row.Outcome = "without_visit"
		}
		data.Records = append(data.Records, row)
	}
	s.render(w, r, http.StatusOK, "station", "stations", data)
}
