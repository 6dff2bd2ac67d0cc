package pipeline

import (
	"context"
	"log/slog"
	"sync"

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
)

// Pipeline is every camera plus the frame queue and its consumer.
type Pipeline struct {
	// OnFrame receives each processed frame with its detections (nil when
	// no model is configured: frames are then only counted). Frames come
	// one at a time; the frame is released after it returns.
	OnFrame func(*frame.Frame, []detectors.Detection)
	// OnViolation sees each confirmed violation before its evidence is
	// recorded. The event's frames are valid only during the call: the
	// pipeline frees them.
	OnViolation func(ViolationEvent)
	// OnStored receives each violation once its evidence bundle (clip,
	// snapshots, manifest) is safely spooled for the store. An error keeps
	// the violation pending (retried, and again after a restart): it must
	// be idempotent by violation id.
	OnStored func(evidence.Stored) error

	cfg      *config.Config
	log      *slog.Logger
	queue    *framequeue.Queue
	cameras  []*Camera
	consumed *prometheus.CounterVec
	detect   *detection            // nil without models
	confirm  map[string]*confirmer // cameras with zones
	evidence *evidenceStage        // nil without cameras with zones
	tickets  *dispatch.Service     // nil without cameras with zones
	reg      prometheus.Registerer
}

// New builds the pipeline from a validated config; metrics go to reg. It
// loads the models, so it fails on a missing runtime or a bad model.
func New(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (*Pipeline, error) {
	if log == nil {
		log = slog.Default()
	}
	m := newMetrics(reg)
	im := ingest.NewMetrics(reg)
	p := &Pipeline{cfg: cfg, log: log, reg: reg, queue: framequeue.NewQueue(cfg.Pipeline.FrameQueue)}
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
	overload := map[string]prometheus.Counter{}
	for _, cc := range cfg.Cameras {
		overload[cc.ID] = m.dropped.WithLabelValues(cc.ID, DropOverload)
		p.cameras = append(p.cameras, newCamera(cc, cfg.Pipeline.UnitQueue, p.queue, m, im, log))
	}
	p.queue.OnDrop = func(camera string) {
		if c, ok := overload[camera]; ok {
			c.Inc()
		}
	}
	if len(cfg.Detectors.Models) > 0 {
		d, err := newDetection(cfg, reg, log, p.queue)
		if err != nil {
			return nil, err
		}
		p.detect = d
	}
	p.confirm = map[string]*confirmer{}
	rm := rules.NewMetrics(reg)
	for _, cc := range cfg.Cameras {
		if len(cc.Zones) == 0 {
			continue
		}
		c, err := newConfirmer(cc, cfg.StateDir, rm, log)
		if err != nil {
			if p.detect != nil {
				p.detect.close()
			}
			return nil, err
		}
		p.confirm[cc.ID] = c
	}
	if len(p.confirm) > 0 {
		var models []evidence.ModelRecord
		for _, mr := range cfg.Detectors.Models {
			if man, err := detectors.LoadManifest(mr.Manifest); err == nil {
				models = append(models, evidence.ModelRecord{Name: man.Name, Version: man.Version})
			}
		}
		ev, err := newEvidenceStage(cfg, reg, log, models)
		if err != nil {
			if p.detect != nil {
				p.detect.close()
			}
			return nil, err
		}
		p.evidence = ev
		if err := p.openTickets(); err != nil {
			ev.close()
			if p.detect != nil {
				p.detect.close()
			}
			return nil, err
		}
		pending, err := evidence.PendingEvents(ev.recorder.Config.PendingDir)
		if err != nil {
			if p.detect != nil {
				p.detect.close()
			}
			return nil, err
		}
		for _, pe := range pending {
			if c, ok := p.confirm[pe.Camera.ID]; ok {
				c.engine.Preload = append(c.engine.Preload, rules.Opened(pe.Violation.Record))
			}
		}
		for _, c := range p.cameras {
			if h, ok := ev.histories[c.ID()]; ok {
				c.history = h
			}
		}
	}
	return p, nil
}

// LatestDetections returns each camera's most recent detector output.
func (p *Pipeline) LatestDetections() map[string]CameraDetections {
	if p.detect == nil {
		return nil
	}
	return p.detect.snapshot()
}

// Cameras returns the cameras in config order.
func (p *Pipeline) Cameras() []*Camera { return p.cameras }

// Run runs every camera and the consumer until ctx ends, then waits for all
// of them to stop.
func (p *Pipeline) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, c := range p.cameras {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Run(ctx)
		}()
	}
	// Evidence outlives the cameras: violations confirmed at the end still
	// get their clip (cut short) and are spooled.
	evDone := make(chan struct{})
	if p.evidence != nil {
		go func() {
			defer close(evDone)
			var twg sync.WaitGroup
			twg.Add(1)
			go func() {
				defer twg.Done()
				if err := p.tickets.Run(ctx); err != nil && ctx.Err() == nil {
					p.log.Error("ticket dispatch stopped", "err", err)
				}
			}()
			p.evidence.run(ctx)
			twg.Wait()
		}()
	} else {
		close(evDone)
	}
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		if p.detect == nil {
			p.consume(ctx)
			return
		}
		err = p.detect.run(ctx, p.onResult)
	}()
	wg.Wait()
	p.queue.Close()
	if p.detect != nil {
		p.detect.close()
	}
	for _, c := range p.confirm {
		c.close()
	}
	<-evDone
	if p.evidence != nil {
		p.evidence.close()
		if cerr := p.tickets.Close(); cerr != nil {
			p.log.Error("ticket store", "err", cerr)
		}
	}
	return err
}

func (p *Pipeline) onResult(r detectors.Result) {
	p.consumed.WithLabelValues(r.Frame.Camera).Inc()
	if p.OnFrame != nil {
		p.OnFrame(r.Frame, r.Detections)
	}
	c, ok := p.confirm[r.Frame.Camera]
	if !ok {
		return
	}
	events := c.update(r.Frame, r.Detections)
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

func (p *Pipeline) consume(ctx context.Context) {
	counters := map[string]prometheus.Counter{}
	for {
		f, err := p.queue.Pop(ctx)
		if err != nil {
			return
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
		f.Release()
	}
}
