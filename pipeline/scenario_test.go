package pipeline_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/detectors/rules"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/pipeline"
	"github.com/streetwatch/streetwatch/simulate"
)

// groundTruth is a scenario video's JSON (models/train/scenarios.py).
type groundTruth struct {
	Video      string  `json:"video"`
	DurationS  float64 `json:"duration_s"`
	Violations []struct {
		Type   string     `json:"type"`
		Box    [4]float32 `json:"box"`
		StartS float64    `json:"start_s"`
	} `json:"violations"`
	SuggestedZone [][2]float32 `json:"suggested_zone"`
}

func loadScenario(t *testing.T, name string) (string, groundTruth) {
	t.Helper()
	dir := filepath.Join(mediatest.Root(), "testdata", "scenarios")
	raw, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatalf("scenario %s: %v", name, err)
	}
	var gt groundTruth
	if err := json.Unmarshal(raw, &gt); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, gt.Video), gt
}

// Shortened dwell times so a 90 s video can confirm; the rules are the
// production ones. The demo model scores dropped bags 0.33-0.45 (it is a
// small model trained on rendered scenes), under the default min_score of
// 0.5: the dumping rule is tuned to it, as a deployment would tune it.
var scenarioRules = map[string]config.RuleParams{
	"illegal_dumping": {MinDwell: config.Duration(30 * time.Second), MinScore: 0.35},
	"garbage_pile":    {MinDwell: config.Duration(30 * time.Second)},
	"street_vending":  {MinDwell: config.Duration(30 * time.Second)},
}

type violations struct {
	mu     sync.Mutex
	list   []rules.Violation
	frames map[string]time.Time // first frame time per camera
	trace  func(string)         // STREETWATCH_TRACE=1: every frame's detections
}

func (v *violations) onViolation(ev pipeline.ViolationEvent) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ev.BestFrame.Empty() {
		panic("violation without its best frame")
	}
	v.list = append(v.list, ev.Violation)
	ev.Close()
}

func (v *violations) onFrame(f *media.Frame, dets []detectors.Detection) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.frames[f.Camera]; !ok {
		v.frames[f.Camera] = f.Time
	}
	if v.trace != nil {
		s := fmt.Sprintf("%6.1fs", f.Time.Sub(v.frames[f.Camera]).Seconds())
		for _, d := range dets {
			s += fmt.Sprintf(" %s:%.2f[%.0f,%.0f,%.0f,%.0f]", d.Class, d.Score, d.Box.X1, d.Box.Y1, d.Box.X2, d.Box.Y2)
		}
		v.trace(s)
	}
}

func (v *violations) get() []rules.Violation {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]rules.Violation(nil), v.list...)
}

// runScenario plays a scenario video once through the whole pipeline
// (simulated RTSP camera → decode → demo model → tracker → rules) and
// returns the violations and the stream time of the video's first frame.
func runScenario(t *testing.T, file string, zone [][2]float32, stateDir string) ([]rules.Violation, time.Time) {
	t.Helper()
	requireRuntime(t)
	sim := startSim(t, &simulate.Server{Speed: 4, NoLoop: true, WaitForReader: true}, "cam", file)
	cfg := &config.Config{
		StateDir:  stateDir,
		Detectors: detectorConfig(filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml"), 4),
		Cameras: []config.Camera{{ID: "cam", URL: sim.URL("cam"), Transport: "tcp",
			Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 2},
			Zones:    []config.Zone{{Name: "scene", Polygon: zone}},
			Rules:    scenarioRules}},
	}
	v := &violations{frames: map[string]time.Time{}}
	if os.Getenv("STREETWATCH_TRACE") != "" {
		v.trace = func(s string) { t.Log(s) }
	}
	r := runConfigWith(t, cfg, v.onFrame)
	r.p.OnViolation = v.onViolation
	done := make(chan struct{})
	go func() { sim.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		t.Fatal("the scenario did not finish playing")
	}
	time.Sleep(time.Second) // the last frames through detection
	r.stop()
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]rules.Violation(nil), v.list...), v.frames["cam"]
}

// Tolerances on when the object first appeared, by type: a dropped bag is
// seen at once, a pile only once the bags look like one.
var firstSeenTolerance = map[string]float64{"illegal_dumping": 4, "street_vending": 15, "garbage_pile": 30}

func TestScenarios(t *testing.T) {
	for _, name := range []string{"dumping", "dumping_tricycle", "dumping_negative", "vending", "garbage_pile", "walkers", "station"} {
		t.Run(name, func(t *testing.T) {
			file, gt := loadScenario(t, name)
			got, t0 := runScenario(t, file, gt.SuggestedZone, t.TempDir())
			if len(got) != len(gt.Violations) {
				t.Fatalf("%d violations %s, want %d", len(got), describe(got, t0), len(gt.Violations))
			}
			for i, want := range gt.Violations {
				v := got[i]
				if string(v.Type) != want.Type {
					t.Errorf("violation %d: type %s, want %s", i, v.Type, want.Type)
				}
				first := v.FirstSeen.Sub(t0).Seconds()
				if d := first - want.StartS; d < -firstSeenTolerance[want.Type] || d > firstSeenTolerance[want.Type] {
					t.Errorf("violation %d: first seen at %.1f s, want %.1f s ± %.0f", i, first, want.StartS, firstSeenTolerance[want.Type])
				}
				wb := detectors.Box{X1: want.Box[0], Y1: want.Box[1], X2: want.Box[2], Y2: want.Box[3]}
				if iou := v.Box.IoU(wb); iou < 0.3 {
					t.Errorf("violation %d at %v, the object is at %v (IoU %.2f)", i, v.Box, wb, iou)
				}
				if v.Zone != "scene" {
					t.Errorf("violation %d in zone %q", i, v.Zone)
				}
			}
		})
	}
}

func TestRealPedestrianFootageRaisesNoViolation(t *testing.T) {
	got, t0 := runScenario(t, mediatest.File(t, "vtest_h264.mp4"), [][2]float32{{0, 0}, {1, 0}, {1, 1}, {0, 1}}, t.TempDir())
	if len(got) != 0 {
		t.Fatalf("violations on footage with none: %s", describe(got, t0))
	}
}

func TestRestartDoesNotReportTheSamePileAgain(t *testing.T) {
	file, gt := loadScenario(t, "garbage_pile")
	state := t.TempDir()
	first, _ := runScenario(t, file, gt.SuggestedZone, state)
	if len(first) != 1 {
		t.Fatalf("first run: %d violations, want 1", len(first))
	}
	// Restarted on the same camera (same state): the pile is still there.
	again, t0 := runScenario(t, file, gt.SuggestedZone, state)
	if len(again) != 0 {
		t.Fatalf("after a restart the same pile was reported again: %s", describe(again, t0))
	}
}

func describe(vs []rules.Violation, t0 time.Time) string {
	s := "["
	for _, v := range vs {
		s += fmt.Sprintf(" %s@%.1fs(first %.1fs) %v", v.Type, v.ConfirmedAt.Sub(t0).Seconds(), v.FirstSeen.Sub(t0).Seconds(), v.Box)
	}
	return s + " ]"
}
