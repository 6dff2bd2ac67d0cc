package miniotest

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSetupScriptBuildsThisVersion(t *testing.T) {
	raw, err := os.ReadFile("../../scripts/setup.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "minio_version="+Version) {
		t.Fatalf("scripts/setup.sh does not build MinIO %s (miniotest.Version)", Version)
	}
}

func ready(s *Server) bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(s.URL() + "/minio/health/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestServerStopsAndRestartsOnSamePort(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.Endpoint, "127.0.0.1:") || s.AccessKey == "" || len(s.SecretKey) < 8 {
		t.Fatalf("server %+v", s)
	}
	if !ready(s) {
		t.Fatal("not ready after Start")
	}
	endpoint := s.Endpoint
	s.Stop()
	if ready(s) {
		t.Fatal("still answering after Stop")
	}
	s.Stop() // idempotent
	s.Restart()
	if s.Endpoint != endpoint || !ready(s) {
		t.Fatalf("after Restart: endpoint %s (was %s), ready %v", s.Endpoint, endpoint, ready(s))
	}
}
