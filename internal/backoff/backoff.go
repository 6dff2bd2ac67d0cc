// Package backoff computes the wait before the next retry of something that
// failed: exponential growth from a minimum to a cap, with jitter so that
// many retriers (cameras behind one switch, uploads to one store, tickets to
// one webhook) do not come back in lockstep. It only computes delays; it
// never sleeps, counts attempts or decides when to give up: that stays with
// the caller, which knows what a failure means.
package backoff

import (
	"math"
	"math/rand/v2"
	"time"
)

// Jitter amounts: the fraction of a delay that is random.
const (
	// EqualJitter waits between half and all of the delay: retries spread
	// out, yet never come back much sooner than the schedule says.
	EqualJitter = 0.5
	// FullJitter waits anything between zero and the delay.
	FullJitter = 1.0
)

// Policy is an exponential backoff: the wait after the n-th failure in a row
// is Min·Factor^(n-1), at most Max, of which the fraction Jitter is random.
// The zero Factor means 2. A Policy is a value: copy it freely.
type Policy struct {
	Min, Max time.Duration // Max <= 0: no cap but the largest Duration
	Factor   float64       // growth per failure; 0 means 2, below 1 means 1
	// Jitter is the random fraction of each delay, 0 (none: deterministic)
	// to 1 (FullJitter); the wait is uniform in [d·(1-Jitter), d].
	Jitter float64
	// Rand draws the jitter; nil uses the global source (safe for
	// concurrent use). A *rand.Rand is not: give each goroutine its own.
	Rand *rand.Rand
}

// Delay is the wait after the attempt-th failure in a row (1 for the
// first; smaller numbers count as 1). It never overflows: any attempt
// number past the cap gives the cap.
func (p Policy) Delay(attempt int) time.Duration {
	if p.Min <= 0 {
		return 0
	}
	ceiling := p.Max
	if ceiling <= 0 {
		ceiling = math.MaxInt64
	}
	factor := p.Factor
	switch {
	case factor == 0:
		factor = 2
	case factor < 1 || math.IsNaN(factor):
		factor = 1
	}
	d := ceiling
	// In float64 so that a large attempt gives +Inf, not a wrapped int64;
	// float64(ceiling) may round up to 2^63, so "<" keeps the conversion
	// below it.
	if f := float64(p.Min) * math.Pow(factor, float64(max(attempt, 1)-1)); f < float64(ceiling) {
		d = time.Duration(f)
	}
	return d - p.jitter(d)
}

// jitter draws how much of d to leave out: uniform in [0, Jitter·d].
func (p Policy) jitter(d time.Duration) time.Duration {
	j := p.Jitter
	if !(j > 0) { // also NaN
		return 0
	}
	spread := int64(d) // j >= 1: the product could round up past MaxInt64
	if j < 1 {
		spread = int64(j * float64(d))
	}
	if spread <= 0 {
		return 0
	}
	n := spread
	if n < math.MaxInt64 {
		n++ // inclusive: d - spread is a possible wait
	}
	if p.Rand != nil {
		return time.Duration(p.Rand.Int64N(n))
	}
	return time.Duration(rand.Int64N(n))
}
