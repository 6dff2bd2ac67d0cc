package dispatch

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// queueTickets stores n confirmed tickets queued at at, oldest first,
// and returns their ids.
func queueTickets(t *testing.T, db *sqlStore, n int, at time.Time) []string {
	t.Helper()
	var ids []string
	for i := range n {
		queued := at.Add(time.Duration(i) * time.Microsecond)
		tk := &Ticket{ID: newID(queued), ViolationID: fmt.Sprintf("v%d", i), Type: "garbage_pile", CameraID: "cam-1",
			Status: StatusConfirmed, Version: 1, CreatedAt: queued, UpdatedAt: queued, Delivery: DeliveryState{QueuedAt: &queued}}
		if _, _, err := db.CreateTicket(t.Context(), tk, AuditEntry{Kind: AuditStatus, At: queued, Actor: SystemActor, To: StatusConfirmed}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tk.ID)
	}
	return ids
}

// claimOf reads a row's claim as the database has it.
func claimOf(t *testing.T, db *sqlStore, id int64) (owner string, next time.Time) {
	t.Helper()
	var us int64
	if err := db.db.QueryRowContext(t.Context(), `SELECT claimed_by, next_attempt_at FROM outbox WHERE id = ?`, id).Scan(&owner, &us); err != nil {
		t.Fatal(err)
	}
	return owner, fromMicros(us)
}

func claimedTickets(items []OutboxItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.TicketID)
	}
	return out
}

func TestAClaimedOutboxRowIsHiddenFromOtherSendersUntilItsLeaseEnds(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		db := testStore(t)
		now := baseTime
		ids := queueTickets(t, db, 3, now.Add(-time.Minute))
		const lease = 10 * time.Second

		a, err := db.ClaimOutbox(t.Context(), now, lease, 2, "node-a")
		if err != nil || fmt.Sprint(claimedTickets(a)) != fmt.Sprint(ids[:2]) {
			t.Fatalf("node-a claimed %v (%v), want the oldest two %v", claimedTickets(a), err, ids[:2])
		}
		if a[0].ClaimedBy != "node-a" || !a[0].LeaseUntil.Equal(now.Add(lease)) || a[0].Attempts != 0 {
			t.Errorf("claim %+v", a[0])
		}
		b, err := db.ClaimOutbox(t.Context(), now, lease, 10, "node-b")
		if err != nil || fmt.Sprint(claimedTickets(b)) != fmt.Sprint(ids[2:]) {
			t.Fatalf("node-b claimed %v (%v), want only the unclaimed %v", claimedTickets(b), err, ids[2:])
		}
		if got, _ := db.ClaimOutbox(t.Context(), now.Add(lease-time.Microsecond), lease, 10, "node-c"); len(got) != 0 {
			t.Fatalf("node-c claimed %v while every lease held", claimedTickets(got))
		}
		if next, ok, _ := db.NextOutboxDue(t.Context()); !ok || !next.Equal(now.Add(lease)) {
			t.Errorf("next due %v %v, want the leases' end %v (a crashed sender's rows come back then)", next, ok, now.Add(lease))
		}

		// node-a "crashed": after the lease its rows are anyone's.
		later := now.Add(lease)
		c, err := db.ClaimOutbox(t.Context(), later, lease, 10, "node-c")
		if err != nil || len(c) != 3 {
			t.Fatalf("after the leases node-c claimed %v (%v), want all 3", claimedTickets(c), err)
		}
		// node-a comes back with its stale claim: its outcome is history.
		stale := a[0]
		stale.Attempts = 1
		if err := db.RetryLater(t.Context(), stale, now.Add(time.Second), "HTTP 503"); err != nil {
			t.Fatal(err)
		}
		if err := db.ReleaseOutbox(t.Context(), a[1], now); err != nil {
			t.Fatal(err)
		}
		for _, it := range a {
			if owner, next := claimOf(t, db, it.ID); owner != "node-c" || !next.Equal(later.Add(lease)) {
				t.Errorf("row %d after node-a's stale retry/release: claimed by %q until %v, want node-c's claim", it.ID, owner, next)
			}
		}
		if tk, _ := db.Ticket(t.Context(), a[0].TicketID); tk.Delivery.Attempts != 0 {
			t.Errorf("a stale claim's failure counted: %+v", tk.Delivery)
		}

		// node-c's own outcomes end its claims.
		retry, release := c[0], c[1]
		retry.Attempts = 1
		if err := db.RetryLater(t.Context(), retry, later.Add(time.Second), "HTTP 503"); err != nil {
			t.Fatal(err)
		}
		if owner, next := claimOf(t, db, retry.ID); owner != "" || !next.Equal(later.Add(time.Second)) {
			t.Errorf("after RetryLater: claimed by %q, next %v", owner, next)
		}
		if tk, _ := db.Ticket(t.Context(), retry.TicketID); tk.Delivery.Attempts != 1 || tk.Delivery.LastError != "HTTP 503" {
			t.Errorf("after RetryLater the ticket's delivery is %+v", tk.Delivery)
		}
		if err := db.ReleaseOutbox(t.Context(), release, later); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.ClaimOutbox(t.Context(), later, lease, 10, "node-a"); len(got) != 1 || got[0].ID != release.ID {
			t.Errorf("after a release node-a claimed %v, want the released row at once", claimedTickets(got))
		}
	})
}

func TestConcurrentClaimsTakeEveryDueRowExactlyOnce(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		db := testStore(t)
		const rows, senders = 60, 6
		queueTickets(t, db, rows, baseTime)
		var mu sync.Mutex
		claims := map[string][]string{} // ticket → owners
		var wg sync.WaitGroup
		for i := range senders {
			owner := fmt.Sprintf("node-%d", i)
			wg.Go(func() {
				for {
					items, err := db.ClaimOutbox(t.Context(), baseTime.Add(time.Second), time.Minute, 3, owner)
					if err != nil {
						t.Error(err)
						return
					}
					if len(items) == 0 {
						return
					}
					mu.Lock()
					for _, it := range items {
						claims[it.TicketID] = append(claims[it.TicketID], owner)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claims) != rows {
			t.Errorf("%d rows claimed, want %d", len(claims), rows)
		}
		for id, owners := range claims {
			if len(owners) != 1 {
				t.Errorf("ticket %s claimed by %v", id, owners)
			}
		}
	})
}

// Two nodes' senders on one database and one work-order system: while
// both run, every ticket reaches the receiver exactly once (one request
// per Idempotency-Key, not just one accepted), and both nodes delivered
// some.
func TestTwoNodesSendersDeliverEveryTicketExactlyOnce(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		const tickets = 40
		rcv := newReceiver(t, 0)
		rcv.hold = func() { time.Sleep(10 * time.Millisecond) } // deliveries overlap
		dir := t.TempDir()
		cfg := testConfig(rcv.srv.URL)
		nodes := []*Service{testService(t, cfg, dir, prometheus.NewRegistry()), testService(t, cfg, dir, prometheus.NewRegistry())}
		var ids []string
		for i := range tickets {
			ids = append(ids, mustCreate(t, nodes[i%2], input(i, "garbage_pile", "cam-1", "kerb", 0.9)).ID)
		}
		stopA, stopB := run(t, nodes[0]), run(t, nodes[1])
		waitFor(t, "every ticket dispatched", func() bool {
			page, _ := nodes[0].store.ListTickets(t.Context(), Filter{Statuses: []Status{StatusDispatched}, Limit: 100})
			return len(page) == tickets
		})
		stopA()
		stopB()

		requests := map[string]int{}
		got := rcv.deliveries()
		for _, d := range got {
			requests[d.key]++
		}
		for _, id := range ids {
			if requests[id] != 1 {
				t.Errorf("ticket %s reached the receiver %d times, want 1", id, requests[id])
			}
		}
		if len(got) != tickets {
			t.Errorf("receiver saw %d requests, want %d", len(got), tickets)
		}
		var total float64
		for i, s := range nodes {
			n := testutil.ToFloat64(s.metrics.Attempts.WithLabelValues(ResultOK))
			if n == 0 {
				t.Errorf("node %d delivered nothing: the senders did not run side by side", i)
			}
			total += n
		}
		if total != tickets {
			t.Errorf("the nodes made %v successful attempts, want %d", total, tickets)
		}
	})
}

// A sender that claimed a row and then died (no outcome, no release)
// holds it only until its lease ends: then the other node delivers it,
// as its first attempt.
func TestARowClaimedByACrashedSenderIsDeliveredByTheOtherNodeAfterTheLease(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		rcv := newReceiver(t, 0)
		arrived := make(chan time.Time, 10)
		rcv.hold = func() { arrived <- time.Now() }
		dir := t.TempDir()
		cfg := testConfig(rcv.srv.URL)
		survivor := testService(t, cfg, dir, nil)
		crashed := testService(t, cfg, dir, nil)
		tk := mustCreate(t, survivor, input(1, "garbage_pile", "cam-1", "kerb", 0.9))

		const lease = 300 * time.Millisecond
		claims, err := crashed.store.ClaimOutbox(t.Context(), crashed.now(), lease, 10, crashed.owner)
		if err != nil || len(claims) != 1 || claims[0].TicketID != tk.ID {
			t.Fatalf("claim: %+v %v", claims, err)
		}
		run(t, survivor) // finds nothing due, sleeps until the lease ends
		waitFor(t, "dispatched by the survivor", func() bool {
			cur, _ := survivor.Ticket(t.Context(), tk.ID)
			return cur.Status == StatusDispatched
		})
		if at := <-arrived; at.Before(claims[0].LeaseUntil) {
			t.Errorf("delivered at %v, before the crashed sender's lease ended (%v)", at, claims[0].LeaseUntil)
		}
		got := rcv.deliveries()
		if len(got) != 1 || got[0].key != tk.ID || got[0].payload.Attempt != 1 {
			t.Errorf("deliveries %d, want one first attempt of %s", len(got), tk.ID)
		}
	})
}

// A sender stopped while a delivery is in flight gives its claim back:
// the row is due at once for the next sender, not at the lease's end.
func TestASenderStoppedMidDeliveryReleasesItsClaim(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		rcv := newReceiver(t, 0)
		arrived, answer := make(chan struct{}, 10), make(chan struct{})
		rcv.hold = func() { arrived <- struct{}{}; <-answer }
		t.Cleanup(func() { close(answer) }) // before the receiver closes
		s := testService(t, testConfig(rcv.srv.URL), t.TempDir(), nil)
		tk := mustCreate(t, s, input(1, "garbage_pile", "cam-1", "kerb", 0.9))
		stop := run(t, s)
		<-arrived
		stop()
		claims, err := s.store.ClaimOutbox(t.Context(), s.now(), time.Minute, 10, "next-sender")
		if err != nil || len(claims) != 1 || claims[0].TicketID != tk.ID {
			t.Fatalf("after the stop the next sender claimed %+v (%v), want the ticket's row at once", claims, err)
		}
		if claims[0].Attempts != 0 {
			t.Errorf("the cut-off attempt counted: %d", claims[0].Attempts)
		}
	})
}
