package review

import (
	"net/http"
	"strings"
	"time"
)

type loginData struct {
	Next, Name, Token string
	// Error is a catalog key; RetrySeconds goes with err.rate_limited_wait.
	Error        string
	RetrySeconds int
}

// loginPage shows the sign-in form. Its CSRF token is a double-submit
// cookie: there is no session yet to keep it in.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	d := loginData{Next: safeNext(r.URL.Query().Get("next")), Token: s.loginToken(w, r)}
	s.render(w, r, http.StatusOK, "login", "", d)
}

func (s *Server) loginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCSRFCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: tok, Path: "/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secure(r), MaxAge: 3600})
	return tok
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if isTooLarge(err) {
			s.refuse(w, r, http.StatusRequestEntityTooLarge, "too_large", "err.too_large")
			return
		}
		s.refuse(w, r, http.StatusBadRequest, "bad_request", "err.bad_request")
		return
	}
	name, password := strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("password")
	d := loginData{Next: safeNext(r.PostForm.Get("next")), Name: name, Token: s.loginToken(w, r)}
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || !sameToken(r.PostForm.Get(csrfField), c.Value) {
		d.Error = "err.csrf_login"
		s.render(w, r, http.StatusForbidden, "login", "", d)
		return
	}
	ctx, now, ip := r.Context(), s.now(), clientIP(r)
	unavailable := func(op string, err error) {
		s.storeFailed(op, err)
		s.metrics.signIns.WithLabelValues("unavailable").Inc()
		d.Error = "err.signin_unavailable"
		w.Header().Set("Retry-After", "10")
		s.render(w, r, http.StatusServiceUnavailable, "login", "", d)
	}
	wait, err := s.signIns.wait(ctx, name, ip, now)
	if err != nil {
		unavailable("limit", err)
		return
	}
	if wait > 0 {
		s.metrics.signIns.WithLabelValues("rate_limited").Inc()
		s.Log.Warn("sign-in rate limited", "user", name, "remote", ip)
		d.Error, d.RetrySeconds = "err.rate_limited_wait", int((wait+time.Second-1)/time.Second)
		w.Header().Set("Retry-After", itoa(d.RetrySeconds))
		s.render(w, r, http.StatusTooManyRequests, "login", "", d)
		return
	}
	// Counted before the password is compared: an attempt the store
	// cannot count is not made.
	if err := s.signIns.attempt(ctx, ip, now); err != nil {
		unavailable("limit", err)
		return
	}
	acc := s.accounts.Load()
	u, ok := acc.check(name, password)
	if !ok {
		if err := s.signIns.failed(ctx, name, ip, now); err != nil {
			s.storeFailed("limit", err)
		}
		s.metrics.signIns.WithLabelValues("bad_credentials").Inc()
		s.Log.Warn("sign-in failed", "user", name, "remote", ip)
		d.Error = "err.bad_credentials"
		s.render(w, r, http.StatusUnauthorized, "login", "", d)
		return
	}
	if err := s.signIns.succeeded(ctx, name, ip, now); err != nil {
		s.storeFailed("limit", err)
	}
	// A new token at every sign-in: a cookie planted before cannot become
	// a session (fixation).
	if old, err := r.Cookie(sessionCookie); err == nil {
		if err := s.endSession(ctx, old.Value); err != nil {
			s.storeFailed("sign_out", err)
		}
	}
	token, sess, err := s.createSession(ctx, u, fingerprint(acc.users[u.Name]), now)
	if err != nil {
		unavailable("session", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure(r), Expires: sess.expires})
	s.metrics.signIns.WithLabelValues("ok").Inc()
	s.Log.Info("signed in", "user", u.Name, "role", u.Role, "remote", ip)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.endSession(r.Context(), c.Value); err != nil {
			// The cookie goes below, but the session would stay good for
			// whoever copied it: say so rather than pretend.
			s.storeFailed("sign_out", err)
			s.refuse(w, r, http.StatusServiceUnavailable, "unavailable", "err.signin_unavailable")
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure(r), MaxAge: -1})
	if u, ok := UserFrom(r.Context()); ok {
		s.Log.Info("signed out", "user", u.Name)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
