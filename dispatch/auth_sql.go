package dispatch

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AuthStore keeps the review page's sign-in state (its sessions and its
// sign-in limiter, package review) where every node on the ticket
// database sees it: a restart signs nobody out, a session made on one
// node is good on the others, and a password guesser has one budget for
// all of them. Both SQL stores keep it; without one, review keeps the
// same in memory.
type AuthStore interface {
	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s AuthSession) error
	// Session is the session stored under a token's SHA-256, unless it
	// has expired at now (ok=false: none).
	Session(ctx context.Context, tokenSHA256 [32]byte, now time.Time) (s AuthSession, ok bool, err error)
	// DeleteSession ends a session (none: nothing to do).
	DeleteSession(ctx context.Context, tokenSHA256 [32]byte) error
	// DropSessions deletes the sessions whose user and fingerprint drop
	// reports, and returns how many it deleted.
	DropSessions(ctx context.Context, drop func(user, fingerprint string) bool) (int, error)

	// TakeToken spends one token of key's bucket, which holds burst
	// tokens and gains one each interval, at now. Concurrent takes, from
	// any node, each count.
	TakeToken(ctx context.Context, key string, burst int, interval time.Duration, now time.Time) error
	// BucketsFullAt says when each key's bucket is full again; a key it
	// leaves out is full.
	BucketsFullAt(ctx context.Context, keys ...string) (map[string]time.Time, error)
	// ResetBucket fills key's bucket.
	ResetBucket(ctx context.Context, key string) error
	// MarkAddress records a successful sign-in at for key (a user and an
	// address); AddressSeen is the last one recorded.
	MarkAddress(ctx context.Context, key string, at time.Time) error
	AddressSeen(ctx context.Context, key string) (at time.Time, ok bool, err error)

	// PruneAuth deletes the sessions expired at now, the buckets full at
	// now and the addresses not marked since knownSince.
	PruneAuth(ctx context.Context, now, knownSince time.Time) error
}

// AuthSession is one sign-in to the review page.
type AuthSession struct {
	// TokenSHA256 is the SHA-256 of the session cookie's token: the token
	// itself is never stored.
	TokenSHA256 [32]byte
	User, Role  string
	CSRF        string
	// Fingerprint stands for the user's credentials at sign-in (role and
	// password hash), so that a node can tell whether its own accounts
	// still give the same.
	Fingerprint string
	Expires     time.Time
}

// GCRABucket is one token bucket as TakeToken keeps it: only the time
// it is full again (the generic cell rate algorithm). With burst B and
// interval I, the tokens at now are B − max(0, full − now)/I.
//
//	take: full = min(max(full, now) + I, now + B·I)
//	wait: max(0, full − now − (B−1)·I)
//
// The SQL stores do take in one statement; the memory store and every
// caller of wait use these.
type GCRABucket struct {
	Burst    int
	Interval time.Duration
}

// Take is the bucket's full time after spending one token at now.
func (b GCRABucket) Take(full, now time.Time) time.Time {
	return minTime(maxTime(full, now).Add(b.Interval), now.Add(b.window()))
}

// Wait is how long until the bucket, full again at full, has a token.
func (b GCRABucket) Wait(full, now time.Time) time.Duration {
	d := full.Sub(now) // a zero full (no bucket) saturates, hence the order
	if d <= 0 {
		return 0
	}
	return max(0, d-b.window()+b.Interval)
}

func (b GCRABucket) window() time.Duration { return time.Duration(max(1, b.Burst)) * b.Interval }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

var _ AuthStore = (*sqlStore)(nil)

func tokenKey(h [32]byte) string { return hex.EncodeToString(h[:]) }

// CreateSession implements AuthStore.
func (s *sqlStore) CreateSession(ctx context.Context, a AuthSession) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO auth_sessions (token_sha256, user_name, role, csrf, fingerprint, expires_at)
		VALUES (?,?,?,?,?,?)`, tokenKey(a.TokenSHA256), a.User, a.Role, a.CSRF, a.Fingerprint, micros(a.Expires))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session implements AuthStore.
func (s *sqlStore) Session(ctx context.Context, h [32]byte, now time.Time) (AuthSession, bool, error) {
	a := AuthSession{TokenSHA256: h}
	var expires int64
	err := s.db.QueryRowContext(ctx, `SELECT user_name, role, csrf, fingerprint, expires_at FROM auth_sessions
		WHERE token_sha256 = ? AND expires_at > ?`, tokenKey(h), micros(now)).Scan(&a.User, &a.Role, &a.CSRF, &a.Fingerprint, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return AuthSession{}, false, nil
	}
	if err != nil {
		return AuthSession{}, false, fmt.Errorf("session: %w", err)
	}
	a.Expires = fromMicros(expires)
	return a, true, nil
}

// DeleteSession implements AuthStore.
func (s *sqlStore) DeleteSession(ctx context.Context, h [32]byte) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM auth_sessions WHERE token_sha256 = ?`, tokenKey(h)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DropSessions implements AuthStore: a session made while it runs, of a
// user and fingerprint it has already passed over, stays (the caller's
// check at each request still applies to it).
func (s *sqlStore) DropSessions(ctx context.Context, drop func(user, fingerprint string) bool) (int, error) {
	type holder struct{ user, fingerprint string }
	holders, err := queryAll(ctx, s.db, func(row scanner) (holder, error) {
		var h holder
		return h, row.Scan(&h.user, &h.fingerprint)
	}, `SELECT DISTINCT user_name, fingerprint FROM auth_sessions`)
	if err != nil {
		return 0, fmt.Errorf("drop sessions: %w", err)
	}
	n := 0
	for _, h := range holders {
		if !drop(h.user, h.fingerprint) {
			continue
		}
		res, err := s.db.ExecContext(ctx, `DELETE FROM auth_sessions WHERE user_name = ? AND fingerprint = ?`, h.user, h.fingerprint)
		if err != nil {
			return n, fmt.Errorf("drop sessions: %w", err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

// TakeToken implements AuthStore in one upsert: the database applies
// concurrent takes one after the other, each to the full time the last
// one left (a read and a write from here could lose one).
func (s *sqlStore) TakeToken(ctx context.Context, key string, burst int, interval time.Duration, now time.Time) error {
	b := GCRABucket{Burst: burst, Interval: interval}
	d := s.db.d
	_, err := s.db.ExecContext(ctx, `INSERT INTO auth_buckets (key, full_at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET full_at = `+d.least+`(`+d.greatest+`(auth_buckets.full_at, ?) + ?, ?)`,
		key, micros(b.Take(time.Time{}, now)), micros(now), interval.Microseconds(), micros(now.Add(b.window())))
	if err != nil {
		return fmt.Errorf("sign-in limit: %w", err)
	}
	return nil
}

// BucketsFullAt implements AuthStore.
func (s *sqlStore) BucketsFullAt(ctx context.Context, keys ...string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(keys) == 0 {
		return out, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := s.db.QueryContext(ctx, `SELECT key, full_at FROM auth_buckets WHERE key IN (`+
		strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("sign-in limit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var full int64
		if err := rows.Scan(&k, &full); err != nil {
			return nil, fmt.Errorf("sign-in limit: %w", err)
		}
		out[k] = fromMicros(full)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sign-in limit: %w", err)
	}
	return out, nil
}

// ResetBucket implements AuthStore.
func (s *sqlStore) ResetBucket(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM auth_buckets WHERE key = ?`, key); err != nil {
		return fmt.Errorf("sign-in limit: %w", err)
	}
	return nil
}

// MarkAddress implements AuthStore.
func (s *sqlStore) MarkAddress(ctx context.Context, key string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO auth_known_addresses (key, at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET at = excluded.at`, key, micros(at))
	if err != nil {
		return fmt.Errorf("known address: %w", err)
	}
	return nil
}

// AddressSeen implements AuthStore.
func (s *sqlStore) AddressSeen(ctx context.Context, key string) (time.Time, bool, error) {
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT at FROM auth_known_addresses WHERE key = ?`, key).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("known address: %w", err)
	}
	return fromMicros(at), true, nil
}

// PruneAuth implements AuthStore.
func (s *sqlStore) PruneAuth(ctx context.Context, now, knownSince time.Time) error {
	for _, q := range []struct {
		what, query string
		at          time.Time
	}{
		{"sessions", `DELETE FROM auth_sessions WHERE expires_at <= ?`, now},
		{"sign-in limits", `DELETE FROM auth_buckets WHERE full_at <= ?`, now},
		{"known addresses", `DELETE FROM auth_known_addresses WHERE at < ?`, knownSince},
	} {
		if _, err := s.db.ExecContext(ctx, q.query, micros(q.at)); err != nil {
			return fmt.Errorf("prune %s: %w", q.what, err)
		}
	}
	return nil
}
