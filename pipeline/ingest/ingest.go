// Package ingest receives a camera's RTSP stream and hands on its access
// units with timestamps, keyframe flags and parameter sets.
//
// A Source keeps its camera connected for as long as its context lives:
// it reconnects with exponential backoff and jitter, and a watchdog
// reconnects a connection that stays open but stops delivering media.
// It must never block on the stages after it (OnAccessUnit must return
// quickly) and never log or export the credentials in a camera URL.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/pion/rtp"

	"github.com/streetwatch/streetwatch/media"
)

// ErrStalled is the reason for a reconnect when the watchdog fired.
var ErrStalled = errors.New("no media received")

// Transport choices.
const (
	TransportAuto = "auto" // UDP first, TCP when UDP gets nothing (gortsplib's fallback)
	TransportTCP  = "tcp"
	TransportUDP  = "udp"
)

// Source is one camera's RTSP connection.
//
// Lifecycle: NewSource, then Run until its context ends.
type Source struct {
	cfg          SourceConfig
	onAccessUnit func(*media.AccessUnit)
	metrics      *Metrics
	log          *slog.Logger

	mu       sync.Mutex
	status   Status
	session  uint64
	lastPTS  int64
	lastTime time.Time
}

// SourceConfig is a camera's connection settings.
type SourceConfig struct {
	Camera    string
	URL       string // may hold credentials: never log it, use RedactURL
	Transport string
	// StallTimeout: no access unit for this long means reconnect (default 10 s).
	StallTimeout time.Duration
	// BackoffMin and BackoffMax bound the delay between connection attempts
	// (defaults 1 s and 30 s); the delay doubles per failed attempt, with jitter.
	BackoffMin, BackoffMax time.Duration
}

// SourceDeps are the parts a Source works with.
type SourceDeps struct {
	// OnAccessUnit receives every access unit from the first keyframe on. The
	// unit is owned by the callee. It must not block.
	OnAccessUnit func(*media.AccessUnit)
	Metrics      *Metrics     // nil: unregistered metrics
	Log          *slog.Logger // nil: slog.Default()
}

// NewSource applies the defaults; it does not connect (Run does).
func NewSource(cfg SourceConfig, deps SourceDeps) *Source {
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 10 * time.Second
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = time.Second
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(30*time.Second, cfg.BackoffMin)
	}
	s := &Source{cfg: cfg, onAccessUnit: deps.OnAccessUnit, metrics: deps.Metrics, log: deps.Log}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Status is what the cameras page and health checks show.
type Status struct {
	Up            bool
	Codec         string
	Width, Height int
	Transport     string
	LastUnit      time.Time
	LastError     string
	Reconnects    uint64
}

// Status returns the current connection status.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Run keeps the camera connected until ctx ends. It returns nil then.
func (s *Source) Run(ctx context.Context) error {
	log := s.log.With("camera", s.cfg.Camera)
	m := s.metrics.forCamera(s.cfg.Camera)
	m.up.Set(0)
	failures := 0
	for {
		gotMedia, err := s.connect(ctx, m, log)
		m.up.Set(0)
		if ctx.Err() != nil {
			s.setDown(nil) // shutting down is not the camera's fault: keep its last error
			return nil
		}
		s.setDown(err)
		if gotMedia {
			failures = 0
		}
		delay := Backoff(s.cfg.BackoffMin, s.cfg.BackoffMax, failures)
		failures++
		log.Warn("camera disconnected, reconnecting", "err", s.scrub(err), "retry_in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		m.reconnects.Inc()
		s.mu.Lock()
		s.status.Reconnects++
		s.mu.Unlock()
	}
}

// Backoff is the delay before attempt n+1 after n consecutive failures:
// min·2ⁿ capped at max, with "equal jitter" (between half and all of it) so
// that cameras behind one failed switch do not reconnect in lockstep.
func Backoff(minDelay, maxDelay time.Duration, failures int) time.Duration {
	d := minDelay
	for i := 0; i < failures && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d/2 + rand.N(d/2+1)
}

// connect runs one connection until it fails, stalls or ctx ends. gotMedia
// tells whether any access unit arrived (which resets the backoff).
func (s *Source) connect(ctx context.Context, m *cameraMetrics, log *slog.Logger) (gotMedia bool, err error) {
	u, err := base.ParseURL(s.cfg.URL)
	if err != nil {
		return false, fmt.Errorf("parse url: %w", err)
	}
	st := &stream{src: s, m: m, log: log}
	c := &gortsplib.Client{
		Scheme:       u.Scheme,
		Host:         u.Host,
		ReadTimeout:  s.cfg.StallTimeout,
		WriteTimeout: s.cfg.StallTimeout,
		// Keyframes of 4K cameras arrive as MB-sized bursts: the OS default
		// UDP buffer would drop packets.
		UDPReadBufferSize: 4 << 20,
		OnTransportSwitch: func(err error) {
			log.Info("switching transport", "reason", s.scrub(err))
		},
		OnPacketsLost: func(lost uint64) {
			m.lost.Add(float64(lost))
			st.gap.Store(true)
		},
		OnDecodeError: func(err error) {
			log.Debug("rtp decode error", "err", s.scrub(err))
		},
	}
	switch s.cfg.Transport {
	case TransportTCP:
		t := gortsplib.TransportTCP
		c.Transport = &t
	case TransportUDP:
		t := gortsplib.TransportUDP
		c.Transport = &t
	}
	if err := c.Start2(); err != nil {
		return false, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()

	desc, _, err := c.Describe(u)
	if err != nil {
		return false, fmt.Errorf("describe: %w", err)
	}
	var h264f *format.H264
	var h265f *format.H265
	codec := media.CodecUnknown
	medi := desc.FindFormat(&h264f)
	if medi != nil {
		codec = media.CodecH264
	} else if medi = desc.FindFormat(&h265f); medi != nil {
		codec = media.CodecH265
	} else {
		return false, fmt.Errorf("the stream has no H.264 or H.265 video")
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return false, fmt.Errorf("setup: %w", err)
	}

	st.params.Codec = codec
	var depacketize func(*rtp.Packet) ([][]byte, error)
	var forma format.Format
	switch codec {
	case media.CodecH264:
		forma = h264f
		st.params.Update([][]byte{h264f.SPS, h264f.PPS}) //nolint:errcheck // SDP may be incomplete; in-band sets follow
		dec, err := h264f.CreateDecoder()
		if err != nil {
			return false, err
		}
		depacketize = dec.Decode
	case media.CodecH265:
		forma = h265f
		st.params.Update([][]byte{h265f.VPS, h265f.SPS, h265f.PPS}) //nolint:errcheck // as above
		dec, err := h265f.CreateDecoder()
		if err != nil {
			return false, err
		}
		depacketize = dec.Decode
	}
	st.lastUnit.Store(time.Now().UnixNano())
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		m.bytes.Add(float64(pkt.MarshalSize()))
		pts, ok := c.PacketPTS2(medi, pkt)
		if !ok {
			return
		}
		nalus, err := depacketize(pkt)
		if err != nil {
			if !isIncomplete(err) {
				// A unit was thrown away (malformed, or over the
				// depacketizer's limits): what follows is damaged.
				st.gap.Store(true)
				m.rtpErrors.Inc()
				if st.depacketizeErrors++; st.depacketizeErrors == 1 {
					log.Warn("cannot depacketize RTP; skipping to the next keyframe (logged once per connection)", "err", s.scrub(err))
				}
			}
			return
		}
		st.handle(nalus, pts)
	})
	if _, err := c.Play(nil); err != nil {
		return false, fmt.Errorf("play: %w", err)
	}
	log.Info("camera connected", "url", RedactURL(s.cfg.URL), "codec", codec, "transport", s.cfg.Transport)

	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	tick := time.NewTicker(min(s.cfg.StallTimeout/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return st.units.Load() > 0, err
		case <-tick.C:
			if since := time.Since(time.Unix(0, st.lastUnit.Load())); since > s.cfg.StallTimeout {
				c.Close()
				<-done
				return st.units.Load() > 0, fmt.Errorf("%w for %v", ErrStalled, since.Round(time.Millisecond))
			}
		}
	}
}

func isIncomplete(err error) bool {
	return errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) ||
		errors.Is(err, rtph265.ErrMorePacketsNeeded) || errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious)
}

func (s *Source) setDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Up = false
	if err != nil {
		s.status.LastError = s.scrub(err).Error()
	}
}

// scrub removes the URL's password from an error message, in case a
// library quoted the URL.
func (s *Source) scrub(err error) error {
	if err == nil {
		return nil
	}
	u, perr := url.Parse(s.cfg.URL)
	if perr != nil || u.User == nil {
		return err
	}
	msg := err.Error()
	if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(msg, pw) {
		return errors.New(strings.ReplaceAll(msg, pw, "xxxxx"))
	}
	return err
}

// RedactURL returns the URL with its password replaced, for logs and pages.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
