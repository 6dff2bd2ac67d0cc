package review

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
)

// Handler serves the review pages and guards next (the rest of the HTTP
// server: /api/v1/, /evidence/, /metrics, /healthz, /debug/).
//
// Access: /healthz and /static/ are public, /metrics too when
// public_metrics is set; /debug/ needs an admin; every other request
// needs a signed-in user (session cookie, or HTTP basic auth for API
// clients), and changes (any method but GET, HEAD, OPTIONS) need a
// reviewer and, with a session, the session's CSRF token. Local evidence
// links that carry a signature are capabilities (the work-order system
// gets them in webhooks) and go to next, which checks the signature.
// Weighing records posted to /api/v1/weighings come from weighbridge
// software, not people: they go to next without a session or CSRF token,
// and next checks the weighing source's own credential (token or HMAC
// signature). Listing them (GET) needs a signed-in user like the rest.
func (s *Server) Handler(next http.Handler) http.Handler {
	pages := http.NewServeMux()
	pages.Handle("GET /static/", http.StripPrefix("/static/", s.static()))
	pages.HandleFunc("GET /login", s.loginPage)
	pages.HandleFunc("POST /login", s.login)
	pages.HandleFunc("POST /logout", s.logout)
	pages.HandleFunc("GET /{$}", s.queuePage)
	pages.HandleFunc("GET /tickets/{id}", s.casePage)
	pages.HandleFunc("POST /tickets/{id}/{action}", s.action)
	pages.HandleFunc("GET /cameras", s.camerasPage)
	pages.HandleFunc("POST /cameras/reload", s.reloadConfig)
	pages.HandleFunc("GET /cameras/{id}/zones", s.zoneEditorPage)
	pages.HandleFunc("POST /cameras/{id}/zones", s.checkAreas)
	pages.HandleFunc("GET /cameras/{id}/picture", s.cameraPicture)
	pages.HandleFunc("GET /stations", s.stationsPage)
	pages.HandleFunc("GET /stations/{id}", s.stationPage)
	pages.HandleFunc("GET /stats", s.statsPage)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w)
		p := r.URL.Path
		_, pattern := pages.Handler(r)
		isPage := pattern != "" && !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/evidence/")
		switch {
		case strings.HasPrefix(p, "/static/"):
			pages.ServeHTTP(w, r)
			return
		case p == "/healthz":
			// Liveness for probes, without credentials; the details (camera
			// ids, states, last errors, which can name internal addresses)
			// only for a signed-in user, or on an open (loopback) server.
			details := s.open()
			if !details {
				if u, _, status := s.authenticate(r); status == 0 {
					details = true
					r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
				}
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), healthDetailsKey{}, details)))
			return
		case s.open():
			if isPage {
				s.render(w, r, http.StatusNotFound, "error", "", errorData{Message: "err.no_users"})
				return
			}
			next.ServeHTTP(w, r)
			return
		case p == "/metrics" && s.Config.PublicMetrics:
			next.ServeHTTP(w, r)
			return
		case p == "/login":
			s.xorigin.Handler(pages).ServeHTTP(w, r)
			return
		case strings.HasPrefix(p, "/evidence/") && r.URL.Query().Get("sig") != "":
			next.ServeHTTP(w, r)
			return
		case p == WeighingsPath && r.Method == http.MethodPost:
			// No ambient credential (cookie, basic auth) is honoured
			// there, so there is nothing for a forged request to borrow.
			next.ServeHTTP(w, r)
			return
		}

		u, sess, status := s.authenticate(r)
		if status != 0 {
			if status == http.StatusUnauthorized && isPage && r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			code, key := "unauthorized", "err.signin_required"
			switch status {
			case http.StatusTooManyRequests:
				key = "err.rate_limited"
			case http.StatusServiceUnavailable:
				code, key = "unavailable", "err.signin_unavailable"
			}
			s.refuse(w, r, status, code, key)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess))
		changes := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
		if changes {
			if err := s.xorigin.Check(r); err != nil {
				s.refuse(w, r, http.StatusForbidden, "csrf", "err.csrf")
				return
			}
			switch err := s.csrfCheck(r, sess); {
			case isTooLarge(err):
				s.refuse(w, r, http.StatusRequestEntityTooLarge, "too_large", "err.too_large")
				return
			case err != nil:
				s.refuse(w, r, http.StatusForbidden, "csrf", "err.csrf")
				return
			}
		}
		switch {
		case strings.HasPrefix(p, "/debug/") && !u.can(config.RoleAdmin):
			s.refuse(w, r, http.StatusForbidden, "forbidden", "err.forbidden")
			return
		case changes && p != "/logout" && !u.can(config.RoleReviewer):
			s.refuse(w, r, http.StatusForbidden, "forbidden", "err.forbidden")
			return
		}
		if isPage {
			pages.ServeHTTP(w, r)
			return
		}
		// The API names the person from this header: it is the signed-in
		// user, whatever the client sent.
		r.Header.Del(dispatch.HeaderUser)
		r.Header.Set(dispatch.HeaderUser, u.Name)
		next.ServeHTTP(w, r)
	})
}

// WeighingsPath is where weighing sources post their records.
const WeighingsPath = "/api/v1/weighings"

type sessionKey struct{}

type healthDetailsKey struct{}

// HealthDetails tells the /healthz handler whether it may answer more
// than the status: the request comes from a signed-in user, or the server
// has no users (the review page off, the API open on loopback).
func HealthDetails(r *http.Request) bool {
	d, _ := r.Context().Value(healthDetailsKey{}).(bool)
	return d
}

// authenticate finds the request's user: a session cookie, or basic auth.
// status is 401 without valid credentials, 429 when rate limited, 503
// when the sign-in store fails (sessions cannot be checked, attempts
// cannot be counted: nobody gets in).
func (s *Server) authenticate(r *http.Request) (User, *session, int) {
	ctx, now := r.Context(), s.now()
	if name, password, ok := r.BasicAuth(); ok {
		ip := clientIP(r)
		switch wait, err := s.signIns.wait(ctx, name, ip, now); {
		case err != nil:
			s.storeFailed("limit", err)
			s.metrics.signIns.WithLabelValues("unavailable").Inc()
			return User{}, nil, http.StatusServiceUnavailable
		case wait > 0:
			s.metrics.signIns.WithLabelValues("rate_limited").Inc()
			return User{}, nil, http.StatusTooManyRequests
		}
		u, ok, cached := s.accounts.Load().checkCached(name, password, now)
		if !ok {
			if err := errors.Join(s.signIns.attempt(ctx, ip, now), s.signIns.failed(ctx, name, ip, now)); err != nil {
				s.storeFailed("limit", err)
			}
			s.metrics.signIns.WithLabelValues("bad_credentials").Inc()
			s.Log.Warn("basic auth failed", "user", name, "remote", ip)
			return User{}, nil, http.StatusUnauthorized
		}
		// A cached success was recorded when it was checked in full, less
		// than basicCacheTTL ago: no writes for every API call.
		if cached {
			return u, nil, 0
		}
		if err := s.signIns.succeeded(ctx, name, ip, now); err != nil {
			// The password is right; the only loss is this address not
			// counting as the user's for a while.
			s.storeFailed("limit", err)
		}
		return u, nil, 0
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		sess, err := s.session(ctx, c.Value, now)
		if err != nil {
			s.storeFailed("session", err)
			return User{}, nil, http.StatusServiceUnavailable
		}
		if sess != nil {
			return sess.user, sess, 0
		}
	}
	return User{}, nil, http.StatusUnauthorized
}

var errNoCSRFToken = errors.New("no valid CSRF token")

// csrfCheck checks a change's CSRF token. With a session the token is the
// session's, from the form or the X-CSRF-Token header. With basic auth
// there is no ambient credential a forged request could borrow (the
// server never asks browsers for basic auth), and the JSON content type
// it must send cannot cross origins without a CORS preflight, which this
// server never grants. A form over maxFormBytes is an error isTooLarge
// reports.
func (s *Server) csrfCheck(r *http.Request, sess *session) error {
	if sess == nil {
		if mediaType(r) != "application/json" {
			return errNoCSRFToken
		}
		return nil
	}
	if sameToken(r.Header.Get(csrfHeader), sess.csrf) {
		return nil
	}
	if mt := mediaType(r); mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data" {
		return errNoCSRFToken
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return err
	}
	if !sameToken(r.PostForm.Get(csrfField), sess.csrf) {
		return errNoCSRFToken
	}
	return nil
}

// mediaType is the request's content type without parameters, in lower
// case ("" when missing or malformed): "APPLICATION/JSON; charset=utf-8"
// is JSON, "application/jsonp" is not.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// isTooLarge reports whether err is a body over its http.MaxBytesReader
// limit.
func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// refuse answers a refused request: JSON for the API and other machine
// paths, a page for people.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, code, key string) {
	switch status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "60")
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "10")
	}
	p := r.URL.Path
	if strings.HasPrefix(p, "/api/") || p == "/metrics" || strings.HasPrefix(p, "/debug/") || strings.HasPrefix(p, "/evidence/") ||
		strings.Contains(r.Header.Get("Accept"), "application/json") {
		msg, _ := s.catalogs["en"].text(key)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(dispatch.APIError{Error: msg, Code: code})
		return
	}
	s.render(w, r, status, "error", "", errorData{Message: key})
}

// clientIP is the connection's address. X-Forwarded-For is not trusted:
// behind a proxy every client shares the proxy's limit, and the per-user
// limit still holds.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func setSecurityHeaders(w http.ResponseWriter) {
	h := w.Header()
	// Evidence may come from an S3 endpoint (presigned links); scripts,
	// styles and everything else only from here.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: http: https:; media-src 'self' http: https:; "+
		"style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer") // page URLs and evidence links stay here
}
