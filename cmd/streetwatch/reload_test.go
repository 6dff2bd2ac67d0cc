package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/simulate"
)

// TestConfigReloadAppliesToTheRunningCamera runs the streetwatch binary on
// a config file whose only zone lies where nothing happens, and reloads it
// while the dumping scenario plays: first from the cameras page's button
// with a zone of two points (refused, naming the field; the old config
// runs on), then with SIGHUP and the scenario's zone, one review user
// removed, one added and the camera's sampling changed. The dumping is then
// confirmed in the new zone on the camera's first and only connection; the
// removed user is refused and the added one signs in; the sampling change
// is reported as waiting for a restart; metrics count one reload of each
// result.
func TestConfigReloadAppliesToTheRunningCamera(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary on a scenario video")
	}
	bin := binary(t)
	sim := &simulate.Server{Addr: "127.0.0.1:0", Speed: 2, WaitForReader: true}
	if err := sim.Add("cam", filepath.Join(mediatest.Root(), "testdata", "scenarios", "dumping.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	hash := func(p string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	dir := t.TempDir()
	addr := mediatest.FreeAddr(t)
	newUser := browserUser{"zhao", "zhao-password", "reviewer"}
	write := func(zone, sampling string, users ...browserUser) {
		t.Helper()
		doc := fmt.Sprintf(`http: {listen: %q}
state_dir: %q
detectors:
  models: [{name: demo, manifest: %q}]
cameras:
  - id: cam
    url: %q
    transport: tcp
    sampling: %s
    zones: [{name: pavement, polygon: %s}]
    rules: {illegal_dumping: {min_dwell: 30s, min_score: 0.35}}
review:
  users:
`, addr, filepath.Join(dir, "state"), filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml"), sim.URL("cam"), sampling, zone)
		for _, u := range users {
			doc += fmt.Sprintf("    - {name: %s, password_hash: %q, role: %s}\n", u.name, hash(u.password), u.role)
		}
		if err := os.WriteFile(filepath.Join(dir, "sw.yaml"), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`[[0, 0], [60, 0], [60, 40], [0, 40]]`, `{mode: keyframes}`, admin, viewer)

	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "sw.yaml"))
	logs := &syncWriter{w: &bytes.Buffer{}}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("streetwatch log:\n%s", logs)
		}
	}()
	waitLog := func(what string, re *regexp.Regexp) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !re.MatchString(logs.String()) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s in the log", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLog("camera connection", regexp.MustCompile(`msg="camera connected" camera=cam`))

	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	do := func(method, path string, as browserUser) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		req.SetBasicAuth(as.name, as.password)
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/json") // no session: no CSRF token needed
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// The button, with a zone of two points: refused, the old config runs on.
	write(`[[0, 0], [60, 0]]`, `{mode: keyframes}`, admin, viewer)
	if status, _ := do(http.MethodPost, "/cameras/reload", viewer); status != http.StatusForbidden {
		t.Errorf("a viewer reloads: %d, want 403", status)
	}
	status, page := do(http.MethodPost, "/cameras/reload", admin)
	if status != http.StatusOK || !strings.Contains(page, `data-ok="false"`) || !strings.Contains(page, "cameras[0].zones[0].polygon: needs at least 3 points (got 2)") {
		t.Fatalf("invalid reload: %d\n%s", status, page)
	}

	// SIGHUP with the scenario's zone, the users changed, the sampling too.
	write(string(scenarioZone(t, "dumping")), `{mode: fps, fps: 2}`, admin, newUser)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("reload", regexp.MustCompile(`msg="config reloaded" source=SIGHUP cameras_updated=\[cam\] restart_needed_for="?\[cameras\[cam\]\.sampling\]`))
	if status, _ := do(http.MethodGet, "/api/v1/tickets", viewer); status != http.StatusUnauthorized {
		t.Errorf("the removed user: %d, want 401", status)
	}
	if status, _ := do(http.MethodGet, "/api/v1/tickets", newUser); status != http.StatusOK {
		t.Errorf("the added user: %d, want 200", status)
	}
	_, metrics := do(http.MethodGet, "/metrics", admin)
	for _, want := range []string{`streetwatch_config_reloads_total{result="applied"} 1`, `streetwatch_config_reloads_total{result="refused"} 1`,
		`streetwatch_config_restart_pending 1`} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The dumping is confirmed in the reloaded zone.
	var list struct {
		Tickets []struct {
			Type, Zone string
			Camera     string `json:"camera_id"`
		} `json:"tickets"`
	}
	deadline := time.Now().Add(90 * time.Second)
	for len(list.Tickets) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no ticket after the reload")
		}
		time.Sleep(500 * time.Millisecond)
		_, body := do(http.MethodGet, "/api/v1/tickets", newUser)
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("tickets: %v\n%s", err, body)
		}
	}
	if tk := list.Tickets[0]; len(list.Tickets) != 1 || tk.Type != "illegal_dumping" || tk.Zone != "pavement" || tk.Camera != "cam" {
		t.Errorf("tickets %+v, want one dumping in the reloaded zone", list.Tickets)
	}
	if n := strings.Count(logs.String(), `msg="camera connected"`); n != 1 {
		t.Errorf("the camera connected %d times: the reload restarted it", n)
	}
}
