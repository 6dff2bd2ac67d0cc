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
	now, ip := s.now(), clientIP(r)
	wait := s.signIns.wait(name, ip, now)
	if wait > 0 {
		s.metrics.signIns.WithLabelValues("rate_limited").Inc()
		s.Log.Warn("sign-in rate limited", "user", name, "remote", ip)
		d.Error, d.RetrySeconds = "err.rate_limited_wait", int((wait+time.Second-1)/time.Second)
		w.Header().Set("Retry-After", itoa(d.RetrySeconds))
		s.render(w, r, http.StatusTooManyRequests, "login", "", d)
		return
	}
	s.signIns.attempt(ip, now)
	u, ok := s.accounts.Load().check(name, password)
	if !ok {
		s.signIns.failed(name, ip, now)
		s.metrics.signIns.WithLabelValues("bad_credentials").Inc()
		s.Log.Warn("sign-in failed", "user", name, "remote", ip)
		d.Error = "err.bad_credentials"
		s.render(w, r, http.StatusUnauthorized, "login", "", d)
		return
	}
	s.signIns.succeeded(name, ip, now)
	// A new token at every sign-in: a cookie planted before cannot become
	// a session (fixation).
	if old, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.delete(old.Value)
	}
	token, sess := s.sessions.create(u, now)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure(r), Expires: sess.expires})
	s.metrics.signIns.WithLabelValues("ok").Inc()
	s.Log.Info("signed in", "user", u.Name, "role", u.Role, "remote", ip)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.delete(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure(r), MaxAge: -1})
	if u, ok := UserFrom(r.Context()); ok {
		s.Log.Info("signed out", "user", u.Name)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
