package ingest_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/pipeline/ingest"
)

const (
	camUser = "admin"
	camPass = "s3cret-Pa55"
	nonce   = "0123456789abcdef"
)

// camServer is a camera-like RTSP server that may redirect DESCRIBE and
// may demand authentication with the methods it offers.
type camServer struct {
	t          *testing.T
	srv        *gortsplib.Server
	stream     *gortsplib.ServerStream
	redirectTo string // DESCRIBE of /cam answers 302 with this Location
	methods    []auth.ValidateMethod

	mu    sync.Mutex
	auths []string // Authorization headers seen
	paths []string // paths DESCRIBEd
	plays int
}

func startCamServer(t *testing.T, addr string, cs *camServer) *camServer {
	t.Helper()
	cs.t = t
	cs.srv = &gortsplib.Server{Handler: cs, RTSPAddress: addr}
	if err := cs.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cs.srv.Close)
	cs.stream = &gortsplib.ServerStream{Server: cs.srv, Desc: &description.Session{Medias: []*description.Media{{
		Type:    description.MediaTypeVideo,
		Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}},
	}}}}
	if err := cs.stream.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cs.stream.Close)
	return cs
}

func (cs *camServer) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	cs.mu.Lock()
	cs.paths = append(cs.paths, ctx.Path)
	cs.auths = append(cs.auths, ctx.Request.Header["Authorization"]...)
	cs.mu.Unlock()
	if cs.redirectTo != "" && ctx.Path == "/cam" {
		return &base.Response{StatusCode: base.StatusFound, Header: base.Header{"Location": base.HeaderValue{cs.redirectTo}}}, nil, nil
	}
	if cs.methods != nil {
		var vm []auth.VerifyMethod
		for _, m := range cs.methods {
			vm = append(vm, auth.VerifyMethod(m))
		}
		if err := auth.Verify(ctx.Request, camUser, camPass, vm, "camera", nonce); err != nil {
			return &base.Response{StatusCode: base.StatusUnauthorized, Header: base.Header{
				"WWW-Authenticate": auth.GenerateWWWAuthenticate(cs.methods, "camera", nonce),
			}}, nil, nil
		}
	}
	return &base.Response{StatusCode: base.StatusOK}, cs.stream, nil
}

func (cs *camServer) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, cs.stream, nil
}

func (cs *camServer) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	cs.mu.Lock()
	cs.plays++
	cs.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (cs *camServer) seen() (auths, paths []string, plays int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]string(nil), cs.auths...), append([]string(nil), cs.paths...), cs.plays
}

// listener records every byte anyone sends to it: the "other host".
type listener struct {
	mu    sync.Mutex
	conns int
	got   strings.Builder
}

func startListener(t *testing.T, addr string) *listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	l := &listener{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.conns++
			l.mu.Unlock()
			go func() {
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				b, _ := io.ReadAll(c)
				l.mu.Lock()
				l.got.Write(b)
				l.mu.Unlock()
			}()
		}
	}()
	return l
}

// runSource runs a source until until() holds for its status (or 15 s).
func runSource(t *testing.T, s *ingest.Source, until func(ingest.Status) bool) ingest.Status {
	t.Helper()
	s.Camera = "cam"
	s.Transport = ingest.TransportTCP
	s.StallTimeout = time.Second
	s.BackoffMin, s.BackoffMax = 20*time.Millisecond, 100*time.Millisecond
	s.OnAccessUnit = func(*media.AccessUnit) {}
	s.Metrics = ingest.NewMetrics(prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if st := s.Status(); until(st) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("source status never reached the expected state: %+v", s.Status())
	return ingest.Status{}
}

func hasError(want error) func(ingest.Status) bool {
	return func(st ingest.Status) bool { return strings.Contains(st.LastError, want.Error()[:30]) }
}

func TestRedirectToAnotherHostGetsNoCredentials(t *testing.T) {
	port := freePort(t)
	other := startListener(t, net.JoinHostPort("127.0.0.2", port))
	cam := startCamServer(t, net.JoinHostPort("127.0.0.1", port), &camServer{
		redirectTo: "rtsp://127.0.0.2:" + port + "/stolen",
	})
	url := "rtsp://" + camUser + ":" + camPass + "@127.0.0.1:" + port + "/cam"

	st := runSource(t, &ingest.Source{URL: url}, hasError(ingest.ErrRedirectRefused))
	if strings.Contains(st.LastError, camPass) {
		t.Fatalf("the status shows the password: %q", st.LastError)
	}
	other.mu.Lock()
	defer other.mu.Unlock()
	if other.conns != 0 || strings.Contains(other.got.String(), camPass) {
		t.Fatalf("the other host got %d connections and %q", other.conns, other.got.String())
	}
	if _, paths, _ := cam.seen(); len(paths) == 0 {
		t.Fatal("the camera was never asked")
	}
}

func TestRedirectToAnotherHostIsFollowedWhenAllowed(t *testing.T) {
	port := freePort(t)
	other := startCamServer(t, net.JoinHostPort("127.0.0.2", port), &camServer{methods: []auth.ValidateMethod{auth.ValidateMethodDigestMD5}})
	startCamServer(t, net.JoinHostPort("127.0.0.1", port), &camServer{redirectTo: "rtsp://127.0.0.2:" + port + "/moved"})
	url := "rtsp://" + camUser + ":" + camPass + "@127.0.0.1:" + port + "/cam"

	runSource(t, &ingest.Source{URL: url, AllowRedirectsToOtherHosts: true}, func(ingest.Status) bool {
		_, _, plays := other.seen()
		return plays > 0
	})
}

func TestRedirectOnTheSameHostIsFollowedWithCredentials(t *testing.T) {
	addr := mediatest.FreeAddr(t)
	cam := startCamServer(t, addr, &camServer{redirectTo: "rtsp://" + addr + "/moved", methods: []auth.ValidateMethod{auth.ValidateMethodDigestMD5}})
	url := "rtsp://" + camUser + ":" + camPass + "@" + addr + "/cam"

	runSource(t, &ingest.Source{URL: url}, func(ingest.Status) bool {
		_, _, plays := cam.seen()
		return plays > 0
	})
	_, paths, _ := cam.seen()
	if !contains(paths, "/moved") {
		t.Fatalf("paths described %v, want the redirect target /moved", paths)
	}
}

func TestBasicOverPlainRTSPIsRefused(t *testing.T) {
	addr := mediatest.FreeAddr(t)
	cam := startCamServer(t, addr, &camServer{methods: []auth.ValidateMethod{auth.ValidateMethodBasic}})
	url := "rtsp://" + camUser + ":" + camPass + "@" + addr + "/cam"

	runSource(t, &ingest.Source{URL: url}, hasError(ingest.ErrBasicRefused))
	auths, _, plays := cam.seen()
	for _, a := range auths {
		if strings.HasPrefix(strings.ToLower(a), "basic") {
			t.Fatalf("the camera received Basic credentials: %q", a)
		}
	}
	if plays != 0 {
		t.Fatalf("the camera played %d times without authentication", plays)
	}
}

func TestBasicOverPlainRTSPWhenAllowed(t *testing.T) {
	addr := mediatest.FreeAddr(t)
	cam := startCamServer(t, addr, &camServer{methods: []auth.ValidateMethod{auth.ValidateMethodBasic}})
	url := "rtsp://" + camUser + ":" + camPass + "@" + addr + "/cam"
	runSource(t, &ingest.Source{URL: url, AllowBasicAuth: true}, func(ingest.Status) bool {
		_, _, plays := cam.seen()
		return plays > 0
	})
}

func TestDigestIsPreferredWhenTheCameraOffersBoth(t *testing.T) {
	addr := mediatest.FreeAddr(t)
	cam := startCamServer(t, addr, &camServer{methods: []auth.ValidateMethod{auth.ValidateMethodBasic, auth.ValidateMethodDigestMD5}})
	url := "rtsp://" + camUser + ":" + camPass + "@" + addr + "/cam"
	runSource(t, &ingest.Source{URL: url}, func(ingest.Status) bool {
		_, _, plays := cam.seen()
		return plays > 0
	})
	auths, _, _ := cam.seen()
	if len(auths) == 0 {
		t.Fatal("no credentials were sent")
	}
	for _, a := range auths {
		if !strings.HasPrefix(strings.ToLower(a), "digest") {
			t.Fatalf("sent %q, want Digest only", a)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// freePort is a port free on 127.0.0.1 (and so, in practice, on 127.0.0.2).
func freePort(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(mediatest.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return port
}
