package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/rules"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline"
	"github.com/streetwatch/streetwatch/simulate"
	"github.com/streetwatch/streetwatch/stations"
	"github.com/streetwatch/streetwatch/violation"
)

// stationBay is where the station scenario's cargo tricycle stops, in
// front of the station (the demo model boxes it at about [409, 467, 643,
// 626] from 8 s to 20 s: its bottom centre is at (526, 626)). It drives
// in from the right from 4.5 s and out to the right from 20.5 s.
var stationBay = config.Polygon{{380, 560}, {700, 560}, {700, 700}, {380, 700}}

// A station camera whose bay the tricycle of the station scenario stops
// in records exactly one visit: plausible arrival, stop and departure,
// stored in the ticket database with a verified evidence bundle (clip from
// arrival − pre-roll to departure + post-roll, the annotated picture, a
// manifest whose extra names the station and the stop), counted in the
// metrics. The same camera's zone still confirms the rider's dumping as a
// ticket; the visit is no ticket.
func TestStationCameraRecordsTheTricyclesVisitWithVerifiedEvidence(t *testing.T) {
	requireRuntime(t)
	file, gt := loadScenario(t, "station")
	sim := startSim(t, &simulate.Server{Speed: 4, NoLoop: true, WaitForReader: true}, "cam", file)
	cfg := &config.Config{
		StateDir:  t.TempDir(),
		Detectors: detectorConfig(filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml"), 4),
		Stations:  []config.Station{{ID: "baiyun-07"}, {ID: "baiyun-08"}},
		Cameras: []config.Camera{{ID: "cam", URL: sim.URL("cam"), Transport: "tcp",
			Sampling: config.Sampling{Mode: config.SampleFPS, FPS: samplingFPS},
			Zones:    []config.Zone{{Name: "scene", Polygon: gt.SuggestedZone}},
			Rules:    scenarioRules,
			Station:  &config.StationCamera{ID: "baiyun-07", Bay: stationBay}}},
		// A narrow window (1 s either side of a visit), so that the
		// scenario's records settle: see reconcileTheVisit.
		Weighing: config.Weighing{Sources: []config.WeighingSource{{ID: "bridge-07", Token: bridgeToken}},
			Reconcile: config.Reconcile{Before: config.Duration(time.Second), After: config.Duration(time.Second),
				MaxVisit: config.Duration(30 * time.Minute), Interval: config.Duration(10 * time.Minute)}},
	}
	var (
		mu       sync.Mutex
		t0       time.Time
		visits   []pipeline.VisitEvent
		stored   []evidence.Stored
		violated int
		bays     int // weighing records posted, each cutting a bay clip
	)
	r := runConfigSetup(t, cfg, func(p *pipeline.Pipeline) {
		p.OnFrame = func(f *frame.Frame, _ []detectors.Detection) {
			mu.Lock()
			defer mu.Unlock()
			if t0.IsZero() {
				t0 = f.Time
			}
		}
		p.OnVisit = func(ev pipeline.VisitEvent) {
			mu.Lock()
			defer mu.Unlock()
			if ev.BestFrame.Empty() {
				t.Error("visit without its best picture")
			}
			ev.BestFrame = gocv.Mat{} // the pipeline's, not ours to keep
			visits = append(visits, ev)
			// The weighbridge posts a record from 2 s into the video,
			// when the bay was empty, while history still holds it.
			postWeighing(t, p, "W-EMPTY-BAY", t0.Add(2*time.Second))
			bays++
		}
		p.OnViolation = func(pipeline.ViolationEvent) {
			mu.Lock()
			defer mu.Unlock()
			violated++
		}
		p.OnStored = func(s evidence.Stored) error {
			mu.Lock()
			defer mu.Unlock()
			stored = append(stored, s)
			return nil
		}
	})
	waitPlayedAndStored(t, sim, r.p, func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(stored), len(visits) + violated + bays
	})
	ctx := context.Background()
	mu.Lock()
	defer mu.Unlock()
	if len(visits) != 1 {
		t.Fatalf("%d visits (%+v), want the tricycle's one", len(visits), visits)
	}
	v := visits[0]
	at := func(tm time.Time) float64 { return tm.Sub(t0).Seconds() }
	t.Logf("visit %s: arrival %.1f s, stop %.1f s, departure %.1f s, %s %.2f at %v (%.1f s)", v.ID, at(v.Arrival), at(v.Stop),
		at(v.Departure), v.VehicleClass, v.Score, v.Best.Box, at(v.Best.Time))
	for _, c := range []struct {
		what     string
		got      float64
		from, to float64
	}{
		{"arrival (it drives into view at 4.5 s)", at(v.Arrival), 3.5, 6},
		{"stop (it comes to rest at 8 s)", at(v.Stop), 7, 9.5},
		{"departure (it leaves the bay at about 21 s)", at(v.Departure), 19.5, 22.5},
		{"best picture (while it stood)", at(v.Best.Time), at(v.Stop), at(v.Departure)},
	} {
		if c.got < c.from || c.got > c.to {
			t.Errorf("%s at %.1f s, want %.1f-%.1f s", c.what, c.got, c.from, c.to)
		}
	}
	if v.Station != "baiyun-07" || v.Camera != "cam" || v.VehicleClass != violation.ClassVehicle || v.Score < 0.5 {
		t.Errorf("visit %+v", v.Visit)
	}

	// Stored in the ticket database with where its evidence is.
	db := r.p.Tickets().Visits()
	got, err := db.VisitsBetween(ctx, "baiyun-07", t0, t0.Add(time.Duration(gt.DurationS)*time.Second), 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("visits in the database: %v %+v", err, got)
	}
	var bundle *evidence.Stored
	for i := range stored {
		if stored[i].Violation.ID == v.ID {
			bundle = &stored[i]
		}
	}
	if bundle == nil {
		t.Fatal("the visit's evidence was not stored")
	}
	if s := got[0]; s.ID != v.ID || s.EvidenceStatus != stations.EvidenceStored || s.EvidencePrefix != bundle.Prefix ||
		!s.Stop.Equal(v.Stop.Truncate(time.Microsecond)) || !s.Departure.Equal(v.Departure.Truncate(time.Microsecond)) {
		t.Errorf("stored visit %+v, want %+v with evidence at %s", s, v.Visit, bundle.Prefix)
	}
	// The camera watched while it decoded: from its first frame to
	// within a heartbeat of the visit's end.
	if ok, err := r.p.Tickets().Watched(ctx, []string{"cam"}, t0, v.Departure.Add(-dispatch.WatchBeat)); err != nil || !ok {
		t.Errorf("camera not recorded as watching from its first frame to the visit's departure: %v %v", ok, err)
	}
	if n := metric(t, r.reg, "streetwatch_station_visits_total", "station", "baiyun-07"); n != 1 {
		t.Errorf("streetwatch_station_visits_total{station=baiyun-07} = %g, want 1", n)
	}
	if !hasSeries(t, r, "streetwatch_station_visits_total", "baiyun-08") {
		t.Error("streetwatch_station_visits_total has no series for baiyun-08, a station without visits")
	}

	// The evidence: a bundle like a violation's (checkEvidence verifies the
	// manifest against the files, plays the clip and checks its range),
	// whose manifest names the station and the stop.
	run := scenarioRun{t0: t0, stored: stored, store: r.p.EvidenceStore()}
	checkEvidence(t, run, rules.Violation{Record: violation.Record{ID: v.ID, Type: violation.StationVisit,
		FirstSeen: v.Arrival, ConfirmedAt: v.Departure}})
	m := bundle.Manifest
	if m.Violation.Type != violation.StationVisit || m.Violation.Zone != "bay" || m.Extra["station"] != "baiyun-07" ||
		m.Extra["stop"] != v.Stop.UTC().Format(time.RFC3339Nano) {
		t.Errorf("manifest: type %s zone %s extra %v", m.Violation.Type, m.Violation.Zone, m.Extra)
	}
	rc, err := run.store.Get(ctx, bundle.Prefix+"snapshot_annotated.jpg")
	if err != nil {
		t.Fatalf("annotated picture: %v", err)
	}
	if b, _ := io.ReadAll(rc); len(b) < 1000 {
		t.Errorf("annotated picture of %d bytes", len(b))
	}
	rc.Close()

	// The rider's dumping is a ticket; the visit is not.
	page, err := r.p.Tickets().List(ctx, dispatch.Filter{}, "")
	if err != nil {
		t.Fatal(err)
	}
	var bayBundle *evidence.Stored
	for i := range stored {
		if stored[i].Violation.Type == violation.WeighingBay {
			bayBundle = &stored[i]
		}
	}
	if bayBundle == nil || bayBundle.Manifest.Extra["record_id"] != "W-EMPTY-BAY" {
		t.Fatalf("no bay bundle for the posted record (%+v)", bayBundle)
	}
	// Its clip covers the span a fitting vehicle would have stood in the
	// bay: 1 s either side of the record.
	checkEvidence(t, run, rules.Violation{Record: violation.Record{ID: bayBundle.Violation.ID, Type: violation.WeighingBay,
		FirstSeen: t0.Add(time.Second), ConfirmedAt: t0.Add(3 * time.Second)}})
	if len(page.Tickets) != violated || violated != 1 {
		t.Errorf("%d tickets for %d violations, want the dumping's one", len(page.Tickets), violated)
	}
	for _, tk := range page.Tickets {
		if tk.ViolationID == v.ID || tk.Type == string(violation.StationVisit) {
			t.Errorf("the visit became ticket %s", tk.ID)
		}
	}
	reconcileTheVisit(t, cfg, r.p.Tickets(), v.Visit, t0, bundle, bayBundle)
}

const bridgeToken = "bridge-07-token-0123456789"

// postWeighing posts a record as weighbridge bridge-07 does.
func postWeighing(t *testing.T, p *pipeline.Pipeline, id string, at time.Time) {
	t.Helper()
	body := fmt.Sprintf(`{"record_id": %q, "station": "baiyun-07", "time": %q, "net_kg": 120}`, id, at.Format(time.RFC3339Nano))
	req := httptest.NewRequest(http.MethodPost, "/api/v1/weighings", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bridgeToken)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	p.APIHandler().ServeHTTP(w, req)
	if w.Code != http.StatusCreated {
		t.Errorf("posting weighing record %s: %d %s", id, w.Code, w.Body)
	}
}

// reconcileTheVisit reconciles the station's day as an hour after the
// visit, with the test's narrow window (1 s either side), the record
// posted during the run and more imported as `streetwatch
// import-weighings` stores them: the visit, unweighed, becomes an
// unweighed_unload ticket holding its evidence bundle; the record posted
// for 2 s into the video, when the camera watched an empty bay, becomes a
// weighing_without_visit ticket holding the bay's clip cut as it arrived;
// one from before StreetWatch started makes no case (nothing watched);
// the visit's own record, arriving late, withdraws its ticket.
func reconcileTheVisit(t *testing.T, cfg *config.Config, svc *dispatch.Service, v stations.Visit, t0 time.Time, bundle, bayBundle *evidence.Stored) {
	t.Helper()
	ctx := context.Background()
	db, err := dispatch.OpenSQLite(ctx, dispatch.DatabasePath(cfg.Dispatch, cfg.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	importRecords := func(recs ...stations.Weighing) {
		t.Helper()
		for i := range recs {
			recs[i].Source, recs[i].Station, recs[i].NetKG, recs[i].ReceivedAt = config.ImportSource, "baiyun-07", 120, time.Now()
		}
		if _, err := db.PutWeighings(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	importRecords(stations.Weighing{RecordID: "W-BEFORE-START", Time: t0.Add(-10 * time.Minute)})

	rec := dispatch.NewReconciler(svc, cfg, nil)
	rec.Now = func() time.Time { return v.Departure.Add(time.Hour) }
	if err := rec.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	unweighed := ticketsOfType(t, svc, violation.UnweighedUnload)
	if len(unweighed) != 1 {
		t.Fatalf("%d unweighed_unload tickets, want the visit's", len(unweighed))
	}
	u := unweighed[0]
	if u.ViolationID != v.ID || u.CameraID != "cam" || u.Status != dispatch.StatusPendingReview ||
		u.Evidence.Prefix != bundle.Prefix || u.Evidence.ManifestSHA256 != bundle.ManifestSHA256 ||
		!slices.Contains(u.Evidence.Files, "clip.mp4") || !slices.Contains(u.Evidence.Files, evidence.ManifestName) {
		t.Errorf("unweighed_unload ticket %+v, want the visit's with its bundle %s", u, bundle.Prefix)
	}
	suspect := ticketsOfType(t, svc, violation.WeighingWithoutVisit)
	if len(suspect) != 1 {
		t.Fatalf("weighing_without_visit tickets %+v, want W-EMPTY-BAY's only (W-BEFORE-START: nothing watched)", suspect)
	}
	if c := suspect[0]; !c.FirstSeen.Equal(t0.Add(2*time.Second).Truncate(time.Microsecond)) || c.CameraID != "cam" ||
		c.ViolationID != bayBundle.Violation.ID || c.Evidence.Prefix != bayBundle.Prefix || !slices.Contains(c.Evidence.Files, "clip.mp4") {
		t.Errorf("weighing_without_visit ticket %+v, want W-EMPTY-BAY's with the bay clip %s", c, bayBundle.Prefix)
	}

	importRecords(stations.Weighing{RecordID: "W-LATE", Time: v.Departure})
	if err := rec.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.Ticket(ctx, u.ID); err != nil || got.Status != dispatch.StatusRejected {
		t.Errorf("the visit's ticket after its late record: %+v %v, want withdrawn (rejected)", got, err)
	}
}

// ticketsOfType lists a ticket database's tickets of one type.
func ticketsOfType(t *testing.T, svc *dispatch.Service, typ violation.Type) []*dispatch.Ticket {
	t.Helper()
	page, err := svc.List(context.Background(), dispatch.Filter{Type: string(typ)}, "")
	if err != nil {
		t.Fatal(err)
	}
	return page.Tickets
}

// hasSeries tells whether a metric family has a series with label value.
func hasSeries(t *testing.T, r *running, name, labelValue string) bool {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == labelValue {
					return true
				}
			}
		}
	}
	return false
}
