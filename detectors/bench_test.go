package detectors

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/media/frame"
)

// endlessSource always has a frame ready: 1280x720 rendered street images,
// recycled through a pool as the pipeline's decoder does.
type endlessSource struct {
	pool  *frame.Pool
	img   gocv.Mat
	seq   atomic.Uint64
	ready chan struct{}
}

func (s *endlessSource) TryPop() (*frame.Frame, error) {
	f := s.pool.Get()
	if f.Mat.Ptr() == nil {
		f.Ensure(s.img.Cols(), s.img.Rows())
		s.img.CopyTo(&f.Mat)
	}
	f.Camera = "cam"
	f.Seq = s.seq.Add(1)
	return f, nil
}

func (s *endlessSource) Pop(context.Context) (*frame.Frame, error) { return s.TryPop() }
func (s *endlessSource) Ready() <-chan struct{}                    { return s.ready }

// BenchmarkDetector compares, in one run and per batch size, a raw
// onnxruntime_go Run loop on the demo model (input already in the tensor)
// with the whole detector stage: letterboxing 1280x720 frames (in parallel
// with inference), inference, decoding, NMS and delivery. Both report
// images/s; `make bench` runs it and BENCHMARKS.md has the results.
func BenchmarkDetector(b *testing.B) {
	needRuntime(b)
	man, err := LoadManifest(demoManifest())
	if err != nil {
		b.Fatal(err)
	}
	m, err := LoadModel(man, SessionOptions{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	imgs := testImages(b)
	for _, batch := range []int{1, 4, 8, 16} {
		b.Run(fmt.Sprintf("raw/batch%d", batch), func(b *testing.B) {
			in := make([]float32, batch*m.InputSize())
			for i := range in {
				in[i] = 0.45
			}
			it, _ := ort.NewTensor(ort.NewShape(int64(batch), 3, int64(man.Input.Height), int64(man.Input.Width)), in)
			ot, _ := ort.NewTensor(ort.NewShape(int64(batch), int64(m.d1), int64(m.d2)), make([]float32, batch*m.OutputSize()))
			defer it.Destroy()
			defer ot.Destroy()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := m.session.Run([]ort.Value{it}, []ort.Value{ot}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "images/s")
		})
		b.Run(fmt.Sprintf("stage/batch%d", batch), func(b *testing.B) {
			img := gocv.IMRead(imgs[0], gocv.IMReadColor)
			defer img.Close()
			src := &endlessSource{pool: frame.NewPool(64), img: img, ready: make(chan struct{})}
			defer src.pool.Close()
			// A running pipeline's pool is warm: the frames in flight (two
			// slots of a batch, and the one being filled) are made before the
			// clock starts, not 2.7 MiB allocations and copies inside it.
			warm := make([]*frame.Frame, 3*batch)
			for i := range warm {
				warm[i], _ = src.TryPop()
			}
			for _, f := range warm {
				f.Release()
			}
			var done atomic.Int64
			target := int64(b.N * batch)
			finished := make(chan struct{})
			ctx, cancel := context.WithCancel(context.Background())
			s := &Batcher{Queue: src, Models: map[string]*Model{"demo": m}, MaxBatch: batch, MaxWait: 10 * time.Millisecond,
				OnResult: func(Result) {
					if done.Add(1) == target {
						close(finished)
					}
				}}
			b.ResetTimer()
			start := time.Now()
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				_ = s.Run(ctx)
			}()
			<-finished
			el := time.Since(start)
			cancel()
			<-stopped
			b.ReportMetric(float64(target)/el.Seconds(), "images/s")
		})
	}
}

// BenchmarkCloserLook is the cost of one closer look (Zoomer.Detect) at a
// 60x70-pixel object in a 1280x720 frame, against one frame through the
// raw ONNX Runtime loop at batch 1 in the same run: the look is one
// inference of the model's input size, plus its crop and letterbox.
func BenchmarkCloserLook(b *testing.B) {
	needRuntime(b)
	m := loadTestModel(b, demoManifest(), SessionOptions{IntraOpThreads: 1})
	z, err := NewZoomer(m)
	if err != nil {
		b.Fatal(err)
	}
	defer z.Close()
	img := gocv.IMRead(testImages(b)[0], gocv.IMReadColor)
	defer img.Close()
	b.Run("raw/batch1", func(b *testing.B) {
		for range b.N {
			if err := m.session.Run([]ort.Value{z.t[0]}, []ort.Value{z.t[1]}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("look", func(b *testing.B) {
		r := Around(geom.Box{X1: 600, Y1: 400, X2: 660, Y2: 470}, img.Cols(), img.Rows())
		for range b.N {
			if _, err := z.Detect(img, r, "demo", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
