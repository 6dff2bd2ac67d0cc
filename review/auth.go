package review

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
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
// that send basic auth with every request; cached says the answer came
// from the cache (a full check succeeded within basicCacheTTL).
func (a *accounts) checkCached(name, password string, now time.Time) (u User, ok, cached bool) {
	key := sha256.Sum256([]byte(name + "\x00" + password))
	a.mu.Lock()
	exp, hit := a.ok[key]
	a.mu.Unlock()
	if hit && now.Before(exp) {
		c := a.users[name]
		return User{Name: c.Name, Role: c.Role}, true, true
	}
	u, ok = a.check(name, password)
	if !ok {
		return u, false, false
	}
	a.mu.Lock()
	if len(a.ok) >= 1000 {
		clear(a.ok)
	}
	a.ok[key] = now.Add(basicCacheTTL)
	a.mu.Unlock()
	return u, true, false
}

// fingerprint stands for a user's credentials: a session made under one
// is good only while this node's accounts give the same, so a changed
// password or role, or a removed user, signs the user out on every node,
// whenever it reloads, and after a restart.
func fingerprint(u config.User) string {
	h := sha256.Sum256([]byte(u.Role + "\x00" + u.PasswordHash))
	return hex.EncodeToString(h[:])
}

// holds reports whether a session of name made under fp is still good
// here, and for whom.
func (a *accounts) holds(name, fp string) (User, bool) {
	u, ok := a.users[name]
	if !ok || fingerprint(u) != fp {
		return User{}, false
	}
	return User{Name: u.Name, Role: u.Role}, true
}

// session is the sign-in a request came with.
type session struct {
	user    User
	csrf    string
	expires time.Time
}

// Sessions live in the AuthStore (the ticket database, shared by every
// node; else memory, where a restart signs everyone out), keyed by the
// token's SHA-256: nothing stored rebuilds a cookie.

// createSession starts a session and returns its cookie token; fp is the
// fingerprint of the credentials u signed in with.
func (s *Server) createSession(ctx context.Context, u User, fp string, now time.Time) (token string, sess *session, err error) {
	token = randomToken()
	a := dispatch.AuthSession{TokenSHA256: sha256.Sum256([]byte(token)), User: u.Name, Role: u.Role,
		CSRF: randomToken(), Fingerprint: fp, Expires: now.Add(s.sessionTTL)}
	if err := s.auth.CreateSession(ctx, a); err != nil {
		return "", nil, err
	}
	return token, &session{user: u, csrf: a.CSRF, expires: a.Expires}, nil
}

// session is the live session of a cookie token (nil: none, expired, or
// its user's credentials have changed since).
func (s *Server) session(ctx context.Context, token string, now time.Time) (*session, error) {
	if token == "" {
		return nil, nil
	}
	a, ok, err := s.auth.Session(ctx, sha256.Sum256([]byte(token)), now)
	if err != nil || !ok {
		return nil, err
	}
	// Not deleted when it no longer holds: a node that has not reloaded
	// yet would delete the sessions of the new password. SetUsers and
	// expiry do.
	u, ok := s.accounts.Load().holds(a.User, a.Fingerprint)
	if !ok {
		return nil, nil
	}
	return &session{user: u, csrf: a.CSRF, expires: a.Expires}, nil
}

func (s *Server) endSession(ctx context.Context, token string) error {
	return s.auth.DeleteSession(ctx, sha256.Sum256([]byte(token)))
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

// storeFailed counts and logs an AuthStore error; op (session, limit,
// sign_out, prune) says what could not be done. The caller refuses what
// depended on it.
func (s *Server) storeFailed(op string, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	s.metrics.authStoreErrors.WithLabelValues(op).Inc()
	if ok, held := s.storeLog.Allow(time.Now()); ok {
		s.Log.Error("sign-in store failed: sign-ins are refused while it fails", "op", op, "err", err, "suppressed", held)
	}
}
