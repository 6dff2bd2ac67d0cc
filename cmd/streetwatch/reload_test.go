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
// runs on), then with SIGHUP: the scenario's zone, one review user removed
// and one added, a second camera added, a district routing the camera
// and the evidence JPEG quality changed; then from the button again with the second camera's sampling
// changed, then with it removed. The dumping is confirmed in the new zone
// on the first camera's first and only connection; the removed user is
// refused and the added one signs in; the ticket goes to the new district; the second camera connects, connects
// again for its new sampling, and stops; the JPEG quality is reported as
// waiting for a restart; metrics count the reloads by result.
func TestConfigReloadAppliesToTheRunningCamera(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary on a scenario video")
	}
	bin := binary(t)
	sim := &simulate.Server{Addr: "127.0.0.1:0", Speed: 2, WaitForReader: true}
	for _, name := range []string{"cam", "cam2"} {
		if err := sim.Add(name, filepath.Join(mediatest.Root(), "testdata", "scenarios", "dumping.mp4")); err != nil {
			t.Fatal(err)
		}
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
	cam2, dispatch := "", ""
	quality := 90
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
    rules: {illegal_dumping: {min_dwell: 30s}}
%sevidence: {jpeg_quality: %d}
%sreview:
  users:
`, addr, filepath.Join(dir, "state"), filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml"), sim.URL("cam"), sampling, zone, cam2, quality, dispatch)
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

	// SIGHUP with the scenario's zone, the users changed, a camera added
	// (detection only) and the evidence quality changed.
	zone := string(scenarioZone(t, "dumping"))
	cam2 = fmt.Sprintf("  - {id: cam2, url: %q, transport: tcp, sampling: {mode: keyframes}}\n", sim.URL("cam2"))
	quality = 80
	dispatch = "dispatch: {districts: {baiyun: {cameras: [cam], team: 白云城管}}}\n"
	write(zone, `{mode: keyframes}`, admin, newUser)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("reload", regexp.MustCompile(`msg="config reloaded" source=SIGHUP cameras_updated=\[cam\] cameras_added=\[cam2\] cameras_removed=\[\] cameras_reconnected=\[\] dispatch_updated=true restart_needed_for=\[evidence\]`))
	waitLog("the added camera", regexp.MustCompile(`msg="camera connected" camera=cam2`))
	if status, _ := do(http.MethodGet, "/api/v1/tickets", viewer); status != http.StatusUnauthorized {
		t.Errorf("the removed user: %d, want 401", status)
	}
	if status, _ := do(http.MethodGet, "/api/v1/tickets", newUser); status != http.StatusOK {
		t.Errorf("the added user: %d, want 200", status)
	}
	// The button: the added camera's sampling changes (it connects again),
	// then it is removed.
	cam2 = fmt.Sprintf("  - {id: cam2, url: %q, transport: tcp, sampling: {mode: fps, fps: 1}}\n", sim.URL("cam2"))
	write(zone, `{mode: keyframes}`, admin, newUser)
	if _, page := do(http.MethodPost, "/cameras/reload", admin); !strings.Contains(page, `<span class="reconnected-camera">cam2</span>`) {
		t.Errorf("sampling change: no reconnection on the page:\n%s", page)
	}
	waitLog("the reconnection", regexp.MustCompile(`(?s)camera connected" camera=cam2.*camera connected" camera=cam2`))
	cam2 = ""
	write(zone, `{mode: keyframes}`, admin, newUser)
	if _, page := do(http.MethodPost, "/cameras/reload", admin); !strings.Contains(page, `<span class="removed-camera">cam2</span>`) {
		t.Errorf("camera removed: not on the page:\n%s", page)
	}
	// Probes get the status only: camera ids and errors need a sign-in.
	if resp, err := client.Get("http://" + addr + "/healthz"); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
			t.Errorf("/healthz without credentials: %d %s", resp.StatusCode, body)
		}
	}
	var health struct{ Cameras []struct{ ID string } }
	if _, body := do(http.MethodGet, "/healthz", admin); json.Unmarshal([]byte(body), &health) != nil || len(health.Cameras) != 1 || health.Cameras[0].ID != "cam" {
		t.Errorf("cameras after the removal: %s", body)
	}
	_, metrics := do(http.MethodGet, "/metrics", admin)
	for _, want := range []string{`streetwatch_config_reloads_total{result="applied"} 3`, `streetwatch_config_reloads_total{result="refused"} 1`,
		`streetwatch_config_restart_pending 1`, `streetwatch_camera_up{camera="cam2"} 0`} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The dumping is confirmed in the reloaded zone.
	var list struct {
		Tickets []struct {
			Type, Zone, District string
			Camera               string `json:"camera_id"`
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
	if tk := list.Tickets[0]; len(list.Tickets) != 1 || tk.Type != "illegal_dumping" || tk.Zone != "pavement" || tk.Camera != "cam" || tk.District != "baiyun" {
		t.Errorf("tickets %+v, want one dumping in the reloaded zone, routed to the reloaded district", list.Tickets)
	}
	if n := strings.Count(logs.String(), `msg="camera connected" camera=cam `); n != 1 {
		t.Errorf("the camera connected %d times: the reload restarted it", n)
	}
}
