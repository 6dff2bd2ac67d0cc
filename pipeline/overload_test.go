package pipeline_test

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/simulate"
)

// TestOverloadDropsOldestFramesFairly: six cameras play the same file at
// the same speed (25 sampled frames/s of stream time, played 3× fast: about
// 450 frames/s offered) into a queue of 8 in front of a consumer slowed to
// at most 100 frames/s (OnFrame sleeps 10 ms).
//
// With no detector configured the consumer takes one frame at a time and
// calls OnFrame right after each Pop, so counters read at the end of one
// OnFrame call are lower bounds of their values when the next frame is taken.
//
// Oldest: when frame f is the k-th of camera c to reach the consumer, f.Seq-k
// older frames of c never did. Taking and dropping both come from the front
// of c's frames (oldest first), so those are exactly the frames of c dropped
// before f was taken: f.Seq-k ≥ dropped(c) read before that Pop. A queue that
// dropped a newer frame while an older one waited (tail drop, or any other
// victim) fails it. And f is among c's newest: every frame of c sampled after
// f is still waiting when f is taken, at most 8 (the capacity) plus the one
// a decoder may have counted and not yet pushed.
//
// Fair: the queue hands frames out round-robin and drops from the camera with
// the most waiting. Were a frame of every camera always waiting, the cameras'
// counts would differ by at most one. A camera loses its turn only when it
// has nothing waiting, which at 4.5× overload happens when its decoder falls
// behind on this shared two-core machine; the test allows that to cost or
// gain a camera a quarter of its share: each gets 1/6 ± 1/24 of the frames
// (seen: within 3%). A policy that served one camera 1.5× as often as
// another already fails it; the old bound let one get 4× another's.
func TestOverloadDropsOldestFramesFairly(t *testing.T) {
	file := mediatest.File(t, "h264_640x360.mp4")
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

	var (
		reg        atomic.Pointer[prometheus.Registry]
		mu         sync.Mutex
		delivered  = map[string]uint64{}
		before     map[string]counts // read at the end of the previous OnFrame
		violations []string
		checked    int
	)
	onFrame := func(f *frame.Frame, _ []detectors.Detection) {
		mu.Lock()
		delivered[f.Camera]++
		k := delivered[f.Camera]
		if b, ok := before[f.Camera]; ok {
			checked++
			if older := f.Seq - k; older < b.dropped {
				violations = append(violations, fmt.Sprintf("%s seq %d (taken %d of its frames): %d older frames not taken, but %d were dropped before it was taken: a newer frame was dropped",
					f.Camera, f.Seq, k, older, b.dropped))
			}
			if b.sampled > f.Seq+queue {
				violations = append(violations, fmt.Sprintf("%s seq %d taken after %d were sampled: not among the newest %d", f.Camera, f.Seq, b.sampled, queue+1))
			}
		}
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		if r := reg.Load(); r != nil {
			c, err := readCounts(r)
			mu.Lock()
			if err != nil {
				violations = append(violations, err.Error())
			}
			before = c
			mu.Unlock()
		}
	}
	r := runConfigWith(t, &config.Config{Cameras: cams, Pipeline: config.Pipeline{FrameQueue: queue}}, onFrame)
	reg.Store(r.reg)
	waitFor(t, 60*time.Second, "60 frames and drops on every camera", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cams {
			if delivered[c.ID] < 60 || before[c.ID].dropped == 0 {
				return false
			}
		}
		return true
	})
	r.stop()
	mu.Lock()
	defer mu.Unlock()
	for i, v := range violations {
		if i == 10 {
			t.Errorf("... and %d more", len(violations)-10)
			break
		}
		t.Error(v)
	}
	if checked < 300 {
		t.Fatalf("only %d frames checked", checked)
	}
	var total uint64
	for _, v := range delivered {
		total += v
	}
	for _, c := range cams {
		share := float64(delivered[c.ID]) / float64(total)
		if math.Abs(share-1.0/n) > 1.0/(4*n) {
			t.Errorf("%s got %d of %d frames (%.3f), want 1/%d ± 1/%d: %v", c.ID, delivered[c.ID], total, share, n, 4*n, delivered)
		}
	}
	t.Logf("frames taken per camera %v; %d checked", delivered, checked)
}

type counts struct{ sampled, dropped uint64 }

// readCounts reads every camera's sampled and overload-dropped counters.
func readCounts(reg *prometheus.Registry) (map[string]counts, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	c := map[string]counts{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var cam, reason string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "camera":
					cam = lp.GetValue()
				case "reason":
					reason = lp.GetValue()
				}
			}
			v := uint64(m.GetCounter().GetValue())
			x := c[cam]
			switch {
			case mf.GetName() == "streetwatch_frames_sampled_total":
				x.sampled = v
			case mf.GetName() == "streetwatch_frames_dropped_total" && reason == "overload":
				x.dropped = v
			default:
				continue
			}
			c[cam] = x
		}
	}
	return c, nil
}
