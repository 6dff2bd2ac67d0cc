package pipeline_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/simulate"
)

func requireRuntime(t *testing.T) {
	t.Helper()
	if _, err := detectors.FindLibrary(""); err != nil {
		mediatest.Missing(t, "ONNX Runtime: %v", err)
	}
}

func detectorConfig(manifest string, maxBatch int) config.Detectors {
	return config.Detectors{Models: []config.ModelRef{{Name: "m", Manifest: manifest}}, MaxBatch: maxBatch}
}

// runDetecting runs a pipeline with detectors and records detections.
func runDetecting(t *testing.T, d config.Detectors, queue int, cams ...config.Camera) (*running, *detRecorder) {
	t.Helper()
	requireRuntime(t)
	cfg := &config.Config{Cameras: cams, Detectors: d, Pipeline: config.Pipeline{FrameQueue: queue}}
	r := runConfig(t, cfg)
	dr := &detRecorder{byCamera: map[string][][]detectors.Detection{}}
	return r, dr
}

type detRecorder struct {
	mu       sync.Mutex
	byCamera map[string][][]detectors.Detection
}

func (d *detRecorder) on(f *frame.Frame, dets []detectors.Detection) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.byCamera[f.Camera] = append(d.byCamera[f.Camera], append([]detectors.Detection(nil), dets...))
}

func (d *detRecorder) frames(cam string) [][]detectors.Detection {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]detectors.Detection(nil), d.byCamera[cam]...)
}

func TestPipelineRunsTheDetectorOnEverySampledFrame(t *testing.T) {
	sim := startSim(t, &simulate.Server{Speed: 4}, "cam", mediatest.File(t, "h264_640x360.mp4"))
	golden := filepath.Join(mediatest.Root(), "detectors", "testdata", "golden_yolov8.yaml")
	cfg := &config.Config{
		Detectors: detectorConfig(golden, 4),
		Cameras: []config.Camera{{ID: "cam", URL: sim.URL("cam"), Transport: "tcp",
			Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 5}}},
	}
	dr := &detRecorder{byCamera: map[string][][]detectors.Detection{}}
	r := runConfigWith(t, cfg, dr.on)
	waitFor(t, 30*time.Second, "20 frames with detections", func() bool { return len(dr.frames("cam")) >= 20 })
	r.stop()
	// The golden model's constant boxes, mapped to 640x360 (see detectors' golden test).
	want := []string{"garbage_bag [570.0,298.0,630.0,358.0]", "person [256.0,148.0,384.0,212.0]", "vehicle [60.0,68.0,100.0,148.0]"}
	for i, dets := range dr.frames("cam") {
		var got []string
		for _, d := range dets {
			got = append(got, fmt.Sprintf("%s %v", d.Class, d.Box))
		}
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("frame %d: %v, want %v", i, got, want)
		}
	}
	if n := metric(t, r.reg, "streetwatch_detections_total", "camera", "cam", "class", "person"); n < 20 {
		t.Fatalf("detections_total{person} = %v, want ≥ 20", n)
	}
	if got := metric(t, r.reg, "streetwatch_detector_model_info", "model", "m", "provider", "cpu"); got != 1 {
		t.Fatalf("model info metric %v", got)
	}
}
