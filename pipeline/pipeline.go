package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/rules"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/internal/crashtest"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/framequeue"
	"github.com/streetwatch/streetwatch/pipeline/ingest"
	"github.com/streetwatch/streetwatch/violation"
)

// Pipeline is every camera plus the frame queue and its consumer, the
// confirmation, evidence and ticket stages behind it.
//
// Lifecycle: New builds everything (model sessions, the ticket database,
// the histories and their goroutines); Run runs it until its context ends
// and stops the stages in the data's order; Close frees what New built.
type Pipeline struct {
	// OnFrame receives each processed frame with its detections (nil when
	// no model is configured: frames are then only counted). Frames come
	// one at a time, from the inference goroutine, before confirmation;
	// OnFrame must not keep the frame.
	OnFrame func(*frame.Frame, []detectors.Detection)
	// OnViolation sees each confirmed violation before its evidence is
	// recorded, on its camera's confirmation worker: violations of
	// different cameras may come at once. The event's frames are valid
	// only during the call: the pipeline frees them.
	OnViolation func(ViolationEvent)
	// OnStored receives each violation once its evidence bundle (clip,
	// snapshots, manifest) is safely spooled for the store. An error keeps
	// the violation pending (retried, and again after a restart): it must
	// be idempotent by violation id.
	OnStored func(evidence.Stored) error
	// OnVisit sees each finished station visit before its evidence is
	// recorded and it is stored, on its camera's confirmation worker. The
	// event's frame is valid only during the call.
	OnVisit func(VisitEvent)

	cfg    *config.Config
	log    *slog.Logger
	queue  *framequeue.Queue
	pool   *frame.Pool    // the cameras' sampled frames
	frames drainingSource // the queue as detection reads it
	// confirmers run confirmation off the inference goroutine (nil
	// without detection or cameras to confirm; set by Run).
	confirmers *confirmWorkers
	// cameras, in config order, with cameras added by Reload at the end;
	// replaced whole under camMu (copy on write).
	cameras  []*Camera
	camMu    sync.Mutex
	runCtx   context.Context       // Run's, while cameras may start; under camMu
	camStops map[string]*cameraRun // running cameras; under camMu
	camWG    sync.WaitGroup
	// metrics the cameras and confirmers of cameras added later use.
	m  *metrics
	im *ingest.Metrics
	rm *rules.Metrics
	// open keeps the cameras' open violations: the state folder, or the
	// ticket database when the nodes of a cluster share it (PostgreSQL).
	open     rules.Store
	consumed *prometheus.CounterVec
	detect   *detection            // nil without models
	confirm  map[string]*confirmer // cameras with zones or a station, as New built them
	// confirms is confirm, and then what Reload made of it (copy on write).
	confirms atomic.Pointer[map[string]*confirmer]
	evidence *evidenceStage    // nil without cameras with zones or a station
	tickets  *dispatch.Service // nil without cameras with zones or stations
	// reconciler matches stations' visits with their weighing records
	// (nil without stations); it runs with the ticket sender.
	reconciler *dispatch.Reconciler
	reg        prometheus.Registerer
	// visitsSeen counts station visits (streetwatch_station_visits_total).
	visitsSeen *prometheus.CounterVec
	// pictures serves Picture from the frames as they are processed.
	pictures pictures
	// running is cfg with what Reload applied (nil: cfg).
	running atomic.Pointer[config.Config]

	closeOnce sync.Once
	closeErr  error
}

// drainGrace bounds how long Run lets detection work through the frames
// still queued when the cameras stop; what is left after it is dropped.
const drainGrace = 10 * time.Second

// New builds the pipeline from a validated config; metrics go to reg. It
// loads the models, so it fails on a missing runtime or a bad model; what
// it built before failing is freed.
func New(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (_ *Pipeline, err error) {
	if log == nil {
		log = slog.Default()
	}
	m := newMetrics(reg)
	im := ingest.NewMetrics(reg)
	p := &Pipeline{cfg: cfg, log: log, reg: reg, queue: framequeue.NewQueue(cfg.Pipeline.FrameQueue),
		pool: frame.NewPool(framesKept(cfg)), m: m, im: im, camStops: map[string]*cameraRun{}}
	p.frames = drainingSource{Queue: p.queue, ingestDone: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = p.Close()
		}
	}()
	p.consumed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "streetwatch_frames_processed_total",
		Help: "Sampled frames taken off the queue by the consumer (detection).",
	}, []string{"camera"})
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "streetwatch_detector_queue_depth",
		Help: "Sampled frames waiting for detection.",
	}, func() float64 { return float64(p.queue.Len()) })
	if reg != nil {
		reg.MustRegister(p.consumed, depth)
	}
	for _, cc := range cfg.Cameras {
		m.dropped.WithLabelValues(cc.ID, DropOverload) // present at 0
		p.cameras = append(p.cameras, newCamera(cc, cfg.Pipeline.UnitQueue, p.queue, p.pool, m, im, log))
	}
	p.queue.OnDrop = func(camera string) { m.dropped.WithLabelValues(camera, DropOverload).Inc() }
	if len(cfg.Detectors.Models) > 0 {
		if p.detect, err = newDetection(cfg, reg, log, p.frames); err != nil {
			return nil, err
		}
	}
	p.confirm = map[string]*confirmer{}
	p.confirms.Store(&p.confirm)
	rm := rules.NewMetrics(reg)
	p.rm = rm
	p.open = rules.FileStore{Dir: cfg.StateDir}
	p.visitsSeen = newVisitsCounter(reg, cfg.Stations)
	for _, cc := range cfg.Cameras {
		if !confirms(cc) {
			continue
		}
		c, err := newConfirmer(cc, p.open, rm, log)
		if err != nil {
			return nil, err
		}
		c.pictures = p.pool
		c.viewMoved = p.m.viewMoved.WithLabelValues(cc.ID)
		p.lookCloserWith(c, cc)
		p.confirm[cc.ID] = c
	}
	if len(p.confirm) == 0 {
		// No camera makes tickets, but garbage stations' weighing records
		// live in the ticket database and come in through its API.
		if len(cfg.Stations) > 0 {
			if err := p.openTickets(); err != nil {
				return nil, err
			}
		}
		return p, nil
	}
	var models []evidence.ModelRecord
	for _, mr := range cfg.Detectors.Models {
		if man, err := detectors.LoadManifest(mr.Manifest); err == nil {
			models = append(models, evidence.ModelRecord{Name: man.Name, Version: man.Version})
		}
	}
	if p.evidence, err = newEvidenceStage(cfg, reg, log, models, p.handOff, p.keepEvidence); err != nil {
		return nil, err
	}
	p.evidence.pictures = p.pool
	if err := p.openTickets(); err != nil {
		return nil, err
	}
	if db := p.tickets.OpenViolations(); db != nil {
		// Before any camera's engine starts (its first frame).
		p.open = rules.SharedStore{DB: db, Before: p.open}
		for _, c := range p.confirm {
			c.engine.Store = p.open
		}
	}
	pending, err := evidence.PendingEvents(p.evidence.pendingDir)
	if err != nil {
		return nil, err
	}
	for _, pe := range pending {
		if t := pe.Violation.Type; t == violation.StationVisit || t == violation.WeighingBay {
			continue // not a violation the rules could report again
		}
		if c, ok := p.confirm[pe.Camera.ID]; ok {
			c.engine.Preload = append(c.engine.Preload, rules.Opened(pe.Violation.Record))
		}
	}
	for _, c := range p.cameras {
		if h := p.evidence.history(c.ID()); h != nil {
			c.history = h
			if cf, ok := p.confirm[c.ID()]; ok {
				cf.history = h
			}
		}
	}
	return p, nil
}

// cameraRun is a running camera: stop ends it, done closes when it has.
type cameraRun struct {
	stop context.CancelFunc
	done chan struct{}
}

// startCamera runs c until Run's context ends or stopCamera; with camMu
// held and Run running.
func (p *Pipeline) startCamera(c *Camera) {
	ctx, stop := context.WithCancel(p.runCtx)
	run := &cameraRun{stop: stop, done: make(chan struct{})}
	p.camStops[c.ID()] = run
	p.camWG.Add(1)
	go func() {
		defer p.camWG.Done()
		defer close(run.done)
		c.Run(ctx)
	}()
}

// confirms tells whether a camera's detections go on to confirmation:
// it has zones (violations) or is a station camera (visits).
// lookCloserWith gives confirmer c of camera cam the zoomers of the
// models, to look closer at what only its left-object detector finds.
func (p *Pipeline) lookCloserWith(c *confirmer, cam config.Camera) {
	if p.detect == nil {
		return
	}
	c.zoomers, c.allModels, c.looked = p.detect.zoomers, nil, p.m.looks
	for _, ref := range p.cfg.Detectors.Models {
		c.allModels = append(c.allModels, ref.Name)
	}
	c.useZoom(cam.Models)
}

func confirms(cam config.Camera) bool { return len(cam.Zones) > 0 || cam.Station != nil }

// LatestDetections returns each camera's most recent detector output.
func (p *Pipeline) LatestDetections() map[string]CameraDetections {
	if p.detect == nil {
		return nil
	}
	return p.detect.snapshot()
}

// FailingModels lists the models whose inferences fail now, as "model:
// stage" (see detectors.Batcher.Failing); empty when all work.
func (p *Pipeline) FailingModels() []string {
	if p.detect == nil {
		return nil
	}
	return p.detect.batcher.Failing()
}

// Cameras returns the cameras in config order.
func (p *Pipeline) Cameras() []*Camera {
	p.camMu.Lock()
	defer p.camMu.Unlock()
	return p.cameras
}

// confirmerOf is a camera's confirmer now (nil: the camera confirms
// nothing, or was removed).
func (p *Pipeline) confirmerOf(camera string) *confirmer { return (*p.confirms.Load())[camera] }

// Run runs every stage until ctx ends, then stops them in the data's
// order, each after the one feeding it, so nothing is lost between them:
// the cameras first; detection and confirmation then work through the
// frames still queued (for at most drainGrace); then the evidence stage
// cuts the clips of violations in their post-roll from what history holds
// and spools them, or keeps them pending for the next start; then the
// ticket dispatch stops. Run returns when every goroutine it started has
// ended. Call it once; Close frees the rest.
func (p *Pipeline) Run(ctx context.Context) error {
	// Later stages run on contexts of their own, cancelled in order below.
	evCtx, stopEvidence := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEvidence()
	detCtx, stopDetection := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDetection()

	evDone := make(chan struct{})
	if p.evidence != nil {
		go func() {
			defer close(evDone)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.tickets.Run(evCtx); err != nil && evCtx.Err() == nil {
					p.log.Error("ticket dispatch stopped", "err", err)
				}
			}()
			if p.reconciler != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := p.reconciler.Run(evCtx); err != nil {
						p.log.Error("station reconciliation stopped", "err", err)
					}
				}()
			}
			p.evidence.run(evCtx)
			wg.Wait()
		}()
	} else {
		close(evDone)
	}
	detDone := make(chan error, 1)
	p.camMu.Lock() // no camera is added or removed while the stages start
	if confirm := *p.confirms.Load(); p.detect != nil && len(confirm) > 0 {
		var cams []string
		for _, c := range p.cameras {
			if _, ok := confirm[c.ID()]; ok {
				cams = append(cams, c.ID())
			}
		}
		p.confirmers = newConfirmWorkers(cams, runtime.GOMAXPROCS(0), p.confirmFrame)
	}
	go func() {
		if p.detect == nil {
			p.consume(detCtx)
			detDone <- nil
			return
		}
		err := p.detect.run(detCtx, p.onResult)
		if p.confirmers != nil {
			p.confirmers.stop() // what detection handed on is confirmed
		}
		detDone <- err
	}()

	p.runCtx = ctx
	for _, c := range p.cameras {
		p.startCamera(c)
	}
	p.camMu.Unlock()
	<-ctx.Done()
	p.camMu.Lock()
	p.runCtx = nil // no camera starts from now on
	p.camMu.Unlock()
	p.camWG.Wait()

	close(p.frames.ingestDone) // detection ends once the queue is empty
	var err error
	select {
	case err = <-detDone:
	case <-time.After(drainGrace):
		p.log.Warn("detection did not finish the queued frames in time; dropping them", "grace", drainGrace, "queued", p.queue.Len())
		stopDetection()
		p.queue.Close()
		err = <-detDone
	}
	p.queue.Close()

	stopEvidence()
	<-evDone
	return err
}

// Close frees what New built: the model sessions, the frames the
// confirmation holds, the histories (and their spill goroutines) and the
// ticket database. Call it after Run has returned, or instead of Run. It
// is idempotent.
func (p *Pipeline) Close() error {
	p.closeOnce.Do(func() {
		p.queue.Close()
		p.pool.Close()
		if p.detect != nil {
			p.detect.close()
		}
		if confirm := p.confirms.Load(); confirm != nil { // nil when New failed before confirmation
			for _, c := range *confirm {
				c.close()
			}
		}
		if p.evidence != nil {
			p.evidence.close()
		}
		if p.tickets != nil {
			if err := p.tickets.Close(); err != nil {
				p.closeErr = fmt.Errorf("tickets: %w", err)
			}
		}
	})
	return p.closeErr
}

// framesKept is how many released frames the cameras' shared pool keeps
// for reuse: about what detection holds at once (a batch being
// letterboxed per worker and one in inference), not one per camera, so
// an idle camera holds no picture.
func framesKept(cfg *config.Config) int {
	workers := cfg.Detectors.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return max(1, cfg.Detectors.MaxBatch) * (workers + 1)
}

// drainingSource is the frame queue as detection reads it: once ingest
// has stopped (ingestDone closed), an empty queue ends detection instead
// of making it wait, so the frames queued at shutdown are still detected.
type drainingSource struct {
	*framequeue.Queue
	ingestDone chan struct{}
}

// Pop waits for the next frame; after ingest stopped, it returns
// framequeue.ErrClosed once the queue is empty.
func (s drainingSource) Pop(ctx context.Context) (*frame.Frame, error) {
	for {
		if f, err := s.TryPop(); f != nil || err != nil {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.ingestDone:
			// No producer is left: what TryPop finds now is the rest.
			if f, err := s.TryPop(); f != nil || err != nil {
				return f, err
			}
			return nil, framequeue.ErrClosed
		case <-s.Ready():
		}
	}
}

// onResult takes a frame's detections from the inference goroutine: it
// counts the frame, shows it to OnFrame and hands it to its camera's
// confirmation worker (or releases it when the camera confirms nothing).
func (p *Pipeline) onResult(r detectors.Result) {
	p.consumed.WithLabelValues(r.Frame.Camera).Inc()
	if p.OnFrame != nil {
		p.OnFrame(r.Frame, r.Detections)
	}
	p.pictures.take(r.Frame, r.Detections)
	if p.confirmerOf(r.Frame.Camera) == nil || p.confirmers == nil {
		r.Frame.Release()
		return
	}
	p.confirmers.submit(r)
}

// confirmFrame runs a frame through its camera's confirmation (tracker,
// rules, visits) and records what it confirms, on the camera's
// confirmation worker.
func (p *Pipeline) confirmFrame(r detectors.Result) {
	c := p.confirmerOf(r.Frame.Camera)
	if c == nil {
		return // removed by a reload since detection
	}
	c.applyPending()
	events, visits := c.update(r.Frame, r.Detections)
	if c.station != nil {
		p.watching(c, r.Frame.Time)
	}
	for _, ev := range visits {
		p.onVisit(ev, r.Frame.Width(), r.Frame.Height())
	}
	for _, ev := range events {
		if p.OnViolation != nil {
			p.OnViolation(ev)
		}
		if p.evidence == nil {
			ev.Close()
			continue
		}
		// The violation is on disk before the rules remember it as
		// reported: a crash in between reports it again, never loses it.
		if err := p.evidence.record(ev, r.Frame.Width(), r.Frame.Height()); err != nil {
			// Not recorded, not reported: the rules confirm it again later.
			p.log.Error("violation evidence could not be saved; will confirm again", "camera", ev.Camera, "violation", ev.ID, "err", err)
			c.engine.Forget(ev.ID)
		}
		crashtest.Point("violation-pending")
	}
	if len(events) > 0 {
		if err := c.engine.Commit(); err != nil {
			p.log.Error("rules", "camera", c.camera, "err", err)
		}
	}
}

// confirmWorkers run the cameras' confirmation off the inference
// goroutine, a few cameras per worker: a camera always goes to the same
// worker, so its frames are confirmed in order, and the confirmation of
// many cameras (tracking, left objects, keeping pictures, recording
// evidence) runs on every core instead of stalling inference.
type confirmWorkers struct {
	// shard maps a camera to its worker; replaced whole when a camera is
	// added (copy on write), read without a lock per frame.
	shard atomic.Pointer[map[string]int]
	mu    sync.Mutex // serialises assign
	in    []chan confirmJob
	done  sync.WaitGroup
}

// confirmJob is a frame to confirm, or fn to run in the camera's order
// (a removed camera's confirmer is closed after its last frame).
type confirmJob struct {
	r  detectors.Result
	fn func()
}

// confirmBacklog is how many detected frames a worker may have waiting;
// a full backlog makes inference wait (and the frame queue fill, and drop
// what it must, counted).
const confirmBacklog = 16

func newConfirmWorkers(cameras []string, n int, work func(detectors.Result)) *confirmWorkers {
	n = max(1, min(n, len(cameras)))
	w := &confirmWorkers{}
	shard := map[string]int{}
	for i, cam := range cameras {
		shard[cam] = i % n
	}
	w.shard.Store(&shard)
	for range n {
		ch := make(chan confirmJob, confirmBacklog)
		w.in = append(w.in, ch)
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			for j := range ch {
				if j.fn != nil {
					j.fn()
					continue
				}
				work(j.r)
				j.r.Frame.Release()
			}
		}()
	}
	return w
}

// shardOf is the worker of a camera, and whether it has one.
func (w *confirmWorkers) shardOf(camera string) (int, bool) {
	i, ok := (*w.shard.Load())[camera]
	return i, ok
}

// assign gives a camera added while running the worker with the fewest
// cameras.
func (w *confirmWorkers) assign(camera string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	old := *w.shard.Load()
	if _, ok := old[camera]; ok {
		return
	}
	load := make([]int, len(w.in))
	next := make(map[string]int, len(old)+1)
	for c, i := range old {
		next[c] = i
		load[i]++
	}
	next[camera] = slices.Index(load, slices.Min(load))
	w.shard.Store(&next)
}

func (w *confirmWorkers) submit(r detectors.Result) {
	i, _ := w.shardOf(r.Frame.Camera)
	w.in[i] <- confirmJob{r: r}
}

// after runs fn on the camera's worker once the frames submitted before
// are confirmed.
func (w *confirmWorkers) after(camera string, fn func()) {
	i, _ := w.shardOf(camera)
	w.in[i] <- confirmJob{fn: fn}
}

// stop waits until every submitted frame is confirmed. Call it once no
// more frames are submitted.
func (w *confirmWorkers) stop() {
	for _, ch := range w.in {
		close(ch)
	}
	w.done.Wait()
}

func (p *Pipeline) consume(ctx context.Context) {
	counters := map[string]prometheus.Counter{}
	for {
		f, err := p.frames.Pop(ctx)
		if err != nil {
			return
		}
		if err := f.Load(); err != nil {
			f.Release() // its camera counted why
			continue
		}
		c, ok := counters[f.Camera]
		if !ok {
			c = p.consumed.WithLabelValues(f.Camera)
			counters[f.Camera] = c
		}
		c.Inc()
		if p.OnFrame != nil {
			p.OnFrame(f, nil)
		}
		p.pictures.take(f, nil)
		f.Release()
	}
}
