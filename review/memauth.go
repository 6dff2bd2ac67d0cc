package review

import (
	"context"
	"sync"
	"time"

	"github.com/streetwatch/streetwatch/dispatch"
)

// memoryAuth is the AuthStore of a server without a ticket database: a
// restart signs everyone out (the safe failure) and each process counts
// sign-in attempts on its own. Its buckets use the same arithmetic as the
// SQL stores'.
type memoryAuth struct {
	mu       sync.Mutex
	sessions map[[32]byte]dispatch.AuthSession
	buckets  map[string]time.Time // key → when full again
	known    map[string]time.Time // user and address → last sign-in
}

var _ dispatch.AuthStore = (*memoryAuth)(nil)

// memoryLimit bounds the buckets and known addresses: past it, what is
// prunable goes, and if that is not enough (an attack from many
// addresses) everything goes rather than grow without bound.
const memoryLimit = 10000

func newMemoryAuth() *memoryAuth {
	return &memoryAuth{sessions: map[[32]byte]dispatch.AuthSession{}, buckets: map[string]time.Time{}, known: map[string]time.Time{}}
}

func (m *memoryAuth) CreateSession(_ context.Context, s dispatch.AuthSession) error {
	m.mu.Lock()
	m.sessions[s.TokenSHA256] = s
	m.mu.Unlock()
	return nil
}

func (m *memoryAuth) Session(_ context.Context, h [32]byte, now time.Time) (dispatch.AuthSession, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[h]
	if !ok || !now.Before(s.Expires) {
		return dispatch.AuthSession{}, false, nil
	}
	return s, true, nil
}

func (m *memoryAuth) DeleteSession(_ context.Context, h [32]byte) error {
	m.mu.Lock()
	delete(m.sessions, h)
	m.mu.Unlock()
	return nil
}

func (m *memoryAuth) DropSessions(_ context.Context, drop func(user, fingerprint string) bool) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, s := range m.sessions {
		if drop(s.User, s.Fingerprint) {
			delete(m.sessions, k)
			n++
		}
	}
	return n, nil
}

func (m *memoryAuth) TakeToken(_ context.Context, key string, burst int, interval time.Duration, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	full, ok := m.buckets[key]
	if !ok && len(m.buckets) >= memoryLimit {
		m.pruneBuckets(now)
	}
	m.buckets[key] = dispatch.GCRABucket{Burst: burst, Interval: interval}.Take(full, now)
	return nil
}

func (m *memoryAuth) BucketsFullAt(_ context.Context, keys ...string) (map[string]time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]time.Time{}
	for _, k := range keys {
		if full, ok := m.buckets[k]; ok {
			out[k] = full
		}
	}
	return out, nil
}

func (m *memoryAuth) ResetBucket(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.buckets, key)
	m.mu.Unlock()
	return nil
}

func (m *memoryAuth) MarkAddress(_ context.Context, key string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.known[key]; !ok && len(m.known) >= memoryLimit {
		m.pruneKnown(at.Add(-knownAddressTTL))
		if len(m.known) >= memoryLimit {
			clear(m.known)
		}
	}
	m.known[key] = at
	return nil
}

func (m *memoryAuth) AddressSeen(_ context.Context, key string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.known[key]
	return at, ok, nil
}

func (m *memoryAuth) PruneAuth(_ context.Context, now, knownSince time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, s := range m.sessions {
		if !now.Before(s.Expires) {
			delete(m.sessions, k)
		}
	}
	m.pruneFull(now)
	m.pruneKnown(knownSince)
	return nil
}

// pruneBuckets makes room for a bucket (m.mu held, like below).
func (m *memoryAuth) pruneBuckets(now time.Time) {
	m.pruneFull(now)
	if len(m.buckets) >= memoryLimit {
		clear(m.buckets)
	}
}

func (m *memoryAuth) pruneFull(now time.Time) {
	for k, full := range m.buckets {
		if !full.After(now) {
			delete(m.buckets, k)
		}
	}
}

func (m *memoryAuth) pruneKnown(since time.Time) {
	for k, at := range m.known {
		if at.Before(since) {
			delete(m.known, k)
		}
	}
}
