package pipeline_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
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

// visitTruth is a rendered vehicle's visit to the bay, in seconds into
// the video (models/train/scenarios.py, station_day).
type visitTruth struct {
	Vehicle    string  `json:"vehicle"`
	FirstSeenS float64 `json:"first_seen_s"`
	StopS      float64 `json:"stop_s"`
	LeaveS     float64 `json:"leave_s"`
	LastSeenS  float64 `json:"last_seen_s"`
}

// stationDayStart is the time the scenario's weighing export gives the
// video's first frame (scenarios.py VIDEO_START).
var stationDayStart = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)

// A station's day (the station_day scenario): four vehicles unload at the
// bay one after another, and the weighbridge's CSV export misses the third
// and has a record (W-0002) from when the bay was empty, and one from ten
// minutes after the video, when the camera no longer watched. Through the
// real pipeline, the ticket database and the reconciler (window 5 s either
// side): four visits at the rendered times, three matched to their
// records, exactly one unweighed_unload ticket — the third vehicle's
// visit, holding its evidence bundle — and exactly one
// weighing_without_visit ticket, W-0002's; the record no camera watched
// makes no case.
func TestStationDayReconcilesEveryVisitWithTheWeighbridgeExport(t *testing.T) {
	requireRuntime(t)
	file, _ := loadScenario(t, "station_day")
	raw, err := os.ReadFile(filepath.Join(mediatest.Root(), "testdata", "scenarios", "station_day.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Visits []visitTruth `json:"visits"`
	}
	if err := json.Unmarshal(raw, &truth); err != nil || len(truth.Visits) != 4 {
		t.Fatalf("station_day.json visits: %v (%d)", err, len(truth.Visits))
	}
	sim := startSim(t, &simulate.Server{Speed: 4, NoLoop: true, WaitForReader: true}, "cam", file)
	cfg := &config.Config{
		StateDir:  t.TempDir(),
		Detectors: detectorConfig(filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml"), 4),
		Stations:  []config.Station{{ID: "baiyun-07"}},
		Cameras: []config.Camera{{ID: "cam", URL: sim.URL("cam"), Transport: "tcp",
			Sampling: config.Sampling{Mode: config.SampleFPS, FPS: samplingFPS},
			Station:  &config.StationCamera{ID: "baiyun-07", Bay: stationBay}}},
		Weighing: config.Weighing{Reconcile: config.Reconcile{Before: config.Duration(5 * time.Second),
			After: config.Duration(5 * time.Second), MaxVisit: config.Duration(30 * time.Minute),
			Interval: config.Duration(10 * time.Minute)}},
	}
	var (
		mu     sync.Mutex
		t0     time.Time
		visits []pipeline.VisitEvent
		stored []evidence.Stored
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
			ev.BestFrame = gocv.Mat{} // the pipeline's, not ours to keep
			visits = append(visits, ev)
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
		return len(stored), len(visits)
	})
	mu.Lock()
	defer mu.Unlock()
	at := func(tm time.Time) float64 { return tm.Sub(t0).Seconds() }
	if len(visits) != len(truth.Visits) {
		for _, v := range visits {
			t.Logf("visit: arrival %.1f s, stop %.1f s, departure %.1f s", at(v.Arrival), at(v.Stop), at(v.Departure))
		}
		t.Fatalf("%d visits, want the %d vehicles'", len(visits), len(truth.Visits))
	}
	slices.SortFunc(visits, func(a, b pipeline.VisitEvent) int { return a.Arrival.Compare(b.Arrival) })
	for i, v := range visits {
		w := truth.Visits[i]
		t.Logf("%s: arrival %.1f s, stop %.1f s, departure %.1f s", w.Vehicle, at(v.Arrival), at(v.Stop), at(v.Departure))
		// Sampled at 2 fps: a sample or two either way.
		if a := at(v.Arrival); a < w.FirstSeenS-1 || a > w.StopS {
			t.Errorf("%s arrived at %.1f s, want from %.1f s (in view) to its stop at %.1f s", w.Vehicle, a, w.FirstSeenS, w.StopS)
		}
		if s := at(v.Stop); s < w.StopS-1 || s > w.StopS+1.5 {
			t.Errorf("%s stopped at %.1f s, want %.1f s", w.Vehicle, s, w.StopS)
		}
		if d := at(v.Departure); d < w.LeaveS-1 || d > w.LastSeenS {
			t.Errorf("%s left the bay at %.1f s, want %.1f-%.1f s", w.Vehicle, d, w.LeaveS, w.LastSeenS)
		}
	}

	// The weighbridge's export, as `streetwatch import-weighings` reads
	// and checks it, its times moved to when this run's video started.
	ctx := context.Background()
	now := visits[len(visits)-1].Departure.Add(time.Hour)
	f, err := os.Open(filepath.Join(mediatest.Root(), "testdata", "scenarios", "station_day_weighings.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := stations.ReadCSV(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var recs []stations.Weighing
	for _, row := range rows {
		in := row.Input
		in.Station = "baiyun-07"
		w, probs := stations.Check(in, config.ImportSource, time.UTC, now)
		if len(probs) > 0 || len(row.Problems) > 0 {
			t.Fatalf("line %d: %v %v", row.Line, row.Problems, probs)
		}
		w.Time = t0.Add(w.Time.Sub(stationDayStart)).Truncate(time.Microsecond)
		w.ReceivedAt = now
		recs = append(recs, w)
	}
	db, err := dispatch.OpenSQLite(ctx, dispatch.DatabasePath(cfg.Dispatch, cfg.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.PutWeighings(ctx, recs); err != nil {
		t.Fatal(err)
	}

	svc := r.p.Tickets()
	rec := dispatch.NewReconciler(svc, cfg, nil)
	rec.Now = func() time.Time { return now }
	if err := rec.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	unweighed := ticketsOfType(t, svc, violation.UnweighedUnload)
	if len(unweighed) != 1 || unweighed[0].ViolationID != visits[2].ID {
		var of []string
		for _, u := range unweighed {
			of = append(of, u.ViolationID)
		}
		t.Fatalf("unweighed_unload tickets for visits %v, want exactly the third vehicle's (visit %s)", of, visits[2].ID)
	}
	var bundle *evidence.Stored
	for i := range stored {
		if stored[i].Violation.ID == visits[2].ID {
			bundle = &stored[i]
		}
	}
	if u := unweighed[0]; bundle == nil || u.Evidence.Prefix != bundle.Prefix || !slices.Contains(u.Evidence.Files, "clip.mp4") {
		t.Errorf("the unweighed unload's ticket %+v does not hold the visit's evidence bundle", u)
	}
	suspect := ticketsOfType(t, svc, violation.WeighingWithoutVisit)
	if len(suspect) != 1 || !suspect[0].FirstSeen.Equal(t0.Add(34*time.Second).Truncate(time.Microsecond)) {
		var times []float64
		for _, s := range suspect {
			times = append(times, at(s.FirstSeen))
		}
		t.Fatalf("weighing_without_visit tickets for records at %v s, want exactly W-0002's (34 s; W-0006 came when nothing watched)", times)
	}
	matched := 0
	for i, v := range visits {
		got, err := svc.Visits().VisitsBetween(ctx, "baiyun-07", v.Arrival, v.Departure, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if s.ID == v.ID && s.Weighing != "" {
				matched++
				if i == 2 {
					t.Errorf("the third vehicle's visit was matched to %s", s.Weighing)
				}
			}
		}
	}
	if matched != 3 {
		t.Errorf("%d visits matched to a record, want 3 (every one but the third)", matched)
	}
}
