package pipeline

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/rules"
	"github.com/streetwatch/streetwatch/confirm/track"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/stations"
	"github.com/streetwatch/streetwatch/violation"
)

// stationCam is a 640×360 station camera whose bay is the lower right
// quarter.
var stationCam = config.Camera{ID: "station-07", Name: "Station 7", Station: &config.StationCamera{ID: "baiyun-07",
	Bay: config.Polygon{{0.5, 0.5}, {1, 0.5}, {1, 1}, {0.5, 1}}, MinStop: config.Duration(10 * time.Second),
	LeaveAfter: config.Duration(5 * time.Second), VehicleClasses: []string{violation.ClassVehicle}}}

// A station camera's confirmer turns a tricycle standing in the bay from
// 2 s to 20 s, then gone, into one visit carrying the frame of its best
// detection (each frame's pixels are its sample number), and keeps no
// picture once the visit is over. (The tracker keeps the unseen track
// of a vehicle at rest for 30 s: the visit ends with it, departing when
// it was last seen.)
func TestStationConfirmerHandsOverTheVisitWithItsBestPicture(t *testing.T) {
	c, err := newConfirmer(stationCam, rules.FileStore{Dir: t.TempDir()}, rules.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	parked := geom.Box{X1: 400, Y1: 250, X2: 520, Y2: 340}
	var got []VisitEvent
	for i := 0; i <= 120; i++ {
		s := float64(i) * sceneStep.Seconds()
		f := &frame.Frame{Camera: stationCam.ID, Time: t0.Add(time.Duration(i) * sceneStep), Seq: uint64(i + 1),
			Mat: gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(i), float64(i), float64(i), 0), 360, 640, gocv.MatTypeCV8UC3)}
		var dets []detectors.Detection
		if s >= 2 && s <= 20 {
			score := float32(0.7)
			if i == 24 { // 12 s: its best moment
				score = 0.93
			}
			dets = append(dets, detectors.Detection{Box: parked, Class: violation.ClassVehicle, Score: score, Signals: detectors.SignalModel})
		}
		_, vs := c.update(f, dets)
		got = append(got, vs...)
		f.Mat.Close()
	}
	defer func() {
		for _, ev := range got {
			ev.Close()
		}
	}()
	if len(got) != 1 {
		t.Fatalf("%d visits, want 1", len(got))
	}
	v := got[0]
	if v.Station != "baiyun-07" || v.Camera != stationCam.ID || v.VehicleClass != violation.ClassVehicle || v.ID == "" ||
		!v.Arrival.Equal(t0.Add(2*time.Second)) || !v.Stop.Equal(t0.Add(2*time.Second)) || !v.Departure.Equal(t0.Add(20*time.Second)) {
		t.Errorf("visit %+v", v.Visit)
	}
	if n := pictureNumber(t, v.BestFrame); n != 24 || v.Score != 0.93 || !v.Best.Time.Equal(t0.Add(12*time.Second)) {
		t.Errorf("best picture is frame %d (score %.2f at %v), want frame 24 (0.93 at 12 s)", n, v.Score, v.Best.Time)
	}
	if n := len(c.station.best); n != 0 {
		t.Errorf("the confirmer still keeps %d visit pictures", n)
	}
}

// A visit's evidence event, as the recorder keeps it pending (JSON) and
// hands it off after the spool, reads back as the same visit: what makes
// a visit whose database write was lost in a crash stored at the
// hand-off.
func TestAVisitReadsBackFromItsEvidence(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 123456789, time.UTC)
	v := stations.Visit{ID: "01VISIT", Station: "baiyun-07", Camera: stationCam.ID, Arrival: t0, Stop: t0.Add(4 * time.Second),
		Departure: t0.Add(30 * time.Second), VehicleClass: violation.ClassVehicle, Score: 0.88}
	s := &evidenceStage{cameras: map[string]config.Camera{stationCam.ID: stationCam}}
	ev := s.visitEvent(VisitEvent{Visit: v, TrackID: 3}, 640, 360)
	if len(ev.Zone) != 4 || ev.Zone[0].X != 320 || ev.Zone[0].Y != 180 {
		t.Errorf("bay drawn at %v, want the lower right quarter", ev.Zone)
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var pending evidence.Event
	if err := json.Unmarshal(raw, &pending); err != nil {
		t.Fatal(err)
	}
	got, err := visitOf(evidence.Stored{Violation: pending.Violation, Camera: pending.Camera,
		Manifest: &evidence.Manifest{Extra: pending.Extra}})
	if err != nil {
		t.Fatal(err)
	}
	want := v
	want.EvidenceStatus = stations.EvidencePending
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back %+v\nwant      %+v", got, want)
	}
	if _, err := visitOf(evidence.Stored{Violation: pending.Violation, Camera: pending.Camera, Manifest: &evidence.Manifest{}}); err == nil {
		t.Error("a visit without its station read back")
	}
}

// A visit whose evidence was still pending when StreetWatch stopped is
// finished at the next start and stored with it (the crash may have come
// before its database row), and is not taken for an open violation.
func TestAPendingVisitIsStoredAtTheNextStartAndIsNoOpenViolation(t *testing.T) {
	dir := t.TempDir()
	cam := stationCam
	cam.URL = "rtsp://127.0.0.1:1/nobody" // nothing to connect to: only the pending visit matters
	cam.Zones = []config.Zone{{Name: "yard", Polygon: config.Polygon{{0, 0}, {1, 0}, {1, 1}, {0, 1}}}}
	cfg := &config.Config{StateDir: dir, Stations: []config.Station{{ID: "baiyun-07"}}, Cameras: []config.Camera{cam}}
	cfg.Defaults()
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	v := stations.Visit{ID: "01PENDINGVISIT", Station: "baiyun-07", Camera: cam.ID, Arrival: t0, Stop: t0.Add(5 * time.Second),
		Departure: t0.Add(40 * time.Second), VehicleClass: violation.ClassVehicle, Score: 0.8}
	s := &evidenceStage{cameras: map[string]config.Camera{cam.ID: cam}}
	raw, err := json.Marshal(s.visitEvent(VisitEvent{Visit: v, TrackID: 1, Best: track.Sample{Time: t0.Add(10 * time.Second),
		Box: geom.Box{X1: 400, Y1: 250, X2: 520, Y2: 340}, Score: 0.8}}, 640, 360))
	if err != nil {
		t.Fatal(err)
	}
	pending := filepath.Join(dir, "pending", v.ID)
	if err := os.MkdirAll(pending, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pending, "event.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}

	p, err := New(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if pre := p.confirm[cam.ID].engine.Preload; len(pre) != 0 {
		t.Errorf("the pending visit was preloaded as an open violation: %+v", pre)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := p.Tickets().Visits().VisitsBetween(ctx, "baiyun-07", t0, t0.Add(time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 && got[0].EvidenceStatus == stations.EvidenceStored {
			if g := got[0]; g.ID != v.ID || !g.Stop.Equal(v.Stop) || !g.Departure.Equal(v.Departure) || g.EvidencePrefix == "" {
				t.Errorf("stored %+v, want %+v", g, v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("visits after 30 s: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The visit is no ticket of its own. The reconciler, whose first pass
	// may come after the visit is stored, may make it the station's case
	// of an unload without a weighing record (there is none): nothing else.
	page, err := p.Tickets().List(ctx, dispatch.Filter{}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range page.Tickets {
		if tk.Type != string(violation.UnweighedUnload) {
			t.Errorf("ticket %s of type %s, want none but the reconciler's %s", tk.ID, tk.Type, violation.UnweighedUnload)
		}
	}
}
