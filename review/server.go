package review

import (
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/internal/lograte"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Cookie and header names.
const (
	sessionCookie    = "streetwatch_session"
	loginCSRFCookie  = "streetwatch_login_csrf"
	csrfField        = "csrf"
	csrfHeader       = "X-CSRF-Token"
	maxFormBytes     = 64 << 10
	maxFilterLen     = 200 // characters of one queue filter value
	pruneInterval    = time.Minute
	defaultPageLimit = 50
)

// Server is the review web page and the gate in front of the HTTP server.
// Set the exported fields, call Initialize, run Run for the background
// work (camera frame rates, expired sessions) and mount Handler.
type Server struct {
	Config config.Review
	// Tickets is the ticket store (Service(p.Tickets())); nil: the queue
	// and case pages say there are no tickets.
	Tickets Tickets
	// Districts are the configured districts (reassign, filters);
	// SetDistricts replaces them while the server runs.
	Districts []string
	// Cameras reports each camera's state for the cameras page, which
	// shows the rate of FramesSampled over the last minute.
	Cameras func() []CameraStatus
	// Stations are the configured garbage stations; StationReports reads
	// their days, which begin at midnight in StationTimezone
	// (weighing.timezone; nil: review.timezone). Without both there is no
	// station view.
	Stations        []config.Station
	StationReports  StationReports
	StationTimezone *time.Location
	// Stats computes the statistics page (nil: no page). Its days are
	// StationTimezone's, like the API's.
	Stats StatsSource
	// RunningConfig is the config the pipeline runs; with Picture (a
	// camera's next sampled frame and its detections) it makes the zone
	// and mask editor (admins; nil: no editor).
	RunningConfig func() *config.Config
	Picture       func(ctx context.Context, camera string) (CameraPicture, error)
	// Reload re-reads the config file and applies it (the cameras page's
	// button, admins; nil: no button).
	Reload func() ReloadReport
	// Evidence is the evidence store: manifests are read from it and
	// links made with it, valid for LinkExpiry.
	Evidence   evidence.Store
	LinkExpiry time.Duration
	// Auth keeps the sessions and the sign-in limiter: the ticket
	// database's (Service.Auth), so that every node shares them; nil:
	// memory, this process's alone.
	Auth dispatch.AuthStore
	// Registerer takes the review metrics (nil: not registered).
	Registerer prometheus.Registerer
	Log        *slog.Logger

	accounts   atomic.Pointer[accounts]
	districts  atomic.Pointer[[]string]
	auth       dispatch.AuthStore
	sessionTTL time.Duration
	signIns    *signInGuard
	storeLog   lograte.Limiter // the AuthStore's errors, a line a minute
	catalogs   map[string]catalog
	pages      map[string]*template.Template // language → page set
	loc        *time.Location
	fps        *frameRates
	manifests  *manifestCache
	metrics    *metrics
	xorigin    *http.CrossOriginProtection
	now        func() time.Time
}

// Initialize checks the configuration and prepares templates, catalogs
// and the user table.
func (s *Server) Initialize() error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.Log = s.Log.With("stage", "review")
	if s.now == nil {
		s.now = time.Now
	}
	if s.LinkExpiry <= 0 {
		s.LinkExpiry = time.Hour
	}
	ttl := s.Config.SessionTTL.D()
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	tz := s.Config.Timezone
	if tz == "" {
		tz = "Asia/Shanghai"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return fmt.Errorf("review.timezone: %w", err)
	}
	s.loc = loc
	s.storeLog.Every = time.Minute
	s.accounts.Store(newAccounts(s.Config.Users))
	s.districts.Store(&s.Districts)
	s.sessionTTL = ttl
	s.auth = s.Auth
	if s.auth == nil {
		s.auth = newMemoryAuth()
	}
	s.signIns = &signInGuard{store: s.auth}
	if s.catalogs, err = loadCatalogs(); err != nil {
		return err
	}
	if s.pages, err = s.parseTemplates(); err != nil {
		return err
	}
	s.fps = newFrameRates(nil)
	if s.Cameras != nil {
		s.fps = newFrameRates(s.sampledFrames)
	}
	s.manifests = newManifestCache(s.Evidence)
	s.metrics = newMetrics(s.Registerer)
	s.xorigin = http.NewCrossOriginProtection()
	s.xorigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.refuse(w, r, http.StatusForbidden, "csrf", "err.csrf")
	}))
	if len(s.Config.Users) == 0 {
		s.Log.Warn("no review.users configured: the review page is off and the API, evidence and metrics are open to anyone who can reach the loopback address; add users to require signing in")
	}
	return nil
}

// Run samples camera frame counters and drops expired sessions and full
// sign-in limits until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	tick := time.NewTicker(frameRateInterval)
	defer tick.Stop()
	prune := time.NewTicker(pruneInterval)
	defer prune.Stop()
	s.fps.sample(s.now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			s.fps.sample(s.now())
		case <-prune.C:
			now := s.now()
			if err := s.auth.PruneAuth(ctx, now, now.Add(-knownAddressTTL)); err != nil && ctx.Err() == nil {
				s.storeFailed("prune", err)
			}
		}
	}
}

// open reports whether no users are configured (loopback-only mode).
func (s *Server) open() bool { return len(s.Config.Users) == 0 }

// SetDistricts replaces the districts offered for reassignment and as
// filters (a config reload).
func (s *Server) SetDistricts(d []string) { s.districts.Store(&d) }

func (s *Server) districtList() []string { return *s.districts.Load() }

// SetUsers replaces the review users while the server runs (a config
// reload): new passwords and roles count from the next request; a user
// removed, or whose role or password changed, is signed out (on every
// node sharing the AuthStore: each checks a session's credentials
// against its own users at each request). Going from
// no users (the page off, the API open on loopback) to some, or back,
// takes a restart: SetUsers refuses it.
func (s *Server) SetUsers(users []config.User) error {
	if (len(users) == 0) != s.open() {
		return fmt.Errorf("review.users: switching sign-in on or off takes a restart")
	}
	next := newAccounts(users)
	s.accounts.Store(next)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dropped, err := s.auth.DropSessions(ctx, func(name, fp string) bool {
		_, holds := next.holds(name, fp)
		return !holds
	})
	if err != nil {
		// The sessions stay stored, but no request gets through on them.
		s.Log.Warn("review users reloaded; deleting their sessions failed", "users", len(users), "signed_out", dropped, "err", err)
		return nil
	}
	s.Log.Info("review users reloaded", "users", len(users), "signed_out", dropped)
	return nil
}

// secure reports whether cookies must be Secure.
func (s *Server) secure(r *http.Request) bool { return s.Config.SecureCookies || r.TLS != nil }

// static serves the embedded scripts and styles; folders are not listed.
func (s *Server) static() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(r.URL.Path, "/")
		if name == "" {
			name = "."
		}
		if st, err := fs.Stat(sub, name); err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// manifestCache keeps decoded manifests (they never change once stored).
type manifestCache struct {
	store evidence.Store
	mu    sync.Mutex
	m     map[string]*evidence.Manifest
}

func newManifestCache(store evidence.Store) *manifestCache {
	return &manifestCache{store: store, m: map[string]*evidence.Manifest{}}
}

// get reads the manifest of the bundle at prefix.
func (c *manifestCache) get(ctx context.Context, prefix string) (*evidence.Manifest, error) {
	if c.store == nil {
		return nil, errors.New("no evidence store")
	}
	c.mu.Lock()
	m, ok := c.m[prefix]
	c.mu.Unlock()
	if ok {
		return m, nil
	}
	rc, err := c.store.Get(ctx, prefix+evidence.ManifestName)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, err
	}
	m, err = evidence.DecodeManifest(raw)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= 512 {
		clear(c.m)
	}
	c.m[prefix] = m
	c.mu.Unlock()
	return m, nil
}

// safeNext keeps redirects after sign-in on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}

// encodeBack and decodeBack carry the queue's URL through a form.
func encodeBack(u string) string { return base64.RawURLEncoding.EncodeToString([]byte(u)) }

func decodeBack(v string) string {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return ""
	}
	return safeNext(string(b))
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
