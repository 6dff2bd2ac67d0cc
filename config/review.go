package config

import (
	"fmt"
	"net"
	"strings"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// Review configures the review web page and who may use the HTTP server:
// local users with bcrypt password hashes and roles, sessions, and
// whether /metrics is public.
//
//	review:
//	  users:
//	    - {name: 张伟, password_hash: "$2a$10$...", role: reviewer}   # streetwatch hash-password
//	    - {name: ops, password_hash: "${OPS_PASSWORD_HASH}", role: admin}
//	  session_ttl: 12h
//	  secure_cookies: true     # behind a TLS-terminating proxy
//	  public_metrics: false
//	  timezone: Asia/Shanghai
//
// With users, every page and API call needs a signed-in user (a session
// cookie, or HTTP basic auth for API clients) except /healthz, and
// /metrics when PublicMetrics is set. Without users the server may only
// listen on a loopback address: the pages are off and the API is open to
// local processes, as before authentication existed.
type Review struct {
	Users []User `yaml:"users"`
	// SessionTTL is how long a sign-in lasts (default 12h: a shift).
	SessionTTL Duration `yaml:"session_ttl"`
	// SecureCookies marks cookies Secure (HTTPS only). Set it behind a
	// TLS-terminating reverse proxy; requests that arrive over TLS get
	// Secure cookies anyway.
	SecureCookies bool `yaml:"secure_cookies"`
	// PublicMetrics serves /metrics without sign-in (for a Prometheus that
	// cannot send basic auth).
	PublicMetrics bool `yaml:"public_metrics"`
	// Timezone the pages show times in (default Asia/Shanghai).
	Timezone string `yaml:"timezone"`
	// PrecisionWarning: the statistics page warns about a camera whose
	// precision (confirmed / reviewed) over the period is below it, once
	// at least PrecisionMinReviewed of its cases were reviewed (defaults
	// 0.7 and 10).
	PrecisionWarning     float64 `yaml:"precision_warning"`
	PrecisionMinReviewed int     `yaml:"precision_min_reviewed"`
}

// User is a person (or an API client) who may sign in.
type User struct {
	// Name is shown in the audit log of every change the user makes.
	Name string `yaml:"name"`
	// PasswordHash is a bcrypt hash ($2a$/$2b$/$2y$), as printed by
	// `streetwatch hash-password`; ${VAR} is expanded.
	PasswordHash string `yaml:"password_hash"`
	// Role is viewer (read only), reviewer (confirm, reject, reassign,
	// note) or admin (reviewer, plus /debug/); default viewer.
	Role string `yaml:"role"`
}

// String hides the password hash (configs get logged and printed).
func (u User) String() string { return fmt.Sprintf("%s (%s)", u.Name, u.Role) }

// Roles, from least to most allowed.
const (
	RoleViewer   = "viewer"
	RoleReviewer = "reviewer"
	RoleAdmin    = "admin"
)

// defaultsReview fills the review section's defaults.
func (c *Config) defaultsReview() {
	r := &c.Review
	if r.SessionTTL == 0 {
		r.SessionTTL = Duration(12 * time.Hour)
	}
	if r.Timezone == "" {
		r.Timezone = "Asia/Shanghai"
	}
	if r.PrecisionWarning == 0 {
		r.PrecisionWarning = 0.7
	}
	if r.PrecisionMinReviewed == 0 {
		r.PrecisionMinReviewed = 10
	}
	for i := range r.Users {
		u := &r.Users[i]
		u.PasswordHash = expandVars(u.PasswordHash)
		if u.Role == "" {
			u.Role = RoleViewer
		}
	}
}

// validateReview checks the review section.
func (c *Config) validateReview(bad func(path, format string, args ...any)) {
	r := &c.Review
	if r.SessionTTL.D() < 5*time.Minute || r.SessionTTL.D() > 7*24*time.Hour {
		bad("review.session_ttl", "must be between 5m and 168h (got %s)", r.SessionTTL)
	}
	if _, err := time.LoadLocation(r.Timezone); err != nil {
		bad("review.timezone", "unknown time zone %q", r.Timezone)
	}
	if r.PrecisionWarning < 0 || r.PrecisionWarning > 1 {
		bad("review.precision_warning", "must be between 0 and 1 (got %g)", r.PrecisionWarning)
	}
	if r.PrecisionMinReviewed < 1 {
		bad("review.precision_min_reviewed", "must be at least 1 (got %d)", r.PrecisionMinReviewed)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err == nil && len(r.Users) == 0 && !IsLoopback(c.HTTP.Listen) {
		bad("review.users", "at least one user is needed when http.listen (%s) is not a loopback address: every page and API call requires signing in", c.HTTP.Listen)
	}
	seen := map[string]int{}
	for i, u := range r.Users {
		p := fmt.Sprintf("review.users[%d]", i)
		switch {
		case u.Name == "":
			bad(p+".name", "required")
		case len(u.Name) > 64:
			bad(p+".name", "must be at most 64 bytes (got %d)", len(u.Name))
		case strings.ContainsFunc(u.Name, func(r rune) bool { return r == ':' || unicode.IsControl(r) }) || strings.TrimSpace(u.Name) != u.Name:
			bad(p+".name", "must not contain ':' or control characters, nor start or end with a space (got %q)", u.Name)
		default:
			if j, dup := seen[u.Name]; dup {
				bad(p+".name", "%q is already used by review.users[%d]", u.Name, j)
			}
			seen[u.Name] = i
		}
		switch {
		case u.PasswordHash == "":
			bad(p+".password_hash", "required (make one with `streetwatch hash-password`)")
		case strings.Contains(u.PasswordHash, "${"):
			bad(p+".password_hash", "environment variable %s is not set", varName(u.PasswordHash))
		default:
			if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
				bad(p+".password_hash", "not a bcrypt hash (make one with `streetwatch hash-password`)")
			}
		}
		switch u.Role {
		case RoleViewer, RoleReviewer, RoleAdmin:
		default:
			bad(p+".role", "must be viewer, reviewer or admin (got %q)", u.Role)
		}
	}
}

// IsLoopback reports whether a host:port listen address only accepts
// connections from this machine (127.0.0.0/8, ::1, localhost).
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
