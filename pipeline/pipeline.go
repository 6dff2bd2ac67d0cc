package pipeline

import (
	"context"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/detectors/rules"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/pipeline/ingest"
	"github.com/streetwatch/streetwatch/pipeline/schedule"
)

// Pipeline is every camera plus the frame queue and its consumer.
type Pipeline struct {
	// OnFrame receives each processed frame with its detections (nil when
	// no model is configured: frames are then only counted). Frames come
	// one at a time; the frame is released after it returns.
	OnFrame func(*media.Frame, []detectors.Detection)
	// OnViolation receives each confirmed violation; it owns the event
	// (and must Close it). Nil: events are logged and freed.
	OnViolation func(ViolationEvent)

	cfg      *config.Config
	log      *slog.Logger
	queue    *schedule.Queue
	cameras  []*Camera
	consumed *prometheus.CounterVec
	detect   *detection            // nil without models
	confirm  map[string]*confirmer // cameras with zones
}

// New builds the pipeline from a validated config; metrics go to reg. It
// loads the models, so it fails on a missing runtime or a bad model.
func New(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (*Pipeline, error) {
	if log == nil {
		log = slog.Default()
	}
	m := newMetrics(reg)
	im := ingest.NewMetrics(reg)
	p := &Pipeline{cfg: cfg, log: log, queue: schedule.NewQueue(cfg.Pipeline.FrameQueue)}
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
	return err
}

func (p *Pipeline) onResult(r detectors.Result) {
	p.consumed.WithLabelValues(r.Frame.Camera).Inc()
	if p.OnFrame != nil {
		p.OnFrame(r.Frame, r.Detections)
	}
	if c, ok := p.confirm[r.Frame.Camera]; ok {
		for _, ev := range c.update(r.Frame, r.Detections) {
			if p.OnViolation != nil {
				p.OnViolation(ev)
			} else {
				ev.Close()
			}
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
