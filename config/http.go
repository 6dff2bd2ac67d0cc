package config

import (
	"path/filepath"
	"time"
)

// The HTTP server's limits. Requests are small (forms and JSON up to 64
// KiB); responses are pages and JSON, except evidence downloads, whose
// write deadline moves with each write (a clip of any size goes through
// as long as the client keeps reading).
//
//	http:
//	  listen: 0.0.0.0:8443
//	  read_timeout: 30s          # a whole request, headers and body
//	  write_timeout: 60s         # a whole response (evidence: per write)
//	  idle_timeout: 120s         # a keep-alive connection between requests
//	  max_conns_per_address: 64  # open connections from one client address
//	  tls:
//	    cert_file: /etc/streetwatch/tls/cert.pem   # reloaded when changed
//	    key_file: /etc/streetwatch/tls/key.pem

// TLS serves HTTPS with a certificate and key in PEM files. Both files are
// read again when either changes (a renewed certificate needs no restart).
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

func (t *TLS) resolvePaths(dir string) {
	for _, p := range []*string{&t.CertFile, &t.KeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// defaultsHTTP fills the http section's defaults.
func (c *Config) defaultsHTTP() {
	h := &c.HTTP
	if h.ReadTimeout == 0 {
		h.ReadTimeout = Duration(30 * time.Second)
	}
	if h.WriteTimeout == 0 {
		h.WriteTimeout = Duration(60 * time.Second)
	}
	if h.IdleTimeout == 0 {
		h.IdleTimeout = Duration(120 * time.Second)
	}
	if h.MaxConnsPerAddress == 0 {
		h.MaxConnsPerAddress = 64
	}
}

// validateHTTP checks the http section's limits and TLS files.
func (c *Config) validateHTTP(bad func(path, format string, args ...any)) {
	h := &c.HTTP
	for _, d := range []struct {
		path     string
		v        Duration
		min, max time.Duration
	}{
		{"http.read_timeout", h.ReadTimeout, time.Second, time.Hour},
		{"http.write_timeout", h.WriteTimeout, time.Second, time.Hour},
		{"http.idle_timeout", h.IdleTimeout, time.Second, time.Hour},
	} {
		if d.v.D() < d.min || d.v.D() > d.max {
			bad(d.path, "must be between %s and %s (got %s)", d.min, d.max, d.v)
		}
	}
	if h.MaxConnsPerAddress < 1 || h.MaxConnsPerAddress > 100000 {
		bad("http.max_conns_per_address", "must be between 1 and 100000 (got %d)", h.MaxConnsPerAddress)
	}
	// The files are read when the server starts (relative paths are
	// resolved after validation), with errors naming these fields.
	t := h.TLS
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		bad("http.tls.key_file", "required with http.tls.cert_file")
	case t.KeyFile != "" && t.CertFile == "":
		bad("http.tls.cert_file", "required with http.tls.key_file")
	}
}
