package pipeline_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline"
	"github.com/streetwatch/streetwatch/simulate"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// frameInfo is what a test keeps of a frame (the frame itself goes back to its pool).
type frameInfo struct {
	pts           int64
	time          time.Time
	key           bool
	width, height int
}

type recorder struct {
	mu     sync.Mutex
	frames map[string][]frameInfo
}

func (r *recorder) onFrame(f *frame.Frame, _ []detectors.Detection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frames == nil {
		r.frames = map[string][]frameInfo{}
	}
	r.frames[f.Camera] = append(r.frames[f.Camera], frameInfo{f.PTS, f.Time, f.Key, f.Width(), f.Height()})
}

func (r *recorder) get(cam string) []frameInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]frameInfo(nil), r.frames[cam]...)
}

type running struct {
	p    *pipeline.Pipeline
	reg  *prometheus.Registry
	rec  *recorder
	stop func()
}

// runPipeline runs a pipeline over cams until the test ends.
func runPipeline(t *testing.T, cams ...config.Camera) *running {
	t.Helper()
	return runConfig(t, &config.Config{Cameras: cams})
}

func runConfig(t *testing.T, cfg *config.Config) *running {
	t.Helper()
	rec := &recorder{}
	r := runConfigWith(t, cfg, rec.onFrame)
	r.rec = rec
	return r
}

// runConfigWith runs a pipeline from cfg (defaults applied) until the test
// ends, calling onFrame for each processed frame.
func runConfigWith(t *testing.T, cfg *config.Config, onFrame func(*frame.Frame, []detectors.Detection)) *running {
	t.Helper()
	return runConfigSetup(t, cfg, func(p *pipeline.Pipeline) { p.OnFrame = onFrame })
}

// runConfigSetup builds the pipeline, lets setup set its callbacks, and runs it.
func runConfigSetup(t *testing.T, cfg *config.Config, setup func(*pipeline.Pipeline)) *running {
	t.Helper()
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := pipeline.New(cfg, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{p: p, reg: reg, rec: &recorder{}}
	setup(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			t.Errorf("pipeline: %v", err)
		}
	}()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
				if err := p.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("pipeline did not stop within 20 s of cancel")
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

// startSim serves files as cameras until the test ends.
func startSim(t *testing.T, s *simulate.Server, cams ...string) *simulate.Server {
	t.Helper()
	if s.Addr == "" {
		s.Addr = "127.0.0.1:0"
	}
	s.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for i := 0; i+1 < len(cams); i += 2 {
		if err := s.Add(cams[i], cams[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric returns the value of a counter or gauge with the given labels.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			want := map[string]string{}
			for i := 0; i+1 < len(labels); i += 2 {
				want[labels[i]] = labels[i+1]
			}
			for _, lp := range m.GetLabel() {
				if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return value(m)
		}
	}
	return 0
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

func checkMonotonic(t *testing.T, frames []frameInfo) {
	t.Helper()
	for i := 1; i < len(frames); i++ {
		if frames[i].pts <= frames[i-1].pts {
			t.Fatalf("frame %d: PTS %d not after %d", i, frames[i].pts, frames[i-1].pts)
		}
		if !frames[i].time.After(frames[i-1].time) {
			t.Fatalf("frame %d: time %v not after %v", i, frames[i].time, frames[i-1].time)
		}
	}
}

func TestPipelineDecodesEveryPictureOfSimulatedCamera(t *testing.T) {
	for _, tc := range []struct {
		file          string
		width, height int
	}{
		{"h264_640x360.mp4", 640, 360},
		{"h265_640x360.mp4", 640, 360},
		{"h264_640x360.ts", 640, 360},
		{"h265_640x360.ts", 640, 360},
	} {
		t.Run(tc.file, func(t *testing.T) {
			file := mediatest.File(t, tc.file)
			want := mediatest.Probe(t, file)
			sim := startSim(t, &simulate.Server{Speed: 5, NoLoop: true, WaitForReader: true}, "cam", file)
			r := runPipeline(t, config.Camera{ID: "cam", URL: sim.URL("cam"), Transport: "tcp",
				Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 25}})
			waitFor(t, 60*time.Second, fmt.Sprintf("%d frames", want.Packets), func() bool {
				return len(r.rec.get("cam")) >= want.Packets
			})
			time.Sleep(200 * time.Millisecond) // would any extra frame show up?
			r.stop()
			frames := r.rec.get("cam")
			if len(frames) != want.Packets {
				t.Fatalf("got %d frames, the file has %d pictures", len(frames), want.Packets)
			}
			if got := metric(t, r.reg, "streetwatch_frames_decoded_total", "camera", "cam"); got != float64(want.Packets) {
				t.Errorf("frames_decoded_total = %v, want %d", got, want.Packets)
			}
			if got := metric(t, r.reg, "streetwatch_decode_errors_total", "camera", "cam"); got != 0 {
				t.Errorf("decode_errors_total = %v, want 0", got)
			}
			for i, f := range frames {
				if f.width != tc.width || f.height != tc.height {
					t.Fatalf("frame %d is %dx%d, want %dx%d", i, f.width, f.height, tc.width, tc.height)
				}
			}
			checkMonotonic(t, frames)
			// 25 fps: consecutive pictures are 3600 ticks apart in stream time.
			if d := frames[1].pts - frames[0].pts; d != 3600 {
				t.Errorf("PTS step %d, want 3600", d)
			}
		})
	}
}

func TestKeyframesModeDecodesOnlyKeyframes(t *testing.T) {
	for _, name := range []string{"h264_640x360.mp4", "h265_640x360.ts", "h264_bframes_640x360.mp4"} {
		t.Run(name, func(t *testing.T) {
			file := mediatest.File(t, name)
			want := mediatest.Probe(t, file)
			if want.Keyframes < 2 || want.Keyframes >= want.Packets {
				t.Fatalf("test file has %d keyframes in %d pictures", want.Keyframes, want.Packets)
			}
			sim := startSim(t, &simulate.Server{Speed: 5, NoLoop: true, WaitForReader: true}, "cam", file)
			r := runPipeline(t, config.Camera{ID: "cam", URL: sim.URL("cam"), Transport: "tcp",
				Sampling: config.Sampling{Mode: config.SampleKeyframes}})
			waitFor(t, 60*time.Second, "all access units", func() bool {
				return metric(t, r.reg, "streetwatch_access_units_total", "camera", "cam") >= float64(want.Packets)
			})
			time.Sleep(200 * time.Millisecond)
			r.stop()
			frames := r.rec.get("cam")
			if len(frames) != want.Keyframes {
				t.Fatalf("got %d frames, the file has %d keyframes", len(frames), want.Keyframes)
			}
			if got := metric(t, r.reg, "streetwatch_frames_decoded_total", "camera", "cam"); got != float64(want.Keyframes) {
				t.Fatalf("decoded %v pictures, want only the %d keyframes", got, want.Keyframes)
			}
			for i, f := range frames {
				if !f.key {
					t.Fatalf("frame %d is not a keyframe", i)
				}
			}
			checkMonotonic(t, frames)
		})
	}
}

func TestRealFootageDecodesCompletely(t *testing.T) {
	file := mediatest.File(t, "vtest_h264.mp4")
	want := mediatest.Probe(t, file)
	sim := startSim(t, &simulate.Server{Speed: 10, NoLoop: true, WaitForReader: true}, "vtest", file)
	r := runPipeline(t, config.Camera{ID: "vtest", URL: sim.URL("vtest"), Transport: "tcp",
		Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 10}})
	waitFor(t, 120*time.Second, fmt.Sprintf("%d frames", want.Packets), func() bool {
		return len(r.rec.get("vtest")) >= want.Packets
	})
	r.stop()
	frames := r.rec.get("vtest")
	if len(frames) != want.Packets {
		t.Fatalf("got %d frames of %d", len(frames), want.Packets)
	}
	if frames[0].width != 768 || frames[0].height != 576 {
		t.Fatalf("frame size %dx%d, want 768x576", frames[0].width, frames[0].height)
	}
	checkMonotonic(t, frames)
	if got := metric(t, r.reg, "streetwatch_decode_errors_total", "camera", "vtest"); got != 0 {
		t.Fatalf("decode errors: %v", got)
	}
}

func TestResolutionChangeMidStream(t *testing.T) {
	file := mediatest.File(t, "h264_resize.ts")
	want := mediatest.Probe(t, file)
	sim := startSim(t, &simulate.Server{Speed: 5, NoLoop: true, WaitForReader: true}, "cam", file)
	r := runPipeline(t, config.Camera{ID: "cam", URL: sim.URL("cam"), Transport: "tcp",
		Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 25}})
	waitFor(t, 60*time.Second, "all frames", func() bool { return len(r.rec.get("cam")) >= want.Packets })
	r.stop()
	sizes := map[string]int{}
	for _, f := range r.rec.get("cam") {
		sizes[fmt.Sprintf("%dx%d", f.width, f.height)]++
	}
	if sizes["640x360"] != want.Packets/2 || sizes["320x240"] != want.Packets/2 {
		t.Fatalf("frame sizes %v, want %d of 640x360 then %d of 320x240", sizes, want.Packets/2, want.Packets/2)
	}
}

func TestBFramesComeOutInPresentationOrder(t *testing.T) {
	file := mediatest.File(t, "h264_bframes_640x360.mp4")
	want := mediatest.Probe(t, file)
	sim := startSim(t, &simulate.Server{Speed: 5, NoLoop: true, WaitForReader: true}, "cam", file)
	r := runPipeline(t, config.Camera{ID: "cam", URL: sim.URL("cam"), Transport: "tcp",
		Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 25}})
	// The decoder holds back up to its reorder depth at the end of the stream.
	waitFor(t, 60*time.Second, "frames", func() bool { return len(r.rec.get("cam")) >= want.Packets-2 })
	r.stop()
	checkMonotonic(t, r.rec.get("cam"))
}
