package dispatch

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/streetwatch/streetwatch/config"
)

func TestWebhookRetriesUntilTheReceiverAcceptsAndEveryTicketArrivesSigned(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		const tickets, failures = 5, 3
		rcv := newReceiver(t, failures)
		reg := prometheus.NewRegistry()
		s := testService(t, testConfig(rcv.srv.URL), t.TempDir(), reg)
		var ids []string
		for i := range tickets {
			tk := mustCreate(t, s, input(i, "garbage_pile", "cam-1", "kerb", 0.6)) // auto dispatch
			if tk.Status != StatusConfirmed {
				t.Fatalf("ticket %d: %s, want confirmed", i, tk.Status)
			}
			ids = append(ids, tk.ID)
		}
		run(t, s)
		waitFor(t, "every ticket dispatched", func() bool {
			page, _ := s.store.ListTickets(t.Context(), Filter{Statuses: []Status{StatusDispatched}, Limit: 100})
			return len(page) == tickets
		})
		// The sender counts a delivery just after it stores it: wait for
		// the last count too (read at once, it failed once in CI), and
		// then it must not go past tickets.
		waitFor(t, "every dispatch counted", func() bool {
			return testutil.ToFloat64(s.metrics.Tickets.WithLabelValues("garbage_pile", "dispatched")) >= tickets
		})

		got := rcv.deliveries()
		if len(got) != tickets+failures {
			t.Errorf("receiver saw %d requests, want %d (%d failed + one per ticket)", len(got), tickets+failures, failures)
		}
		accepted := map[string]int{}
		seenKeys := map[string]bool{}
		for _, d := range got {
			if err := verify(testSecret, d); err != nil {
				t.Errorf("delivery of %s: %v", d.key, err)
			}
			if d.payload.Ticket == nil || d.payload.Ticket.ID != d.key {
				t.Errorf("Idempotency-Key %q does not name the payload's ticket", d.key)
				continue
			}
			seenKeys[d.key] = true
			if d.status == http.StatusOK {
				accepted[d.key]++
			}
			if d.payload.Event != "ticket.confirmed" || d.payload.Ticket.Status != StatusConfirmed || d.payload.Attempt < 1 {
				t.Errorf("payload %s: event %q status %s attempt %d", d.key, d.payload.Event, d.payload.Ticket.Status, d.payload.Attempt)
			}
			if len(d.payload.Evidence) != 3 || !strings.HasPrefix(d.payload.Evidence[0].URL, "http://evidence.invalid/2026/01/02/cam-1/") {
				t.Errorf("payload %s evidence: %+v", d.key, d.payload.Evidence)
			}
			if strings.Contains(string(d.body), testSecret) {
				t.Error("the payload contains the secret")
			}
		}
		for _, id := range ids {
			if accepted[id] != 1 || !seenKeys[id] {
				t.Errorf("ticket %s accepted %d times, want 1", id, accepted[id])
			}
			tk, _ := s.Ticket(t.Context(), id)
			if tk.Delivery.DispatchedAt == nil || tk.Delivery.LastError != "" || tk.Delivery.Attempts < 1 {
				t.Errorf("ticket %s delivery state %+v", id, tk.Delivery)
			}
		}
		if n := testutil.ToFloat64(s.metrics.Attempts.WithLabelValues(ResultOK)); n != tickets {
			t.Errorf("ok attempts %v, want %d", n, tickets)
		}
		if n := testutil.ToFloat64(s.metrics.Attempts.WithLabelValues(ResultHTTPError)); n != failures {
			t.Errorf("http_error attempts %v, want %d", n, failures)
		}
		if n := testutil.ToFloat64(s.metrics.Tickets.WithLabelValues("garbage_pile", "dispatched")); n != tickets {
			t.Errorf("tickets_total{dispatched} %v, want %d", n, tickets)
		}
		waitFor(t, "outbox depth gauge 0", func() bool { return testutil.ToFloat64(s.metrics.OutboxDepth) == 0 })
		if n := testutil.CollectAndCount(reg, "streetwatch_event_to_ticket_seconds"); n != 1 {
			t.Errorf("event_to_ticket histogram not registered (%d)", n)
		}
	})
}

func TestTicketNotDeliveredWithinMaxAgeFailsAndAManualRetryDeliversIt(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		rcv := newReceiver(t, 0)
		rcv.setDown(true)
		cfg := testConfig(rcv.srv.URL)
		// Long enough for several attempts (backoff 10-40 ms) on a loaded
		// machine too: with 150 ms this test failed 2 runs in 8 under load.
		cfg.Webhook.MaxAge = config.Duration(time.Second)
		reg := prometheus.NewRegistry()
		s := testService(t, cfg, t.TempDir(), reg)
		a := newAPI(t, s)
		run(t, s)

		tk := mustCreate(t, s, input(1, "illegal_dumping", "cam-1", "kerb", 0.95)) // review required
		var confirmed Ticket
		if code, body := a.do("POST", "/api/v1/tickets/"+tk.ID+"/transitions",
			TransitionRequest{To: StatusConfirmed, Version: tk.Version}, &confirmed, HeaderUser, "reviewer-li"); code != http.StatusOK {
			t.Fatalf("confirm: %d %s", code, body)
		}
		var failed Ticket
		waitFor(t, "dispatch_failed", func() bool {
			a.do("GET", "/api/v1/tickets/"+tk.ID, nil, &failed)
			return failed.Status == StatusDispatchFailed
		})
		if !strings.Contains(failed.Delivery.LastError, "HTTP 503") || failed.Delivery.Attempts < 2 {
			t.Errorf("failed ticket's delivery state %+v", failed.Delivery)
		}
		var page TicketPage
		a.do("GET", "/api/v1/tickets?status=dispatch_failed", nil, &page)
		if len(page.Tickets) != 1 || page.Tickets[0].ID != tk.ID {
			t.Errorf("list of dispatch_failed: %d tickets", len(page.Tickets))
		}
		// The sender counts and measures the outbox after the ticket's new
		// state is stored (and visible to the API).
		waitFor(t, "tickets_total{dispatch_failed} 1", func() bool {
			return testutil.ToFloat64(s.metrics.Tickets.WithLabelValues("illegal_dumping", "dispatch_failed")) == 1
		})
		waitFor(t, "outbox depth 0 after giving up", func() bool { return testutil.ToFloat64(s.metrics.OutboxDepth) == 0 })
		if n := testutil.ToFloat64(s.metrics.Attempts.WithLabelValues(ResultHTTPError)); n < 2 {
			t.Errorf("http_error attempts %v, want ≥ 2", n)
		}
		// A retry of a ticket that is not dispatch_failed is refused.
		other := mustCreate(t, s, input(2, "illegal_dumping", "cam-1", "kerb", 0.95))
		if code, _ := a.do("POST", "/api/v1/tickets/"+other.ID+"/retry", ChangeRequest{Version: other.Version, Actor: "li"}, nil); code != http.StatusUnprocessableEntity {
			t.Errorf("retry of a pending ticket: %d, want 422", code)
		}

		rcv.setDown(false)
		var retried Ticket
		if code, body := a.do("POST", "/api/v1/tickets/"+tk.ID+"/retry", ChangeRequest{Version: failed.Version, Note: "endpoint fixed"},
			&retried, HeaderUser, "reviewer-li"); code != http.StatusOK {
			t.Fatalf("retry: %d %s", code, body)
		}
		if retried.Status != StatusConfirmed || retried.Delivery.Attempts != 0 {
			t.Errorf("after retry: %s %+v", retried.Status, retried.Delivery)
		}
		waitFor(t, "dispatched after the retry", func() bool {
			cur, _ := s.Ticket(t.Context(), tk.ID)
			return cur.Status == StatusDispatched
		})
		var log AuditLog
		a.do("GET", "/api/v1/tickets/"+tk.ID+"/audit", nil, &log)
		var path []string
		for _, e := range log.Entries {
			path = append(path, string(e.To))
		}
		if want := "pending_review confirmed dispatch_failed confirmed dispatched"; strings.Join(path, " ") != want {
			t.Errorf("audit trail %v, want %s", path, want)
		}
	})
}

func TestUnreachableReceiverCountsNetworkErrors(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		url := dead.URL
		dead.Close() // nothing listens there now
		cfg := testConfig(url)
		cfg.Webhook.MaxAge = config.Duration(50 * time.Millisecond)
		s := testService(t, cfg, t.TempDir(), nil)
		tk := mustCreate(t, s, input(1, "garbage_pile", "cam-1", "kerb", 0.9))
		run(t, s)
		waitFor(t, "dispatch_failed", func() bool {
			cur, _ := s.Ticket(t.Context(), tk.ID)
			return cur.Status == StatusDispatchFailed
		})
		if n := testutil.ToFloat64(s.metrics.Attempts.WithLabelValues(ResultNetworkError)); n < 1 {
			t.Errorf("network_error attempts %v", n)
		}
		cur, _ := s.Ticket(t.Context(), tk.ID)
		if strings.Contains(cur.Delivery.LastError, url) {
			t.Errorf("last error shows the URL: %q", cur.Delivery.LastError)
		}
	})
}

func TestOutboxSurvivesARestart(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		rcv := newReceiver(t, 0)
		rcv.setDown(true)
		dir := t.TempDir()
		cfg := testConfig(rcv.srv.URL)
		s := testService(t, cfg, dir, prometheus.NewRegistry())
		var ids []string
		for i := range 3 {
			ids = append(ids, mustCreate(t, s, input(i, "garbage_pile", "cam-1", "kerb", 0.9)).ID)
		}
		stop := run(t, s)
		<-rcv.requests // a delivery was attempted (and refused) before the "crash"
		stop()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		rcv.setDown(false)
		reg := prometheus.NewRegistry()
		s = testService(t, cfg, dir, reg)
		if n := testutil.ToFloat64(s.metrics.OutboxDepth); n != 3 {
			t.Errorf("outbox depth after reopen %v, want 3", n)
		}
		run(t, s)
		waitFor(t, "all dispatched after the restart", func() bool {
			page, _ := s.store.ListTickets(t.Context(), Filter{Statuses: []Status{StatusDispatched}, Limit: 10})
			return len(page) == 3
		})
		accepted := map[string]int{}
		for _, d := range rcv.deliveries() {
			if d.status == http.StatusOK {
				accepted[d.key]++
			}
		}
		// At least once: a request cut off by the shutdown may still have
		// been accepted, and is then sent again under the same key.
		for _, id := range ids {
			if accepted[id] < 1 {
				t.Errorf("ticket %s never accepted", id)
			}
		}
	})
}

func TestBackoffDoublesWithJitterUpToTheMax(t *testing.T) {
	cfg := testConfig("")
	cfg.Webhook.Backoff = config.Backoff{Min: config.Duration(time.Second), Max: config.Duration(10 * time.Second)}
	s := &Service{}
	s.settings.Store(&settings{cfg: cfg})
	for _, tc := range []struct {
		attempt int
		base    time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {40, 10 * time.Second}} {
		for range 20 {
			if d := s.backoff(tc.attempt); d < tc.base/2 || d > tc.base {
				t.Errorf("attempt %d: backoff %v outside [%v, %v]", tc.attempt, d, tc.base/2, tc.base)
			}
		}
	}
}

func TestWithoutAWebhookTicketsStayQueued(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		tk := mustCreate(t, s, input(1, "garbage_pile", "cam-1", "kerb", 0.9))
		stop := run(t, s)
		stop()
		if cur, _ := s.Ticket(t.Context(), tk.ID); cur.Status != StatusConfirmed {
			t.Errorf("status %s, want confirmed (queued)", cur.Status)
		}
	})
}
