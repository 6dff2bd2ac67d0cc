package pipeline_test

import (
	"context"
	"io"
	"path/filepath"
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
	}
	var (
		mu       sync.Mutex
		t0       time.Time
		visits   []pipeline.VisitEvent
		stored   []evidence.Stored
		violated int
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
		return len(stored), len(visits) + violated
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
	if len(page.Tickets) != violated || violated != 1 {
		t.Errorf("%d tickets for %d violations, want the dumping's one", len(page.Tickets), violated)
	}
	for _, tk := range page.Tickets {
		if tk.ViolationID == v.ID || tk.Type == string(violation.StationVisit) {
			t.Errorf("the visit became ticket %s", tk.ID)
		}
	}
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
