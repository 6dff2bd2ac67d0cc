package dispatch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	crashEnvDir = "STREETWATCH_DISPATCH_CRASH_DIR"
	crashEnvURL = "STREETWATCH_DISPATCH_CRASH_URL"
	crashEnvDB  = "STREETWATCH_DISPATCH_CRASH_DATABASE" // "": SQLite in the dir
	crashN      = 8
)

// TestCrashChild is the process TestSIGKILL... kills: it hands every
// violation over (as the pipeline's recovery does after a restart), runs
// the sender, prints "created <i>" after each ticket and "done" once all
// are dispatched.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnvDir)
	if dir == "" {
		t.Skip("run as a child process by TestSIGKILLDuringHandOffAndDeliveryLosesAndDuplicatesNoTicket")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(os.Getenv(crashEnvURL))
	cfg.Database = os.Getenv(crashEnvDB)
	s, err := Open(ctx, cfg, dir, nil, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The claim of the child killed mid-delivery (step 2) ends soon, so
	// the last child delivers that ticket within its wait.
	s.lease = 2 * time.Second
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for i := range crashN {
		if _, _, err := s.CreateTicket(ctx, input(i, "garbage_pile", "cam-1", "kerb", 0.9)); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("created %d\n", i)
	}
	waitFor(t, "all dispatched", func() bool {
		page, _ := s.store.ListTickets(ctx, Filter{Statuses: []Status{StatusDispatched}, Limit: 100})
		return len(page) == crashN
	})
	fmt.Println("done")
	cancel()
	<-done
}

// crashReceiver records deliveries; onRequest runs before it answers.
type crashReceiver struct {
	mu        sync.Mutex
	requests  int
	byTicket  map[string]int    // accepted deliveries per Idempotency-Key
	violation map[string]string // ticket id → violation id
	onRequest func(n int)
	down      bool // answer 503 and make no work order
}

func (c *crashReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p WebhookPayload
	_ = json.Unmarshal(body, &p)
	c.mu.Lock()
	c.requests++
	n, hook := c.requests, c.onRequest
	if c.down {
		c.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if Sign([]byte(testSecret), r.Header.Get(HeaderTimestamp), body) == r.Header.Get(HeaderSignature) && p.Ticket != nil {
		key := r.Header.Get(HeaderIdempotencyKey)
		c.byTicket[key]++ // the work order is made before the answer, as a real system would
		c.violation[key] = p.Ticket.ViolationID
	}
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	w.WriteHeader(http.StatusOK)
}

// TestSIGKILLDuringHandOffAndDeliveryLosesAndDuplicatesNoTicket kills the
// process while it creates tickets, then again after the receiver took a
// delivery but before StreetWatch heard back, and restarts it each time:
// in the end every violation has exactly one ticket, every ticket is
// dispatched, and the receiver saw each ticket under one Idempotency-Key.
func TestSIGKILLDuringHandOffAndDeliveryLosesAndDuplicatesNoTicket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	eachStore(t, func(t *testing.T) {
		dir := t.TempDir()
		database := testDatabase(t, dir)
		rcv := &crashReceiver{byTicket: map[string]int{}, violation: map[string]string{}}
		srv := httptest.NewServer(rcv)
		t.Cleanup(srv.Close)

		start := func() (*exec.Cmd, *bufio.Scanner, *bytes.Buffer) {
			t.Helper()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, crashEnvURL+"="+srv.URL, crashEnvDB+"="+database)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			return cmd, bufio.NewScanner(out), &stderr
		}
		kill := func(cmd *exec.Cmd) {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
		waitKilled := func(cmd *exec.Cmd, stderr *bytes.Buffer, sc *bufio.Scanner) {
			t.Helper()
			for sc.Scan() { // drain, so Wait does not block on the pipe
			}
			err := cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed (%v): %s", err, stderr)
			}
		}

		// 1. Killed in the middle of the hand-off, tickets being created while
		// the sender tries (and fails) to deliver the first ones.
		rcv.mu.Lock()
		rcv.down = true
		rcv.mu.Unlock()
		cmd, sc, stderr := start()
		for sc.Scan() {
			if sc.Text() == "created 3" {
				kill(cmd)
				break
			}
		}
		waitKilled(cmd, stderr, sc)

		// 2. Killed while the receiver holds a delivery it has accepted: the
		// answer never arrives, so the ticket is still confirmed.
		released := make(chan struct{})
		rcv.mu.Lock()
		rcv.down = false
		killAt := rcv.requests + 1
		rcv.mu.Unlock()
		victim, sc, stderr := start()
		rcv.mu.Lock()
		rcv.onRequest = func(n int) {
			if n == killAt {
				kill(victim)
				<-released // answer only once the process is gone
			}
		}
		rcv.mu.Unlock()
		waitKilled(victim, stderr, sc)
		close(released)

		// 3. Restarted for good: runs until everything is dispatched.
		rcv.mu.Lock()
		rcv.onRequest = nil
		rcv.mu.Unlock()
		cmd, sc, stderr = start()
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if err := cmd.Wait(); err != nil || !strings.Contains(strings.Join(lines, "\n"), "done") {
			t.Fatalf("final run: %v\n%s\n%s", err, strings.Join(lines, "\n"), stderr)
		}

		rcv.mu.Lock() // the handlers are done; this orders their writes before the reads below
		defer rcv.mu.Unlock()
		s := testService(t, testConfig(""), dir, nil)
		all, err := s.store.ListTickets(t.Context(), Filter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		perViolation := map[string]int{}
		for _, tk := range all {
			perViolation[tk.ViolationID]++
			if tk.Status != StatusDispatched {
				t.Errorf("ticket %s is %s, want dispatched", tk.ID, tk.Status)
			}
			if rcv.byTicket[tk.ID] < 1 {
				t.Errorf("ticket %s never reached the receiver", tk.ID)
			}
		}
		if len(all) != crashN || len(perViolation) != crashN {
			t.Errorf("%d tickets for %d violations, want %d and %d", len(all), len(perViolation), crashN, crashN)
		}
		seenViolations := map[string]string{}
		for key, v := range rcv.violation {
			if other, dup := seenViolations[v]; dup {
				t.Errorf("violation %s reached the receiver as tickets %s and %s", v, other, key)
			}
			seenViolations[v] = key
		}
		redelivered := 0
		for _, n := range rcv.byTicket {
			redelivered += n - 1
		}
		t.Logf("%d requests, %d tickets, %d redeliveries (same Idempotency-Key)", rcv.requests, len(rcv.byTicket), redelivered)
	})
}
