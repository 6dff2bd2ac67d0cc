package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/streetwatch/streetwatch/config"
)

// run wires stations and weighing sources from the config into the real
// HTTP server: behind the sign-in gate a weighbridge posts with its token
// alone, the counter shows it, a reviewer lists it, and the token is in no
// log line.
func TestRunTakesWeighingsFromConfiguredSourcesBehindTheSignInGate(t *testing.T) {
	const token, password = "run-test-bridge-token-0123456789", "reviewer-password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{HTTP: config.HTTP{Listen: "127.0.0.1:0"}, StateDir: t.TempDir(),
		Cameras:  []config.Camera{{ID: "cam", URL: "rtsp://127.0.0.1:1/cam"}}, // never up: not needed here
		Review:   config.Review{Users: []config.User{{Name: "li", PasswordHash: string(hash), Role: config.RoleReviewer}}},
		Stations: []config.Station{{ID: "baiyun-07"}},
		Weighing: config.Weighing{Sources: []config.WeighingSource{{ID: "bridge-07", Token: token}}}}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncWriter{w: &bytes.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runPipeline(ctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), func(a string) { addr <- a })
	}()
	base := "http://" + <-addr
	do := func(method, path, body string, header ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(b), token) {
			t.Errorf("%s %s answered with the token: %s", method, path, b)
		}
		return resp.StatusCode, string(b)
	}
	rec := `{"record_id":"W-1","station":"baiyun-07","time":"2026-12-03T08:15:00+08:00","net_kg":8200}`
	if code, body := do("POST", "/api/v1/weighings", rec, "Authorization", "Bearer wrong-token-0123456789"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d %s", code, body)
	}
	if code, body := do("POST", "/api/v1/weighings", rec, "Authorization", "Bearer "+token); code != http.StatusCreated {
		t.Fatalf("token: %d %s", code, body)
	}
	reviewer := []string{"Authorization", "Basic " + basicAuth("li", password)}
	if code, body := do("GET", "/api/v1/weighings?station=baiyun-07&from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z", "", reviewer...); code != http.StatusOK || !strings.Contains(body, `"record_id":"W-1"`) {
		t.Errorf("reviewer's listing: %d %s", code, body)
	}
	_, metrics := do("GET", "/metrics", "", reviewer...)
	for _, want := range []string{
		`streetwatch_weighings_received_total{result="stored",station="baiyun-07"} 1`,
		`streetwatch_weighings_received_total{result="unauthorized",station="unknown"} 1`,
		`streetwatch_weighings_received_total{result="conflict",station="baiyun-07"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop within 10 s")
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the log shows the source's token:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "weighing received") {
		t.Errorf("no log line for the stored record:\n%s", logs.String())
	}
}

func basicAuth(name, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(name + ":" + password))
}
