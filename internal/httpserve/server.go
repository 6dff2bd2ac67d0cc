// Package httpserve runs an HTTP server that holds up against slow and
// greedy clients: read, write and idle timeouts, a cap on open connections
// per client address, write deadlines that move with progress for long
// downloads, and native TLS whose certificate is read again when its files
// change. It knows nothing of what it serves (the review package wires it
// to StreetWatch's handlers and configuration).
package httpserve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Defaults for the zero values of Server's limits.
const (
	DefaultReadHeaderTimeout  = 10 * time.Second
	DefaultReadTimeout        = 30 * time.Second
	DefaultWriteTimeout       = 60 * time.Second
	DefaultIdleTimeout        = 120 * time.Second
	DefaultMaxConnsPerAddress = 64
)

// Server is one listening HTTP(S) server. Set the fields, call Listen,
// set Handler (it may depend on the address), then Serve until Shutdown.
type Server struct {
	// Addr is host:port to listen on.
	Addr    string
	Handler http.Handler
	// ReadHeaderTimeout bounds reading a request's headers, ReadTimeout
	// the whole request (headers and body): a client sending its body a
	// byte at a time is cut off. WriteTimeout bounds a response, except
	// for Streaming requests. IdleTimeout closes a keep-alive connection
	// that waits this long for its next request.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxConnsPerAddress caps open connections from one client address;
	// more are closed as soon as they are accepted.
	MaxConnsPerAddress int
	// Streaming picks the requests whose responses may take longer than
	// WriteTimeout (file downloads): their write deadline is WriteTimeout
	// from the latest write, so a big file reaches a client that keeps
	// reading, and one that stops is still cut off.
	Streaming func(*http.Request) bool
	// CertFile and KeyFile, when set, serve HTTPS (PEM files, read again
	// when either file changes).
	CertFile, KeyFile string
	Log               *slog.Logger

	ln    net.Listener
	certs *certReloader
	srv   *http.Server
}

// Listen opens the listening socket and, with TLS, loads the certificate
// (errors name the file).
func (s *Server) Listen() error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.CertFile != "" || s.KeyFile != "" {
		c, err := newCertReloader(s.CertFile, s.KeyFile, s.Log)
		if err != nil {
			return err
		}
		s.certs = c
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	s.ln = newLimitListener(ln, orDefault(s.MaxConnsPerAddress, DefaultMaxConnsPerAddress), s.Log)
	return nil
}

// ListenAddr is the address the server listens on (after Listen).
func (s *Server) ListenAddr() string { return s.ln.Addr().String() }

// URL is the server's base URL, http:// or https://.
func (s *Server) URL() string {
	if s.certs != nil {
		return "https://" + s.ListenAddr()
	}
	return "http://" + s.ListenAddr()
}

// Serve serves until Shutdown, then returns http.ErrServerClosed.
func (s *Server) Serve() error {
	if s.ln == nil {
		return errors.New("httpserve: Serve before Listen")
	}
	write := orDefault(s.WriteTimeout, DefaultWriteTimeout)
	h := s.Handler
	if s.Streaming != nil {
		h = streaming(h, s.Streaming, write)
	}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: orDefault(s.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       orDefault(s.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      write,
		IdleTimeout:       orDefault(s.IdleTimeout, DefaultIdleTimeout),
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug), // TLS handshake noise from scanners
	}
	if s.certs != nil {
		s.srv.TLSConfig = s.certs.tlsConfig()
		return s.srv.ServeTLS(s.ln, "", "")
	}
	return s.srv.Serve(s.ln)
}

// Shutdown stops accepting, waits for requests in progress until ctx ends,
// then closes every connection.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		if s.ln != nil {
			return s.ln.Close()
		}
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	return err
}

// Close releases the socket of a server that never served.
func (s *Server) Close() error {
	if s.srv != nil {
		return s.srv.Close()
	}
	if s.ln != nil {
		return s.ln.Close()
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// streaming gives the picked requests a write deadline that moves with
// each write (and no read deadline: the request was read, and the
// server's own check for a closed connection must not cancel a long
// download).
func streaming(next http.Handler, pick func(*http.Request) bool, step time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !pick(r) {
			next.ServeHTTP(w, r)
			return
		}
		pw := &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), step: step}
		_ = pw.rc.SetReadDeadline(time.Time{})
		pw.extend()
		next.ServeHTTP(pw, r)
	})
}

// progressWriter moves the connection's write deadline before each write.
type progressWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	step time.Duration
}

func (p *progressWriter) extend() { _ = p.rc.SetWriteDeadline(time.Now().Add(p.step)) }

func (p *progressWriter) Write(b []byte) (int, error) {
	p.extend()
	return p.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
