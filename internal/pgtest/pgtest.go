// Package pgtest runs a throwaway PostgreSQL 15 for tests of code that
// keeps its data there: one server per test binary, in a temp folder, on
// 127.0.0.1, with an empty database (schema) per test. Debian's postgresql-15
// (scripts/setup.sh installs it) provides the binaries; without them tests
// skip, except in CI (CI=true), where they fail (mediatest.Missing). It
// must never touch a PostgreSQL it did not start.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/streetwatch/streetwatch/internal/mediatest"
)

// Server is a running PostgreSQL trusting every connection from
// 127.0.0.1 as user postgres (there is no password to leak).
type Server struct {
	Port int

	dir   string // owned by the server's user; removed by stop
	cmd   *exec.Cmd
	done  chan struct{} // closed when cmd has exited
	logs  *os.File      // the server's output, for a failing test's message
	admin *sql.DB
	n     atomic.Int64 // databases made
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// BinDir finds PostgreSQL's programs: $STREETWATCH_PG_BIN, else Debian's
// /usr/lib/postgresql/15/bin, else the folder of initdb on PATH.
func BinDir() (string, error) {
	if d := os.Getenv("STREETWATCH_PG_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err != nil {
			return "", fmt.Errorf("STREETWATCH_PG_BIN: %w", err)
		}
		return d, nil
	}
	const debian = "/usr/lib/postgresql/15/bin"
	if _, err := os.Stat(filepath.Join(debian, "postgres")); err == nil {
		return debian, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no PostgreSQL at %s or initdb on PATH (run scripts/setup.sh, or set STREETWATCH_PG_BIN)", debian)
}

// Start returns the test binary's server, starting it on first use (a
// few seconds: initdb). It runs until the binary's tests end: wrap
// TestMain's m with Main. Without PostgreSQL the test is skipped, or
// failed in CI.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		mediatest.Missing(t, "pgtest: %v", err)
	}
	shared.once.Do(func() { shared.srv, shared.err = start(bin) })
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	return shared.srv
}

// Main wraps a test binary's testing.M so that the server Start started
// stops (and its folder goes) when the tests are done:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Main(m)) }
func Main(m interface{ Run() int }) interface{ Run() int } { return mainRunner{m} }

type mainRunner struct{ m interface{ Run() int } }

func (r mainRunner) Run() int {
	code := r.m.Run()
	if shared.srv != nil {
		shared.srv.stop()
	}
	return code
}

// NewDatabase makes an empty database for the test, gone when it ends,
// and returns its URL. It is a schema of its own in one database (the
// URL's search_path), not a database: making one is a few milliseconds
// where CREATE DATABASE copies a template for a quarter of a second, and
// code that names no schema cannot tell the difference.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d", s.n.Add(1))
	if _, err := s.admin.ExecContext(t.Context(), "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := s.admin.Exec("DROP SCHEMA " + name + " CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return s.url("postgres") + "&search_path=" + name
}

func (s *Server) url(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, database)
}

// Logs is the tail of the server's output, for a failing test's message.
func (s *Server) Logs() string {
	b, _ := os.ReadFile(s.logs.Name())
	return string(b[max(0, len(b)-4000):])
}

func start(bin string) (*Server, error) {
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	// A file, not a pipe: the server writes to it with no goroutine of
	// ours copying, and a crash leaves what it said.
	if s.logs, err = os.Create(filepath.Join(dir, "postgres.log")); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := s.command(cred, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		s.stop()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// The port is picked by closing a listener and handing its port to
	// postgres, which another process could take in between: retry then.
	for try := 0; ; try++ {
		if err = s.run(cred, bin, data); err == nil {
			return s, nil
		}
		if try == 2 {
			logs := s.Logs()
			s.stop()
			return nil, fmt.Errorf("%v\n%s", err, logs)
		}
	}
}

// serverUser is who runs the server: PostgreSQL refuses to run as root,
// so a root test binary runs it as the postgres user (what runuser -u
// postgres would do, but as our own child, so Pdeathsig reaches it).
// nil: the binary's own user.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no postgres user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir // the postgres user may not enter the test's working folder
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		Pdeathsig:  syscall.SIGKILL, // never outlive the test binary
	}
	return cmd
}

func (s *Server) run(cred *syscall.Credential, bin, data string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	// Durability is not what these tests are about: fsync off makes
	// CREATE DATABASE and every commit fast.
	cmd := s.command(cred, filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300")
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.cmd, s.done, s.Port = cmd, done, port
	admin, err := sql.Open("pgx", s.url("postgres"))
	if err != nil {
		s.halt()
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-done:
			admin.Close()
			s.cmd = nil
			return fmt.Errorf("postgres exited at start: %v", cmd.ProcessState)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := admin.PingContext(ctx)
		cancel()
		if err == nil {
			s.admin = admin
			return nil
		}
		if time.Now().After(deadline) {
			admin.Close()
			s.halt()
			return fmt.Errorf("postgres not ready after 30s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server and removes its folder.
func (s *Server) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	s.halt()
	s.logs.Close()
	os.RemoveAll(s.dir)
}

// halt ends the server process at once (SIGQUIT: immediate shutdown;
// the data is thrown away anyway).
func (s *Server) halt() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
