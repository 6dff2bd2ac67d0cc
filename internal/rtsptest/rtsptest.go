// Package rtsptest is a camera for tests: an RTSP server on loopback whose
// H.264 access units and RTP timestamps the test makes up, one at a time,
// so a test can send what no encoder would (timestamps that leap ahead,
// parameter sets that change every picture, slices of garbage). It is for
// tests only; simulate serves real files.
package rtsptest

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media"
)

// Camera serves one H.264 stream at rtsp://Addr/cam over TCP.
type Camera struct {
	// SPS and PPS go into the SDP (both optional).
	SPS, PPS []byte
	// Interval between access units (default 40 ms).
	Interval time.Duration
	// Unit makes the i-th access unit sent (i counts from 0 at the first
	// PLAY, across reconnections) and its RTP timestamp.
	Unit func(i int) (nalus [][]byte, rtpTime uint32)

	Addr string // set by Start

	srv    *gortsplib.Server
	stream *gortsplib.ServerStream
	played chan struct{}
	once   sync.Once
	mu     sync.Mutex
	sent   int
}

// Start serves c until the test ends.
func Start(t testing.TB, c *Camera) *Camera {
	t.Helper()
	if c.Interval <= 0 {
		c.Interval = 40 * time.Millisecond
	}
	c.Addr = mediatest.FreeAddr(t)
	c.played = make(chan struct{})
	c.srv = &gortsplib.Server{Handler: (*handler)(c), RTSPAddress: c.Addr}
	if err := c.srv.Start(); err != nil {
		t.Fatal(err)
	}
	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: c.SPS, PPS: c.PPS}
	medi := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	c.stream = &gortsplib.ServerStream{Server: c.srv, Desc: &description.Session{Medias: []*description.Media{medi}}}
	if err := c.stream.Initialize(); err != nil {
		c.srv.Close()
		t.Fatal(err)
	}
	enc, err := forma.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-stop:
			return
		case <-c.played:
		}
		// gortsplib starts writing to a reader right after OnPlay returns.
		time.Sleep(100 * time.Millisecond)
		tick := time.NewTicker(c.Interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			nalus, ts := c.Unit(i)
			pkts, err := enc.Encode(nalus)
			if err != nil {
				t.Errorf("rtsptest: packetize unit %d: %v", i, err)
				return
			}
			for _, p := range pkts {
				p.Timestamp = ts
				if err := c.stream.WritePacketRTP(medi, p); err != nil {
					return
				}
			}
			c.mu.Lock()
			c.sent++
			c.mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		c.stream.Close()
		c.srv.Close()
	})
	return c
}

// URL of the stream.
func (c *Camera) URL() string { return "rtsp://" + c.Addr + "/cam" }

// Sent is the number of access units sent so far.
func (c *Camera) Sent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// H264 returns the NAL units of a small real H.264 stream (testdata/media/
// tiny.h264, 64×48): its SPS, PPS and access units in decode order, the
// parameter sets and SEI left out of the units.
func H264(t testing.TB) (sps, pps []byte, units [][][]byte) {
	t.Helper()
	b, err := os.ReadFile(mediatest.File(t, "tiny.h264"))
	if err != nil {
		t.Fatal(err)
	}
	nalus, err := media.SplitAnnexB(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nalus {
		switch typ := n[0] & 0x1f; typ {
		case 7:
			sps = n
		case 8:
			pps = n
		case 1, 5:
			units = append(units, [][]byte{n})
		}
	}
	if sps == nil || pps == nil || len(units) == 0 {
		t.Fatal("tiny.h264: no SPS, PPS or pictures")
	}
	return sps, pps, units
}

type handler Camera

func (h *handler) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *handler) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *handler) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	h.once.Do(func() { close(h.played) })
	return &base.Response{StatusCode: base.StatusOK}, nil
}
