package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/config"
)

// run fails after the pipeline is built (its HTTP address is taken): the
// pipeline's histories and ticket database are closed on the way out,
// and the same state opens again at once.
func TestRunThatCannotListenFreesThePipeline(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	state := t.TempDir()
	cfg := &config.Config{HTTP: config.HTTP{Listen: busy.Addr().String()}, StateDir: state,
		Cameras: []config.Camera{{ID: "cam", URL: "rtsp://127.0.0.1:1/cam",
			Zones: []config.Zone{{Name: "z", Polygon: config.Polygon{{0, 0}, {1, 0}, {1, 1}}}}}}}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	err = runPipeline(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Fatalf("run: %v, want an http.listen error", err)
	}
	if _, err := os.Stat(filepath.Join(state, "tickets.db")); err != nil {
		t.Fatalf("the pipeline was not built before the failure: %v", err)
	}
}
