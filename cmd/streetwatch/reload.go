package main

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/pipeline"
	"github.com/streetwatch/streetwatch/review"
)

// reloader re-reads the config file on SIGHUP or the admin's button and
// applies it to the running pipeline and review server. A config that
// check-config would refuse is refused with its errors, and the old one
// keeps running. One reload at a time.
type reloader struct {
	load func() (*config.Config, error)
	p    *pipeline.Pipeline
	rev  *review.Server // nil without the HTTP server
	log  *slog.Logger

	mu       sync.Mutex
	reloads  *prometheus.CounterVec
	pending  prometheus.Gauge
	lastGood prometheus.Gauge
}

func newReloader(load func() (*config.Config, error), p *pipeline.Pipeline, reg prometheus.Registerer, log *slog.Logger) *reloader {
	r := &reloader{load: load, p: p, log: log,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_config_reloads_total",
			Help: "Config reloads (SIGHUP or the cameras page), by result: applied, or refused (the new config is not valid; the old one runs on).",
		}, []string{"result"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "streetwatch_config_restart_pending",
			Help: "Config fields changed by the last applied reload that take effect only at the next start (0: the running config is the file's).",
		}),
		lastGood: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "streetwatch_config_last_reload_success_timestamp_seconds",
			Help: "When the config was last loaded successfully (start or reload), in Unix seconds.",
		}),
	}
	r.reloads.WithLabelValues("applied")
	r.reloads.WithLabelValues("refused")
	r.lastGood.SetToCurrentTime()
	if reg != nil {
		reg.MustRegister(r.reloads, r.pending, r.lastGood)
	}
	return r
}

// reload reads and applies the config file; source says who asked (for
// the log).
func (r *reloader) reload(source string) review.ReloadReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := r.load()
	var res pipeline.Reload
	if err == nil {
		res, err = r.p.Reload(cfg)
	}
	if err != nil {
		r.reloads.WithLabelValues("refused").Inc()
		r.log.Error("config reload refused; the running config is unchanged", "source", source, "err", err)
		return review.ReloadReport{Err: err}
	}
	rep := review.ReloadReport{Applied: res.Applied, Added: res.Added, Removed: res.Removed, Restarted: res.Restarted, Restart: res.Restart}
	if r.rev != nil {
		if err := r.rev.SetUsers(cfg.Review.Users); err != nil {
			rep.Restart = append(rep.Restart, err.Error())
		}
		if res.Dispatch {
			r.rev.SetDistricts(slices.Sorted(maps.Keys(cfg.Dispatch.Districts)))
		}
	}
	r.reloads.WithLabelValues("applied").Inc()
	r.pending.Set(float64(len(rep.Restart)))
	r.lastGood.SetToCurrentTime()
	r.log.Info("config reloaded", "source", source, "cameras_updated", rep.Applied, "cameras_added", rep.Added,
		"cameras_removed", rep.Removed, "cameras_reconnected", rep.Restarted, "dispatch_updated", res.Dispatch, "restart_needed_for", rep.Restart)
	return rep
}

// watchSIGHUP reloads on each SIGHUP until ctx ends. SIGHUP is caught
// from when it returns (it no longer ends the process).
func (r *reloader) watchSIGHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				r.reload("SIGHUP")
			}
		}
	}()
}
