package detectors

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/streetwatch/streetwatch/internal/lograte"
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
// returns: keep a clone of its Mat if it is needed later. A model that
// failed on the frame (see Batcher) adds no detections to it.
type Result struct {
	Frame      *frame.Frame
	Detections []Detection
}

// Batcher batches frames from all cameras (up to MaxBatch frames, or what
// arrived within MaxWait of the first), letterboxes them in parallel while
// the previous batch is being inferred, runs one session per model per
// batch and hands each frame's detections to OnResult.
//
// A pending frame (frame.Pool.Pending: a keyframe queued still encoded)
// has its picture made on the workers before it is letterboxed; one whose
// picture cannot be made is released without a result, its loader having
// counted why.
//
// A failure on a batch does not stop the batcher. A frame that cannot be
// letterboxed, or a model whose tensors cannot be made or whose session
// run fails, costs the frames concerned that model's detections, nothing
// more: every frame still goes to OnResult exactly once with what the
// other models found, and is then released. Each failure is counted in
// streetwatch_inference_errors_total{model,stage} and logged at once, one
// line per model and stage for a burst, then at most one a minute with
// the count held back, and a line when the model works again. So a broken
// model shows in the log and metrics while the other models and cameras
// go on, and it cannot spin: it fails once per batch, at the pace frames
// arrive.
type Batcher struct {
	Queue  FrameSource
	Models map[string]*Model
	// CameraModels lists the models each camera runs; a camera missing
	// here runs every model.
	CameraModels map[string][]string
	Filters      map[string]*CameraFilter
	MaxBatch     int
	MaxWait      time.Duration
	// Workers make pending frames' pictures and letterbox in parallel
	// (default GOMAXPROCS).
	Workers int
	// OnResult receives each frame's detections, on the inference
	// goroutine: keep it short. The batcher releases the frame after it
	// returns, unless HandOff is set: OnResult then owns the frame and
	// must Release it (to work on it elsewhere while inference goes on).
	OnResult func(Result)
	HandOff  bool
	Metrics  *Metrics
	Log      *slog.Logger // default slog.Default()

	// Run's copies of MaxBatch, Workers, Metrics and Log, with defaults.
	maxBatch, workers int
	metrics           *Metrics
	log               *slog.Logger

	order      []string // model names, sorted once
	cams       atomic.Pointer[cameraTable]
	detCounter map[string]prometheus.Counter
	errLog     map[errorKey]*lograte.Limiter

	failMu  sync.Mutex
	failing map[errorKey]bool // models whose tensors or runs fail now
}

// Stages of streetwatch_inference_errors_total.
const (
	stageLetterbox = "letterbox" // one frame could not be prepared (counted per frame)
	stageTensor    = "tensor"    // the batch's input or output tensor could not be made
	stageInference = "inference" // the session run failed on the batch
)

// errorLogEvery is the least time between two log lines of one model and
// stage while it keeps failing.
const errorLogEvery = time.Minute

type errorKey struct{ model, stage string }

type slot struct {
	frames   []*frame.Frame
	loadErrs []error // per frame: why its picture could not be made (see load)
	// per model: which frames of the batch, their letterboxes, the buffers
	jobs    map[string]*modelJob
	tensors map[string]map[[2]int][2]*ort.Tensor[float32] // model → (first image, batch size) → (in, out)
	// cams is the camera table the batch was prepared with.
	cams *cameraTable
}

type modelJob struct {
	idx  []int
	lbs  []letterbox
	errs []error // per frame of idx: why it could not be letterboxed
	in   []float32
	out  []float32
}

type prepJob struct {
	dst   []float32
	frame *frame.Frame
	lb    letterbox
	m     *Model
	wg    *sync.WaitGroup
	err   *error // this job's own element of modelJob.errs
}

// Run processes frames until ctx ends or the queue closes, then returns
// nil. It returns an error only when it cannot start; failures on a batch
// are logged and counted, not returned (see Batcher).
func (s *Batcher) Run(ctx context.Context) error {
	if len(s.Models) == 0 {
		return fmt.Errorf("detectors: no models")
	}
	// Defaults go into Run's own copies: the exported fields stay as the
	// caller set them.
	s.maxBatch, s.workers, s.metrics, s.log = s.MaxBatch, s.Workers, s.Metrics, s.Log
	if s.maxBatch <= 0 {
		s.maxBatch = 8
	}
	if s.workers <= 0 {
		s.workers = runtime.GOMAXPROCS(0)
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(nil)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.cams.Store(s.newCameraTable(s.CameraModels, s.Filters))
	s.detCounter = map[string]prometheus.Counter{}
	s.errLog = map[errorKey]*lograte.Limiter{}
	for name := range s.Models {
		for _, stage := range []string{stageLetterbox, stageTensor, stageInference} {
			s.errLog[errorKey{name, stage}] = &lograte.Limiter{Every: errorLogEvery}
			s.metrics.errors.WithLabelValues(name, stage) // present at 0, so the first failure shows in rate()
		}
	}

	jobs := make(chan prepJob)
	var workers sync.WaitGroup
	for range s.workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			p := newPreprocessor()
			defer p.close()
			for j := range jobs {
				if j.m == nil { // a pending frame's picture to make first
					*j.err = j.frame.Load()
					j.wg.Done()
					continue
				}
				in := j.m.Manifest.Input
				*j.err = p.fill(j.dst, j.frame, j.lb, in.Width, in.Height, float32(in.Letterbox.PadValue)/255)
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
	go func() {
		defer close(inferDone)
		for sl := range ready {
			s.infer(sl)
			free <- sl
		}
	}()

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
		s.metrics.preprocess.Observe(time.Since(start).Seconds())
		ready <- sl
	}
	close(ready)
	<-inferDone
	close(jobs)
	workers.Wait()
	for range 2 {
		s.freeSlot(<-free)
	}
	return nil
}

func (s *Batcher) newSlot() *slot {
	sl := &slot{jobs: map[string]*modelJob{}, tensors: map[string]map[[2]int][2]*ort.Tensor[float32]{}, loadErrs: make([]error, s.maxBatch)}
	for name, m := range s.Models {
		// A fixed input batch pads the last run of a batch up to it.
		n := s.maxBatch
		if m.fixedBatch > 0 {
			n = (s.maxBatch + m.fixedBatch - 1) / m.fixedBatch * m.fixedBatch
		}
		sl.jobs[name] = &modelJob{
			errs: make([]error, s.maxBatch),
			in:   make([]float32, n*m.InputSize()),
			out:  make([]float32, n*m.OutputSize()),
		}
		sl.tensors[name] = map[[2]int][2]*ort.Tensor[float32]{}
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
	for len(sl.frames) < s.maxBatch {
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
		clear(j.errs)
	}
	var wg sync.WaitGroup
	s.load(sl, jobs, &wg)
	sl.cams = s.cams.Load()
	cams := sl.cams
	for i, f := range sl.frames {
		for _, name := range s.modelsOf(cams, f.Camera) {
			m, j := s.Models[name], sl.jobs[name]
			in := m.Manifest.Input
			lb := newLetterbox(f.Width(), f.Height(), in.Width, in.Height, in.Letterbox.Centered)
			k := len(j.idx)
			j.idx = append(j.idx, i)
			j.lbs = append(j.lbs, lb)
			wg.Add(1)
			jobs <- prepJob{dst: j.in[k*m.InputSize() : (k+1)*m.InputSize()], frame: f, lb: lb, m: m, wg: &wg, err: &j.errs[k]}
		}
	}
	wg.Wait()
}

// load makes the pictures of the slot's pending frames (keyframes queued
// still encoded) on the workers, in parallel, and drops the frames whose
// picture cannot be made: their loader has counted why.
func (s *Batcher) load(sl *slot, jobs chan<- prepJob, wg *sync.WaitGroup) {
	pending := 0
	for _, f := range sl.frames {
		if f.Pending() {
			pending++
		}
	}
	if pending == 0 {
		return
	}
	errs := sl.loadErrs[:len(sl.frames)]
	clear(errs)
	for i, f := range sl.frames {
		if f.Pending() {
			wg.Add(1)
			jobs <- prepJob{frame: f, wg: wg, err: &errs[i]}
		}
	}
	wg.Wait()
	kept := sl.frames[:0]
	for i, f := range sl.frames {
		if errs[i] != nil {
			f.Release()
			continue
		}
		kept = append(kept, f)
	}
	clear(sl.frames[len(kept):])
	sl.frames = kept
}

func (s *Batcher) modelsOf(cams *cameraTable, camera string) []string {
	if names, ok := cams.models[camera]; ok {
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

// infer runs each model over its frames and delivers every frame, with
// what the models found, to OnResult, then releases it.
func (s *Batcher) infer(sl *slot) {
	dets := make([][]Detection, len(sl.frames))
	for name, j := range sl.jobs {
		if len(j.idx) > 0 {
			s.inferModel(sl, name, j, dets)
		}
	}
	for i, f := range sl.frames {
		for _, d := range dets[i] {
			s.counter(f.Camera, d.Class).Inc()
		}
		if s.OnResult != nil {
			s.OnResult(Result{Frame: f, Detections: dets[i]})
		}
		if s.OnResult == nil || !s.HandOff {
			f.Release()
		}
	}
	sl.frames = sl.frames[:0]
}

// inferModel runs one model over its frames of the batch and adds their
// detections to dets. A failure is reported and costs only the frames
// concerned this model's detections.
func (s *Batcher) inferModel(sl *slot, name string, j *modelJob, dets [][]Detection) {
	m := s.Models[name]
	b := len(j.idx)
	prepared := 0
	for k, err := range j.errs[:b] {
		if err != nil {
			s.failed(name, stageLetterbox, err, "camera", sl.frames[j.idx[k]].Camera)
		} else {
			prepared++
		}
	}
	if prepared == b {
		s.recovered(name, stageLetterbox)
	}
	if prepared == 0 {
		return
	}
	// A model whose runs are limited (a fixed input batch, or NMS in the
	// graph unrolled for a few images) runs the frames in chunks.
	step := b
	if m.runLimit > 0 {
		step = m.runLimit
	}
	for o := 0; o < b; o += step {
		s.runChunk(sl, name, j, o, min(step, b-o), dets)
	}
}

// runChunk runs one model over frames o..o+n of its job, padded to the
// model's fixed batch, and adds their detections to dets.
func (s *Batcher) runChunk(sl *slot, name string, j *modelJob, o, n int, dets [][]Detection) {
	m, cams := s.Models[name], sl.cams
	size := n
	if m.fixedBatch > 0 {
		size = m.fixedBatch
		// The padding images are the letterbox's grey, as in the warm-up;
		// their outputs are not read.
		pad := j.in[(o+n)*m.InputSize() : (o+size)*m.InputSize()]
		for i := range pad {
			pad[i] = float32(m.Manifest.Input.Letterbox.PadValue) / 255
		}
	}
	t, err := s.tensors(sl, name, o, size)
	if err != nil {
		s.failed(name, stageTensor, err, "batch", n, "cameras", camerasOf(sl, j.idx[o:o+n]))
		return
	}
	start := time.Now()
	if err := m.session.Run([]ort.Value{t[0]}, []ort.Value{t[1]}); err != nil {
		s.failed(name, stageInference, err, "batch", n, "cameras", camerasOf(sl, j.idx[o:o+n]))
		return
	}
	s.metrics.inference.WithLabelValues(name).Observe(time.Since(start).Seconds())
	s.metrics.batchSize.WithLabelValues(name).Observe(float64(n))
	s.recovered(name, stageTensor)
	s.recovered(name, stageInference)
	var cands []candidate
	for k := o; k < o+n; k++ {
		if j.errs[k] != nil {
			continue // its input is not this frame
		}
		fi := j.idx[k]
		f := sl.frames[fi]
		out := j.out[k*m.OutputSize() : (k+1)*m.OutputSize()]
		cands = decodeOutput(m.layout, out, m.d1, m.d2, m.nc, cams.decodeTh[name], cands[:0])
		if m.layout != LayoutEnd2End {
			// End-to-end outputs are final boxes, as Ultralytics treats
			// them: NMS on top could only remove what the model kept.
			cands = nms(cands, m.Manifest.NMSIoU)
		}
		cf := cams.filters[f.Camera]
		for _, c := range cands {
			d := Detection{Box: j.lbs[k].toNative(c.box), ClassID: c.class, Class: m.Manifest.Classes[c.class], Score: c.score, Model: name, Signals: SignalModel}
			if d.Box.Area() == 0 {
				continue // entirely in the padding
			}
			if cf.keep(d, m.thresholds[c.class], f.Width(), f.Height()) {
				dets[fi] = append(dets[fi], d)
			}
		}
	}
}

// tensors returns the model's input and output tensors for a run of b
// images from image o of the slot's buffers, made once per (o, b).
func (s *Batcher) tensors(sl *slot, name string, o, b int) ([2]*ort.Tensor[float32], error) {
	key := [2]int{o, b}
	if t, ok := sl.tensors[name][key]; ok {
		return t, nil
	}
	m, j := s.Models[name], sl.jobs[name]
	in := m.Manifest.Input
	it, err := ort.NewTensor(ort.NewShape(int64(b), 3, int64(in.Height), int64(in.Width)), j.in[o*m.InputSize():(o+b)*m.InputSize()])
	if err != nil {
		return [2]*ort.Tensor[float32]{}, fmt.Errorf("input tensor: %w", err)
	}
	ot, err := ort.NewTensor(ort.NewShape(int64(b), int64(m.d1), int64(m.d2)), j.out[o*m.OutputSize():(o+b)*m.OutputSize()])
	if err != nil {
		_ = it.Destroy()
		return [2]*ort.Tensor[float32]{}, fmt.Errorf("output tensor: %w", err)
	}
	t := [2]*ort.Tensor[float32]{it, ot}
	sl.tensors[name][key] = t
	return t, nil
}

// Failing lists the models whose inferences fail now (their last run, or
// the tensors for it, failed), as "model: stage", sorted; for /healthz.
func (s *Batcher) Failing() []string {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	var out []string
	for k, bad := range s.failing {
		if bad {
			out = append(out, k.model+": "+k.stage)
		}
	}
	slices.Sort(out)
	return out
}

func (s *Batcher) setFailing(model, stage string, bad bool) {
	if stage == stageLetterbox {
		return // one bad frame, not a broken model
	}
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failing == nil {
		s.failing = map[errorKey]bool{}
	}
	s.failing[errorKey{model, stage}] = bad
}

// failed counts a failure and logs it, rate-limited per model and stage.
func (s *Batcher) failed(model, stage string, err error, attrs ...any) {
	s.metrics.errors.WithLabelValues(model, stage).Inc()
	s.setFailing(model, stage, true)
	ok, held := s.errLog[errorKey{model, stage}].Allow(time.Now())
	if !ok {
		return
	}
	args := append([]any{"model", model, "stage", stage}, attrs...)
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	s.log.Error("detection failed; the frames get no detections from this model", append(args, "err", err)...)
}

// recovered ends a burst of failures of a model and stage.
func (s *Batcher) recovered(model, stage string) {
	s.setFailing(model, stage, false)
	if was, held := s.errLog[errorKey{model, stage}].Recover(); was {
		s.log.Info("detection works again", "model", model, "stage", stage, "suppressed", held)
	}
}

// camerasOf lists the cameras of the given frames of the batch.
func camerasOf(sl *slot, idx []int) []string {
	var cams []string
	for _, fi := range idx {
		if c := sl.frames[fi].Camera; !slices.Contains(cams, c) {
			cams = append(cams, c)
		}
	}
	return cams
}

func (s *Batcher) counter(camera, class string) prometheus.Counter {
	key := camera + "\x00" + class
	c, ok := s.detCounter[key]
	if !ok {
		c = s.metrics.detections.WithLabelValues(camera, class)
		s.detCounter[key] = c
	}
	return c
}

// newCameraTable sets each model's decode thresholds to the lowest of its
// own and any camera's override, so overrides below the model's default
// still see their boxes; each camera's own threshold is applied after.
func (s *Batcher) newCameraTable(models map[string][]string, filters map[string]*CameraFilter) *cameraTable {
	t := &cameraTable{models: models, filters: filters, decodeTh: map[string][]float32{}}
	for name, m := range s.Models {
		th := append([]float32(nil), m.thresholds...)
		for _, cf := range filters {
			if cf == nil {
				continue
			}
			for i, c := range m.Manifest.Classes {
				if t, ok := cf.Thresholds[c]; ok && t < th[i] {
					th[i] = t
				}
			}
		}
		t.decodeTh[name] = th
	}
	return t
}

// cameraTable is what the batcher knows of the cameras: the models each
// runs, their filters, and the score each model's output is decoded at
// (the lowest threshold any camera wants). SetCameras replaces it whole.
type cameraTable struct {
	models   map[string][]string
	filters  map[string]*CameraFilter
	decodeTh map[string][]float32
}

// SetCameras replaces the cameras' models and filters (thresholds, object
// filters, masks) while Run runs, as after a config reload: frames batched
// from now on use them; a batch on its way finishes with the old ones.
// The maps must not change afterwards.
func (s *Batcher) SetCameras(models map[string][]string, filters map[string]*CameraFilter) {
	s.cams.Store(s.newCameraTable(models, filters))
}
