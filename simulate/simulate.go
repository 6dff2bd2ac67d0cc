// Package simulate serves video files as live RTSP cameras, for demos, tests
// and benchmarks.
//
// Each file plays like a real camera: at real-time pace (or Speed times
// faster), looping forever with continuous, monotonic RTP timestamps, so a
// client cannot tell a loop from a camera that keeps filming. Files are read
// into memory once and shared between cameras that play the same file.
package simulate

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/pion/rtp"

	"github.com/streetwatch/streetwatch/media"
)

// Server is a set of simulated cameras behind one RTSP server.
type Server struct {
	// Addr is the RTSP listen address, e.g. "127.0.0.1:8554" (":0" picks a port).
	Addr string
	// UDPRTPAddress enables UDP transport (its port must be even; RTCP uses
	// the next one). Empty: TCP only, as many NVRs are configured.
	UDPRTPAddress string
	// Speed plays Speed times faster than real time (default 1).
	Speed float64
	// NoLoop plays each file once, then ends its stream.
	NoLoop bool
	// WaitForReader holds each camera at the start of its file until its
	// first reader sends PLAY, so a test sees every picture from the first.
	// Real cameras do not wait; leave it off for demos and benchmarks.
	WaitForReader bool
	Log           *slog.Logger

	mu         sync.Mutex
	setups     []string // lower transport of each SETUP asked for
	cameras    map[string]*camera
	clips      map[string]*clip
	server     *gortsplib.Server
	listenAddr string
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Add registers a camera that plays file at rtsp://Addr/name. Call before Start.
func (s *Server) Add(name, file string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("camera name %q: use letters, digits, '_', '-' and '.'", name)
	}
	if s.cameras == nil {
		s.cameras = map[string]*camera{}
		s.clips = map[string]*clip{}
	}
	if _, dup := s.cameras[name]; dup {
		return fmt.Errorf("camera name %q used twice", name)
	}
	c, ok := s.clips[file]
	if !ok {
		var err error
		if c, err = readClip(file); err != nil {
			return err
		}
		s.clips[file] = c
	}
	s.cameras[name] = &camera{name: name, file: file, clip: c, played: make(chan struct{})}
	return nil
}

// Start listens and starts every camera.
func (s *Server) Start() error {
	if len(s.cameras) == 0 {
		return fmt.Errorf("no cameras")
	}
	if s.Speed <= 0 {
		s.Speed = 1
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.server = &gortsplib.Server{
		Handler:     (*handler)(s),
		RTSPAddress: s.Addr,
		// A camera late on a loaded machine sends what is due in a burst:
		// 256 packets (gortsplib's default) are 8 pictures of a 32-slice
		// stream, and the rest would be dropped before the socket.
		WriteQueueSize: 4096,
		Listen: func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err == nil {
				s.listenAddr = ln.Addr().String()
			}
			return ln, err
		},
	}
	if s.UDPRTPAddress != "" {
		host, port, err := net.SplitHostPort(s.UDPRTPAddress)
		if err != nil {
			return fmt.Errorf("udp address: %w", err)
		}
		var p int
		if _, err := fmt.Sscan(port, &p); err != nil || p%2 != 0 {
			return fmt.Errorf("udp address %q: port must be even", s.UDPRTPAddress)
		}
		s.server.UDPRTPAddress = s.UDPRTPAddress
		s.server.UDPRTCPAddress = net.JoinHostPort(host, fmt.Sprint(p+1))
	}
	if err := s.server.Start(); err != nil {
		return err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, c := range s.cameras {
		if err := c.start(s); err != nil {
			s.Close()
			return err
		}
	}
	for _, c := range s.cameras {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.play(s.ctx, s)
		}()
	}
	return nil
}

// SetupTransports lists, in order, the transport ("udp", "tcp",
// "multicast") of every SETUP request clients sent, accepted or refused: a
// test sees from the server's side what a client tried.
func (s *Server) SetupTransports() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.setups...)
}

// ListenAddr is the address the server listens on (useful with port 0).
func (s *Server) ListenAddr() string {
	return s.listenAddr
}

// URL of a camera.
func (s *Server) URL(name string) string {
	return "rtsp://" + s.ListenAddr() + "/" + name
}

// Close stops every camera and the server.
func (s *Server) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	s.mu.Lock()
	for _, c := range s.cameras {
		if c.stream != nil {
			c.stream.Close()
			c.stream = nil
		}
	}
	s.mu.Unlock()
	if s.server != nil {
		s.server.Close()
	}
}

// Wait returns when every camera has ended (only with NoLoop) or after Close.
func (s *Server) Wait() { s.wg.Wait() }

type camera struct {
	name    string
	file    string
	clip    *clip
	media   *description.Media
	stream  *gortsplib.ServerStream
	played  chan struct{} // closed on the first PLAY
	playing sync.Once
}

func (c *camera) start(s *Server) error {
	var forma format.Format
	p := c.clip.params
	switch c.clip.codec {
	case media.CodecH264:
		forma = &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: p.SPS, PPS: p.PPS}
	case media.CodecH265:
		forma = &format.H265{PayloadTyp: 96, VPS: p.VPS, SPS: p.SPS, PPS: p.PPS}
	}
	c.media = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	c.stream = &gortsplib.ServerStream{Server: s.server, Desc: &description.Session{Medias: []*description.Media{c.media}}}
	return c.stream.Initialize()
}

type encoder interface {
	Encode(au [][]byte) ([]*rtp.Packet, error)
}

// play sends the clip in decode order, paced by DTS. RTP timestamps carry
// the PTS plus the duration of every earlier loop, so they never jump back.
func (c *camera) play(ctx context.Context, s *Server) {
	var enc encoder
	var err error
	switch f := c.media.Formats[0].(type) {
	case *format.H264:
		enc, err = f.CreateEncoder()
	case *format.H265:
		enc, err = f.CreateEncoder()
	}
	if err != nil {
		s.Log.Error("simulate: encoder", "camera", c.name, "err", err)
		return
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	rtpBase := binary.BigEndian.Uint32(rnd[:])
	if s.WaitForReader {
		select {
		case <-ctx.Done():
			return
		case <-c.played:
		}
		// gortsplib activates the reader right after OnPlay returns; the
		// reader needs a moment more. Starting on the PLAY's answer instead
		// (tried) made TestConfigReloadAppliesToTheRunningCamera miss its
		// dumping in 2 of 3 runs.
		time.Sleep(200 * time.Millisecond)
	}
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var loopOffset int64
	for loop := 0; ; loop++ {
		for _, u := range c.clip.units {
			due := start.Add(time.Duration(float64(media.TicksToDuration(loopOffset+u.dts)) / s.Speed))
			if wait := time.Until(due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			} else if ctx.Err() != nil {
				return
			}
			pkts, err := enc.Encode(u.nalus)
			if err != nil {
				s.Log.Warn("simulate: packetize", "camera", c.name, "err", err)
				continue
			}
			pts := loopOffset + u.pts
			// NTP follows the content's clock, so sender reports agree with
			// RTP timestamps at any speed.
			ntp := start.Add(media.TicksToDuration(pts))
			for _, pkt := range pkts {
				pkt.Timestamp = rtpBase + uint32(pts)
				if err := c.stream.WritePacketRTPWithNTP(c.media, pkt, ntp); err != nil {
					return
				}
			}
		}
		loopOffset += c.clip.duration
		if s.NoLoop {
			// Writes are queued per reader: give them time to leave before
			// the stream closes and drops what is still queued.
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			s.Log.Info("simulate: file played once, ending stream", "camera", c.name)
			s.mu.Lock()
			c.stream.Close()
			c.stream = nil
			s.mu.Unlock()
			return
		}
	}
}

type handler Server

func (h *handler) lookup(path string) (*base.Response, *gortsplib.ServerStream, error) {
	name := strings.Trim(path, "/")
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.cameras[name]
	if !ok || c.stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, fmt.Errorf("no camera %q", name)
	}
	return &base.Response{StatusCode: base.StatusOK}, c.stream, nil
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.lookup(ctx.Path)
}

// OnRequest sees every request, also a SETUP the server then refuses
// (UDP on a TCP-only server is answered 461 before OnSetup is called).
func (h *handler) OnRequest(_ *gortsplib.ServerConn, req *base.Request) {
	if req.Method != base.Setup {
		return
	}
	transport := "invalid"
	var ths headers.Transports
	if err := ths.Unmarshal(req.Header["Transport"]); err == nil && len(ths) > 0 {
		switch {
		case ths[0].Delivery != nil && *ths[0].Delivery == headers.TransportDeliveryMulticast:
			transport = "multicast"
		case ths[0].Protocol == headers.TransportProtocolTCP:
			transport = "tcp"
		default:
			transport = "udp"
		}
	}
	h.mu.Lock()
	h.setups = append(h.setups, transport)
	h.mu.Unlock()
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.lookup(ctx.Path)
}

func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	h.mu.Lock()
	c, ok := h.cameras[strings.Trim(ctx.Path, "/")]
	h.mu.Unlock()
	if ok {
		c.playing.Do(func() { close(c.played) })
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}
