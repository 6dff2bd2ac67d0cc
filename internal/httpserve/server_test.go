package httpserve

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/internal/tlstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start serves h on loopback until the test ends.
func start(t *testing.T, s *Server, h http.Handler) {
	t.Helper()
	s.Addr = "127.0.0.1:0"
	s.Log = slog.New(slog.DiscardHandler)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	s.Handler = h
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	})
}

// servedCert is the subject of the certificate the server presents.
func servedCert(t *testing.T, url string) string {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // the test reads what is served
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "hello" {
		t.Fatalf("body %q", b)
	}
	return resp.TLS.PeerCertificates[0].Subject.CommonName
}

func TestTLSIsServedAndTheCertificateIsReloadedWhenItsFilesChange(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := tlstest.New(t, "first")
	first.Write(t, certFile, keyFile)
	s := &Server{CertFile: certFile, KeyFile: keyFile}
	start(t, s, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") }))
	if s.URL()[:8] != "https://" {
		t.Errorf("URL %s", s.URL())
	}

	// A client that trusts the certificate (no skipping of checks).
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: first.Pool()}}
	resp, err := (&http.Client{Transport: tr}).Get(s.URL())
	if err != nil {
		t.Fatalf("HTTPS with the served certificate trusted: %v", err)
	}
	resp.Body.Close()
	tr.CloseIdleConnections()
	if got := servedCert(t, s.URL()); got != "first" {
		t.Fatalf("serves %q", got)
	}

	tlstest.New(t, "second").Write(t, certFile, keyFile)
	if got := servedCert(t, s.URL()); got != "second" {
		t.Errorf("after the files were replaced, serves %q, want second", got)
	}
	// A broken renewal keeps the last good certificate.
	tlstest.Cert{CertPEM: []byte("not a certificate"), KeyPEM: tlstest.New(t, "x").KeyPEM}.Write(t, certFile, keyFile)
	if got := servedCert(t, s.URL()); got != "second" {
		t.Errorf("after a broken replacement, serves %q, want the previous (second)", got)
	}
}

func TestMissingCertificateFilesFailListen(t *testing.T) {
	s := &Server{Addr: "127.0.0.1:0", CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem", Log: slog.New(slog.DiscardHandler)}
	if err := s.Listen(); err == nil {
		s.Close()
		t.Fatal("Listen with missing certificate files succeeded")
	}
}

func TestAClientThatStopsReadingAStreamIsStillCutOff(t *testing.T) {
	s := &Server{WriteTimeout: 500 * time.Millisecond, Streaming: func(*http.Request) bool { return true }}
	wrote := make(chan error, 1)
	start(t, s, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		buf := make([]byte, 64<<10)
		for range 1024 { // 64 MiB, far past the socket buffers
			if _, err := w.Write(buf); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}))
	resp, err := http.Get(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() // never read
	select {
	case err := <-wrote:
		if err == nil {
			t.Fatal("64 MiB written to a client that reads nothing")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the write to a client that stopped reading is still blocked after 5 s (write timeout 0.5 s)")
	}
}
