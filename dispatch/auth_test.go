package dispatch

import (
	"crypto/sha256"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Two nodes (two stores on one database) taking tokens at once: every
// take counts, so a guesser spreading attempts over nodes gains nothing.
func TestConcurrentTakesFromTwoStoresLoseNone(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tickets.db")
		stores := [2]*sqlStore{}
		for i := range stores {
			s, err := openStore(t, path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		}
		const perStore = 40
		b := GCRABucket{Burst: 1000, Interval: time.Second}
		var wg sync.WaitGroup
		errs := make(chan error, 2*perStore)
		for _, s := range stores {
			wg.Go(func() {
				for range perStore {
					if err := s.TakeToken(t.Context(), "user:x", b.Burst, b.Interval, baseTime); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		full, err := stores[0].BucketsFullAt(t.Context(), "user:x")
		if err != nil {
			t.Fatal(err)
		}
		if want := baseTime.Add(2 * perStore * b.Interval); !full["user:x"].Equal(want) {
			t.Errorf("after %d takes: full at %v, want %v (%d lost)", 2*perStore, full["user:x"], want,
				int(want.Sub(full["user:x"])/b.Interval))
		}
	})
}

func TestAuthSessionsExpireAndPrunedRowsGo(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s, ctx := testStore(t), t.Context()
		h := func(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }
		live := AuthSession{TokenSHA256: h("a"), User: "alice", Role: "reviewer", CSRF: "c1", Fingerprint: "f1", Expires: baseTime.Add(time.Hour)}
		old := AuthSession{TokenSHA256: h("b"), User: "bob", Role: "viewer", CSRF: "c2", Fingerprint: "f2", Expires: baseTime.Add(time.Minute)}
		for _, a := range []AuthSession{live, old} {
			if err := s.CreateSession(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if got, ok, err := s.Session(ctx, h("a"), baseTime); err != nil || !ok || got != live {
			t.Fatalf("Session: %+v %v %v, want %+v", got, ok, err, live)
		}
		later := baseTime.Add(2 * time.Minute)
		if _, ok, err := s.Session(ctx, h("b"), later); err != nil || ok {
			t.Errorf("an expired session: ok=%v err=%v", ok, err)
		}
		if err := s.TakeToken(ctx, "k-full", 1, time.Second, baseTime); err != nil { // full again 1 s later
			t.Fatal(err)
		}
		if err := s.TakeToken(ctx, "k-spent", 1, time.Hour, baseTime); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkAddress(ctx, "seen-old", baseTime.Add(-25*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkAddress(ctx, "seen-new", baseTime); err != nil {
			t.Fatal(err)
		}
		if err := s.PruneAuth(ctx, later, later.Add(-24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		for table, want := range map[string]int{"auth_sessions": 1, "auth_buckets": 1, "auth_known_addresses": 1} {
			var n int
			if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != want {
				t.Errorf("%s after pruning: %d rows (%v), want %d", table, n, err, want)
			}
		}
		if _, ok, _ := s.AddressSeen(ctx, "seen-new"); !ok {
			t.Errorf("the address seen now was pruned")
		}
		n, err := s.DropSessions(ctx, func(user, fp string) bool { return user == "alice" && fp == "f1" })
		if err != nil || n != 1 {
			t.Errorf("DropSessions: %d %v, want 1", n, err)
		}
		if _, ok, _ := s.Session(ctx, h("a"), baseTime); ok {
			t.Errorf("a dropped session is still there")
		}
	})
}
