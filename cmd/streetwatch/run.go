package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/httpserve"
	"github.com/streetwatch/streetwatch/pipeline"
	"github.com/streetwatch/streetwatch/review"
)

func cmdCheckConfig(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "streetwatch.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	// Models are part of the config: each manifest and its ONNX file are
	// loaded and checked as run would, so a broken model fails here, not
	// at 3 am. Warnings (an input size other than the export's) go to
	// stderr.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := pipeline.CheckModels(cfg, log); err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	if n := cfg.Cluster.Nodes; n > 1 {
		me, _ := cfg.Cluster.Index()
		fmt.Fprintf(stdout, "%s: ok (%d cameras, %d models; node %d of %d watches %d cameras)\n", *path, len(cfg.Cameras),
			len(cfg.Detectors.Models), me, n, len(cfg.ForThisNode().Cameras))
		return nil
	}
	fmt.Fprintf(stdout, "%s: ok (%d cameras, %d models)\n", *path, len(cfg.Cameras), len(cfg.Detectors.Models))
	return nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "streetwatch.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	if n := cfg.Cluster.Nodes; n > 1 {
		me, _ := cfg.Cluster.Index()
		mine := cfg.ForThisNode()
		log.Info("cluster", "node", me, "nodes", n, "cameras", len(mine.Cameras), "of", len(cfg.Cameras))
	}
	// Each node runs its share of the cameras, then and at every reload.
	load := func() (*config.Config, error) {
		c, err := config.Load(*path)
		if err != nil {
			return nil, err
		}
		return c.ForThisNode(), nil
	}
	return runPipelineReloading(ctx, cfg.ForThisNode(), log, nil, load)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// runPipeline runs the pipeline and its HTTP server until ctx ends. ready,
// if set, is called with the HTTP address once it listens.
func runPipeline(ctx context.Context, cfg *config.Config, log *slog.Logger, ready func(httpAddr string)) error {
	return runPipelineReloading(ctx, cfg, log, ready, nil)
}

// runPipelineReloading is runPipeline that, with load, reloads the config
// from load on SIGHUP and the admin's button on the cameras page.
func runPipelineReloading(ctx context.Context, cfg *config.Config, log *slog.Logger, ready func(httpAddr string), load func() (*config.Config, error)) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pipeline.Version = version
	p, err := pipeline.New(cfg, reg, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := p.Close(); cerr != nil {
			log.Error("pipeline close", "err", cerr)
		}
	}()

	// The reload metrics are there without a file to reload from (the demo,
	// tests), at zero.
	reload := newReloader(load, p, reg, log)
	var srv *httpserve.Server
	var rev *review.Server
	srvErr := make(chan error, 1)
	if cfg.HTTP.Listen != "" {
		srv = review.HTTPServer(cfg, log)
		if err := srv.Listen(); err != nil {
			// Name the config field at fault: the address, or the certificate.
			if _, ok := errors.AsType[*net.OpError](err); ok {
				return fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
			}
			return fmt.Errorf("http.tls: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		mux.HandleFunc("GET /healthz", healthz(p))
		mux.HandleFunc("GET /debug/detections", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(p.LatestDetections())
		})
		if h := p.APIHandler(); h != nil {
			mux.Handle("/api/v1/", h) // tickets: list, review transitions, audit, evidence links
		}
		if h := p.EvidenceHandler(); h != nil {
			mux.Handle("GET /evidence/", h) // the handler checks each link's signature
		}
		if cfg.HTTP.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		}
		// The review page, and the sign-in gate in front of everything
		// above except /healthz (and /metrics when public).
		rev = &review.Server{
			Config:     cfg.Review,
			Districts:  slices.Sorted(maps.Keys(cfg.Dispatch.Districts)),
			Cameras:    cameraStatuses(p),
			Evidence:   p.EvidenceStore(),
			LinkExpiry: cfg.Evidence.URLExpiry.D(),
			Registerer: reg,
			Log:        log,
			// The zone editor.
			RunningConfig: p.Config,
			Picture:       cameraPicture(p),
		}
		reload.rev = rev
		if load != nil {
			rev.Reload = func() review.ReloadReport { return reload.reload("cameras page") }
		}
		if t := p.Tickets(); t != nil {
			rev.Tickets = review.Service(t)
			rev.Auth = t.Auth() // sessions and sign-in limits shared by every node on the database
			rev.Stats, rev.StationTimezone = t, t.StationTimezone
			if len(cfg.Stations) > 0 && t.Visits() != nil {
				rev.Stations, rev.StationReports = cfg.Stations, t
			}
		}
		if err := rev.Initialize(); err != nil {
			srv.Close()
			return err
		}
		srv.Handler = rev.Handler(mux)
		go func() { srvErr <- srv.Serve() }()
		log.Info("http listening", "addr", srv.ListenAddr(), "metrics", srv.URL()+"/metrics")
		if ready != nil {
			ready(srv.ListenAddr())
		}
	}
	log.Info("pipeline starting", "cameras", len(cfg.Cameras))
	runErr := make(chan error, 1)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if load != nil {
		reload.watchSIGHUP(pctx)
	}
	go func() { runErr <- p.Run(pctx) }()
	revDone := make(chan struct{})
	go func() {
		defer close(revDone)
		if rev != nil {
			_ = rev.Run(pctx) // returns nil when pctx ends
		}
	}()

	select {
	case err = <-runErr:
	case err = <-srvErr:
		cancel()
		<-runErr
	case <-ctx.Done():
		err = <-runErr
	}
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	}
	cancel()
	<-revDone
	log.Info("pipeline stopped")
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// cameraStatuses reports the cameras' state to the review page.
func cameraStatuses(p *pipeline.Pipeline) func() []review.CameraStatus {
	return func() []review.CameraStatus {
		var out []review.CameraStatus
		for _, c := range p.Cameras() {
			st := c.Status()
			lastErr := st.Ingest.LastError
			if lastErr == "" {
				lastErr = st.LastError
			}
			out = append(out, review.CameraStatus{ID: st.ID, Name: st.Name, Up: st.Ingest.Up, State: st.State, Codec: st.Ingest.Codec,
				Width: st.Ingest.Width, Height: st.Ingest.Height, Transport: st.Ingest.Transport,
				LastFrame: st.LastFrame, LastError: lastErr, Reconnects: st.Ingest.Reconnects, FramesSampled: st.FramesSampled})
		}
		return out
	}
}

// cameraPicture gives the zone editor a camera's next sampled frame and
// what detection found in it.
func cameraPicture(p *pipeline.Pipeline) func(context.Context, string) (review.CameraPicture, error) {
	return func(ctx context.Context, camera string) (review.CameraPicture, error) {
		pic, err := p.Picture(ctx, camera)
		if err != nil {
			return review.CameraPicture{}, err
		}
		out := review.CameraPicture{JPEG: pic.JPEG, Width: pic.Width, Height: pic.Height, Time: pic.Time}
		for _, d := range pic.Detections {
			out.Detections = append(out.Detections, review.PictureDetection{Class: d.Class, Score: d.Score,
				Box: [4]float32{d.Box.X1, d.Box.Y1, d.Box.X2, d.Box.Y2}})
		}
		return out, nil
	}
}

// healthz reports liveness (200 while the process runs). Probes get only
// the status; a signed-in user (or anyone on a server without review
// users, which listens on loopback) also gets each camera's state and the
// failing models. Status is "degraded" while a model's inferences fail:
// detection is then blind for the cameras that run it, whatever their
// streams do.
func healthz(p *pipeline.Pipeline) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		type cam struct {
			ID        string    `json:"id"`
			Up        bool      `json:"up"`                  // media arrives
			State     string    `json:"state"`               // connecting, starting, decoding or no_decode
			LastFrame time.Time `json:"last_frame,omitzero"` // this machine's clock
			LastError string    `json:"last_error,omitempty"`
		}
		body := struct {
			Status        string   `json:"status"` // ok or degraded
			FailingModels []string `json:"failing_models,omitempty"`
			Cameras       []cam    `json:"cameras"`
		}{Status: "ok", FailingModels: p.FailingModels()}
		if len(body.FailingModels) > 0 {
			body.Status = "degraded"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !review.HealthDetails(r) {
			_ = json.NewEncoder(w).Encode(struct {
				Status string `json:"status"`
			}{body.Status})
			return
		}
		for _, c := range p.Cameras() {
			st := c.Status()
			lastErr := st.Ingest.LastError
			if lastErr == "" {
				lastErr = st.LastError
			}
			body.Cameras = append(body.Cameras, cam{ID: st.ID, Up: st.Ingest.Up, State: st.State, LastFrame: st.LastFrame, LastError: lastErr})
		}
		_ = json.NewEncoder(w).Encode(body)
	}
}
