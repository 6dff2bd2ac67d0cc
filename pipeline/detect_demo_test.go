package pipeline_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/simulate"
)

// Overload with the real demo model: far more frames than it can take. The
// queue stays bounded, drops are counted per camera, and every camera keeps
// being detected (none gets under a quarter of the busiest). Which frames are
// dropped and how evenly the cameras are served is proven, without a model's
// uneven timing, by TestOverloadDropsOldestFramesFairly.
func TestOverloadWithTheDemoModelStaysBoundedAndDetectsEveryCamera(t *testing.T) {
	file := mediatest.File(t, "h264_640x360.mp4")
	demo := filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml")
	if _, err := os.Stat(demo); err != nil {
		t.Fatal(err)
	}
	const n, queue = 6, 8
	var args []string
	var cams []config.Camera
	for i := range n {
		id := fmt.Sprintf("cam%d", i)
		args = append(args, id, file)
		cams = append(cams, config.Camera{ID: id, Transport: "tcp", Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 25}})
	}
	sim := startSim(t, &simulate.Server{Speed: 3}, args...)
	for i := range cams {
		cams[i].URL = sim.URL(cams[i].ID)
	}
	r, _ := runDetecting(t, detectorConfig(demo, 4), queue, cams...)
	maxDepth := 0.0
	waitFor(t, 60*time.Second, "drops on every camera", func() bool {
		maxDepth = max(maxDepth, metric(t, r.reg, "streetwatch_detector_queue_depth"))
		for _, c := range cams {
			if metric(t, r.reg, "streetwatch_frames_dropped_total", "camera", c.ID, "reason", "overload") == 0 ||
				metric(t, r.reg, "streetwatch_frames_processed_total", "camera", c.ID) < 5 {
				return false
			}
		}
		return true
	})
	r.stop()
	if maxDepth > queue {
		t.Fatalf("queue depth reached %v, bound is %d", maxDepth, queue)
	}
	lo, hi := 1e18, 0.0
	for _, c := range cams {
		v := metric(t, r.reg, "streetwatch_frames_processed_total", "camera", c.ID)
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo < hi/4 {
		t.Fatalf("unfair: processed frames per camera range %v..%v", lo, hi)
	}
}
