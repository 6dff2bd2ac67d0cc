package pipeline_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/pipeline"
	"github.com/streetwatch/streetwatch/simulate"
)

// startPipeline builds a pipeline from cfg and runs it until the returned
// stop is called (it waits for Run, then closes the pipeline).
func startPipeline(t *testing.T, cfg *config.Config, setup func(p *pipeline.Pipeline, cancel func())) (p *pipeline.Pipeline, stop func()) {
	t.Helper()
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := pipeline.New(cfg, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	setup(p, cancel)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			t.Errorf("pipeline: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatal("pipeline did not stop within a minute of cancel")
			}
			if err := p.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return p, stop
}

// Stopped (as by SIGTERM) at the moment a violation is confirmed: its
// batch is still being handed out, and its post-roll has not been
// filmed. Shutdown must still finish it in order — its clip cut from what
// history holds, spooled and handed off before the history and the ticket
// store close — so that after a restart every stored bundle has its clip
// and verifies.
func TestShutdownDuringPostRollAndAnInFlightBatchKeepsEveryClip(t *testing.T) {
	requireRuntime(t)
	file, gt := loadScenario(t, "dumping")
	state := t.TempDir()
	sim := startSim(t, &simulate.Server{Speed: 4, NoLoop: true, WaitForReader: true}, "cam", file)
	cfg := func(url string) *config.Config {
		return &config.Config{
			StateDir:  state,
			Detectors: detectorConfig(filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml"), 4),
			Cameras: []config.Camera{{ID: "cam", URL: url, Transport: "tcp",
				Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 2},
				Zones:    []config.Zone{{Name: "scene", Polygon: gt.SuggestedZone}},
				Rules:    scenarioRules}},
		}
	}
	confirmed := make(chan string, 10)
	_, stop := startPipeline(t, cfg(sim.URL("cam")), func(p *pipeline.Pipeline, cancel func()) {
		p.OnViolation = func(ev pipeline.ViolationEvent) {
			confirmed <- ev.ID
			// Shut down now, from inside the batch, and give Run time to
			// stop what runs on the cancelled context before this
			// violation reaches the evidence stage.
			cancel()
			time.Sleep(500 * time.Millisecond)
		}
	})
	var id string
	select {
	case id = <-confirmed:
	case <-time.After(3 * time.Minute):
		t.Fatal("no violation confirmed")
	}
	stop()
	// A clean shutdown finished the violation before it returned: it is
	// spooled and handed off, nothing is left running or pending.
	if entries, err := os.ReadDir(filepath.Join(state, "pending")); err != nil || len(entries) != 0 {
		t.Errorf("left pending by a clean shutdown: %v %v", entries, err)
	}

	// Restart on the same state; the camera is gone (no new video, no new
	// violation): only what the first run left is finished and stored.
	p, stop2 := startPipeline(t, cfg("rtsp://"+mediatest.FreeAddr(t)+"/cam"), func(*pipeline.Pipeline, func()) {})
	waitFor(t, time.Minute, "nothing left pending", func() bool {
		entries, err := os.ReadDir(filepath.Join(state, "pending"))
		return err == nil && len(entries) == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.FlushEvidence(ctx); err != nil {
		t.Fatal(err)
	}
	store := p.EvidenceStore()
	page, err := p.Tickets().List(ctx, dispatch.Filter{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Tickets) != 1 || page.Tickets[0].ViolationID != id {
		t.Errorf("tickets %+v, want one for violation %s", page.Tickets, id)
	}
	stop2()

	objects, err := store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	bundles := 0
	for _, o := range objects {
		if !strings.HasSuffix(o.Key, "/"+evidence.ManifestName) {
			continue
		}
		bundles++
		prefix := strings.TrimSuffix(o.Key, evidence.ManifestName)
		open := func(name string) (io.ReadCloser, error) { return store.Get(ctx, prefix+name) }
		rc, err := open(evidence.ManifestName)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		res, err := evidence.Verify(data, open, nil, false)
		if err != nil || !res.OK() {
			t.Errorf("%s does not verify: %v %+v", prefix, err, res)
		}
		m, err := evidence.DecodeManifest(data)
		if err != nil {
			t.Fatal(err)
		}
		if m.Clip == nil {
			t.Errorf("%s has no clip: %q", prefix, m.Notes)
		}
	}
	if bundles == 0 {
		t.Fatal("no evidence bundle stored")
	}
}
