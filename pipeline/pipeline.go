package pipeline

import (
	"context"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/pipeline/ingest"
	"github.com/streetwatch/streetwatch/pipeline/schedule"
)

// Pipeline is every camera plus the frame queue and its consumer.
type Pipeline struct {
	// OnFrame consumes each sampled frame, one at a time, in queue order;
	// the frame is released after it returns. Nil: frames are only counted
	// (the counting sink that stands in until detection plugs in).
	OnFrame func(*media.Frame)

	cfg      *config.Config
	log      *slog.Logger
	queue    *schedule.Queue
	cameras  []*Camera
	consumed *prometheus.CounterVec
}

// New builds the pipeline from a validated config; metrics go to reg.
func New(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) *Pipeline {
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
	return p
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.consume(ctx)
	}()
	wg.Wait()
	p.queue.Close()
	return nil
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
			p.OnFrame(f)
		}
		f.Release()
	}
}
