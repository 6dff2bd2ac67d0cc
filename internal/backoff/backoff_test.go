package backoff

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestDelayWithoutJitterFollowsTheSchedule(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       Policy
		attempt int
		want    time.Duration
	}{
		{"first failure waits min", Policy{Min: time.Second, Max: time.Minute}, 1, time.Second},
		{"attempt 0 counts as the first", Policy{Min: time.Second, Max: time.Minute}, 0, time.Second},
		{"negative attempt counts as the first", Policy{Min: time.Second, Max: time.Minute}, -5, time.Second},
		{"zero factor doubles", Policy{Min: time.Second, Max: time.Minute}, 4, 8 * time.Second},
		{"factor 3", Policy{Min: time.Second, Max: time.Hour, Factor: 3}, 3, 9 * time.Second},
		{"factor 1.5", Policy{Min: 100 * time.Millisecond, Max: time.Hour, Factor: 1.5}, 3, 225 * time.Millisecond},
		{"factor below 1 stays at min", Policy{Min: time.Second, Max: time.Minute, Factor: 0.5}, 10, time.Second},
		{"capped at max", Policy{Min: time.Second, Max: time.Minute}, 7, time.Minute},
		{"max below min gives max", Policy{Min: time.Second, Max: time.Millisecond}, 1, time.Millisecond},
		{"no overflow at attempt 1000", Policy{Min: time.Second, Max: 5 * time.Minute}, 1000, 5 * time.Minute},
		{"no overflow at attempt MaxInt", Policy{Min: time.Second, Max: 5 * time.Minute}, math.MaxInt, 5 * time.Minute},
		{"no max: largest duration", Policy{Min: time.Second}, 1000, math.MaxInt64},
		{"min near the largest duration", Policy{Min: math.MaxInt64 / 2}, 3, math.MaxInt64},
		{"zero min: no wait", Policy{Max: time.Minute}, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Delay(tc.attempt); got != tc.want {
				t.Errorf("Delay(%d) = %v, want %v", tc.attempt, got, tc.want)
			}
		})
	}
}

func TestDelayGrowsMonotonicallyToTheCap(t *testing.T) {
	for _, p := range []Policy{
		{Min: time.Second, Max: 5 * time.Minute},
		{Min: 10 * time.Millisecond, Max: 24 * time.Hour, Factor: 1.7},
		{Min: time.Nanosecond},
	} {
		prev := time.Duration(0)
		for n := 1; n <= 1000; n++ {
			d := p.Delay(n)
			if d < prev {
				t.Fatalf("%+v: Delay(%d) = %v < Delay(%d) = %v", p, n, d, n-1, prev)
			}
			if p.Max > 0 && d > p.Max || d < 0 {
				t.Fatalf("%+v: Delay(%d) = %v outside [0, %v]", p, n, d, p.Max)
			}
			prev = d
		}
		if p.Max > 0 && prev != p.Max {
			t.Errorf("%+v: Delay(1000) = %v, want the cap %v", p, prev, p.Max)
		}
	}
}

func TestJitterStaysInRangeAndSpreads(t *testing.T) {
	for _, tc := range []struct {
		name   string
		jitter float64
		lo, hi time.Duration // for a base delay of 8s
	}{
		{"equal jitter: half to all", EqualJitter, 4 * time.Second, 8 * time.Second},
		{"full jitter: zero to all", FullJitter, 0, 8 * time.Second},
		{"a tenth", 0.1, 7200 * time.Millisecond, 8 * time.Second},
		{"above 1 counts as full", 3, 0, 8 * time.Second},
		{"negative counts as none", -1, 8 * time.Second, 8 * time.Second},
		{"NaN counts as none", math.NaN(), 8 * time.Second, 8 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Policy{Min: time.Second, Max: time.Minute, Jitter: tc.jitter, Rand: rand.New(rand.NewPCG(1, 2))}
			seen := map[time.Duration]bool{}
			least, most := time.Duration(math.MaxInt64), time.Duration(0)
			for range 1000 {
				d := p.Delay(4)
				if d < tc.lo || d > tc.hi {
					t.Fatalf("Delay(4) = %v outside [%v, %v]", d, tc.lo, tc.hi)
				}
				seen[d] = true
				least, most = min(least, d), max(most, d)
			}
			if spread := tc.hi > tc.lo; spread != (len(seen) > 1) {
				t.Errorf("%d distinct delays, want spread %v", len(seen), spread)
			}
			// The draws cover the whole range, not just part of it.
			if tenth := (tc.hi - tc.lo) / 10; least > tc.lo+tenth || most < tc.hi-tenth {
				t.Errorf("delays span [%v, %v], want about [%v, %v]", least, most, tc.lo, tc.hi)
			}
		})
	}
}

func TestJitterAtTheLargestDurationDoesNotOverflow(t *testing.T) {
	p := Policy{Min: time.Second, Jitter: FullJitter}
	for range 100 {
		if d := p.Delay(10_000); d < 0 {
			t.Fatalf("Delay = %v", d)
		}
	}
}

func TestInjectedRandMakesJitterReproducible(t *testing.T) {
	draw := func() []time.Duration {
		p := Policy{Min: time.Second, Max: time.Minute, Jitter: EqualJitter, Rand: rand.New(rand.NewPCG(7, 7))}
		var out []time.Duration
		for n := 1; n <= 10; n++ {
			out = append(out, p.Delay(n))
		}
		return out
	}
	a, b := draw(), draw()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("attempt %d: %v then %v with the same seed", i+1, a[i], b[i])
		}
	}
}
