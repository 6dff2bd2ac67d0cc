package review

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/httpserve"
)

// HTTPServer is StreetWatch's HTTP server for cfg.HTTP: its timeouts,
// per-address connection cap and TLS, with evidence downloads (/evidence/)
// allowed past the write timeout while the client keeps reading. Set its
// Handler (Server.Handler around the rest), then Listen and Serve.
//
// People type passwords into this server: with review users on an
// address other machines reach and neither native TLS nor
// review.secure_cookies (a TLS proxy in front), it warns once.
func HTTPServer(cfg *config.Config, log *slog.Logger) *httpserve.Server {
	h := cfg.HTTP
	if len(cfg.Review.Users) > 0 && !config.IsLoopback(h.Listen) && !h.TLS.Enabled() && !cfg.Review.SecureCookies {
		log.Warn(plainHTTPWarning, "listen", h.Listen)
	}
	return &httpserve.Server{
		Addr:               h.Listen,
		ReadTimeout:        h.ReadTimeout.D(),
		WriteTimeout:       h.WriteTimeout.D(),
		IdleTimeout:        h.IdleTimeout.D(),
		MaxConnsPerAddress: h.MaxConnsPerAddress,
		Streaming:          isEvidenceDownload,
		CertFile:           h.TLS.CertFile,
		KeyFile:            h.TLS.KeyFile,
		Log:                log,
	}
}

const plainHTTPWarning = "review users sign in over plain HTTP on a network address: passwords and session cookies cross the network readable; " +
	"set http.tls.cert_file and key_file, or put a TLS proxy in front and set review.secure_cookies"

func isEvidenceDownload(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, "/evidence/")
}
