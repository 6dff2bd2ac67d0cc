package review

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/streetwatch/streetwatch/config"
)

// User is who a request acts for.
type User struct {
	Name string
	Role string
}

// can reports whether the user's role includes want's permissions
// (viewer < reviewer < admin).
func (u User) can(want string) bool { return roleRank[u.Role] >= roleRank[want] }

var roleRank = map[string]int{config.RoleViewer: 1, config.RoleReviewer: 2, config.RoleAdmin: 3}

type userKey struct{}

// UserFrom returns the signed-in user of a request the Handler let
// through (ok=false for public paths and in open mode).
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// dummyHash is compared against when the user name is unknown, so an
// unknown name costs as much time as a wrong password.
const dummyHash = "$2a$10$HGnQWQ38bBQYekFyy5U/Oetzb1CHBySHWIUMxmc3ApDr0fDNhTlku"

// accounts checks passwords against the configured users.
type accounts struct {
	users map[string]config.User
	// ok caches recent successful basic-auth checks (sha256 of name and
	// password → expiry): bcrypt costs ~50 ms, too much per API call.
	mu sync.Mutex
	ok map[[32]byte]time.Time
}

func newAccounts(users []config.User) *accounts {
	a := &accounts{users: map[string]config.User{}, ok: map[[32]byte]time.Time{}}
	for _, u := range users {
		a.users[u.Name] = u
	}
	return a
}

// check returns the user when name and password match a configured user.
func (a *accounts) check(name, password string) (User, bool) {
	u, known := a.users[name]
	hash := dummyHash
	if known {
		hash = u.PasswordHash
	}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	if err != nil || !known {
		return User{}, false
	}
	return User{Name: u.Name, Role: u.Role}, true
}

const basicCacheTTL = time.Minute

// checkCached is check with a short cache of successes, for API clients
// that send basic auth with every request.
func (a *accounts) checkCached(name, password string, now time.Time) (User, bool) {
	key := sha256.Sum256([]byte(name + "\x00" + password))
	a.mu.Lock()
	exp, hit := a.ok[key]
	a.mu.Unlock()
	if hit && now.Before(exp) {
		u := a.users[name]
		return User{Name: u.Name, Role: u.Role}, true
	}
	u, ok := a.check(name, password)
	if !ok {
		return u, false
	}
	a.mu.Lock()
	if len(a.ok) >= 1000 {
		clear(a.ok)
	}
	a.ok[key] = now.Add(basicCacheTTL)
	a.mu.Unlock()
	return u, true
}

// session is one sign-in.
type session struct {
	user    User
	csrf    string
	expires time.Time
}

// sessions are kept in memory: a restart signs everyone out, which is
// the safe failure. They are keyed by the token's SHA-256, so the map
// holds nothing a cookie could be rebuilt from.
type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]*session
	ttl time.Duration
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{m: map[[32]byte]*session{}, ttl: ttl}
}

// create starts a session and returns its cookie token.
func (s *sessions) create(u User, now time.Time) (token string, sess *session) {
	token = randomToken()
	sess = &session{user: u, csrf: randomToken(), expires: now.Add(s.ttl)}
	s.mu.Lock()
	s.m[sha256.Sum256([]byte(token))] = sess
	s.mu.Unlock()
	return token, sess
}

// get returns the live session of a cookie token.
func (s *sessions) get(token string, now time.Time) (*session, bool) {
	if token == "" {
		return nil, false
	}
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[key]
	if !ok {
		return nil, false
	}
	if !now.Before(sess.expires) {
		delete(s.m, key)
		return nil, false
	}
	return sess, true
}

// retain keeps the sessions whose user keep says may stay, and returns
// how many it dropped.
func (s *sessions) retain(keep func(User) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, sess := range s.m {
		if !keep(sess.user) {
			delete(s.m, k)
			n++
		}
	}
	return n
}

func (s *sessions) delete(token string) {
	s.mu.Lock()
	delete(s.m, sha256.Sum256([]byte(token)))
	s.mu.Unlock()
}

// prune drops expired sessions.
func (s *sessions) prune(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, sess := range s.m {
		if !now.Before(sess.expires) {
			delete(s.m, k)
		}
	}
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sameToken compares secrets in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// limiter is a token bucket per key (client address, user name): burst
// attempts at once, then one per interval.
type limiter struct {
	burst    float64
	interval time.Duration
	mu       sync.Mutex
	buckets  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(burst int, interval time.Duration) *limiter {
	return &limiter{burst: float64(burst), interval: interval, buckets: map[string]*bucket{}}
}

// refill returns key's bucket brought up to now (l.mu held).
func (l *limiter) refill(key string, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= 10000 {
			l.pruneLocked(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()/l.interval.Seconds())
	b.at = now
	return b
}

// wait is how long key must wait before its next attempt (0: now).
func (l *limiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key, now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.interval))
}

// reset forgets key's spent attempts.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.buckets, key)
	l.mu.Unlock()
}

// take spends one attempt of key's.
func (l *limiter) take(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key, now)
	b.tokens = max(0, b.tokens-1)
}

// pruneLocked forgets full buckets; if that is not enough (an attack from
// many addresses), it forgets everything rather than grow without bound.
func (l *limiter) pruneLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()/l.interval.Seconds() >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= 10000 {
		clear(l.buckets)
	}
}
