package pipeline_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/pipeline"
)

// zonedConfig is a camera with a zone (so New builds the evidence and
// ticket stages: histories with spill goroutines, the ticket database)
// that is never connected to.
func zonedConfig(t *testing.T, state string) *config.Config {
	t.Helper()
	cfg := &config.Config{StateDir: state, Cameras: []config.Camera{{ID: "cam", URL: "rtsp://127.0.0.1:1/cam",
		Zones: []config.Zone{{Name: "z", Polygon: config.Polygon{{0, 0}, {1, 0}, {1, 1}}}}}}}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// New failing late (here on a damaged pending violation, after the
// histories and the ticket database are open) frees what it built:
// nothing keeps running, and the state can be opened again.
func TestFailedNewLeavesNothingRunning(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	state := t.TempDir()
	bad := filepath.Join(state, "pending", "01DAMAGED")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "event.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := pipeline.New(zonedConfig(t, state), prometheus.NewRegistry(), quietLog()); err == nil {
		p.Close()
		t.Fatal("New accepted a damaged pending violation")
	}
}

// Close frees everything New built, without Run, and again is a no-op.
func TestCloseWithoutRunFreesEverythingAndIsIdempotent(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p, err := pipeline.New(zonedConfig(t, t.TempDir()), prometheus.NewRegistry(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
