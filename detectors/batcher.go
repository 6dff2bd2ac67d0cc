package detectors

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/streetwatch/streetwatch/media/frame"
)

// FrameSource is where the batcher takes frames from: the pipeline's
// bounded, fair, drop-oldest frame queue.
type FrameSource interface {
	// Pop waits for the next frame.
	Pop(ctx context.Context) (*frame.Frame, error)
	// TryPop returns the next frame or nil at once.
	TryPop() (*frame.Frame, error)
	// Ready is signalled when frames may be waiting.
	Ready() <-chan struct{}
}

// Result is one frame's detections. The frame is released after OnResult
// returns: keep a clone of its Mat if it is needed later.
type Result struct {
	Frame      *frame.Frame
	Detections []Detection
}

// Batcher batches frames from all cameras (up to MaxBatch frames, or what
// arrived within MaxWait of the first), letterboxes them in parallel while
// the previous batch is being inferred, runs one session per model per
// batch and hands each frame's detections to OnResult.
type Batcher struct {
	Queue  FrameSource
	Models map[string]*Model
	// CameraModels lists the models each camera runs; a camera missing
	// here runs every model.
	CameraModels map[string][]string
	Filters      map[string]*CameraFilter
	MaxBatch     int
	MaxWait      time.Duration
	// Workers letterbox in parallel (default GOMAXPROCS).
	Workers  int
	OnResult func(Result)
	Metrics  *Metrics

	order      []string // model names, sorted once
	decodeTh   map[string][]float32
	detCounter map[string]prometheus.Counter
}

type slot struct {
	frames []*frame.Frame
	// per model: which frames of the batch, their letterboxes, the buffers
	jobs    map[string]*modelJob
	tensors map[string]map[int][2]*ort.Tensor[float32] // model → batch size → (in, out)
}

type modelJob struct {
	idx []int
	lbs []letterbox
	in  []float32
	out []float32
}

type prepJob struct {
	dst   []float32
	frame *frame.Frame
	lb    letterbox
	m     *Model
	wg    *sync.WaitGroup
	err   *error
	errMu *sync.Mutex
}

// Run processes frames until ctx ends or the queue closes.
func (s *Batcher) Run(ctx context.Context) error {
	if len(s.Models) == 0 {
		return fmt.Errorf("detectors: no models")
	}
	if s.MaxBatch <= 0 {
		s.MaxBatch = 8
	}
	if s.Workers <= 0 {
		s.Workers = runtime.GOMAXPROCS(0)
	}
	if s.Metrics == nil {
		s.Metrics = NewMetrics(nil)
	}
	s.prepareThresholds()
	s.detCounter = map[string]prometheus.Counter{}

	jobs := make(chan prepJob)
	var workers sync.WaitGroup
	for range s.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			p := newPreprocessor()
			defer p.close()
			for j := range jobs {
				in := j.m.Manifest.Input
				if err := p.fill(j.dst, j.frame.Mat, j.lb, in.Width, in.Height, float32(in.Letterbox.PadValue)/255); err != nil {
					j.errMu.Lock()
					*j.err = err
					j.errMu.Unlock()
				}
				j.wg.Done()
			}
		}()
	}

	// Two slots: one being filled while the other is inferred.
	free := make(chan *slot, 2)
	for range 2 {
		free <- s.newSlot()
	}
	ready := make(chan *slot)
	inferDone := make(chan struct{})
	var inferErr error
	go func() {
		defer close(inferDone)
		for sl := range ready {
			if err := s.infer(sl); err != nil && inferErr == nil {
				inferErr = err
			}
			free <- sl
		}
	}()

	var err error
	for {
		var sl *slot
		select {
		case <-ctx.Done():
		case sl = <-free:
		}
		if sl == nil {
			break
		}
		if !s.collect(ctx, sl) {
			free <- sl
			break
		}
		start := time.Now()
		s.prepare(sl, jobs)
		s.Metrics.preprocess.Observe(time.Since(start).Seconds())
		ready <- sl
	}
	close(ready)
	<-inferDone
	close(jobs)
	workers.Wait()
	for range 2 {
		s.freeSlot(<-free)
	}
	if inferErr != nil {
		err = inferErr
	}
	return err
}

func (s *Batcher) newSlot() *slot {
	sl := &slot{jobs: map[string]*modelJob{}, tensors: map[string]map[int][2]*ort.Tensor[float32]{}}
	for name, m := range s.Models {
		sl.jobs[name] = &modelJob{
			in:  make([]float32, s.MaxBatch*m.InputSize()),
			out: make([]float32, s.MaxBatch*m.OutputSize()),
		}
		sl.tensors[name] = map[int][2]*ort.Tensor[float32]{}
	}
	return sl
}

func (s *Batcher) freeSlot(sl *slot) {
	for _, f := range sl.frames {
		f.Release()
	}
	for _, byBatch := range sl.tensors {
		for _, t := range byBatch {
			_ = t[0].Destroy()
			_ = t[1].Destroy()
		}
	}
}

// collect fills the slot with up to MaxBatch frames: it waits for the first,
// then for more until MaxWait has passed since the first arrived.
func (s *Batcher) collect(ctx context.Context, sl *slot) bool {
	sl.frames = sl.frames[:0]
	first, err := s.Queue.Pop(ctx)
	if err != nil {
		return false
	}
	sl.frames = append(sl.frames, first)
	deadline := time.Now().Add(s.MaxWait)
	for len(sl.frames) < s.MaxBatch {
		f, err := s.Queue.TryPop()
		if err != nil {
			break
		}
		if f != nil {
			sl.frames = append(sl.frames, f)
			continue
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		select {
		case <-ctx.Done():
			return true // infer what we have; Run stops after
		case <-s.Queue.Ready():
		case <-time.After(wait):
		}
	}
	return true
}

// prepare assigns frames to models and letterboxes them in parallel.
func (s *Batcher) prepare(sl *slot, jobs chan<- prepJob) {
	for _, j := range sl.jobs {
		j.idx, j.lbs = j.idx[:0], j.lbs[:0]
	}
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var err error
	for i, f := range sl.frames {
		for _, name := range s.modelsOf(f.Camera) {
			m, j := s.Models[name], sl.jobs[name]
			in := m.Manifest.Input
			lb := newLetterbox(f.Width(), f.Height(), in.Width, in.Height, in.Letterbox.Centered)
			k := len(j.idx)
			j.idx = append(j.idx, i)
			j.lbs = append(j.lbs, lb)
			wg.Add(1)
			jobs <- prepJob{dst: j.in[k*m.InputSize() : (k+1)*m.InputSize()], frame: f, lb: lb, m: m, wg: &wg, err: &err, errMu: &errMu}
		}
	}
	wg.Wait()
}

func (s *Batcher) modelsOf(camera string) []string {
	if names, ok := s.CameraModels[camera]; ok {
		return names
	}
	if s.order == nil {
		for name := range s.Models {
			s.order = append(s.order, name)
		}
		sort.Strings(s.order)
	}
	return s.order
}

// infer runs each model over its frames and delivers the results.
func (s *Batcher) infer(sl *slot) error {
	dets := make([][]Detection, len(sl.frames))
	var firstErr error
	for name, j := range sl.jobs {
		b := len(j.idx)
		if b == 0 {
			continue
		}
		m := s.Models[name]
		t, ok := sl.tensors[name][b]
		if !ok {
			in := m.Manifest.Input
			it, err := ort.NewTensor(ort.NewShape(int64(b), 3, int64(in.Height), int64(in.Width)), j.in[:b*m.InputSize()])
			if err != nil {
				return err
			}
			ot, err := ort.NewTensor(ort.NewShape(int64(b), int64(m.d1), int64(m.d2)), j.out[:b*m.OutputSize()])
			if err != nil {
				_ = it.Destroy()
				return err
			}
			t = [2]*ort.Tensor[float32]{it, ot}
			sl.tensors[name][b] = t
		}
		start := time.Now()
		err := m.session.Run([]ort.Value{t[0]}, []ort.Value{t[1]})
		s.Metrics.inference.WithLabelValues(name).Observe(time.Since(start).Seconds())
		s.Metrics.batchSize.WithLabelValues(name).Observe(float64(b))
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("model %q: inference: %w", name, err)
			}
			continue
		}
		var cands []candidate
		for k, fi := range j.idx {
			f := sl.frames[fi]
			out := j.out[k*m.OutputSize() : (k+1)*m.OutputSize()]
			cands = nms(decodeOutput(m.layout, out, m.d1, m.d2, m.nc, s.decodeTh[name], cands[:0]), m.Manifest.NMSIoU)
			cf := s.Filters[f.Camera]
			for _, c := range cands {
				d := Detection{Box: j.lbs[k].toNative(c.box), ClassID: c.class, Class: m.Manifest.Classes[c.class], Score: c.score, Model: name}
				if d.Box.Area() == 0 {
					continue // entirely in the padding
				}
				if cf.keep(d, m.thresholds[c.class], f.Width(), f.Height()) {
					dets[fi] = append(dets[fi], d)
				}
			}
		}
	}
	for i, f := range sl.frames {
		for _, d := range dets[i] {
			s.counter(f.Camera, d.Class).Inc()
		}
		if s.OnResult != nil {
			s.OnResult(Result{Frame: f, Detections: dets[i]})
		}
		f.Release()
	}
	sl.frames = sl.frames[:0]
	return firstErr
}

func (s *Batcher) counter(camera, class string) prometheus.Counter {
	key := camera + "\x00" + class
	c, ok := s.detCounter[key]
	if !ok {
		c = s.Metrics.detections.WithLabelValues(camera, class)
		s.detCounter[key] = c
	}
	return c
}

// prepareThresholds sets each model's decode thresholds to the lowest of
// its own and any camera's override, so overrides below the model's
// default still see their boxes; each camera's own threshold is applied
// after.
func (s *Batcher) prepareThresholds() {
	s.decodeTh = map[string][]float32{}
	for name, m := range s.Models {
		th := append([]float32(nil), m.thresholds...)
		for _, cf := range s.Filters {
			if cf == nil {
				continue
			}
			for i, c := range m.Manifest.Classes {
				if t, ok := cf.Thresholds[c]; ok && t < th[i] {
					th[i] = t
				}
			}
		}
		s.decodeTh[name] = th
	}
}
