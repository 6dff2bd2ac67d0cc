package httpserve

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// certReloader serves a certificate from files and reads them again when
// either changes (a renewal tool replaced them): no restart is needed, and
// a broken renewal keeps the previous certificate, with an error logged.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu     sync.Mutex
	cert   *tls.Certificate
	certSt os.FileInfo // as last loaded (or tried)
	keySt  os.FileInfo
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// load reads both files (r.mu held, or before use).
func (r *certReloader) load() error {
	cst, err := os.Stat(r.certFile)
	if err != nil {
		return fmt.Errorf("TLS certificate file: %w", err)
	}
	kst, err := os.Stat(r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS key file: %w", err)
	}
	r.certSt, r.keySt = cst, kst
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s with key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert = &c
	return nil
}

func changed(old os.FileInfo, path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false // being replaced; keep serving the old one
	}
	return !os.SameFile(old, st) || !st.ModTime().Equal(old.ModTime()) || st.Size() != old.Size()
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if changed(r.certSt, r.certFile) || changed(r.keySt, r.keyFile) {
		old := r.cert
		if err := r.load(); err != nil {
			r.cert = old
			r.log.Error("http: TLS certificate files changed but cannot be loaded; serving the previous certificate", "err", err)
		} else {
			r.log.Info("http: TLS certificate reloaded", "cert_file", r.certFile, "subject", r.cert.Leaf.Subject.String(),
				"not_after", r.cert.Leaf.NotAfter)
		}
	}
	return r.cert, nil
}

func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.getCertificate}
}
