// Package lograte keeps an error that repeats (a model failing every batch,
// a stream the decoder refuses unit after unit) to a few log lines: the
// first of a burst at once, then at most one line per interval saying how
// many were held back. It decides when to log; counting every occurrence
// is the caller's metric's job.
package lograte

import (
	"sync"
	"time"
)

// Limiter paces the log lines of one kind of error. The zero value logs
// every occurrence; set Every. It is safe for concurrent use.
type Limiter struct {
	// Every is the least time between two lines of the same burst.
	Every time.Duration

	mu      sync.Mutex
	failing bool
	last    time.Time // when the last line was allowed
	held    int       // occurrences since that line, not logged
}

// Allow reports whether the occurrence at now should be logged, and how
// many occurrences were held back since the previous line (to log with
// it).
func (l *Limiter) Allow(now time.Time) (ok bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing && now.Sub(l.last) < l.Every {
		l.held++
		return false, 0
	}
	held = l.held
	l.failing, l.last, l.held = true, now, 0
	return true, held
}

// Recover ends a burst, so the next occurrence is logged at once. It
// reports whether a burst was going on and how many of its occurrences
// were held back since its last line.
func (l *Limiter) Recover() (wasFailing bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	wasFailing, held = l.failing, l.held
	l.failing, l.held = false, 0
	return wasFailing, held
}
