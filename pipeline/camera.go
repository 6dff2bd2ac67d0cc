package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/lograte"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/decode"
	"github.com/streetwatch/streetwatch/pipeline/framequeue"
	"github.com/streetwatch/streetwatch/pipeline/history"
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
	history *history.History // nil: no evidence for this camera
	out     *framequeue.Queue
	pool    *frame.Pool

	decoded, sampled, decodeErrors prometheus.Counter
	droppedBehind                  prometheus.Counter
	decodeSec                      prometheus.Observer
	decoding                       prometheus.Gauge
	hardware                       prometheus.Gauge
	accelNote                      string // the last hardware decoding state logged

	// noDecodeAfter is the least time media may flow without a decoded
	// picture before the camera counts as not decoding (two GOPs when
	// longer).
	noDecodeAfter time.Duration
	lastKey       time.Time    // ingest side: when the last keyframe arrived
	lastKeySess   uint64       // ingest side: and on which connection
	keyInterval   atomic.Int64 // nanos between the last two keyframes
	lastDecoded   atomic.Int64 // unix nanos (wall clock) of the last decoded picture

	// deferred: keyframes wait for detection encoded and are decoded by
	// the worker that takes them (keyframe sampling, software decoding).
	deferred bool
	// lastW×lastH is the size of the last keyframe loaded: a loader reuses
	// a free frame of that size.
	lastW, lastH atomic.Int32
	// loadErrs paces the log of keyframes that fail to decode (loads run
	// on several workers: under loadMu).
	loadMu   sync.Mutex
	loadErrs lograte.Limiter

	decCodec  media.Codec
	skipping  bool // ingest side: unit queue overflowed, waiting for a keyframe
	seq       uint64
	lastFrame atomic.Int64 // unix nanos (wall clock) when the last frame was sampled
	mu        sync.Mutex
	lastError string
}

// newCamera builds a camera whose sampled frames come from pool (shared
// by the pipeline's cameras) and go to out.
func newCamera(cfg config.Camera, unitQueue int, out *framequeue.Queue, pool *frame.Pool, m *metrics, im *ingest.Metrics, log *slog.Logger) *Camera {
	c := &Camera{
		cfg:           cfg,
		log:           log.With("camera", cfg.ID),
		units:         make(chan *media.AccessUnit, unitQueue),
		out:           out,
		pool:          pool,
		decoded:       m.decoded.WithLabelValues(cfg.ID),
		sampled:       m.sampled.WithLabelValues(cfg.ID),
		decodeErrors:  m.errors.WithLabelValues(cfg.ID),
		droppedBehind: m.dropped.WithLabelValues(cfg.ID, DropDecoderBehind),
		decodeSec:     m.decodeSec,
		decoding:      m.decoding.WithLabelValues(cfg.ID),
		hardware:      m.hardware.WithLabelValues(cfg.ID),
		noDecodeAfter: defaultNoDecodeAfter,
		loadErrs:      lograte.Limiter{Every: time.Minute},
	}
	if cfg.Sampling.Mode == config.SampleKeyframes {
		c.sampler = sample.Keyframes()
		c.deferred = cfg.Decoder.HWAccel == ""
	} else {
		c.sampler = sample.FPS(cfg.Sampling.FPS)
	}
	c.src = &ingest.Source{
		Camera:                     cfg.ID,
		URL:                        cfg.URL,
		Transport:                  cfg.Transport,
		AllowRedirectsToOtherHosts: cfg.AllowRedirectsToOtherHosts,
		AllowBasicAuth:             cfg.AllowBasicAuth,
		StallTimeout:               cfg.StallTimeout.D(),
		BackoffMin:                 cfg.Reconnect.Min.D(),
		BackoffMax:                 cfg.Reconnect.Max.D(),
		OnAccessUnit:               c.onAccessUnit,
		Metrics:                    im,
		Log:                        log,
	}
	return c
}

// ID of the camera.
func (c *Camera) ID() string { return c.cfg.ID }

// Camera states: what a camera's stream and decoder are doing, for pages,
// /healthz and alerts.
const (
	StateConnecting = "connecting" // no media: connecting, or waiting to reconnect
	StateStarting   = "starting"   // media flows, nothing decoded yet (a decoder starts at a keyframe)
	StateDecoding   = "decoding"   // pictures are decoded
	StateNoDecode   = "no_decode"  // media flows, but no picture decoded for two GOPs (at least 20 s)
)

// defaultNoDecodeAfter is the shortest time media may flow without a
// decoded picture before the camera counts as not decoding.
const defaultNoDecodeAfter = 20 * time.Second

// CameraStatus is a camera's state for health checks and pages.
type CameraStatus struct {
	ID, Name string
	Ingest   ingest.Status
	State    string // one of the State constants
	// LastFrame is when (this machine's clock) the last frame was sampled:
	// for liveness, whatever the camera's own timestamps say.
	LastFrame time.Time
	LastError string // last decode error
	// Counts since start: the camera's own counters, the values
	// /metrics shows for it.
	FramesDecoded uint64 // streetwatch_frames_decoded_total
	FramesSampled uint64 // streetwatch_frames_sampled_total
	DecodeErrors  uint64 // streetwatch_decode_errors_total
	DroppedBehind uint64 // streetwatch_frames_dropped_total{reason="decoder_behind"}
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
	ing := c.src.Status()
	return CameraStatus{ID: c.cfg.ID, Name: c.cfg.Name, Ingest: ing, State: c.state(time.Now(), ing), LastFrame: last, LastError: lastErr,
		FramesDecoded: counterValue(c.decoded), FramesSampled: counterValue(c.sampled),
		DecodeErrors: counterValue(c.decodeErrors), DroppedBehind: counterValue(c.droppedBehind)}
}

// state tells what the camera is doing at now, from its ingest status and
// the last decoded picture.
func (c *Camera) state(now time.Time, ing ingest.Status) string {
	if !ing.Up {
		return StateConnecting
	}
	// In keyframes mode only keyframes are decoded: a picture a GOP is
	// normal, so allow two.
	window := max(c.noDecodeAfter, 2*time.Duration(c.keyInterval.Load()))
	if n := c.lastDecoded.Load(); n != 0 && now.Sub(time.Unix(0, n)) <= window {
		return StateDecoding
	}
	if now.Sub(ing.MediaSince) <= window {
		return StateStarting
	}
	return StateNoDecode
}

// updateDecoding sets streetwatch_camera_decoding from the state.
func (c *Camera) updateDecoding(now time.Time) {
	if c.state(now, c.src.Status()) == StateDecoding {
		c.decoding.Set(1)
	} else {
		c.decoding.Set(0)
	}
}

// counterValue reads one of the camera's counters (0 when it has none).
func counterValue(c prometheus.Counter) uint64 {
	var m dto.Metric
	if c == nil || c.Write(&m) != nil {
		return 0
	}
	return uint64(m.GetCounter().GetValue())
}

// onAccessUnit runs on ingest's goroutine and must never block.
func (c *Camera) onAccessUnit(au *media.AccessUnit) {
	if au.Key {
		// The GOP as it arrives; a reconnect's gap is no GOP.
		now := time.Now()
		if !c.lastKey.IsZero() && au.Session == c.lastKeySess {
			c.keyInterval.Store(int64(now.Sub(c.lastKey)))
		}
		c.lastKey, c.lastKeySess = now, au.Session
	}
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
}

func (c *Camera) decodeLoop(ctx context.Context) {
	var dec decode.Decoder
	defer func() {
		if dec != nil {
			dec.Close()
		}
	}()
	var corrupt uint64
	// lastW×lastH is the size of the last picture: the pool hands out a
	// frame of that size when it has one.
	var lastW, lastH int
	// The state is polled: "nothing decoded" is the absence of an event.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	defer c.decoding.Set(0)
	// A decoder that cannot be opened fails again on every unit: log the
	// first failure, then one line a minute, each unit counted.
	openErrs := lograte.Limiter{Every: time.Minute}
	for {
		var au *media.AccessUnit
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			c.updateDecoding(now)
			continue
		case au = <-c.units:
		}
		if c.deferred {
			c.queueKeyframe(au)
			continue
		}
		if dec == nil || au.Codec != c.decCodec {
			if dec != nil {
				dec.Close()
			}
			var err error
			keys := c.cfg.Sampling.Mode == config.SampleKeyframes
			dec, err = decode.New(decode.Config{Codec: au.Codec, Threads: c.cfg.Decoder.Threads, KeyframesOnly: keys,
				SkipLoopFilter: keys && !c.cfg.Decoder.Deblock, HWAccel: c.cfg.Decoder.HWAccel, Device: c.cfg.Decoder.Device})
			if err != nil {
				dec = nil
				c.decodeErrors.Inc()
				c.setError(err)
				if ok, held := openErrs.Allow(time.Now()); ok {
					c.log.Error("cannot decode stream", "codec", au.Codec, "suppressed", held, "err", err)
				}
				continue
			}
			if was, held := openErrs.Recover(); was {
				c.log.Info("decoder opened after failures", "codec", au.Codec, "suppressed", held)
			}
			c.noteAccel(dec, au.Codec)
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
			c.lastDecoded.Store(time.Now().UnixNano())
			if !c.sampler.Keep(pts) {
				continue
			}
			f := c.pool.GetSized(lastW, lastH)
			if err := dec.Convert(f); err != nil {
				f.Release()
				c.decodeErrors.Inc()
				c.setError(err)
				continue
			}
			lastW, lastH = f.Width(), f.Height()
			c.seq++
			f.Camera, f.PTS, f.Seq = c.cfg.ID, pts, c.seq
			// With B-frames the picture out is not the unit in: its time
			// follows from its own PTS.
			f.Time = au.Time.Add(media.TicksToDuration(pts - au.PTS))
			f.Key = au.Key && pts == au.PTS
			// Liveness is our clock: a camera's timestamps may be anything.
			c.lastFrame.Store(time.Now().UnixNano())
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

// queueKeyframe queues a keyframe for detection still encoded: the
// detection worker that takes it decodes it (loadKeyframe). So a backlog
// of keyframes (128 cameras in phase after a power cut) holds tens of KiB
// per frame instead of a BGR picture, and a keyframe the queue drops under
// overload costs no decoding.
func (c *Camera) queueKeyframe(au *media.AccessUnit) {
	c.seq++
	f := c.pool.Pending(func(f *frame.Frame) error { return c.loadKeyframe(f, au) })
	f.Camera, f.PTS, f.Seq, f.Time, f.Key = c.cfg.ID, au.PTS, c.seq, au.Time, true
	c.lastFrame.Store(time.Now().UnixNano())
	c.sampled.Inc()
	c.out.Push(f)
}

// loadKeyframe decodes a keyframe queued by queueKeyframe into its frame,
// counting it as the camera's own decoder would. It runs on a detection
// worker, concurrently with the camera's other keyframes.
func (c *Camera) loadKeyframe(f *frame.Frame, au *media.AccessUnit) error {
	start := time.Now()
	f.Reuse(int(c.lastW.Load()), int(c.lastH.Load()))
	res, err := decode.Keyframe(decode.Config{Codec: au.Codec, Threads: c.cfg.Decoder.Threads, SkipLoopFilter: !c.cfg.Decoder.Deblock}, au, f)
	c.decodeSec.Observe(time.Since(start).Seconds())
	if res.Corrupt > 0 {
		c.decodeErrors.Add(float64(res.Corrupt))
	}
	switch {
	case errors.Is(err, decode.ErrNeedKeyframe):
		return err // a keyframe after lost pictures: skipped, as a decoder would
	case errors.Is(err, decode.ErrNoPicture) && res.Corrupt > 0:
		return err // counted above
	case err != nil:
		c.decodeErrors.Inc()
		c.setError(err)
		c.loadMu.Lock()
		ok, held := c.loadErrs.Allow(time.Now())
		c.loadMu.Unlock()
		if ok {
			c.log.Warn("cannot decode keyframe", "codec", au.Codec, "pts", au.PTS, "suppressed", held, "err", err)
		}
		return err
	}
	c.loadMu.Lock()
	c.loadErrs.Recover()
	c.loadMu.Unlock()
	c.decoded.Inc()
	c.lastDecoded.Store(time.Now().UnixNano())
	c.lastW.Store(int32(f.Width()))
	c.lastH.Store(int32(f.Height()))
	if res.PTS != au.PTS {
		f.PTS, f.Time = res.PTS, au.Time.Add(media.TicksToDuration(res.PTS-au.PTS))
	}
	return nil
}

// noteAccel reports where a new decoder decodes: on the configured
// hardware device, or on the CPU because it cannot be used (said once per
// camera and reason, not at every reconnect).
func (c *Camera) noteAccel(dec decode.Decoder, codec media.Codec) {
	a, ok := dec.(decode.Accelerated)
	if !ok || c.cfg.Decoder.HWAccel == "" {
		return
	}
	on := a.Accel() != ""
	c.hardware.Set(map[bool]float64{true: 1, false: 0}[on])
	switch err := a.HWError(); {
	case on && c.accelNote != "on":
		c.accelNote = "on"
		c.log.Info("decoding on the hardware device", "hwaccel", a.Accel(), "device", c.cfg.Decoder.Device, "codec", codec)
	case err != nil && c.accelNote != err.Error():
		c.accelNote = err.Error()
		c.log.Warn("hardware decoding unavailable, decoding on the CPU", "hwaccel", c.cfg.Decoder.HWAccel, "codec", codec, "err", err)
	}
}

func (c *Camera) setError(err error) {
	c.mu.Lock()
	c.lastError = err.Error()
	c.mu.Unlock()
}
