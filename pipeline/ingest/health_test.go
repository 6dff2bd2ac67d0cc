package ingest_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/internal/logtest"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/internal/rtsptest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/pipeline/ingest"
	"github.com/streetwatch/streetwatch/simulate"
)

// running is a Source run by a test until it ends.
type running struct {
	src   *ingest.Source
	reg   *prometheus.Registry
	logs  *logtest.Capture
	units chan *media.AccessUnit
}

func startSource(t *testing.T, url, transport string, stall ...time.Duration) *running {
	t.Helper()
	r := &running{reg: prometheus.NewRegistry(), logs: &logtest.Capture{}, units: make(chan *media.AccessUnit, 100000)}
	r.src = &ingest.Source{Camera: "cam", URL: url, Transport: transport, StallTimeout: 5 * time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		OnAccessUnit: func(au *media.AccessUnit) {
			select {
			case r.units <- au:
			default:
			}
		},
		Metrics: ingest.NewMetrics(r.reg), Log: r.logs.Logger()}
	if len(stall) > 0 {
		r.src.StallTimeout = stall[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.src.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *running) waitStatus(t *testing.T, what string, until func(ingest.Status) bool) ingest.Status {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := r.src.Status()
		if until(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: status %+v", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metric is the value of the camera's counter or gauge name.
func (r *running) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return 0
}

// linesAtLeast counts the lines with msg logged at level or above.
func linesAtLeast(c *logtest.Capture, msg string, level slog.Level) (n, below int) {
	for _, l := range c.Lines(msg) {
		if l.Level >= level {
			n++
		} else {
			below++
		}
	}
	return n, below
}

// A camera that changes its SPS on every picture (garbage after a valid
// SDP, or a broken encoder) used to log a "stream resolution" line per
// picture, 150 a second. Each kind of line is now logged once a minute at
// most at its level, with the count of those held back.
func TestParameterSetFloodLogsBoundedLines(t *testing.T) {
	running := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, running) }) // registered first, so checked after the rest stopped
	sps, pps, units := rtsptest.H264(t)
	big := bigSPS(t)
	cam := rtsptest.Start(t, &rtsptest.Camera{SPS: sps, PPS: pps, Interval: 2 * time.Millisecond,
		Unit: func(i int) ([][]byte, uint32) {
			// Three SPS in turn: two sizes and one the parser cannot read.
			s := [][]byte{sps, big, sps[:4]}[i%3]
			return [][]byte{s, pps, units[0][0]}, uint32(i * 3000)
		}})
	r := startSource(t, cam.URL(), ingest.TransportTCP)
	const flood = 300
	deadline := time.Now().Add(20 * time.Second)
	for r.metric(t, "streetwatch_access_units_total") < flood {
		if time.Now().After(deadline) {
			t.Fatalf("%v of %d access units arrived", r.metric(t, "streetwatch_access_units_total"), flood)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, tc := range []struct {
		msg   string
		level slog.Level
	}{
		{"stream resolution", slog.LevelInfo},
		{"cannot read the stream's SPS; decoding anyway, size from decoded pictures", slog.LevelWarn},
	} {
		n, held := linesAtLeast(r.logs, tc.msg, tc.level)
		if n != 1 {
			t.Errorf("%q: %d lines at %v for %d changing parameter sets, want 1", tc.msg, n, tc.level, flood)
		}
		if held < flood/3-1 {
			t.Errorf("%q: %d lines held back to debug, want one per change (%d)", tc.msg, held, flood/3)
		}
	}
}

// bigSPS is the SPS of a 1280×720 stream.
func bigSPS(t *testing.T) []byte {
	t.Helper()
	f, err := os.Open(mediatest.File(t, "bench_720p.h264"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := f.Read(head)
	nalus, err := media.SplitAnnexB(head[:n])
	if err != nil {
		t.Fatal(err)
	}
	for _, nalu := range nalus {
		if nalu[0]&0x1f == 7 {
			return nalu
		}
	}
	t.Fatal("bench_720p.h264: no SPS in its first 4 KiB")
	return nil
}

// A camera joined in the middle of a long GOP sends pictures that cannot
// be decoded until its next keyframe, seconds later. Media flows, so the
// camera is up at once, and stays connected even when the GOP is longer
// than the stall timeout; whether anything decodes is the decoder's state.
func TestCameraIsUpFromTheFirstPictureBeforeAnyKeyframe(t *testing.T) {
	running := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, running) }) // registered first, so checked after the rest stopped
	sps, pps, units := rtsptest.H264(t)
	cam := rtsptest.Start(t, &rtsptest.Camera{SPS: sps, PPS: pps,
		Unit: func(i int) ([][]byte, uint32) {
			return units[1+i%4], uint32(i * 3600) // P pictures only: the keyframe is far away
		}})
	const stall = time.Second
	r := startSource(t, cam.URL(), ingest.TransportTCP, stall)
	st := r.waitStatus(t, "up", func(st ingest.Status) bool { return st.Up })
	if up := r.metric(t, "streetwatch_camera_up"); up != 1 {
		t.Errorf("camera_up = %v while media flows, want 1", up)
	}
	if st.Width != 64 || st.Height != 48 || st.Codec != "H264" {
		t.Errorf("stream %s %d×%d before the first keyframe, want the SDP's H264 64×48", st.Codec, st.Width, st.Height)
	}
	if st.MediaSince.IsZero() || time.Since(st.MediaSince) > 10*time.Second || st.LastUnit.Before(st.MediaSince) {
		t.Errorf("MediaSince %v, LastUnit %v: want this connection's first and last unit", st.MediaSince, st.LastUnit)
	}
	time.Sleep(2 * stall)
	if st := r.src.Status(); !st.Up || st.Reconnects != 0 {
		t.Errorf("after %v of pictures without a keyframe: up %t, %d reconnects (%s); want up, none", 2*stall, st.Up, st.Reconnects, st.LastError)
	}
	if len(r.units) != 0 {
		t.Errorf("%d access units handed on before a keyframe", len(r.units))
	}
}

// A camera that sends a picture every 0.4 s never goes 1 s without one:
// with a 1 s stall timeout it must stay connected (0.6 s to spare for a
// loaded machine). gortsplib's own read timeout counts in whole seconds;
// were it the stall timeout, it would fire whenever its once-a-second check
// fell just after a second's boundary following a picture, a few times in
// these 8 s.
func TestCameraJustInsideTheStallTimeoutStaysConnected(t *testing.T) {
	running := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, running) })
	sps, pps, units := rtsptest.H264(t)
	const stall, every = time.Second, 400 * time.Millisecond
	cam := rtsptest.Start(t, &rtsptest.Camera{SPS: sps, PPS: pps, Interval: every,
		Unit: func(i int) ([][]byte, uint32) { return units[i%len(units)], uint32(i) * uint32(every.Seconds()*90000) }})
	r := startSource(t, cam.URL(), ingest.TransportTCP, stall)
	r.waitStatus(t, "up", func(st ingest.Status) bool { return st.Up })
	time.Sleep(8 * time.Second)
	if st := r.src.Status(); !st.Up || st.Reconnects != 0 {
		t.Errorf("a picture every %v, stall timeout %v: after 8 s up %t, %d reconnects (%s); want up, none",
			every, stall, st.Up, st.Reconnects, st.LastError)
	}
}

// The log and the status say which transport the camera and StreetWatch
// agreed on, not only what the configuration asked for.
func TestStatusAndLogNameTheNegotiatedTransport(t *testing.T) {
	file := mediatest.File(t, "h264_640x360.mp4")
	for _, tc := range []struct {
		name, transport string
		serverUDP       bool
		want            string
	}{
		{"udp", ingest.TransportUDP, true, "udp"},
		{"tcp", ingest.TransportTCP, true, "tcp"},
		{"auto gets udp", ingest.TransportAuto, true, "udp"},
		{"auto falls back to tcp", ingest.TransportAuto, false, "tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := &simulate.Server{Addr: "127.0.0.1:0", Log: slog.New(slog.DiscardHandler)}
			if tc.serverUDP {
				sim.UDPRTPAddress = mediatest.FreeUDPPair(t)
			}
			if err := sim.Add("cam", file); err != nil {
				t.Fatal(err)
			}
			if err := sim.Start(); err != nil {
				t.Fatal(err)
			}
			defer sim.Close()
			r := startSource(t, sim.URL("cam"), tc.transport)
			r.waitStatus(t, "up", func(st ingest.Status) bool { return st.Up })
			if got := r.src.Status().Transport; got != tc.want {
				t.Errorf("status transport %q, want %q", got, tc.want)
			}
			line := r.logs.Wait(t, "camera connected", 1, 5*time.Second)[0]
			if got := line.Attrs["transport"].String(); got != tc.want {
				t.Errorf("logged transport=%q, want %q", got, tc.want)
			}
		})
	}
}
