package detectors

import (
	"bytes"
	"context"
	"errors"
	"image"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/media/frame"
)

// pooledFrames takes n frames of w×h from the pool, cameras in turn.
func pooledFrames(pool *frame.Pool, cams []string, n, w, h int) []*frame.Frame {
	var frames []*frame.Frame
	for i := range n {
		f := pool.Get()
		f.Camera, f.Seq = cams[i%len(cams)], uint64(i)
		f.Ensure(w, h)
		f.Mat.SetTo(gocv.NewScalar(40, 80, 120, 0))
		frames = append(frames, f)
	}
	return frames
}

// requireReleasedOnce checks that every frame went back to its pool exactly
// once: the pool hands out released frames before it makes new ones, so a
// frame never released is missing and one released twice comes out twice.
func requireReleasedOnce(t *testing.T, pool *frame.Pool, frames []*frame.Frame) {
	t.Helper()
	want := map[*frame.Frame]bool{}
	for _, f := range frames {
		want[f] = true
	}
	for range frames {
		f := pool.Get()
		if !want[f] {
			t.Fatalf("%d of %d frames were not released exactly once", len(want), len(frames))
		}
		delete(want, f)
	}
}

type batcherRun struct {
	results map[*frame.Frame][]Result // every OnResult call, by frame
	logs    string
	metrics *Metrics
}

// runBatcher runs the batcher until every frame came back, then stops it;
// Run must return nil.
func runBatcher(t *testing.T, b *Batcher, frames []*frame.Frame) batcherRun {
	t.Helper()
	return runBatcherUntil(t, b, frames, len(frames))
}

// runBatcherUntil is runBatcher for when only want of the frames come back.
func runBatcherUntil(t *testing.T, b *Batcher, frames []*frame.Frame, want int) batcherRun {
	t.Helper()
	var logs bytes.Buffer
	run := batcherRun{results: map[*frame.Frame][]Result{}, metrics: NewMetrics(prometheus.NewRegistry())}
	b.Queue = newSliceSource(append([]*frame.Frame(nil), frames...))
	b.MaxWait = 50 * time.Millisecond
	b.Log = slog.New(slog.NewTextHandler(&logs, nil))
	b.Metrics = run.metrics
	var mu sync.Mutex
	all := make(chan struct{})
	b.OnResult = func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		run.results[r.Frame] = append(run.results[r.Frame], r)
		if len(run.results) == want {
			close(all)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- b.Run(ctx) }()
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		t.Errorf("only %d of %d frames came back", len(run.results), want)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v, want nil: failures on a batch are reported, not returned", err)
	}
	run.logs = logs.String()
	return run
}

func (r batcherRun) errors(model, stage string) float64 {
	return testutil.ToFloat64(r.metrics.errors.WithLabelValues(model, stage))
}

// inferences is how many runs streetwatch_inference_seconds observed.
func (r batcherRun) inferences(t *testing.T, model string) uint64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.metrics.inference)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == model {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func countLines(logs, substr string) int {
	n := 0
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// A broken export that claims a dynamic batch loads (the warm-up runs one
// image) and then fails on every batch of two. Its failures are counted at
// once, logged once for the burst and reported by Failing; the other model
// still finds its objects on every frame of both cameras, and every frame
// is delivered once and released.
func TestBrokenModelIsCountedAndLoggedOnceWhileTheOtherModelsGoOn(t *testing.T) {
	good := loadTestModel(t, golden("yolov8"), SessionOptions{IntraOpThreads: 1})
	broken := loadTestModel(t, golden("liar"), SessionOptions{IntraOpThreads: 1})
	pool := frame.NewPool(100)
	defer pool.Close()
	// Batches of 4, cameras in turn: each batch gives the broken model two
	// frames of camera a.
	frames := pooledFrames(pool, []string{"a", "b"}, 12, 640, 384)
	b := &Batcher{
		Models:       map[string]*Model{"good": good, "broken": broken},
		CameraModels: map[string][]string{"a": {"good", "broken"}, "b": {"good"}},
		MaxBatch:     4,
	}
	run := runBatcher(t, b, frames)

	for _, f := range frames {
		rs := run.results[f]
		if len(rs) != 1 {
			t.Fatalf("frame %d of camera %s delivered %d times, want once", f.Seq, f.Camera, len(rs))
		}
		for _, d := range rs[0].Detections {
			if d.Model != "good" {
				t.Errorf("frame %d: detection from %q", f.Seq, d.Model)
			}
		}
		if n := len(rs[0].Detections); n != 3 {
			t.Errorf("frame %d of camera %s: %d detections from the good model, want its 3", f.Seq, f.Camera, n)
		}
	}
	requireReleasedOnce(t, pool, frames)
	if n := run.errors("broken", stageInference); n != 3 {
		t.Errorf("inference errors of the broken model = %v, want 3 (one per batch)", n)
	}
	if n := run.errors("good", stageInference); n != 0 {
		t.Errorf("inference errors of the good model = %v", n)
	}
	if n := run.inferences(t, "broken"); n != 0 {
		t.Errorf("streetwatch_inference_seconds observed %d failed runs", n)
	}
	if n := run.inferences(t, "good"); n != 3 {
		t.Errorf("streetwatch_inference_seconds observed %d runs of the good model, want 3", n)
	}
	if n := countLines(run.logs, "detection failed"); n != 1 {
		t.Errorf("%d error lines for one burst of failures, want 1:\n%s", n, run.logs)
	}
	for _, want := range []string{"model=broken", "stage=inference", "batch=2", "cameras=[a]", "err="} {
		if !strings.Contains(run.logs, want) {
			t.Errorf("log lacks %s:\n%s", want, run.logs)
		}
	}
	if got := b.Failing(); !slices.Equal(got, []string{"broken: inference"}) {
		t.Errorf("Failing() = %v, want [broken: inference]", got)
	}
}

// A default Ultralytics export has a fixed batch of 1. With two cameras
// and batches of 4 it runs frame by frame: every frame gets its boxes,
// nothing fails, and each run is one inference of one frame.
func TestFixedBatchOfOneRunsFrameByFrame(t *testing.T) {
	m := loadTestModel(t, golden("batch1"), SessionOptions{IntraOpThreads: 1})
	if m.FixedBatch() != 1 || m.RunLimit() != 1 {
		t.Fatalf("fixed batch %d, run limit %d; want 1 and 1", m.FixedBatch(), m.RunLimit())
	}
	pool := frame.NewPool(100)
	defer pool.Close()
	frames := pooledFrames(pool, []string{"a", "b"}, 12, 640, 384)
	b := &Batcher{Models: map[string]*Model{"b1": m}, MaxBatch: 4}
	run := runBatcher(t, b, frames)
	for _, f := range frames {
		if rs := run.results[f]; len(rs) != 1 || len(rs[0].Detections) != 3 {
			t.Fatalf("frame %d of camera %s: %v, want one result with 3 detections", f.Seq, f.Camera, rs)
		}
	}
	requireReleasedOnce(t, pool, frames)
	if n := run.errors("b1", stageInference) + run.errors("b1", stageTensor); n != 0 {
		t.Errorf("%v errors, want none", n)
	}
	if n := run.inferences(t, "b1"); n != 12 {
		t.Errorf("%d inferences for 12 frames, want 12 (one frame each)", n)
	}
	if got := b.Failing(); len(got) != 0 {
		t.Errorf("Failing() = %v", got)
	}
}

// A frame whose picture cannot be read (a non-continuous Mat) gets no
// detections; the failure is counted and logged with its camera, and the
// other frames of the batch get theirs.
func TestFrameThatCannotBeLetterboxedIsCountedAndTheOthersGetDetections(t *testing.T) {
	good := loadTestModel(t, golden("yolov8"), SessionOptions{IntraOpThreads: 1})
	pool := frame.NewPool(100)
	defer pool.Close()
	frames := pooledFrames(pool, []string{"b"}, 3, 640, 384)
	// Exactly the model's input size, so it is read without a resize.
	wide := gocv.NewMatWithSize(192, 640, gocv.MatTypeCV8UC3)
	defer wide.Close()
	bad := pool.Get()
	bad.Camera, bad.Seq = "a", 3
	bad.Mat = wide.Region(image.Rect(0, 0, 320, 192))
	frames = append(frames, bad)

	run := runBatcher(t, &Batcher{Models: map[string]*Model{"good": good}, MaxBatch: 4}, frames)
	for _, f := range frames {
		rs := run.results[f]
		if len(rs) != 1 {
			t.Fatalf("frame %d delivered %d times, want once", f.Seq, len(rs))
		}
		want := 3
		if f == bad {
			want = 0
		}
		if n := len(rs[0].Detections); n != want {
			t.Errorf("frame %d of camera %s: %d detections, want %d", f.Seq, f.Camera, n, want)
		}
	}
	requireReleasedOnce(t, pool, frames)
	if n := run.errors("good", stageLetterbox); n != 1 {
		t.Errorf("letterbox errors = %v, want 1", n)
	}
	if n := countLines(run.logs, "detection failed"); n != 1 || !strings.Contains(run.logs, "stage=letterbox") || !strings.Contains(run.logs, "camera=a") {
		t.Errorf("want one letterbox error line naming camera a:\n%s", run.logs)
	}
}

// Pending frames (keyframes queued still encoded) get their pictures made
// on the workers before letterboxing, several at once, and then the
// detections a ready frame of the same picture gets; one whose picture
// cannot be made is released without a result, and the others of its
// batch are not held back.
func TestPendingFramesAreLoadedOnTheWorkersAndOneThatFailsIsDroppedAlone(t *testing.T) {
	good := loadTestModel(t, golden("yolov8"), SessionOptions{IntraOpThreads: 1})
	pool := frame.NewPool(100)
	defer pool.Close()
	ready := pooledFrames(pool, []string{"a"}, 2, 640, 384)
	var mu sync.Mutex
	loading, most := 0, 0
	paint := func(f *frame.Frame) error {
		mu.Lock()
		loading++
		most = max(most, loading)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // long enough for the other worker to start one
		f.Ensure(640, 384)
		f.Mat.SetTo(gocv.NewScalar(40, 80, 120, 0))
		mu.Lock()
		loading--
		mu.Unlock()
		return nil
	}
	var pending []*frame.Frame
	for i := range 4 {
		f := pool.Pending(paint)
		f.Camera, f.Seq = "b", uint64(10+i)
		pending = append(pending, f)
	}
	broken := pool.Pending(func(*frame.Frame) error { return errors.New("not a picture") })
	broken.Camera, broken.Seq = "b", 20
	frames := append(append(append([]*frame.Frame{}, ready...), pending[:2]...), broken)
	frames = append(frames, pending[2:]...)

	run := runBatcherUntil(t, &Batcher{Models: map[string]*Model{"good": good}, MaxBatch: 8, Workers: 2}, frames, len(frames)-1)
	if rs := run.results[broken]; len(rs) != 0 {
		t.Fatalf("the frame whose picture could not be made was delivered %d times", len(rs))
	}
	want := len(run.results[ready[0]][0].Detections)
	if want == 0 {
		t.Fatal("the ready frame has no detections to compare with")
	}
	for _, f := range append(ready, pending...) {
		rs := run.results[f]
		if len(rs) != 1 || f.Pending() {
			t.Fatalf("frame %d delivered %d times (pending %v), want once, loaded", f.Seq, len(rs), f.Pending())
		}
		if n := len(rs[0].Detections); n != want {
			t.Errorf("frame %d: %d detections, want %d as the ready frame", f.Seq, n, want)
		}
	}
	if most < 2 {
		t.Errorf("at most %d pictures made at once by 2 workers", most)
	}
	if n := run.errors("good", stageLetterbox); n != 0 {
		t.Errorf("letterbox errors = %v, want 0: a failed load is its loader's to count", n)
	}
	requireReleasedOnce(t, pool, append(ready, pending...))
}
