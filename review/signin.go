package review

import (
	"sync"
	"time"
)

// signInGuard is the one limiter for every way a password is presented
// (the sign-in form and HTTP basic auth), so that guessing through one
// counts against the other.
//
//   - Per user name and client address: 5 failures, then one try a minute.
//     This is the lock a guesser runs into, and it only locks that address:
//     the person can still sign in from their own machine.
//   - Per user name over all addresses: 50 failures, then one more every
//     30 s. A guesser with many addresses gets about 120 tries an hour per
//     name. While this budget is spent, only addresses where the user signed
//     in during the last day may still try, so the attack is no lockout
//     for the user at their usual desk (nor for their API scripts).
//   - Per client address: 10 attempts (form sign-ins, basic-auth failures),
//     then one every 6 s, whatever the names.
//
// Checks happen before the password is compared, so a refused attempt
// costs no bcrypt time and tells nothing about the password.
type signInGuard struct {
	pair *limiter // user + "\x00" + address: failures
	user *limiter // user: failures from every address
	addr *limiter // address: attempts

	mu    sync.Mutex
	known map[string]time.Time // user + "\x00" + address → last successful sign-in
}

const knownAddressTTL = 24 * time.Hour

func newSignInGuard() *signInGuard {
	return &signInGuard{
		pair:  newLimiter(5, time.Minute),
		user:  newLimiter(50, 30*time.Second),
		addr:  newLimiter(10, 6*time.Second),
		known: map[string]time.Time{},
	}
}

func pairKey(name, addr string) string { return name + "\x00" + addr }

// wait is how long an attempt for name from addr must wait (0: now).
func (g *signInGuard) wait(name, addr string, now time.Time) time.Duration {
	w := max(g.pair.wait(pairKey(name, addr), now), g.addr.wait(addr, now))
	if uw := g.user.wait(name, now); uw > 0 && !g.isKnown(name, addr, now) {
		w = max(w, uw)
	}
	return w
}

// attempt counts an attempt from addr against the address limit (the
// form counts every attempt: each costs a bcrypt comparison).
func (g *signInGuard) attempt(addr string, now time.Time) { g.addr.take(addr, now) }

// failed counts a wrong name or password.
func (g *signInGuard) failed(name, addr string, now time.Time) {
	g.pair.take(pairKey(name, addr), now)
	g.user.take(name, now)
}

// succeeded clears the pair's failures and remembers the address as one
// the user signs in from.
func (g *signInGuard) succeeded(name, addr string, now time.Time) {
	k := pairKey(name, addr)
	g.pair.reset(k)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.known[k]; !ok && len(g.known) >= 10000 {
		for key, at := range g.known {
			if now.Sub(at) > knownAddressTTL {
				delete(g.known, key)
			}
		}
		if len(g.known) >= 10000 {
			clear(g.known)
		}
	}
	g.known[k] = now
}

func (g *signInGuard) isKnown(name, addr string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	at, ok := g.known[pairKey(name, addr)]
	return ok && now.Sub(at) <= knownAddressTTL
}
