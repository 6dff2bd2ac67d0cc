package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/decode"
	"github.com/streetwatch/streetwatch/pipeline/framequeue"
	"github.com/streetwatch/streetwatch/pipeline/ingest"
	"github.com/streetwatch/streetwatch/pipeline/sample"
)

// Camera runs one camera's ingest, sampling and decoding.
type Camera struct {
	cfg     config.Camera
	log     *slog.Logger
	src     *ingest.Source
	sampler *sample.Sampler
	units   chan *media.AccessUnit
	history *evidence.History // nil: no evidence for this camera
	out     *framequeue.Queue
	pool    *frame.Pool

	decoded, sampled, decodeErrors prometheus.Counter
	droppedBehind                  prometheus.Counter
	decodeSec                      prometheus.Observer

	decCodec  media.Codec
	skipping  bool // ingest side: unit queue overflowed, waiting for a keyframe
	seq       uint64
	lastFrame atomic.Int64 // unix nanos of the last sampled frame's time
	mu        sync.Mutex
	lastError string
}

func newCamera(cfg config.Camera, unitQueue int, out *framequeue.Queue, m *metrics, im *ingest.Metrics, log *slog.Logger) *Camera {
	c := &Camera{
		cfg:           cfg,
		log:           log.With("camera", cfg.ID),
		units:         make(chan *media.AccessUnit, unitQueue),
		out:           out,
		pool:          frame.NewPool(4),
		decoded:       m.decoded.WithLabelValues(cfg.ID),
		sampled:       m.sampled.WithLabelValues(cfg.ID),
		decodeErrors:  m.errors.WithLabelValues(cfg.ID),
		droppedBehind: m.dropped.WithLabelValues(cfg.ID, DropDecoderBehind),
		decodeSec:     m.decodeSec,
	}
	if cfg.Sampling.Mode == config.SampleKeyframes {
		c.sampler = sample.Keyframes()
	} else {
		c.sampler = sample.FPS(cfg.Sampling.FPS)
	}
	c.src = ingest.NewSource(ingest.SourceConfig{
		Camera:       cfg.ID,
		URL:          cfg.URL,
		Transport:    cfg.Transport,
		StallTimeout: cfg.StallTimeout.D(),
		BackoffMin:   cfg.Reconnect.Min.D(),
		BackoffMax:   cfg.Reconnect.Max.D(),
	}, ingest.SourceDeps{OnAccessUnit: c.onAccessUnit, Metrics: im, Log: log})
	return c
}

// ID of the camera.
func (c *Camera) ID() string { return c.cfg.ID }

// CameraStatus is a camera's state for health checks and pages.
type CameraStatus struct {
	ID, Name  string
	Ingest    ingest.Status
	LastFrame time.Time // stream time of the last sampled frame
	LastError string    // last decode error
}

// Status reports the camera's state.
func (c *Camera) Status() CameraStatus {
	c.mu.Lock()
	lastErr := c.lastError
	c.mu.Unlock()
	var last time.Time
	if n := c.lastFrame.Load(); n != 0 {
		last = time.Unix(0, n)
	}
	return CameraStatus{ID: c.cfg.ID, Name: c.cfg.Name, Ingest: c.src.Status(), LastFrame: last, LastError: lastErr}
}

// onAccessUnit runs on ingest's goroutine and must never block.
func (c *Camera) onAccessUnit(au *media.AccessUnit) {
	if c.history != nil {
		c.history.Add(au) // every unit: clips are cut from the camera's own stream
	}
	if !c.sampler.Decode(au) {
		return
	}
	if c.skipping && !au.Key {
		c.droppedBehind.Inc()
		return
	}
	select {
	case c.units <- au:
		c.skipping = false
	default:
		// The decoder is behind. A unit dropped here breaks every picture
		// after it until the next keyframe, so skip to that keyframe.
		c.skipping = true
		c.droppedBehind.Inc()
	}
}

// Run runs the camera until ctx ends.
func (c *Camera) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = c.src.Run(ctx)
	}()
	c.decodeLoop(ctx)
	wg.Wait()
	c.pool.Close()
}

func (c *Camera) decodeLoop(ctx context.Context) {
	var dec decode.Decoder
	defer func() {
		if dec != nil {
			dec.Close()
		}
	}()
	var corrupt uint64
	for {
		var au *media.AccessUnit
		select {
		case <-ctx.Done():
			return
		case au = <-c.units:
		}
		if dec == nil || au.Codec != c.decCodec {
			if dec != nil {
				dec.Close()
			}
			var err error
			dec, err = decode.New(decode.Config{Codec: au.Codec, Threads: c.cfg.Decoder.Threads,
				KeyframesOnly: c.cfg.Sampling.Mode == config.SampleKeyframes})
			if err != nil {
				c.setError(err)
				c.log.Error("cannot decode stream", "err", err)
				dec = nil
				continue
			}
			c.decCodec = au.Codec
		}
		start := time.Now()
		if err := dec.Send(au); err != nil {
			if !errors.Is(err, decode.ErrNeedKeyframe) {
				c.decodeErrors.Inc()
				c.setError(err)
				c.log.Debug("decode error, skipping to the next keyframe", "err", err)
			}
			continue
		}
		for {
			pts, ok, err := dec.Receive()
			if err != nil {
				c.decodeErrors.Inc()
				c.setError(err)
				break
			}
			if !ok {
				break
			}
			c.decoded.Inc()
			if !c.sampler.Keep(pts) {
				continue
			}
			f := c.pool.Get()
			if err := dec.Convert(f); err != nil {
				f.Release()
				c.decodeErrors.Inc()
				c.setError(err)
				continue
			}
			c.seq++
			f.Camera, f.PTS, f.Seq = c.cfg.ID, pts, c.seq
			// With B-frames the picture out is not the unit in: its time
			// follows from its own PTS.
			f.Time = au.Time.Add(media.TicksToDuration(pts - au.PTS))
			f.Key = au.Key && pts == au.PTS
			c.lastFrame.Store(f.Time.UnixNano())
			c.sampled.Inc()
			c.out.Push(f)
		}
		c.decodeSec.Observe(time.Since(start).Seconds())
		if s := dec.Stats(); s.Corrupt != corrupt {
			c.decodeErrors.Add(float64(s.Corrupt - corrupt))
			corrupt = s.Corrupt
		}
	}
}

func (c *Camera) setError(err error) {
	c.mu.Lock()
	c.lastError = err.Error()
	c.mu.Unlock()
}
