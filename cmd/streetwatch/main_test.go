package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/internal/pgtest"
	"github.com/streetwatch/streetwatch/simulate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Main(m)) }

func TestCheckConfig(t *testing.T) {
	t.Setenv("STATION07_PASSWORD", "x")
	example := filepath.Join(mediatest.Root(), "streetwatch.example.yaml")
	var out, errOut bytes.Buffer
	if code := run([]string{"check-config", "--config", example}, &out, &errOut); code != 0 {
		t.Fatalf("example config: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "ok (2 cameras, 1 models)") {
		t.Fatalf("output %q", out.String())
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("cameras:\n  - id: a\n    url: rtsp://h/a\n    sampling: {mode: sometimes}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"check-config", "--config", bad}, &out, &errOut); code != 1 {
		t.Fatalf("bad config: exit %d, want 1", code)
	}
	want := `cameras[0].sampling.mode: must be fps or keyframes (got "sometimes")`
	if !strings.Contains(errOut.String(), want) {
		t.Fatalf("stderr %q does not name the field: want %q", errOut.String(), want)
	}
}

// check-config loads every model as run would and reports every problem
// with its field: a manifest that disagrees with its ONNX file, a missing
// file, a missing threshold, a camera setting (a threshold, a filter, a
// station's vehicle class) for a class no model has.
// run refuses the same config at start with the same words.
func TestCheckConfigLoadsTheModelsAndNamesEveryMismatch(t *testing.T) {
	dir := t.TempDir()
	golden, err := filepath.Abs(filepath.Join("..", "..", "detectors", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	onnx := func(name string) string { return "file: " + filepath.Join(golden, "golden_"+name+".onnx") + "\n" }
	write("good.yaml", "name: good\n"+onnx("yolov8")+"input: {width: 320, height: 192}\nclasses: [person, vehicle, garbage_bag]\ndefault_threshold: 0.5\n")
	write("shape.yaml", "name: shape\n"+onnx("yolov8")+"input: {width: 320, height: 192}\nclasses: [person, vehicle, garbage_bag]\noutput: {shape: [-1, 9, 2100]}\ndefault_threshold: 0.5\n")
	write("missing.yaml", "name: missing\nfile: nowhere.onnx\ninput: {width: 320, height: 192}\nclasses: [a]\nthresholds: {a: 0.5}\n")
	write("count.yaml", "name: count\n"+onnx("yolov8")+"input: {width: 320, height: 192}\nclasses: [person, vehicle]\ndefault_threshold: 0.5\n")
	write("threshold.yaml", "name: threshold\n"+onnx("yolov8")+"input: {width: 320, height: 192}\nclasses: [person, vehicle, garbage_bag]\nthresholds: {person: 0.5, vehicle: 0.5}\n")
	write("layout.yaml", "name: layout\nlayout: yolov5\n"+onnx("yolov8")+"input: {width: 320, height: 192}\nclasses: [person, vehicle, garbage_bag]\ndefault_threshold: 0.5\n")
	// One camera whose settings name classes its model lacks, and models
	// with every kind of manifest mistake.
	const camera = `cameras:
  - id: a
    url: rtsp://127.0.0.1:1/a
    models: [good]
    thresholds: {person: 0.4, vending_stall: 0.3}
    filters: {garbage_pile: {min_area: 100}}
    station: {id: baiyun-07, bay: [[0, 0.5], [1, 0.5], [1, 1]], vehicle_classes: [vehicle, truck]}
stations: [{id: baiyun-07}]
detectors:
  models:
    - {name: good, manifest: good.yaml}
`
	cfg := write("streetwatch.yaml", camera+`    - {name: shape, manifest: shape.yaml}
    - {name: missing, manifest: missing.yaml}
    - {name: count, manifest: count.yaml}
    - {name: threshold, manifest: threshold.yaml}
    - {name: layout, manifest: layout.yaml}
`)
	var out, errOut bytes.Buffer
	if code := run([]string{"check-config", "--config", cfg}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1; stdout %q", code, out.String())
	}
	for _, want := range []string{
		`detectors.models[1] (shape): model "shape": output.shape: the manifest says [-1 9 2100], the model's output "output0" is [1 7 5]`,
		`detectors.models[2] (missing): model "missing": file: read `,
		`detectors.models[3] (count): model "count": classes: output "output0" has shape [1 7 5], which fits no known layout for 2 classes`,
		`detectors.models[4] (threshold): model manifest`,
		`thresholds.garbage_bag: missing: every class needs a threshold (or set default_threshold)`,
		`detectors.models[5] (layout): model "layout": layout: output "output0" has shape [1 7 5], but layout yolov5 with 3 classes needs [B, N, 8]`,
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}

	// With the models fixed, the cameras' settings are checked against
	// the classes of the models each camera runs.
	write("streetwatch.yaml", camera)
	errOut.Reset()
	if code := run([]string{"check-config", "--config", cfg}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"cameras[0].thresholds.vending_stall: no model this camera runs has that class (it has [person vehicle garbage_bag])",
		"cameras[0].filters.garbage_pile: no model this camera runs has that class",
		`cameras[0].station.vehicle_classes[1]: no model this camera runs has class "truck" (it has [person vehicle garbage_bag])`,
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	// run refuses it with the same words before it starts anything.
	errOut.Reset()
	if code := run([]string{"run", "--config", cfg}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "cameras[0].thresholds.vending_stall: no model this camera runs has that class") {
		t.Errorf("run: exit %d, stderr %s", code, errOut.String())
	}
}

// Two cameras share batches. A model with a fixed batch of 1 (a default
// Ultralytics export) runs them frame by frame and finds its boxes, with
// no errors; a broken export that claims a dynamic batch fails on the
// shared batches, and that shows at once: an Error log line, the error
// counter, /healthz degraded naming the model, and no inference counted
// for the failed runs.
func TestModelThatFailsOnBatchesShowsAtOnceAndAFixedBatchOfOneWorks(t *testing.T) {
	sim := &simulate.Server{Addr: "127.0.0.1:0", Speed: 2}
	for _, cam := range []string{"a", "b"} {
		if err := sim.Add(cam, mediatest.File(t, "h264_640x360.mp4")); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	golden, err := filepath.Abs(filepath.Join("..", "..", "detectors", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model  string
		broken bool
	}{{"batch1", false}, {"liar", true}} {
		t.Run(c.model, func(t *testing.T) {
			dir := t.TempDir()
			cfgPath := filepath.Join(dir, "streetwatch.yaml")
			body := fmt.Sprintf(`state_dir: %s
http: {listen: "127.0.0.1:0"}
cameras:
  - {id: a, url: %q, transport: tcp, sampling: {mode: fps, fps: 5}}
  - {id: b, url: %q, transport: tcp, sampling: {mode: fps, fps: 5}}
detectors:
  models: [{name: m, manifest: %s}]
  max_batch: 8
  max_wait: 300ms
`, dir, sim.URL("a"), sim.URL("b"), filepath.Join(golden, "golden_"+c.model+".yaml"))
			if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			logs := &syncWriter{w: &bytes.Buffer{}}
			ctx, cancel := context.WithCancel(context.Background())
			addr := make(chan string, 1)
			done := make(chan error, 1)
			go func() {
				done <- runPipeline(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), func(a string) { addr <- a })
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			base := "http://" + <-addr
			get := getter(t, base)
			// Wait for detections (the working model) or the degraded
			// state (the broken one), then read everything.
			var health struct {
				Status        string   `json:"status"`
				FailingModels []string `json:"failing_models"`
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				if err := json.Unmarshal([]byte(get("/healthz")), &health); err != nil {
					t.Fatal(err)
				}
				m := get("/metrics")
				if c.broken && health.Status == "degraded" || !c.broken && metricValue(m, `streetwatch_detections_total{camera="b",class="person"}`) >= 5 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("neither detections nor a degraded state within 60 s: %+v\n%s", health, logs.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			m := get("/metrics")
			errs := metricValue(m, `streetwatch_inference_errors_total{model="m",stage="inference"}`)
			if c.broken {
				if !slices.Equal(health.FailingModels, []string{"m: inference"}) {
					t.Errorf("/healthz failing_models %v", health.FailingModels)
				}
				if errs < 1 {
					t.Errorf("inference errors %v, want ≥ 1", errs)
				}
				if !strings.Contains(logs.String(), "level=ERROR msg=\"detection failed") {
					t.Errorf("no Error line for the failure:\n%s", logs.String())
				}
				return
			}
			if errs != 0 || health.Status != "ok" || strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("fixed batch of 1: %v errors, health %+v\n%s", errs, health, logs.String())
			}
			if runs, frames := metricValue(m, `streetwatch_inference_seconds_count{model="m"}`), metricValue(m, `streetwatch_inference_batch_size_sum{model="m"}`); runs != frames {
				t.Errorf("%v inferences for %v frames: a fixed batch of 1 runs one frame each", runs, frames)
			}
			if !strings.Contains(logs.String(), "fixed batch of 1: frames run one at a time") {
				t.Errorf("no log line saying how the model runs:\n%s", logs.String())
			}
		})
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	if code := run([]string{"frobnicate"}, io.Discard, io.Discard); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}

func TestRunServesMetricsAndHealthzAndStopsCleanly(t *testing.T) {
	sim := &simulate.Server{Addr: "127.0.0.1:0", Speed: 4}
	if err := sim.Add("cam", mediatest.File(t, "h264_640x360.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := &config.Config{HTTP: config.HTTP{Listen: "127.0.0.1:0"},
		Cameras: []config.Camera{{ID: "cam", URL: sim.URL("cam"), Transport: "tcp"}}}
	cfg.Defaults()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runPipeline(ctx, cfg, slog.New(slog.DiscardHandler), func(a string) { addr <- a })
	}()
	base := "http://" + <-addr
	get := getter(t, base)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(get("/healthz"), `"up":true,"state":"decoding"`) {
		if time.Now().After(deadline) {
			t.Fatalf("camera not up and decoding: %s", get("/healthz"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	var health struct {
		Cameras []struct {
			LastFrame time.Time `json:"last_frame"`
		} `json:"cameras"`
	}
	if err := json.Unmarshal([]byte(get("/healthz")), &health); err != nil || len(health.Cameras) != 1 {
		t.Fatalf("/healthz: %v %+v", err, health)
	} else if d := time.Since(health.Cameras[0].LastFrame); d < -time.Second || d > 10*time.Second {
		t.Errorf("/healthz last_frame is %v from now: want this machine's clock", -d)
	}
	metrics := get("/metrics")
	for _, name := range []string{
		"streetwatch_camera_up", "streetwatch_camera_decoding", "streetwatch_camera_reconnects_total", "streetwatch_access_units_total",
		"streetwatch_received_bytes_total", "streetwatch_frames_decoded_total", "streetwatch_frames_sampled_total",
		"streetwatch_frames_dropped_total", "streetwatch_decode_errors_total", "streetwatch_decode_seconds_bucket",
	} {
		if !strings.Contains(metrics, name+"{") {
			t.Errorf("/metrics lacks %s", name)
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
}

// The real binary, stopped by SIGTERM as systemd or Docker would, exits 0.
func TestBinaryStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "streetwatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sim := &simulate.Server{Addr: "127.0.0.1:0"}
	if err := sim.Add("cam", mediatest.File(t, "h264_640x360.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfgPath := filepath.Join(t.TempDir(), "sw.yaml")
	cfg := "cameras:\n  - {id: cam, url: \"" + sim.URL("cam") + "\", transport: tcp}\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	logs := &syncWriter{w: &bytes.Buffer{}}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Running (and so handling signals) once the camera is connected; a
	// fixed sleep raced the start-up on a busy machine.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), "camera connected"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("not connected within 30 s:\n%s", logs.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("no exit 15 s after SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "camera connected") || !strings.Contains(logs.String(), "pipeline stopped") {
		t.Fatalf("logs do not show a connect and a clean stop:\n%s", logs.String())
	}
}

// metricValue is the value of one series (name and labels exactly as
// /metrics writes them) in a Prometheus text page, or 0 when absent.
func metricValue(page, series string) float64 {
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// getter GETs paths of base and returns the bodies.
func getter(t *testing.T, base string) func(path string) string {
	return func(path string) string {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
}
