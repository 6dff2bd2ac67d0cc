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
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"

	"github.com/streetwatch/streetwatch/internal/backoff"
	"github.com/streetwatch/streetwatch/media"
)

// ErrStalled is the reason for a reconnect when the watchdog fired.
var ErrStalled = errors.New("no media received")

// Credential guards: why a connection was refused before the password left.
var (
	ErrRedirectRefused = errors.New("redirect to another host refused (credentials are sent only to the configured host; set allow_redirects_to_other_hosts to follow it)")
	ErrBasicRefused    = errors.New("camera asks for Basic authentication over plain RTSP; refused (the password would cross the network in clear text; use rtsps://, enable Digest on the camera, or set allow_basic_auth)")
)

// Transport choices.
const (
	TransportAuto = "auto" // UDP first, TCP when UDP gets nothing (gortsplib's fallback)
	TransportTCP  = "tcp"
	TransportUDP  = "udp"
)

// Source is one camera's RTSP connection.
type Source struct {
	Camera    string
	URL       string // may hold credentials: never log it, use RedactURL
	Transport string
	// AllowRedirectsToOtherHosts follows RTSP redirects to hosts other
	// than URL's (credentials follow them); default: same host only.
	AllowRedirectsToOtherHosts bool
	// AllowBasicAuth answers a Basic challenge over plain rtsp:// (the
	// password then crosses the network in clear text); default: Digest only.
	AllowBasicAuth bool
	// StallTimeout: no access unit for this long means reconnect (default 10 s).
	StallTimeout time.Duration
	// BackoffMin and BackoffMax bound the delay between connection attempts
	// (defaults 1 s and 30 s); the delay doubles per failed attempt, with jitter.
	BackoffMin, BackoffMax time.Duration
	// OnAccessUnit receives every access unit from the first keyframe on. The
	// unit is owned by the callee. It must not block.
	OnAccessUnit func(*media.AccessUnit)
	Metrics      *Metrics
	Log          *slog.Logger

	logs     logLimits
	stall    time.Duration // StallTimeout with its default, set by Run
	mu       sync.Mutex
	status   Status
	session  uint64
	lastPTS  int64
	lastTime time.Time
}

// Status is what the cameras page and health checks show. Times are the
// wall clock of this machine, never the camera's.
type Status struct {
	// Up is true while the connection delivers media, from its first
	// packet on (keyframe or not: a camera joined in a long GOP is up
	// while its next keyframe is on the way).
	Up            bool
	Codec         string
	Width, Height int
	// Transport is the one negotiated with the camera (tcp, udp or
	// udp-multicast), whatever the configuration asked for.
	Transport  string
	MediaSince time.Time // first packet of the current connection; zero while down
	LastUnit   time.Time // last access unit handed on (the first packet before that)
	LastError  string
	Reconnects uint64
}

// Status returns the current connection status.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Run keeps the camera connected until ctx ends. It returns nil then.
func (s *Source) Run(ctx context.Context) error {
	// Defaults go into Run's own copies: the exported fields stay as the
	// caller set them.
	s.stall = s.StallTimeout
	if s.stall <= 0 {
		s.stall = 10 * time.Second
	}
	bmin, bmax := s.BackoffMin, s.BackoffMax
	if bmin <= 0 {
		bmin = time.Second
	}
	if bmax < bmin {
		bmax = max(30*time.Second, bmin)
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("camera", s.Camera)
	s.logs.init()
	m := s.Metrics.forCamera(s.Camera)
	m.up.Set(0)
	// Equal jitter: cameras behind one failed switch do not reconnect in
	// lockstep.
	retry := backoff.Policy{Min: bmin, Max: bmax, Jitter: backoff.EqualJitter}
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
		failures++
		delay := retry.Delay(failures)
		logLimited(log, &s.logs.reconnect, slog.LevelWarn, "camera disconnected, reconnecting",
			"err", s.scrub(err), "retry_in", delay.Round(time.Millisecond))
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

// connect runs one connection until it fails, stalls or ctx ends. gotMedia
// tells whether any media arrived (which resets the backoff).
func (s *Source) connect(ctx context.Context, m *cameraMetrics, log *slog.Logger) (gotMedia bool, err error) {
	u, err := base.ParseURL(s.URL)
	if err != nil {
		return false, fmt.Errorf("parse url: %w", err)
	}
	st := &stream{src: s, m: m, log: log}
	guard := &credentialGuard{host: u.Hostname(), plain: u.Scheme == "rtsp",
		anyHost: s.AllowRedirectsToOtherHosts, basic: s.AllowBasicAuth}
	c := &gortsplib.Client{
		Scheme:      u.Scheme,
		Host:        u.Host,
		DialContext: guard.dial,
		OnRequest:   guard.onRequest,
		// gortsplib keeps the last packet's time in whole seconds, so its
		// read timeout can fire up to a second early: with a 1 s stall it
		// would drop a camera that sends every 0.6 s. The watchdog below
		// times the stall to the nanosecond; gortsplib's timeout is only the
		// backstop, a second later.
		ReadTimeout:  s.stall + time.Second,
		WriteTimeout: s.stall,
		// Keyframes of 4K cameras arrive as MB-sized bursts: the OS default
		// UDP buffer would drop packets.
		UDPReadBufferSize: 4 << 20,
		OnTransportSwitch: func(err error) {
			// gortsplib only ever switches to TCP.
			s.setTransport(TransportTCP)
			log.Info("switching transport", "to", TransportTCP, "reason", s.scrub(err))
		},
		OnPacketsLost: func(lost uint64) {
			m.lost.Add(float64(lost))
			st.gap.Store(true)
		},
		OnDecodeError: func(err error) {
			log.Debug("rtp decode error", "err", s.scrub(err))
		},
	}
	switch s.Transport {
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
		return false, fmt.Errorf("describe: %w", guard.explain(err))
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
	res, err := c.Setup(desc.BaseURL, medi, 0, 0)
	if err != nil {
		return false, fmt.Errorf("setup: %w", err)
	}
	s.setTransport(negotiated(res))

	st.params.Codec = codec
	var forma format.Format
	switch codec {
	case media.CodecH264:
		forma = h264f
		st.params.Update([][]byte{h264f.SPS, h264f.PPS}) //nolint:errcheck // SDP may be incomplete; in-band sets follow
	case media.CodecH265:
		forma = h265f
		st.params.Update([][]byte{h265f.VPS, h265f.SPS, h265f.PPS}) //nolint:errcheck // as above
	}
	asm, err := newAssembler(forma)
	if err != nil {
		return false, err
	}
	st.lastUnit.Store(time.Now().UnixNano())
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		st.packet()
		m.bytes.Add(float64(pkt.MarshalSize()))
		pts, ok := c.PacketPTS2(medi, pkt)
		if !ok {
			return
		}
		if err := asm.push(pkt, pts, st.handle); err != nil {
			if !isIncomplete(err) {
				// A unit was thrown away (malformed, or over the
				// depacketizer's limits): what follows is damaged.
				st.gap.Store(true)
				m.rtpErrors.Inc()
				logLimited(log, &s.logs.depacketize, slog.LevelWarn, "cannot depacketize RTP; skipping to the next keyframe", "err", s.scrub(err))
			}
		}
	})
	if _, err := c.Play(nil); err != nil {
		return false, fmt.Errorf("play: %w", err)
	}
	logLimited(log, &s.logs.connected, slog.LevelInfo, "camera connected", "url", RedactURL(s.URL), "codec", codec,
		"transport", s.Status().Transport, "configured_transport", s.Transport)

	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	tick := time.NewTicker(min(s.stall/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return st.flowing.Load(), stalled(err, s.stall)
		case <-tick.C:
			if since := time.Since(time.Unix(0, st.lastUnit.Load())); since > s.stall {
				c.Close()
				<-done
				return st.flowing.Load(), fmt.Errorf("%w for %v", ErrStalled, since.Round(time.Millisecond))
			}
		}
	}
}

// stalled reports gortsplib's read timeout (the backstop, a second after
// the stall timeout) as the watchdog's ErrStalled: whichever of the two notices a
// silent camera first, status and logs give the same reason.
func stalled(err error, after time.Duration) error {
	var tcp liberrors.ErrClientTCPTimeout
	var udp liberrors.ErrClientUDPTimeout
	if errors.As(err, &tcp) || errors.As(err, &udp) {
		return fmt.Errorf("%w for %v (%v)", ErrStalled, after, err)
	}
	return err
}

func isIncomplete(err error) bool {
	return errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) ||
		errors.Is(err, rtph265.ErrMorePacketsNeeded) || errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious)
}

func (s *Source) setDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Up = false
	s.status.MediaSince = time.Time{}
	if err != nil {
		s.status.LastError = s.scrub(err).Error()
	}
}

func (s *Source) setTransport(t string) {
	s.mu.Lock()
	s.status.Transport = t
	s.mu.Unlock()
}

// negotiated names the transport a SETUP response settled on.
func negotiated(res *base.Response) string {
	var th headers.Transport
	if res == nil || th.Unmarshal(res.Header["Transport"]) != nil {
		return ""
	}
	switch {
	case th.Protocol == headers.TransportProtocolTCP:
		return TransportTCP
	case th.Delivery != nil && *th.Delivery == headers.TransportDeliveryMulticast:
		return "udp-multicast"
	}
	return TransportUDP
}

// scrub removes the URL's password from an error message, in case a
// library quoted the URL.
func (s *Source) scrub(err error) error {
	if err == nil {
		return nil
	}
	u, perr := url.Parse(s.URL)
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
