package review

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/bcrypt"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/internal/pgtest"
)

// eachAuthStore runs test once per kind of AuthStore in kinds ("memory",
// "sqlite", "postgres"), as subtests. open returns a new connection to
// the subtest's one database each call, as each node has its own (the
// same store for memory).
func eachAuthStore(t *testing.T, kinds []string, test func(t *testing.T, open func() dispatch.AuthStore)) {
	t.Helper()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			var open func() dispatch.AuthStore
			switch kind {
			case "memory":
				m := newMemoryAuth()
				open = func() dispatch.AuthStore { return m }
			case "sqlite":
				path := filepath.Join(t.TempDir(), "tickets.db")
				open = func() dispatch.AuthStore {
					s, err := dispatch.OpenSQLite(t.Context(), path)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					return s
				}
			case "postgres":
				url := pgtest.Start(t).NewDatabase(t)
				open = func() dispatch.AuthStore {
					s, err := dispatch.OpenPostgres(t.Context(), url)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					return s
				}
			}
			test(t, open)
		})
	}
}

var sqlStores = []string{"sqlite", "postgres"}

// node is a review server keeping its sign-ins in store, with users (nil:
// testUsers).
func node(t *testing.T, store dispatch.AuthStore, users []config.User) *fixture {
	t.Helper()
	return newFixture(t, func(s *Server) {
		s.Auth = store
		if users != nil {
			s.Config.Users = users
		}
	})
}

// copyTo is a client of f holding c's cookies as they are now: the same
// browser sent to another node, or a cookie someone copied.
func (c *client) copyTo(f *fixture) *client {
	o := f.client()
	for _, from := range []string{c.f.url, f.url} {
		u, _ := url.Parse(from)
		o.http.Jar.SetCookies(u, c.http.Jar.Cookies(u))
	}
	return o
}

// signedIn reports whether the client's session gets the queue.
func (c *client) signedIn() bool {
	c.f.t.Helper()
	a := c.get("/")
	if a.status != http.StatusOK && a.status != http.StatusSeeOther {
		c.f.t.Fatalf("GET /: %d\n%.300s", a.status, a.body)
	}
	return a.status == http.StatusOK
}

// aliceOnTwoNodes starts two nodes on open's database, signs alice in on
// a (ca, tok her CSRF token) and copies her cookie to a client of b.
func aliceOnTwoNodes(t *testing.T, open func() dispatch.AuthStore) (a, b *fixture, ca, cb *client, tok string) {
	t.Helper()
	a, b = node(t, open(), nil), node(t, open(), nil)
	ca = a.client()
	tok = ca.signIn("alice")
	cb = ca.copyTo(b)
	if !cb.signedIn() {
		t.Fatalf("a session made on node A is refused on node B")
	}
	return a, b, ca, cb, tok
}

// withPassword is testUsers with name's password changed.
func withPassword(t *testing.T, name, password string) []config.User {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]config.User(nil), testUsers()...)
	for i := range out {
		if out[i].Name == name {
			out[i].PasswordHash = string(h)
		}
	}
	return out
}

func TestSignInLimitArithmeticIsTheSameInEveryStore(t *testing.T) {
	const none = -1 // no bucket: full
	l := limit{"pair", dispatch.GCRABucket{Burst: 3, Interval: 10 * time.Second}}
	s := time.Second
	steps := []struct {
		at   time.Duration // since t0
		op   string        // take, reset, prune, or "" to look only
		wait time.Duration // then
		full time.Duration // when the bucket is full again, since t0
	}{
		{0, "", 0, none},
		{0, "take", 0, 10 * s},
		{0, "take", 0, 20 * s},
		{0, "take", 10 * s, 30 * s}, // burst spent: the next in an interval
		{4 * s, "", 6 * s, 30 * s},
		{10 * s, "", 0, 30 * s},          // one token back
		{10 * s, "take", 10 * s, 40 * s}, // and spent
		{10 * s, "take", 10 * s, 40 * s}, // a take with none left changes nothing
		{25 * s, "", 0, 40 * s},
		{39 * s, "prune", 0, 40 * s}, // not full yet: kept
		{40 * s, "prune", 0, none},   // full: gone
		{45 * s, "take", 0, 55 * s},  // a new bucket
		{45 * s, "take", 0, 65 * s},
		{45 * s, "take", 10 * s, 75 * s},
		{46 * s, "reset", 0, none},
	}
	eachAuthStore(t, []string{"memory", "sqlite", "postgres"}, func(t *testing.T, open func() dispatch.AuthStore) {
		store, ctx := open(), t.Context()
		t0 := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
		key, other := l.key("alice", "10.0.0.1"), l.key("alice", "10.0.0.2")
		if err := store.TakeToken(ctx, other, 1, time.Hour, t0); err != nil {
			t.Fatal(err)
		}
		for i, st := range steps {
			now := t0.Add(st.at)
			var err error
			switch st.op {
			case "take":
				err = store.TakeToken(ctx, key, l.Burst, l.Interval, now)
			case "reset":
				err = store.ResetBucket(ctx, key)
			case "prune":
				err = store.PruneAuth(ctx, now, now.Add(-knownAddressTTL))
			}
			if err != nil {
				t.Fatalf("step %d (%s at %v): %v", i, st.op, st.at, err)
			}
			got, err := store.BucketsFullAt(ctx, key, other)
			if err != nil {
				t.Fatal(err)
			}
			full, ok := got[key]
			if want := t0.Add(st.full); ok != (st.full != none) || ok && !full.Equal(want) {
				t.Errorf("step %d (%s at %v): full at %v (bucket %v), want %v", i, st.op, st.at, full.Sub(t0), ok, st.full)
			}
			if w := l.Wait(full, now); w != st.wait {
				t.Errorf("step %d (%s at %v): wait %v, want %v", i, st.op, st.at, w, st.wait)
			}
			if _, ok := got[other]; !ok {
				t.Fatalf("step %d (%s at %v): another key's bucket is gone", i, st.op, st.at)
			}
		}
	})
}

func TestASessionIsGoodOnEveryNodeAndOutlivesARestart(t *testing.T) {
	eachAuthStore(t, sqlStores, func(t *testing.T, open func() dispatch.AuthStore) {
		_, b, ca, cb, tok := aliceOnTwoNodes(t, open)
		note := func(tok string) answer {
			return cb.post("/tickets/"+b.tickets[0].ID+"/note", url.Values{"csrf": {tok}, "version": {"1"}, "note": {"seen from B"}})
		}
		if a := note("not-the-token"); a.status != http.StatusForbidden {
			t.Errorf("a change on B with a wrong CSRF token: %d, want 403", a.status)
		}
		if a := note(tok); a.status != http.StatusSeeOther || !strings.Contains(a.header.Get("Location"), "msg=note_done") {
			t.Errorf("a change on B with the session's CSRF token from A: %d %s", a.status, a.header.Get("Location"))
		}
		if got := b.audit(b.tickets[0].ID); got[len(got)-1].Actor != "alice" {
			t.Errorf("the note on B is by %q, want alice", got[len(got)-1].Actor)
		}
		restarted := node(t, open(), nil)
		if !ca.copyTo(restarted).signedIn() {
			t.Errorf("a restarted node signed alice out")
		}
	})
}

func TestSigningOutOnOneNodeEndsTheSessionOnAll(t *testing.T) {
	eachAuthStore(t, sqlStores, func(t *testing.T, open func() dispatch.AuthStore) {
		_, _, ca, cb, tok := aliceOnTwoNodes(t, open)
		if r := ca.post("/logout", url.Values{"csrf": {tok}}); r.status != http.StatusSeeOther {
			t.Fatalf("sign out on A: %d", r.status)
		}
		if cb.signedIn() {
			t.Errorf("signed out on A, the same cookie still works on B")
		}
	})
}

func TestFailedPasswordsOnOneNodeCountOnAnother(t *testing.T) {
	eachAuthStore(t, sqlStores, func(t *testing.T, open func() dispatch.AuthStore) {
		a, b := node(t, open(), nil), node(t, open(), nil)
		ca, cb := a.client(), b.client()
		for i := range 3 {
			if st := ca.apiAs("alice", "guess"); st != http.StatusUnauthorized {
				t.Fatalf("failure %d on A: %d", i+1, st)
			}
		}
		for i := range 2 {
			if st := cb.formSignIn("alice", "guess"); st != http.StatusUnauthorized {
				t.Fatalf("failure %d on B: %d", i+4, st)
			}
		}
		for name, c := range map[string]*client{"A": ca, "B": cb} {
			if st := c.apiAs("alice", passwords["alice"]); st != http.StatusTooManyRequests {
				t.Errorf("the right password on %s after 3 failures on A and 2 on B: %d, want 429", name, st)
			}
		}
		if st := cb.formSignIn("alice", passwords["alice"]); st != http.StatusTooManyRequests {
			t.Errorf("the form on B after 5 failures: %d, want 429", st)
		}
		if st := cb.apiAs("root", passwords["root"]); st != http.StatusOK {
			t.Errorf("another user on B: %d, want 200", st)
		}
	})
}

func TestChangedCredentialsSignTheUserOutOnEveryNode(t *testing.T) {
	eachAuthStore(t, sqlStores, func(t *testing.T, open func() dispatch.AuthStore) {
		a, b, ca, cb, _ := aliceOnTwoNodes(t, open)
		changed := withPassword(t, "alice", "alice-new-pw")
		if err := a.rev.SetUsers(changed); err != nil {
			t.Fatal(err)
		}
		if ca.signedIn() || cb.signedIn() {
			t.Errorf("alice's password changed on A: her session works on A %v, on B (not reloaded) %v", ca.signedIn(), cb.signedIn())
		}

		// B has not reloaded: alice signs in there with the old password.
		// Only nodes whose users still have it take that session.
		old := b.client()
		old.signIn("alice")
		if !old.signedIn() {
			t.Fatalf("a session under the old password on B (old users) is refused")
		}
		if old.copyTo(a).signedIn() {
			t.Errorf("a session under the old password works on A, which has the new one")
		}
		if old.copyTo(node(t, open(), changed)).signedIn() {
			t.Errorf("a session under the old password works on a node started with the new one")
		}
		if !old.copyTo(node(t, open(), nil)).signedIn() {
			t.Errorf("a session under the old password is refused by a node started with the old one")
		}
	})
}

// A sign-in store that fails (the database gone) lets nobody in, and
// says why: no session is taken for valid, no attempt goes uncounted.
func TestAFailingSignInStoreRefusesEveryone(t *testing.T) {
	eachAuthStore(t, []string{"sqlite"}, func(t *testing.T, open func() dispatch.AuthStore) {
		store := open()
		f := node(t, store, nil)
		c := f.client()
		c.signIn("alice")
		if err := store.(*dispatch.SQLite).Close(); err != nil {
			t.Fatal(err)
		}
		if a := c.get("/"); a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "登录暂不可用") {
			t.Errorf("a signed-in page with the store down: %d, want 503 saying sign-in is unavailable\n%.300s", a.status, a.body)
		}
		if st := c.apiAs("alice", passwords["alice"]); st != http.StatusServiceUnavailable {
			t.Errorf("basic auth with the store down: %d, want 503", st)
		}
		fresh := f.client()
		for _, pw := range []string{passwords["alice"], "guess"} {
			if st := fresh.formSignIn("alice", pw); st != http.StatusServiceUnavailable {
				t.Errorf("form sign-in (%s) with the store down: %d, want 503", pw, st)
			}
		}
		if n := testutil.ToFloat64(f.rev.metrics.authStoreErrors.WithLabelValues("session")); n < 1 {
			t.Errorf("streetwatch_review_auth_store_errors_total{op=session} = %v", n)
		}
		if n := testutil.ToFloat64(f.rev.metrics.authStoreErrors.WithLabelValues("limit")); n < 3 {
			t.Errorf("streetwatch_review_auth_store_errors_total{op=limit} = %v, want 3", n)
		}
	})
}
