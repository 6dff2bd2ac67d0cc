package review

import (
	"bytes"
	"context"
	"encoding/csv"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/stations"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// stationDay is the test's day, whose events (08:00 to 12:00) must all be
// past (the page's clock is the real one: sessions and cookies expire by
// it, and the API refuses weighings from the future): today in Shanghai
// from 13:00, else yesterday. It was today always, and the test failed
// every night in Shanghai until 08:03.
var stationDay = func() time.Time {
	now := time.Now().In(shanghai).Add(-13 * time.Hour)
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, shanghai)
}()

// today is the date in Shanghai now.
func today() string { return time.Now().In(shanghai).Format(time.DateOnly) }

// at is a time on the test's day.
func at(hour, minute int) time.Time {
	return stationDay.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}

// day is the date n days from the test's day.
func day(n int) string { return stationDay.AddDate(0, 0, n).Format(time.DateOnly) }

// stationFixture is the review fixture with station baiyun-07 watched by
// camera station-07 from 08:00 to 12:00 today, two visits (09:00, 10:00)
// with stored evidence, two weighing records posted through the API
// (09:03, and 11:00 with no vehicle), reconciled by the real reconciler
// at 12:00.
func stationFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	cfg := &config.Config{
		Stations: []config.Station{{ID: "baiyun-07", Name: "白云七站"}},
		Cameras: []config.Camera{{ID: "station-07", Name: "白云七站卸料口",
			Station: &config.StationCamera{ID: "baiyun-07", Bay: config.Polygon{{0, 0}, {1, 0}, {1, 1}}}}},
		Weighing: config.Weighing{Sources: []config.WeighingSource{{ID: "bridge-07", Token: "bridge-07-token-0123456789"}}, Reconcile: config.Reconcile{
			Before: config.Duration(2 * time.Minute), After: config.Duration(10 * time.Minute),
			MaxVisit: config.Duration(30 * time.Minute), Interval: config.Duration(time.Minute),
			Lookback: config.Duration(48 * time.Hour), LoadLimits: map[string]float64{"vehicle": 500}}},
	}
	f.svc.Stations, f.svc.WeighingSources, f.svc.StationTimezone = cfg.Stations, cfg.Weighing.Sources, shanghai
	f.rev.Stations, f.rev.StationReports, f.rev.StationTimezone = cfg.Stations, f.svc, shanghai
	ctx := context.Background()
	for beat := at(8, 0); !beat.After(at(12, 0)); beat = beat.Add(dispatch.WatchBeat) {
		if err := f.svc.Watching(ctx, "station-07", beat); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []stations.Visit{
		{ID: "01VISITWEIGHED000000000000", Arrival: at(9, 0), Stop: at(9, 1), Departure: at(9, 5)},
		{ID: "01VISITUNWEIGHED0000000000", Arrival: at(10, 0), Stop: at(10, 1), Departure: at(10, 4)},
	} {
		v.Station, v.Camera, v.VehicleClass, v.Score, v.EvidenceStatus, v.CreatedAt = "baiyun-07", "station-07", "vehicle", 0.91, stations.EvidencePending, v.Departure
		if _, _, err := f.svc.Visits().PutVisit(ctx, v); err != nil {
			t.Fatal(err)
		}
		prefix := "2026/12/03/station-07/" + v.ID + "/"
		files := []string{"clip.mp4", "snapshot.jpg", "snapshot_annotated.jpg"}
		for _, name := range files {
			data := []byte(name + " of " + v.ID)
			if err := f.store.Put(ctx, prefix+name, bytes.NewReader(data), int64(len(data)), evidence.ContentType(name)); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.svc.Visits().SetVisitEvidence(ctx, v.ID, stations.VisitEvidence{Prefix: prefix, Status: stations.EvidenceStored,
			Files: append(files, evidence.ManifestName), ManifestSHA256: "0"}); err != nil {
			t.Fatal(err)
		}
	}
	bridge := f.client()
	for _, rec := range []string{
		`{"record_id":"W-0901","station":"baiyun-07","time":"` + day(0) + `T09:03:00+08:00","net_kg":820.5,"plate":"粤A·12345","operator":"王师傅"}`,
		`{"record_id":"W-1100","station":"baiyun-07","time":"` + day(0) + `T11:00:00+08:00","net_kg":300}`,
	} {
		a := bridge.do(http.MethodPost, WeighingsPath, strings.NewReader(rec),
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + cfg.Weighing.Sources[0].Token})
		if a.status != http.StatusCreated {
			t.Fatalf("post %s: %d %s", rec, a.status, a.body)
		}
	}
	r := dispatch.NewReconciler(f.svc, cfg, nil)
	r.Now = func() time.Time { return at(12, 0) }
	if err := r.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// row is the <tr> of a table whose attribute attr is value.
func row(t *testing.T, page, attr, value string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr[^>]*` + attr + `="` + regexp.QuoteMeta(value) + `".*?</tr>`).FindString(page)
	if m == "" {
		t.Fatalf("no row with %s=%q in the page:\n%s", attr, value, page)
	}
	return m
}

// cell is the text of a row's cell with data-col col.
func cell(t *testing.T, tr, col string) string {
	t.Helper()
	m := regexp.MustCompile(`data-col="` + col + `">(.*?)</td>`).FindStringSubmatch(tr)
	if m == nil {
		t.Fatalf("no %s cell in %s", col, tr)
	}
	return regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], "")
}

var hrefRE = regexp.MustCompile(`class="(?:[^"]* )?(clip|picture|case|visit)" href="([^"]+)"`)

// links are a row's links by class.
func links(tr string) map[string]string {
	out := map[string]string{}
	for _, m := range hrefRE.FindAllStringSubmatch(tr, -1) {
		out[m[1]] = html.UnescapeString(m[2])
	}
	return out
}

// The station view, in both languages: the overview sums the last seven
// days; a station's page lists its days and the chosen day's visits and
// records as reconciliation left them, each visit linking to its clip
// and picture (signed links that play without a session), each case to
// its ticket, and a CSV of the report API.
func TestStationViewListsDaysVisitsAndRecordsWithEvidenceLinks(t *testing.T) {
	f := stationFixture(t)
	c := f.client()
	c.signIn("vera") // a viewer may look

	overview := c.get("/stations?lang=en")
	if overview.status != http.StatusOK {
		t.Fatalf("/stations: %d %s", overview.status, overview.body)
	}
	tr := row(t, overview.body, "data-station", "baiyun-07")
	for col, want := range map[string]string{"visits": "2", "weighed_visits": "1", "over_limit": "1", "unweighed_unloads": "1",
		"records": "2", "records_without_visit": "1", "net_kg": "1120.5"} {
		if got := cell(t, tr, col); got != want {
			t.Errorf("overview %s = %q, want %q", col, got, want)
		}
	}
	if !strings.Contains(tr, "白云七站") || !strings.Contains(overview.body, `href="/stations" class="current"`) {
		t.Errorf("overview row or menu entry missing:\n%s", overview.body)
	}

	page := c.get("/stations/baiyun-07?day=" + day(0) + "&lang=en")
	if page.status != http.StatusOK {
		t.Fatalf("station page: %d %s", page.status, page.body)
	}
	dayRow := row(t, page.body, "data-day", day(0))
	if !strings.Contains(dayRow, `class="current"`) || cell(t, dayRow, "visits") != "2" || cell(t, dayRow, "unweighed_unloads") != "1" ||
		cell(t, dayRow, "records_without_visit") != "1" || cell(t, dayRow, "net_kg") != "1120.5" {
		t.Errorf("day row: %s", dayRow)
	}
	if before := row(t, page.body, "data-day", day(-13)); cell(t, before, "visits") != "0" {
		t.Errorf("14 days back: %s", before)
	}

	tickets := map[string]*dispatch.Ticket{}
	for _, typ := range []string{"unweighed_unload", "weighing_without_visit"} {
		list, _, err := f.rev.Tickets.List(context.Background(), Query{Type: typ, Limit: 10})
		if err != nil || len(list) != 1 {
			t.Fatalf("%s tickets: %v %v", typ, list, err)
		}
		tickets[typ] = list[0]
	}

	weighed := row(t, page.body, "data-visit", "01VISITWEIGHED000000000000")
	if !strings.Contains(weighed, `data-outcome="over_limit"`) || !strings.Contains(weighed, "bridge-07/W-0901") ||
		!strings.Contains(weighed, "820.5 kg · 粤A·12345") || !strings.Contains(weighed, "over the 500 kg limit") {
		t.Errorf("weighed visit row: %s", weighed)
	}
	l := links(weighed)
	if l["clip"] == "" || l["picture"] == "" || l["case"] != "" {
		t.Errorf("weighed visit links: %v", l)
	}
	// The clip link is a capability: it plays in a fresh browser.
	if a := f.client().get(strings.TrimPrefix(l["clip"], f.url)); a.status != http.StatusOK || a.body != "clip.mp4 of 01VISITWEIGHED000000000000" {
		t.Errorf("clip link %s: %d %q", l["clip"], a.status, a.body)
	}
	unweighed := row(t, page.body, "data-visit", "01VISITUNWEIGHED0000000000")
	if l := links(unweighed); !strings.Contains(unweighed, `data-outcome="unweighed"`) ||
		l["case"] != "/tickets/"+tickets["unweighed_unload"].ID || l["clip"] == "" {
		t.Errorf("unweighed visit row (%v): %s", l, unweighed)
	}
	if a := c.get(links(unweighed)["case"]); a.status != http.StatusOK || !strings.Contains(a.body, "Unweighed unload") {
		t.Errorf("the case link: %d", a.status)
	}
	matched := row(t, page.body, "data-record", "bridge-07/W-0901")
	if l := links(matched); !strings.Contains(matched, `data-outcome="matched"`) || l["visit"] != "#visit-01VISITWEIGHED000000000000" ||
		!strings.Contains(matched, "王师傅") {
		t.Errorf("matched record row (%v): %s", l, matched)
	}
	alone := row(t, page.body, "data-record", "bridge-07/W-1100")
	if l := links(alone); !strings.Contains(alone, `data-outcome="without_visit"`) || l["case"] != "/tickets/"+tickets["weighing_without_visit"].ID {
		t.Errorf("record without a visit (%v): %s", l, alone)
	}

	// The CSV link is the report API's, for the 31 days up to the day.
	m := regexp.MustCompile(`href="([^"]+)" id="csv"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no CSV link:\n%s", page.body)
	}
	a := c.get(html.UnescapeString(m[1]))
	rows, err := csv.NewReader(strings.NewReader(a.body)).ReadAll()
	if a.status != http.StatusOK || err != nil || len(rows) != 32 || rows[1][1] != day(-30) ||
		strings.Join(rows[31], ",") != "baiyun-07,"+day(0)+",2,1,1,1,2,1,1120.5" {
		t.Errorf("CSV %s: %d %v %q", m[1], a.status, err, rows)
	}

	zh := c.get("/stations/baiyun-07?day=" + day(0) + "&lang=zh-CN")
	for _, want := range []string{"未过磅倾倒", "疑似虚假过磅", "超过 500 千克上限", day(0) + " 进站车次", "司磅员"} {
		if !strings.Contains(zh.body, want) {
			t.Errorf("zh-CN page lacks %q", want)
		}
	}
	// Without a day the page shows today; the next day is offered only
	// for past days.
	if now := c.get("/stations/baiyun-07"); !strings.Contains(row(t, now.body, "data-day", today()), `class="current"`) ||
		strings.Contains(now.body, `rel="next"`) {
		t.Errorf("today's page: %s", now.body)
	}
	if prev := c.get("/stations/baiyun-07?day=" + day(-1)); !strings.Contains(prev.body, `href="/stations/baiyun-07?day=`+day(0)+`" rel="next"`) ||
		!strings.Contains(prev.body, `id="visits"`) || strings.Contains(prev.body, `data-visit=`) {
		t.Errorf("the day before: %s", prev.body)
	}
}

// Bad days, unknown stations and signed-out visitors are refused; a
// server without stations has no station view.
func TestStationViewRefusesBadRequests(t *testing.T) {
	f := stationFixture(t)
	c := f.client()
	if a := c.get("/stations/baiyun-07"); a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/login?next=") {
		t.Errorf("signed out: %d %s", a.status, a.header.Get("Location"))
	}
	c.signIn("vera")
	for path, code := range map[string]int{
		"/stations/baiyun-07?day=2026-12-3": http.StatusBadRequest,
		"/stations/baiyun-07?day=yesterday": http.StatusBadRequest,
		"/stations/baiyun-99":               http.StatusNotFound,
	} {
		if a := c.get(path + "&lang=en"); a.status != code {
			t.Errorf("%s: %d, want %d", path, a.status, code)
		}
	}
	if a := c.get("/stations/baiyun-07?day=2026-12-3&lang=en"); !strings.Contains(a.body, "use a date such as 2026-12-03") {
		t.Errorf("bad day page: %s", a.body)
	}

	plain := newFixture(t)
	p := plain.client()
	p.signIn("vera")
	if a := p.get("/stations"); a.status != http.StatusNotFound {
		t.Errorf("/stations without stations: %d", a.status)
	}
	if a := p.get("/"); strings.Contains(a.body, `href="/stations"`) {
		t.Error("the menu offers stations on a server without any")
	}
}
