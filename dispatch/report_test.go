package dispatch

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/stations"
)

// A station's two days, reconciled by the real reconciler on a real SQLite
// file, reported per day in the station's time zone (Asia/Shanghai: a day
// starts at 16:00 UTC), as JSON and CSV: visits by arrival, weighed and
// over-limit visits, standing unweighed unloads (neither one withdrawn by
// a late record nor one a reviewer rejected counts), records, records without a visit and net weight.
func TestStationReportCountsEachDayInTheStationsTimeZone(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		cfg := reconcileConfig()
		s.Stations = cfg.Stations
		shanghai, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			t.Fatal(err)
		}
		s.StationTimezone = shanghai
		// The camera watched all day (heartbeats every 10 s).
		for at := rmin(-60); at.Before(rmin(26 * 60)); at = at.Add(WatchBeat) {
			if err := s.Watching(t.Context(), "station-07", at); err != nil {
				t.Fatal(err)
			}
		}
		// 3 December (UTC 00:00 is 08:00 in Shanghai).
		putVisit(t, s, "v-weighed", 60, 70, stations.EvidenceStored)
		putRecord(t, s, "r-weighed", 65, 300)
		putVisit(t, s, "v-heavy", 120, 130, stations.EvidenceStored)
		putRecord(t, s, "r-heavy", 125, 900) // a tricycle carries at most 500 kg
		putVisit(t, s, "v-unweighed", 200, 210, stations.EvidenceStored)
		putVisit(t, s, "v-late", 300, 310, stations.EvidenceStored)
		putVisit(t, s, "v-rejected", 340, 350, stations.EvidenceStored)
		putRecord(t, s, "r-alone", 400, 250.5)
		// 4 December in Shanghai: 16:30 UTC on the 3rd.
		putVisit(t, s, "v-next-day", 16*60+30, 16*60+40, stations.EvidenceStored)
		r := reconciler(t, s, nil, rmin(30*60))
		if err := r.Pass(t.Context()); err != nil {
			t.Fatal(err)
		}
		putRecord(t, s, "r-late", 305, 200) // withdraws v-late's ticket
		if err := r.Pass(t.Context()); err != nil {
			t.Fatal(err)
		}
		// A reviewer finds v-rejected's vehicle was only parked there.
		tk, err := s.store.TicketByViolation(t.Context(), "v-rejected")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Transition(t.Context(), tk.ID, TransitionRequest{To: StatusRejected, Reason: ReasonFalsePositive,
			Version: tk.Version, Actor: "reviewer-li"}); err != nil {
			t.Fatal(err)
		}

		a := newAPI(t, s)
		var got struct {
			Days []StationDay `json:"days"`
		}
		if code, body := a.do("GET", "/api/v1/stations/baiyun-07/report?from=2026-12-03&to=2026-12-05", nil, &got); code != http.StatusOK {
			t.Fatalf("report: %d %s", code, body)
		}
		want := []StationDay{
			{Station: "baiyun-07", Day: "2026-12-03", Visits: 5, WeighedVisits: 3, OverLimit: 1, UnweighedUnloads: 1,
				Records: 4, RecordsWithoutVisit: 1, NetKG: 1650.5},
			{Station: "baiyun-07", Day: "2026-12-04", Visits: 1, UnweighedUnloads: 1},
			{Station: "baiyun-07", Day: "2026-12-05"},
		}
		if len(got.Days) != len(want) {
			t.Fatalf("%d days: %+v", len(got.Days), got.Days)
		}
		for i := range want {
			if got.Days[i] != want[i] {
				t.Errorf("day %d: %+v, want %+v", i, got.Days[i], want[i])
			}
		}

		// The rows behind 3 December, as the station view lists them.
		detail, err := s.StationDayDetail(t.Context(), "baiyun-07", rmin(60), shanghai)
		if err != nil {
			t.Fatal(err)
		}
		if detail.StationDay != want[0] {
			t.Errorf("detail totals %+v, want %+v", detail.StationDay, want[0])
		}
		type visitRow struct {
			visit, record string
			overKG        float64
			ticket        bool
		}
		var gotVisits []visitRow
		for _, r := range detail.VisitRows {
			row := visitRow{visit: r.Visit.ID, overKG: r.Visit.OverLimitKG, ticket: r.Case != nil}
			if r.Record != nil {
				row.record = r.Record.RecordID
			}
			if r.Case != nil && (r.Case.Type != "unweighed_unload" || r.Case.ViolationID != r.Visit.ID) {
				t.Errorf("visit %s: case %s of %s", r.Visit.ID, r.Case.Type, r.Case.ViolationID)
			}
			gotVisits = append(gotVisits, row)
		}
		wantVisits := []visitRow{{"v-weighed", "r-weighed", 0, false}, {"v-heavy", "r-heavy", 500, false},
			{"v-unweighed", "", 0, true}, {"v-late", "r-late", 0, false}, {"v-rejected", "", 0, false}}
		if fmt.Sprint(gotVisits) != fmt.Sprint(wantVisits) {
			t.Errorf("visit rows %v\nwant %v", gotVisits, wantVisits)
		}
		var gotRecords []string
		for _, r := range detail.RecordRows {
			gotRecords = append(gotRecords, fmt.Sprintf("%s:%s:%v", r.Record.RecordID, r.Visit, r.Case != nil))
		}
		if got, want := strings.Join(gotRecords, " "), "r-weighed:v-weighed:false r-heavy:v-heavy:false r-late:v-late:false r-alone::true"; got != want {
			t.Errorf("record rows %s\nwant %s", got, want)
		}

		resp, err := http.Get(a.srv.URL + "/api/v1/stations/baiyun-07/report?from=2026-12-03&to=2026-12-04&format=csv")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rows, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
		}
		wantCSV := [][]string{reportColumns,
			{"baiyun-07", "2026-12-03", "5", "3", "1", "1", "4", "1", "1650.5"},
			{"baiyun-07", "2026-12-04", "1", "0", "0", "1", "0", "0", "0"}}
		if len(rows) != len(wantCSV) {
			t.Fatalf("csv rows %q", rows)
		}
		for i := range wantCSV {
			if strings.Join(rows[i], ",") != strings.Join(wantCSV[i], ",") {
				t.Errorf("csv row %d: %q, want %q", i, rows[i], wantCSV[i])
			}
		}

		for _, c := range []struct {
			path string
			code int
			says string
		}{
			{"/api/v1/stations/nowhere/report?from=2026-12-03&to=2026-12-03", http.StatusNotFound, "station:"},
			{"/api/v1/stations/baiyun-07/report?from=2026-12-3&to=2026-12-03", http.StatusBadRequest, "from:"},
			{"/api/v1/stations/baiyun-07/report?from=2026-12-03", http.StatusBadRequest, "to:"},
			{"/api/v1/stations/baiyun-07/report?from=2026-12-04&to=2026-12-03", http.StatusBadRequest, "to: must not be before"},
			{"/api/v1/stations/baiyun-07/report?from=2026-01-01&to=2026-12-03", http.StatusBadRequest, "at most 92 days"},
			{"/api/v1/stations/baiyun-07/report?from=2026-12-03&to=2026-12-03&format=xml", http.StatusBadRequest, "format:"},
			{"/api/v1/stations/baiyun-07/report?from=2026-12-03&to=2026-12-03&station=x", http.StatusBadRequest, "unknown query parameter"},
		} {
			if code, body := a.do("GET", c.path, nil, nil); code != c.code || !strings.Contains(body, c.says) {
				t.Errorf("%s: %d %s, want %d saying %q", c.path, code, body, c.code, c.says)
			}
		}
	})
}

// A report's length is counted in calendar days: a quarter that crosses a
// daylight-saving change (a 23-hour day) is still 92 days, and 93 is one
// too many.
func TestCalendarDaysCountsDaysOfAnyLength(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, c := range []struct {
		first, last string
		want        int
	}{
		{"2026-03-29", "2026-03-29", 1}, // 23 hours
		{"2026-03-28", "2026-03-30", 3},
		{"2026-10-25", "2026-10-26", 2}, // 25 hours, then 24
		{"2026-01-01", "2026-04-02", 92},
		{"2026-01-01", "2026-04-03", 93},
	} {
		if got := calendarDays(day(c.first), day(c.last)); got != c.want {
			t.Errorf("%s..%s: %d days, want %d", c.first, c.last, got, c.want)
		}
	}
}
