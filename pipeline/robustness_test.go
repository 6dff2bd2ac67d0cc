package pipeline_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/pipeline"
	"github.com/streetwatch/streetwatch/simulate"
)

func fastReconnect(c config.Camera) config.Camera {
	c.Reconnect = config.Reconnect{Min: config.Duration(50 * time.Millisecond), Max: config.Duration(300 * time.Millisecond)}
	return c
}

func TestCameraReconnectsAfterServerRestart(t *testing.T) {
	file := mediatest.File(t, "h264_640x360.mp4")
	addr := mediatest.FreeAddr(t)
	sim := startSim(t, &simulate.Server{Addr: addr, Speed: 2}, "cam", file)
	r := runPipeline(t, fastReconnect(config.Camera{ID: "cam", URL: "rtsp://" + addr + "/cam", Transport: "tcp",
		Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 5}}))
	up := func() float64 { return metric(t, r.reg, "streetwatch_camera_up", "camera", "cam") }
	reconnects := func() float64 { return metric(t, r.reg, "streetwatch_camera_reconnects_total", "camera", "cam") }

	waitFor(t, 20*time.Second, "camera up with frames", func() bool { return up() == 1 && len(r.rec.get("cam")) >= 5 })
	if got := reconnects(); got != 0 {
		t.Fatalf("reconnects before the outage: %v", got)
	}

	sim.Close() // the camera goes away mid-stream
	waitFor(t, 20*time.Second, "camera_up 0", func() bool { return up() == 0 })
	waitFor(t, 20*time.Second, "reconnect attempts", func() bool { return reconnects() >= 2 })
	before := len(r.rec.get("cam"))

	startSim(t, &simulate.Server{Addr: addr, Speed: 2}, "cam", file) // and comes back
	waitFor(t, 20*time.Second, "camera_up 1 again", func() bool { return up() == 1 })
	waitFor(t, 20*time.Second, "frames after the reconnect", func() bool { return len(r.rec.get("cam")) >= before+5 })
	r.stop()
	// The stream timeline continues across the reconnect.
	checkMonotonic(t, r.rec.get("cam"))
}

// A server that accepts the session and then sends nothing: the watchdog
// must notice and reconnect.
type silentServer struct {
	srv    *gortsplib.Server
	stream *gortsplib.ServerStream
	mu     sync.Mutex
	plays  int
}

func (s *silentServer) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, s.stream, nil
}

func (s *silentServer) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, s.stream, nil
}

func (s *silentServer) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	s.mu.Lock()
	s.plays++
	s.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func TestStallWatchdogReconnectsASilentStream(t *testing.T) {
	addr := mediatest.FreeAddr(t)
	s := &silentServer{}
	s.srv = &gortsplib.Server{Handler: s, RTSPAddress: addr}
	if err := s.srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.srv.Close()
	s.stream = &gortsplib.ServerStream{Server: s.srv, Desc: &description.Session{Medias: []*description.Media{{
		Type:    description.MediaTypeVideo,
		Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}},
	}}}}
	if err := s.stream.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer s.stream.Close()

	cam := fastReconnect(config.Camera{ID: "cam", URL: "rtsp://" + addr + "/cam", Transport: "tcp"})
	cam.StallTimeout = config.Duration(time.Second)
	r := runPipeline(t, cam)
	waitFor(t, 20*time.Second, "two reconnects by the watchdog", func() bool {
		return metric(t, r.reg, "streetwatch_camera_reconnects_total", "camera", "cam") >= 2
	})
	r.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.plays < 2 {
		t.Fatalf("server saw %d PLAY requests, want a new session per reconnect", s.plays)
	}
	st := r.p.Cameras()[0].Status()
	if st.Ingest.Up || !strings.Contains(st.Ingest.LastError, "no media received") {
		t.Fatalf("status %+v, want down with a stall error", st.Ingest)
	}
}

// TestTransports reads from the server's side which transports the camera
// asked for in its SETUP requests (simulate.Server.SetupTransports), so
// "udp" and "tcp" prove the transport used, and "auto falls back to tcp"
// proves that UDP was tried first, refused by the TCP-only server, and
// that TCP followed.
func TestTransports(t *testing.T) {
	file := mediatest.File(t, "h264_640x360.mp4")
	for _, tc := range []struct {
		name      string
		serverUDP bool
		transport string
		setups    string // the SETUP transports asked for, in order
	}{
		{"udp", true, "udp", "udp"},
		{"tcp", true, "tcp", "tcp"},
		{"auto falls back to tcp", false, "auto", "udp tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &simulate.Server{}
			if tc.serverUDP {
				s.UDPRTPAddress = mediatest.FreeUDPPair(t)
			}
			sim := startSim(t, s, "cam", file)
			r := runPipeline(t, config.Camera{ID: "cam", URL: sim.URL("cam"), Transport: tc.transport,
				Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 25}})
			waitFor(t, 30*time.Second, "25 frames", func() bool { return len(r.rec.get("cam")) >= 25 })
			r.stop()
			checkMonotonic(t, r.rec.get("cam"))
			// One video track: one SETUP per connection, and one
			// connection per transport tried.
			if got := strings.Join(sim.SetupTransports(), " "); got != tc.setups {
				t.Fatalf("SETUP transports %q, want %q", got, tc.setups)
			}
		})
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCredentialsNeverReachLogsMetricsOrStatus(t *testing.T) {
	file := mediatest.File(t, "h264_640x360.mp4")
	sim := startSim(t, &simulate.Server{}, "cam", file)
	const secret = "s3cr3t-Pa55"
	good := strings.Replace(sim.URL("cam"), "rtsp://", "rtsp://admin:"+secret+"@", 1)
	dead := "rtsp://admin:" + secret + "@" + mediatest.FreeAddr(t) + "/nothing"

	cfg := &config.Config{Log: config.Log{Level: "debug"}, Cameras: []config.Camera{
		{ID: "good", URL: good, Transport: "tcp"},
		fastReconnect(config.Camera{ID: "dead", URL: dead, Transport: "tcp"}),
	}}
	cfg.Defaults()
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	p, err := pipeline.New(cfg, reg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	waitFor(t, 20*time.Second, "good camera up and dead camera retried", func() bool {
		return metric(t, reg, "streetwatch_camera_up", "camera", "good") == 1 &&
			metric(t, reg, "streetwatch_camera_reconnects_total", "camera", "dead") >= 2
	})
	statuses := ""
	for _, c := range p.Cameras() {
		st := c.Status()
		statuses += st.Ingest.LastError + st.LastError
	}
	cancel()
	<-done

	if !strings.Contains(logs.String(), "admin:xxxxx@") {
		t.Errorf("log does not show the redacted URL; got:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the password appears in the log:\n%s", logs.String())
	}
	if strings.Contains(statuses, secret) {
		t.Errorf("the password appears in a camera status: %s", statuses)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if strings.Contains(mf.String(), secret) {
			t.Errorf("the password appears in metric %s", mf.GetName())
		}
	}
}
