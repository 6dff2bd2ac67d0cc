package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const httpCam = "cameras:\n  - id: cam1\n    url: rtsp://127.0.0.1/a\n"

func TestHTTPLimitsHaveDefaults(t *testing.T) {
	cfg, err := Parse([]byte(httpCam))
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.HTTP
	if h.ReadTimeout.D() != 30*time.Second || h.WriteTimeout.D() != time.Minute || h.IdleTimeout.D() != 2*time.Minute ||
		h.MaxConnsPerAddress != 64 || h.TLS.Enabled() {
		t.Errorf("http defaults: %+v", h)
	}
}

func TestHTTPLimitsAndTLSFilesAreValidatedByField(t *testing.T) {
	cert, key := "/etc/tls/cert.pem", "/etc/tls/key.pem"
	for _, tc := range []struct{ yaml, want string }{
		{"http: {read_timeout: 500ms}\n", "http.read_timeout: must be between 1s and 1h0m0s (got 500ms)"},
		{"http: {write_timeout: 2h}\n", "http.write_timeout: must be between"},
		{"http: {idle_timeout: 10ms}\n", "http.idle_timeout: must be between"},
		{"http: {max_conns_per_address: -1}\n", "http.max_conns_per_address: must be between 1 and 100000 (got -1)"},
		{"http: {tls: {cert_file: " + cert + "}}\n", "http.tls.key_file: required with http.tls.cert_file"},
		{"http: {tls: {key_file: " + key + "}}\n", "http.tls.cert_file: required with http.tls.key_file"},
	} {
		_, err := Parse([]byte(tc.yaml + httpCam))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestTLSFilesAreRelativeToTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "streetwatch.yaml")
	yaml := "http: {tls: {cert_file: tls/cert.pem, key_file: tls/key.pem}}\n" + httpCam
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.TLS.CertFile != filepath.Join(dir, "tls", "cert.pem") || cfg.HTTP.TLS.KeyFile != filepath.Join(dir, "tls", "key.pem") {
		t.Errorf("tls files: %+v", cfg.HTTP.TLS)
	}
}
