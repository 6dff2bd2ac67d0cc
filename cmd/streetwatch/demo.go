package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/simulate"
)

// cmdDemo starts simulated cameras from the test media and the pipeline
// against them, all on localhost.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	media := fs.String("media", "testdata/media", "folder with the demo videos (made by scripts/make-test-media.sh)")
	rtsp := fs.String("rtsp", "127.0.0.1:8554", "RTSP address of the simulated cameras")
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP address for /metrics and /healthz")
	model := fs.String("model", "models/streetwatch-demo.yaml", "model manifest to detect with (empty: no detection)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	cams := []struct{ id, file, sampling string }{
		{"street-1", "vtest_h264.mp4", config.SampleFPS},
		{"street-2", "h264_640x360.mp4", config.SampleFPS},
		{"station-1", "h265_640x360.mp4", config.SampleKeyframes},
		{"station-2", "bench_720p_h264.mp4", config.SampleKeyframes},
	}
	sim := &simulate.Server{Addr: *rtsp}
	cfg := &config.Config{HTTP: config.HTTP{Listen: *listen}}
	if *model != "" {
		cfg.Detectors.Models = []config.ModelRef{{Name: "demo", Manifest: *model}}
	}
	for _, c := range cams {
		path := filepath.Join(*media, c.file)
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("demo: %s is missing: run scripts/setup.sh (make demo does)", path)
		}
		if err := sim.Add(c.id, path); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		cam := config.Camera{ID: c.id, Sampling: config.Sampling{Mode: c.sampling}, Transport: "tcp"}
		cfg.Cameras = append(cfg.Cameras, cam)
	}
	if err := sim.Start(); err != nil {
		return fmt.Errorf("demo: simulated cameras: %w", err)
	}
	defer sim.Close()
	for i := range cfg.Cameras {
		cfg.Cameras[i].URL = sim.URL(cfg.Cameras[i].ID)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	log := newLogger(cfg.Log, stderr)
	return runPipeline(ctx, cfg, log, func(addr string) {
		fmt.Fprintf(stdout, "\nStreetWatch demo: %d simulated cameras at rtsp://%s/<camera>\n", len(cams), sim.ListenAddr())
		fmt.Fprintf(stdout, "  metrics: http://%s/metrics   (watch streetwatch_frames_decoded_total rise)\n", addr)
		fmt.Fprintf(stdout, "  health:  http://%s/healthz\n", addr)
		if *model != "" {
			fmt.Fprintf(stdout, "  detections: http://%s/debug/detections   (streetwatch_detections_total in /metrics)\n", addr)
		}
		fmt.Fprint(stdout, "  Ctrl-C stops.\n\n")
	})
}
