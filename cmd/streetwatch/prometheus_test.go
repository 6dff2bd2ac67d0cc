package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/simulate"
)

// TestMetricsPassPromtoolAndPrometheusAnswersPerCameraFPS runs the whole
// pipeline (detector, rules, evidence, tickets: every metric family) on two
// cameras, checks the live /metrics with `promtool check metrics`, then
// lets Debian's real Prometheus scrape it and asks it for each camera's
// sampled frames per second, as the dashboard does.
func TestMetricsPassPromtoolAndPrometheusAnswersPerCameraFPS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Prometheus")
	}
	promtool := mediatest.Tool(t, "promtool")
	prom := mediatest.Tool(t, "prometheus")
	sim := &simulate.Server{Addr: "127.0.0.1:0", Speed: 2}
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
	var zone config.Polygon
	if err := json.Unmarshal(scenarioZone(t, "dumping"), &zone); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{HTTP: config.HTTP{Listen: "127.0.0.1:0"}, StateDir: t.TempDir(),
		Detectors: config.Detectors{Models: []config.ModelRef{{Name: "demo",
			Manifest: filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml")}}},
		Cameras: []config.Camera{
			{ID: "street", URL: sim.URL("street"), Transport: "tcp", Zones: []config.Zone{{Name: "pavement", Polygon: zone}}},
			{ID: "plaza", URL: sim.URL("plaza"), Transport: "tcp", Sampling: config.Sampling{Mode: config.SampleKeyframes}},
		}}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
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

	// Give every stage a moment to report, then lint the exposition.
	time.Sleep(3 * time.Second)
	resp, err := http.Get("http://" + target + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, family := range []string{"streetwatch_frames_sampled_total", "streetwatch_inference_seconds",
		"streetwatch_tracks_active", "streetwatch_history_bytes", "streetwatch_dispatch_outbox_depth"} {
		if !bytes.Contains(exposition, []byte("# TYPE "+family+" ")) {
			t.Errorf("/metrics lacks %s", family)
		}
	}
	lint := exec.Command(promtool, "check", "metrics")
	lint.Stdin = bytes.NewReader(exposition)
	if out, err := lint.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	// Prometheus scraping every second.
	dir := t.TempDir()
	promAddr := mediatest.FreeAddr(t)
	promCfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"+
		"scrape_configs:\n  - job_name: streetwatch\n    static_configs: [{targets: [%q]}]\n", target)
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
	query := `sum by (camera) (rate(streetwatch_frames_sampled_total[5s]))`
	deadline := time.Now().Add(60 * time.Second)
	for {
		fps, err := promQuery(promAddr, query)
		if err == nil && fps["street"] > 0 && fps["plaza"] > 0 {
			// fps mode samples 2/s of stream time; at 2× that is about 4/s.
			if fps["street"] < 1 || fps["street"] > 8 {
				t.Errorf("street samples %.2f frames/s, want about 4 (2 fps at 2× speed)", fps["street"])
			}
			t.Logf("per-camera sampled fps from Prometheus: %v", fps)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus has no per-camera fps after 60 s: %v %v\n%s", fps, err, logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
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
