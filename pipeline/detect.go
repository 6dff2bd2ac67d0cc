package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
)

// detection is the detector stage as the pipeline runs it: the models, the
// per-camera filters and the batcher over the frame queue.
type detection struct {
	models  map[string]*detectors.Model
	batcher *detectors.Batcher
	log     *slog.Logger

	mu     sync.Mutex
	latest map[string]CameraDetections
}

// CameraDetections is the latest detector output of a camera (for the
// debug endpoint and the cameras page).
type CameraDetections struct {
	Time       time.Time             `json:"time"`
	Detections []detectors.Detection `json:"detections"`
}

// newDetection loads the models; on error it frees what it loaded.
func newDetection(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, src detectors.FrameSource) (_ *detection, err error) {
	dc := cfg.Detectors
	lib, err := detectors.InitRuntime(dc.Runtime.Library)
	if err != nil {
		return nil, fmt.Errorf("detectors.runtime: %w", err)
	}
	log.Info("onnx runtime loaded", "library", lib)
	opts := detectors.SessionOptions{
		Provider:          dc.Runtime.Provider,
		DeviceID:          dc.Runtime.DeviceID,
		IntraOpThreads:    dc.Runtime.IntraOpThreads,
		InterOpThreads:    dc.Runtime.InterOpThreads,
		GraphOptimization: dc.Runtime.GraphOptimization,
		Spinning:          dc.Runtime.Spinning,
	}
	m := detectors.NewMetrics(reg)
	d := &detection{models: map[string]*detectors.Model{}, log: log, latest: map[string]CameraDetections{}}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	for i, ref := range dc.Models {
		man, err := detectors.LoadManifest(ref.Manifest)
		if err != nil {
			return nil, fmt.Errorf("detectors.models[%d]: %w", i, err)
		}
		model, err := detectors.LoadModel(man, opts, log)
		if err != nil {
			return nil, fmt.Errorf("detectors.models[%d]: %w", i, err)
		}
		d.models[ref.Name] = model
		m.ModelInfo(ref.Name, man.Version, dc.Runtime.Provider, model.Provider)
		log.Info("model loaded", "model", ref.Name, "name", man.Name, "version", man.Version,
			"layout", model.Layout(), "provider", model.Provider, "input", fmt.Sprintf("%dx%d", man.Input.Width, man.Input.Height))
	}
	d.batcher = &detectors.Batcher{
		Queue:        src,
		Models:       d.models,
		CameraModels: map[string][]string{},
		Filters:      map[string]*detectors.CameraFilter{},
		MaxBatch:     dc.MaxBatch,
		MaxWait:      dc.MaxWait.D(),
		Workers:      dc.Workers,
		Metrics:      m,
		Log:          log,
	}
	if d.batcher.Workers == 0 {
		d.batcher.Workers = runtime.GOMAXPROCS(0)
	}
	for _, cam := range cfg.Cameras {
		if len(cam.Models) > 0 {
			d.batcher.CameraModels[cam.ID] = cam.Models
		}
		d.batcher.Filters[cam.ID] = cameraFilter(cam)
	}
	return d, nil
}

func cameraFilter(cam config.Camera) *detectors.CameraFilter {
	cf := &detectors.CameraFilter{Thresholds: cam.Thresholds, Filters: map[string]detectors.ObjectFilter{}}
	for class, f := range cam.Filters {
		cf.Filters[class] = detectors.ObjectFilter{MinArea: f.MinArea, MaxArea: f.MaxArea, MinRatio: f.MinRatio, MaxRatio: f.MaxRatio}
	}
	for _, poly := range cam.Masks {
		var p geom.Polygon
		for _, pt := range poly {
			p = append(p, geom.Point{X: pt[0], Y: pt[1]})
		}
		cf.Masks = append(cf.Masks, p)
	}
	return cf
}

func (d *detection) run(ctx context.Context, onResult func(detectors.Result)) error {
	d.batcher.OnResult = func(r detectors.Result) {
		dets := r.Detections
		if dets == nil {
			dets = []detectors.Detection{}
		}
		d.mu.Lock()
		d.latest[r.Frame.Camera] = CameraDetections{Time: r.Frame.Time, Detections: dets}
		d.mu.Unlock()
		if d.log.Enabled(ctx, slog.LevelDebug) {
			d.log.Debug("detections", "camera", r.Frame.Camera, "pts", r.Frame.PTS, "count", len(r.Detections), "detections", r.Detections)
		}
		onResult(r)
	}
	return d.batcher.Run(ctx)
}

func (d *detection) snapshot() map[string]CameraDetections {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]CameraDetections, len(d.latest))
	for k, v := range d.latest {
		out[k] = v
	}
	return out
}

func (d *detection) close() {
	for _, m := range d.models {
		m.Close()
	}
}
