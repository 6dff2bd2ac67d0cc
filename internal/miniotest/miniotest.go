// Package miniotest runs a real MinIO server on 127.0.0.1 for tests of
// code that talks S3. The server binary is built once by scripts/setup.sh;
// without it tests skip, except in CI (CI=true), where an integration test
// must never silently skip.
package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/internal/setupcache"
)

// Version is the MinIO module version scripts/setup.sh builds
// (RELEASE.2025-04-22T22-12-26Z); the module proxy serves exact versions
// only, so both name it exactly.
const Version = "v0.0.0-20250422221226-0d7408fc9969"

// Server is a running MinIO server with its own data folder and random
// credentials.
type Server struct {
	Endpoint  string // host:port, plain HTTP
	AccessKey string
	SecretKey string

	t    testing.TB
	bin  string
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	logs *syncBuffer
}

// Binary finds the MinIO server: $STREETWATCH_MINIO, else the setup
// script's cache folder, else "minio" on PATH.
func Binary() (string, error) {
	if p := os.Getenv("STREETWATCH_MINIO"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("STREETWATCH_MINIO: %w", err)
		}
		return p, nil
	}
	p := filepath.Join(setupcache.Dir(), "minio-"+Version, "minio")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no MinIO server at %s or on PATH (run scripts/setup.sh, or set STREETWATCH_MINIO)", p)
}

// Start runs a MinIO server for the test and stops it in t.Cleanup. When
// the binary is missing the test is skipped, or failed in CI (mediatest.Missing).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		mediatest.Missing(t, "miniotest: %v", err)
	}
	s := &Server{
		AccessKey: "sw" + randomHex(8),
		SecretKey: randomHex(20),
		t:         t,
		bin:       bin,
		dir:       t.TempDir(),
		logs:      &syncBuffer{},
	}
	t.Cleanup(s.Stop)
	// The port is picked by closing a listener and handing its port to
	// MinIO, which another process could take in between: retry then.
	for try := 0; ; try++ {
		s.Endpoint = "127.0.0.1:" + strconv.Itoa(freePort(t))
		err := s.start()
		if err == nil {
			return s
		}
		if try == 2 {
			t.Fatalf("miniotest: %v\n%s", err, s.logs.tail(4000))
		}
	}
}

// Stop stops the server (the data stays for Restart). Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Restart stops the server if it runs and starts it again on the same
// port with the same data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	// The old listener's port can take a moment to be free again.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err = s.start(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("miniotest: restart: %v\n%s", err, s.logs.tail(4000))
	}
}

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.Endpoint }

func (s *Server) start() error {
	cmd := exec.Command(s.bin, "server", "--quiet", "--address", s.Endpoint,
		"--console-address", "127.0.0.1:"+strconv.Itoa(freePort(s.t)), s.dir)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CALLHOME_ENABLE=off",
	)
	cmd.Stdout = s.logs
	cmd.Stderr = s.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	// /minio/health/ready answers 200 before the object layer is up (S3
	// calls then fail with "Server not initialized yet"), so ready means an
	// authenticated S3 call succeeds.
	client, err := minio.New(s.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		MaxRetries: 1,
	})
	if err != nil {
		s.Stop()
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("minio exited at start: %v", cmd.ProcessState)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := client.ListBuckets(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("minio not ready after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer collects the server's output for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
