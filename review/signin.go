package review

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/streetwatch/streetwatch/dispatch"
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
// costs no bcrypt time and tells nothing about the password. The buckets
// and known addresses are in the AuthStore: with the ticket database,
// one budget for every node. Its errors refuse the attempt: an attempt
// the guard cannot count is not made.
type signInGuard struct {
	store dispatch.AuthStore
}

// limit is one of the guard's token buckets, named in its store keys.
type limit struct {
	name string
	dispatch.GCRABucket
}

var (
	pairLimit = limit{"pair", dispatch.GCRABucket{Burst: 5, Interval: time.Minute}}       // user, address: failures
	userLimit = limit{"user", dispatch.GCRABucket{Burst: 50, Interval: 30 * time.Second}} // user: failures from every address
	addrLimit = limit{"addr", dispatch.GCRABucket{Burst: 10, Interval: 6 * time.Second}}  // address: attempts
)

const knownAddressTTL = 24 * time.Hour

// key is the store's key of what the limit counts: its name and a hash,
// so that any user name a client sends (any length, any bytes) makes a
// short key a database takes.
func (l limit) key(parts ...string) string { return l.name + ":" + hashKey(parts...) }

func hashKey(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

func (g *signInGuard) take(ctx context.Context, l limit, key string, now time.Time) error {
	return g.store.TakeToken(ctx, key, l.Burst, l.Interval, now)
}

// wait is how long an attempt for name from addr must wait (0: now).
func (g *signInGuard) wait(ctx context.Context, name, addr string, now time.Time) (time.Duration, error) {
	pk, uk, ak := pairLimit.key(name, addr), userLimit.key(name), addrLimit.key(addr)
	full, err := g.store.BucketsFullAt(ctx, pk, uk, ak)
	if err != nil {
		return 0, err
	}
	w := max(pairLimit.Wait(full[pk], now), addrLimit.Wait(full[ak], now))
	if uw := userLimit.Wait(full[uk], now); uw > w {
		at, known, err := g.store.AddressSeen(ctx, hashKey(name, addr))
		if err != nil {
			return 0, err
		}
		if !known || now.Sub(at) > knownAddressTTL {
			w = uw
		}
	}
	return w, nil
}

// attempt counts an attempt from addr against the address limit (the
// form counts every attempt: each costs a bcrypt comparison).
func (g *signInGuard) attempt(ctx context.Context, addr string, now time.Time) error {
	return g.take(ctx, addrLimit, addrLimit.key(addr), now)
}

// failed counts a wrong name or password.
func (g *signInGuard) failed(ctx context.Context, name, addr string, now time.Time) error {
	if err := g.take(ctx, pairLimit, pairLimit.key(name, addr), now); err != nil {
		return err
	}
	return g.take(ctx, userLimit, userLimit.key(name), now)
}

// succeeded clears the pair's failures and remembers the address as one
// the user signs in from.
func (g *signInGuard) succeeded(ctx context.Context, name, addr string, now time.Time) error {
	if err := g.store.ResetBucket(ctx, pairLimit.key(name, addr)); err != nil {
		return err
	}
	return g.store.MarkAddress(ctx, hashKey(name, addr), now)
}
