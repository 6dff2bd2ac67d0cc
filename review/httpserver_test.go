package review

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/httpserve"
	"github.com/streetwatch/streetwatch/internal/logtest"
)

// serve runs the fixture's handler on the server StreetWatch runs
// (HTTPServer), with h's limits.
func (f *fixture) serve(h config.HTTP) *httpserve.Server {
	f.t.Helper()
	h.Listen = "127.0.0.1:0"
	cfg := &config.Config{HTTP: h, Review: f.rev.Config}
	srv := HTTPServer(cfg, slog.New(slog.DiscardHandler))
	if err := srv.Listen(); err != nil {
		f.t.Fatal(err)
	}
	srv.Handler = f.handler
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return srv
}

// closedWithin reports whether the server closes conn within d (reading
// and discarding whatever it sends first).
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return err == nil || !(asNetErr(err, &ne) && ne.Timeout())
}

func asNetErr(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

func TestASignInBodySentByteByByteIsCutOffAfterTheReadTimeout(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(config.HTTP{ReadTimeout: config.Duration(1500 * time.Millisecond)})
	conn, err := net.Dial("tcp", srv.ListenAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n")
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a byte every 300 ms: each read succeeds, the whole body never comes
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	if !closedWithin(conn, 5*time.Second) {
		t.Fatalf("the connection is still open after 5 s of a trickling body (read timeout 1.5 s)")
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("closed after %s, before the read timeout", took)
	}
}

func TestAnIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(config.HTTP{IdleTimeout: config.Duration(time.Second)})
	conn, err := net.Dial("tcp", srv.ListenAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server's idle time starts after its response, so after this.
	start := time.Now()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("healthz: %d close=%v, want 200 and a kept-alive connection", resp.StatusCode, resp.Close)
	}
	_ = conn.SetReadDeadline(time.Now().Add(4 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want closed by the server (EOF) within 4 s", err)
	}
	if took := time.Since(start); took < 950*time.Millisecond {
		t.Errorf("closed after %s, before the idle timeout", took)
	}
}

func TestConnectionsFromOneAddressAreCapped(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(config.HTTP{MaxConnsPerAddress: 3})
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", srv.ListenAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	healthy := func(c net.Conn) bool {
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	var held []net.Conn
	for range 3 {
		c := dial("127.0.0.1")
		if !healthy(c) {
			t.Fatal("a connection within the cap is not served")
		}
		held = append(held, c)
	}
	if healthy(dial("127.0.0.1")) {
		t.Errorf("a 4th connection from the same address was served (cap 3)")
	}
	if !healthy(dial("127.0.0.2")) {
		t.Errorf("a connection from another address was refused")
	}
	held[0].Close()
	// The server sees the close when its read returns: allow it a while.
	served := false
	for deadline := time.Now().Add(5 * time.Second); !served && time.Now().Before(deadline); {
		if served = healthy(dial("127.0.0.1")); !served {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !served {
		t.Errorf("5 s after one of the 3 closed, a new connection is still refused")
	}
}

func TestEvidenceDownloadsOutliveTheWriteTimeoutWhileTheClientReads(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(config.HTTP{WriteTimeout: config.Duration(time.Second)})
	ctx := context.Background()
	key := f.tickets[0].Evidence.Prefix + "big.mp4"
	const size = 16 << 20 // well past the socket buffers
	if err := f.store.Put(ctx, key, io.LimitReader(zeros{}, size), size, "video/mp4"); err != nil {
		t.Fatal(err)
	}
	link, err := f.store.URL(ctx, key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL() + link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start, n, buf := time.Now(), 0, make([]byte, 64<<10)
	for {
		m, err := io.ReadFull(resp.Body, buf)
		n += m
		if err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond) // a slow reader: about 2.5 s for the file
	}
	if n != size {
		t.Fatalf("downloaded %d of %d bytes in %s (write timeout 1 s)", n, size, time.Since(start))
	}
	if time.Since(start) < 1500*time.Millisecond {
		t.Logf("the download took only %s: the test proves little on this machine", time.Since(start))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestPlainHTTPWithUsersOnANetworkAddressIsWarnedAbout(t *testing.T) {
	users := []config.User{{Name: "a", Role: "viewer"}}
	for _, tc := range []struct {
		name string
		cfg  config.Config
		warn bool
	}{
		{"users, network address, plain HTTP", config.Config{HTTP: config.HTTP{Listen: "0.0.0.0:8080"}, Review: config.Review{Users: users}}, true},
		{"users, a LAN address, plain HTTP", config.Config{HTTP: config.HTTP{Listen: "10.1.2.3:8080"}, Review: config.Review{Users: users}}, true},
		{"users, loopback", config.Config{HTTP: config.HTTP{Listen: "127.0.0.1:8080"}, Review: config.Review{Users: users}}, false},
		{"users, native TLS", config.Config{HTTP: config.HTTP{Listen: "0.0.0.0:8443", TLS: config.TLS{CertFile: "c", KeyFile: "k"}}, Review: config.Review{Users: users}}, false},
		{"users, TLS proxy in front", config.Config{HTTP: config.HTTP{Listen: "0.0.0.0:8080"}, Review: config.Review{Users: users, SecureCookies: true}}, false},
		{"no users", config.Config{HTTP: config.HTTP{Listen: "127.0.0.1:8080"}}, false},
	} {
		var logs logtest.Capture
		HTTPServer(&tc.cfg, logs.Logger())
		var warns int
		for _, l := range logs.Lines(plainHTTPWarning) {
			if l.Level == slog.LevelWarn {
				warns++
			}
		}
		if want := map[bool]int{true: 1, false: 0}[tc.warn]; warns != want {
			t.Errorf("%s: %d warnings, want %d", tc.name, warns, want)
		}
	}
}
