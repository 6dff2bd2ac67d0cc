package pipeline_test

import (
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline"
	"github.com/streetwatch/streetwatch/simulate"
)

// Reloads while frames flow (run it with -race): cameras with zones are
// added, changed, connected again and removed, over and over, while
// detection and confirmation run. Each reload says what it did; an added
// camera's frames are detected, a removed camera's stop; the one camera
// left untouched is never connected again.
func TestReloadAddsChangesAndRemovesCamerasWhileFramesFlow(t *testing.T) {
	requireRuntime(t)
	file, gt := loadScenario(t, "dumping")
	sim := startSim(t, &simulate.Server{Speed: 4, WaitForReader: true}, "a", file, "b", file, "c", file)
	zone := config.Zone{Name: "pavement", Polygon: gt.SuggestedZone}
	cam := func(id string, fps float64, zones ...config.Zone) config.Camera {
		return config.Camera{ID: id, URL: sim.URL(id), Transport: "tcp", Sampling: config.Sampling{Mode: config.SampleFPS, FPS: fps}, Zones: zones}
	}
	base := config.Config{
		StateDir:  t.TempDir(),
		Detectors: detectorConfig(filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml"), 4),
		Cameras:   []config.Camera{cam("a", 2, zone)},
	}
	var frames [3]atomic.Int64
	p, stop := startPipeline(t, &base, func(p *pipeline.Pipeline, _ func()) {
		p.OnFrame = func(f *frame.Frame, _ []detectors.Detection) { frames[f.Camera[0]-'a'].Add(1) }
	})
	defer stop()
	reload := func(cams ...config.Camera) pipeline.Reload {
		t.Helper()
		cfg := base
		cfg.Cameras = cams
		cfg.Pipeline.FrameQueue = 0
		cfg.Defaults()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		r, err := p.Reload(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ids := func() []string {
		var out []string
		for _, c := range p.Cameras() {
			out = append(out, c.ID())
		}
		return out
	}
	waitFor(t, 20*time.Second, "camera a's frames", func() bool { return frames[0].Load() > 2 })
	other := config.Zone{Name: "kerb", Polygon: config.Polygon{{0, 0.5}, {1, 0.5}, {1, 1}, {0, 1}}}
	for round := range 3 {
		r := reload(cam("a", 2, zone), cam("b", 2, zone), cam("c", 1))
		if !slices.Equal(r.Added, []string{"b", "c"}) || len(r.Removed)+len(r.Restarted)+len(r.Applied) != 0 {
			t.Fatalf("round %d, add: %+v", round, r)
		}
		nb := frames[1].Load()
		waitFor(t, 20*time.Second, "an added camera's frames", func() bool { return frames[1].Load() > nb+2 })
		r = reload(cam("a", 2, zone), cam("b", 1, zone, other), cam("c", 1, other))
		if !slices.Equal(r.Applied, []string{"b"}) || !slices.Equal(r.Restarted, []string{"b"}) || len(r.Restart) != 1 {
			t.Fatalf("round %d, change: %+v", round, r) // c has zones now: that takes a restart
		}
		time.Sleep(300 * time.Millisecond)
		r = reload(cam("a", 2, zone))
		if !slices.Equal(r.Removed, []string{"b", "c"}) || !slices.Equal(ids(), []string{"a"}) {
			t.Fatalf("round %d, remove: %+v, cameras %v", round, r, ids())
		}
		nb = frames[1].Load()
		time.Sleep(700 * time.Millisecond)
		if n := frames[1].Load(); n > nb+2 { // a frame or two may have been queued
			t.Errorf("round %d: the removed camera's frames go on (%d → %d)", round, nb, n)
		}
	}
	na := frames[0].Load()
	waitFor(t, 20*time.Second, "camera a still detected", func() bool { return frames[0].Load() > na+2 })
	for _, c := range p.Cameras() {
		if st := c.Status(); st.ID == "a" && st.Ingest.Reconnects != 0 {
			t.Errorf("camera a reconnected %d times", st.Ingest.Reconnects)
		}
	}
}

// New failing at the models (before confirmation is built) frees what it
// built and returns the error: its Close must not trip over the
// confirmation that does not exist yet.
func TestNewFailingAtTheModelsReturnsTheError(t *testing.T) {
	cfg := &config.Config{
		StateDir:  t.TempDir(),
		Detectors: detectorConfig(filepath.Join(t.TempDir(), "missing.yaml"), 4),
		Cameras:   []config.Camera{{ID: "a", URL: "rtsp://127.0.0.1:1/a", Zones: []config.Zone{{Name: "z", Polygon: config.Polygon{{0, 0}, {1, 0}, {1, 1}}}}}},
	}
	cfg.Defaults()
	if _, err := pipeline.New(cfg, nil, nil); err == nil {
		t.Fatal("a missing model was accepted")
	}
}
