package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/simulate"
)

// TestMetricsPassPromtoolAndPrometheusAnswersPerCameraFPS runs the whole
// pipeline on two cameras through one full case (a dumping confirmed, its
// clip written, its ticket made and delivered to a webhook), while Debian's
// real Prometheus scrapes it and answers each camera's sampled frames per
// second, as the dashboard asks. After the delivery, the live /metrics
// passes `promtool check metrics` and holds every family the README's
// metrics table lists (read from the README, so the two cannot drift).
func TestMetricsPassPromtoolAndPrometheusAnswersPerCameraFPS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Prometheus")
	}
	promtool := mediatest.Tool(t, "promtool")
	prom := mediatest.Tool(t, "prometheus")
	families := readmeMetricFamilies(t)
	const speed = 2
	sim := &simulate.Server{Addr: "127.0.0.1:0", Speed: speed}
	if err := sim.Add("street", filepath.Join(mediatest.Root(), "testdata", "scenarios", "dumping.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := sim.Add("plaza", mediatest.File(t, "h264_640x360.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	// The work-order system: answers 200 and counts deliveries.
	var delivered atomic.Int32
	wo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		delivered.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer wo.Close()

	doc := fmt.Sprintf(`http: {listen: "127.0.0.1:0", public_url: "http://streetwatch.test"} # links are not fetched here
state_dir: %q
detectors:
  models: [{name: demo, manifest: %q}]
cameras:
  - id: street
    url: %q
    transport: tcp
    zones: [{name: pavement, polygon: %s}]
    rules: {illegal_dumping: {min_dwell: 30s}}
  - id: plaza
    url: %q
    transport: tcp
    sampling: {mode: keyframes}
dispatch:
  review: {illegal_dumping: auto}
  webhook: {url: %q, secret: "0123456789abcdef-test", backoff: {min: 200ms, max: 1s}}
stations: [{id: baiyun-07}] # streetwatch_station_visits_total exists per configured station
`, filepath.Join(t.TempDir(), "state"), filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml"),
		sim.URL("street"), scenarioZone(t, "dumping"), sim.URL("plaza"), wo.URL)
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, doc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runPipeline(ctx, cfg, slog.New(slog.DiscardHandler), func(a string) { addr <- a })
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	target := <-addr

	// Prometheus scraping every second, from the start.
	const scrape, window = time.Second, 10 * time.Second
	dir := t.TempDir()
	promAddr := mediatest.FreeAddr(t)
	promCfg := fmt.Sprintf("global: {scrape_interval: %s, evaluation_interval: %s}\n"+
		"scrape_configs:\n  - job_name: streetwatch\n    static_configs: [{targets: [%q]}]\n", scrape, scrape, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(promCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	p := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr)
	p.Stdout, p.Stderr = &logs, &logs
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = p.Process.Kill()
		_ = p.Wait()
	}()

	// fps mode keeps exactly 2 pictures per second of stream time (a grid
	// in PTS, pipeline/sample), and the simulator plays at 2×: 4 per second
	// of wall time. rate() over a 10 s window scraped every second divides
	// the increase seen between the first and last scrape in the window
	// (at least 9 s apart) by their distance. A periodic count over 9 s is
	// off by at most 1 from 4×9; a picture sampled up to 250 ms early or
	// late (decoding and scheduling on a busy machine) moves at most
	// 4×0.25 = 1 more across each end. So the answer is 4 ± 3/9 ≈ 4 ± 0.33.
	const want = 2.0 * speed
	tol := (1 + 2*want*0.25) / (window - scrape).Seconds()
	query := fmt.Sprintf(`sum by (camera) (rate(streetwatch_frames_sampled_total[%s]))`, window)
	// Only once the window holds scrapes of a running camera at both ends.
	full := fmt.Sprintf(`count_over_time(streetwatch_frames_sampled_total{camera="street"}[%s]) >= %d and on() min_over_time(streetwatch_frames_sampled_total{camera="street"}[%s]) > 0`,
		window, int(window/scrape), window)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready, err := promQuery(promAddr, full)
		if err == nil && len(ready) > 0 {
			fps, err := promQuery(promAddr, query)
			if err != nil || fps["plaza"] <= 0 {
				t.Fatalf("per-camera fps: %v %v", fps, err)
			}
			if math.Abs(fps["street"]-want) > tol {
				t.Errorf("street samples %.2f frames/s, want %.1f ± %.2f (2 fps of stream time at %d× speed)", fps["street"], want, tol, speed)
			}
			t.Logf("per-camera sampled fps from Prometheus: %v", fps)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus has no full %s of street samples after 60 s: %v %v\n%s", window, ready, err, logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The full case: a delivery to the webhook.
	deadline = time.Now().Add(2 * time.Minute)
	for delivered.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no ticket delivered within 2 minutes")
		}
		time.Sleep(250 * time.Millisecond)
	}
	resp, err := http.Get("http://" + target + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, series := range []string{
		`streetwatch_violations_total{camera="street",type="illegal_dumping"}`,
		`streetwatch_evidence_clips_total{camera="street"}`,
		`streetwatch_dispatch_attempts_total{result="ok"}`,
	} {
		if v := seriesValue(exposition, series); v < 1 {
			t.Errorf("/metrics %s = %v after a delivered case, want ≥ 1", series, v)
		}
	}
	for _, family := range families {
		if !bytes.Contains(exposition, []byte("# TYPE "+family+" ")) {
			t.Errorf("/metrics lacks %s (listed in the README's metrics table)", family)
		}
	}
	lint := exec.Command(promtool, "check", "metrics")
	lint.Stdin = bytes.NewReader(exposition)
	if out, err := lint.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// readmeMetricFamilies reads the metric names of the README's "## Metrics"
// table: each backquoted streetwatch_ name of the first column, and a
// shorthand like `_spool_bundles` after `streetwatch_evidence_spool_bytes`
// (it replaces as many trailing words).
func readmeMetricFamilies(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(mediatest.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Metrics\n")
	if !ok {
		t.Fatal("README.md has no ## Metrics section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var names []string
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.Split(line, "|")[1]
		prev := ""
		for i, part := range strings.Split(cell, "`") {
			if i%2 == 0 || part == "" {
				continue
			}
			name := part
			if strings.HasPrefix(part, "_") && prev != "" {
				words := strings.Split(prev, "_")
				name = strings.Join(words[:len(words)-strings.Count(part, "_")], "_") + part
			}
			if !strings.HasPrefix(name, "streetwatch_") {
				t.Fatalf("README metrics table: %q in %q is not a streetwatch_ metric", part, line)
			}
			names = append(names, name)
			prev = name
		}
	}
	if len(names) < 30 {
		t.Fatalf("read only %d metric names from the README's table: %v", len(names), names)
	}
	return names
}

// seriesValue returns the value of one series of a text exposition, or -1.
func seriesValue(exposition []byte, series string) float64 {
	for _, line := range strings.Split(string(exposition), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	return -1
}

// promQuery runs an instant query and returns the value per camera label.
func promQuery(addr, q string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query status %s", r.Status)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		var v float64
		if str, ok := s.Value[1].(string); ok {
			fmt.Sscan(strings.TrimSpace(str), &v)
		}
		out[s.Metric["camera"]] = v
	}
	return out, nil
}
