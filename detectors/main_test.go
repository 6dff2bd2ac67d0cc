package detectors

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media/frame"
)

var runtimeErr error

func TestMain(m *testing.M) {
	if os.Getenv(wrongLibEnv) != "" {
		os.Exit(wrongLibraryChild())
	}
	_, runtimeErr = InitRuntime("")
	os.Exit(m.Run())
}

// needRuntime fails (in CI) or skips when ONNX Runtime could not load.
func needRuntime(t testing.TB) {
	t.Helper()
	if runtimeErr != nil {
		mediatest.Missing(t, "ONNX Runtime: %v", runtimeErr)
	}
}

func loadTestModel(t testing.TB, manifest string, opts SessionOptions) *Model {
	t.Helper()
	needRuntime(t)
	man, err := LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadModel(man, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func golden(name string) string { return filepath.Join("testdata", "golden_"+name+".yaml") }

func demoManifest() string {
	return filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml")
}

// sliceSource hands out a fixed list of frames, then blocks.
type sliceSource struct {
	mu     sync.Mutex
	frames []*frame.Frame
	ready  chan struct{}
}

func newSliceSource(frames []*frame.Frame) *sliceSource {
	s := &sliceSource{frames: frames, ready: make(chan struct{}, 1)}
	s.ready <- struct{}{}
	return s
}

func (s *sliceSource) TryPop() (*frame.Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) == 0 {
		return nil, nil
	}
	f := s.frames[0]
	s.frames = s.frames[1:]
	return f, nil
}

func (s *sliceSource) Pop(ctx context.Context) (*frame.Frame, error) {
	for {
		if f, _ := s.TryPop(); f != nil {
			return f, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func (s *sliceSource) Ready() <-chan struct{} { return s.ready }

// detectAll runs frames through a batcher and returns each frame's
// detections in frame order (by Seq).
func detectAll(t testing.TB, models map[string]*Model, filters map[string]*CameraFilter, maxBatch int, frames []*frame.Frame) [][]Detection {
	t.Helper()
	return detect(t, &Batcher{Models: models, Filters: filters, MaxBatch: maxBatch}, frames)
}

func detectAllWith(t testing.TB, models map[string]*Model, cameraModels map[string][]string, frames []*frame.Frame) [][]Detection {
	t.Helper()
	return detect(t, &Batcher{Models: models, CameraModels: cameraModels, MaxBatch: 4}, frames)
}

func detect(t testing.TB, s *Batcher, frames []*frame.Frame) [][]Detection {
	t.Helper()
	out := make([][]Detection, len(frames))
	var mu sync.Mutex
	got := 0
	done := make(chan struct{})
	s.Queue = newSliceSource(frames)
	s.MaxWait = 50 * time.Millisecond
	s.OnResult = func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		out[r.Frame.Seq] = r.Detections
		got++
		if got == len(out) {
			close(done)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d of %d frames came back", got, len(frames))
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return out
}

// solidFrame makes a w×h frame (its pixels do not matter to constant models).
func solidFrame(camera string, seq uint64, w, h int) *frame.Frame {
	f := &frame.Frame{Camera: camera, Seq: seq}
	f.Ensure(w, h)
	f.Mat.SetTo(gocv.NewScalar(40, 80, 120, 0))
	return f
}

func imageFrame(t testing.TB, path string, camera string, seq uint64) *frame.Frame {
	t.Helper()
	m := gocv.IMRead(path, gocv.IMReadColor)
	if m.Empty() {
		t.Fatalf("cannot read %s", path)
	}
	return &frame.Frame{Camera: camera, Seq: seq, Mat: m}
}

func sameDetections(a, b []Detection, tol float32) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d detections vs %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		d := max(abs(x.Box.X1-y.Box.X1), abs(x.Box.Y1-y.Box.Y1), abs(x.Box.X2-y.Box.X2), abs(x.Box.Y2-y.Box.Y2))
		if x.Class != y.Class || d > tol || abs(x.Score-y.Score) > 0.01 {
			return fmt.Errorf("detection %d: %s %.3f %v vs %s %.3f %v", i, x.Class, x.Score, x.Box, y.Class, y.Score, y.Box)
		}
	}
	return nil
}

func abs(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
