package lograte

import (
	"testing"
	"time"
)

func TestLimiterLogsTheFirstOfABurstThenOneLinePerIntervalWithTheCount(t *testing.T) {
	l := Limiter{Every: time.Minute}
	t0 := time.Unix(1000, 0)
	type step struct {
		at       time.Duration
		recover  bool
		ok       bool
		held     int
		wasBurst bool
	}
	steps := []step{
		{at: 0, ok: true},                    // first of the burst
		{at: time.Second},                    // held
		{at: 30 * time.Second},               // held
		{at: time.Minute, ok: true, held: 2}, // a minute after the line: the two held back
		{at: time.Minute + time.Second},      // held
		{at: 70 * time.Second, recover: true, wasBurst: true, held: 1},
		{at: 71 * time.Second, ok: true}, // a new burst logs at once
		{at: 72 * time.Second, recover: true, wasBurst: true},
		{at: 73 * time.Second, recover: true}, // no burst going on
	}
	for i, s := range steps {
		if s.recover {
			was, held := l.Recover()
			if was != s.wasBurst || held != s.held {
				t.Fatalf("step %d: Recover() = %v, %d; want %v, %d", i, was, held, s.wasBurst, s.held)
			}
			continue
		}
		ok, held := l.Allow(t0.Add(s.at))
		if ok != s.ok || held != s.held {
			t.Fatalf("step %d (+%v): Allow = %v, %d; want %v, %d", i, s.at, ok, held, s.ok, s.held)
		}
	}
}
