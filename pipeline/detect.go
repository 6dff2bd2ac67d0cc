package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/violation"
)

// detection is the detector stage as the pipeline runs it: the models, the
// per-camera filters and the batcher over the frame queue.
type detection struct {
	models map[string]*detectors.Model
	// zoomers look closer with the models that name objects (see
	// confirmer.lookCloser).
	zoomers map[string]*detectors.Zoomer
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
	opts := sessionOptions(dc.Runtime)
	m := detectors.NewMetrics(reg)
	d := &detection{models: map[string]*detectors.Model{}, log: log, latest: map[string]CameraDetections{}}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.models, err = loadModels(cfg, opts, log); err != nil {
		return nil, err
	}
	d.zoomers = map[string]*detectors.Zoomer{}
	for _, ref := range dc.Models {
		model := d.models[ref.Name]
		man := model.Manifest
		if slices.ContainsFunc(man.Classes, violation.IsObject) {
			if d.zoomers[ref.Name], err = detectors.NewZoomer(model); err != nil {
				return nil, fmt.Errorf("detectors.models (%s): %w", ref.Name, err)
			}
		}
		m.ModelInfo(ref.Name, man.Version, dc.Runtime.Provider, model.Provider)
		log.Info("model loaded", "model", ref.Name, "name", man.Name, "version", man.Version,
			"layout", model.Layout(), "provider", model.Provider, "input", fmt.Sprintf("%dx%d", man.Input.Width, man.Input.Height),
			"classes", man.Classes)
	}
	d.batcher = &detectors.Batcher{
		Queue:    src,
		Models:   d.models,
		MaxBatch: dc.MaxBatch,
		MaxWait:  dc.MaxWait.D(),
		Workers:  dc.Workers,
		Metrics:  m,
		Log:      log,
	}
	if d.batcher.Workers == 0 {
		d.batcher.Workers = runtime.GOMAXPROCS(0)
	}
	d.batcher.CameraModels, d.batcher.Filters = cameraTables(cfg.Cameras)
	return d, nil
}

// loadModels loads every model of the config and checks the cameras'
// per-class settings against the classes of the models they run. It
// reports every problem it finds, each with its config field, and frees
// what it loaded when it fails.
func loadModels(cfg *config.Config, opts detectors.SessionOptions, log *slog.Logger) (map[string]*detectors.Model, error) {
	models := map[string]*detectors.Model{}
	var errs []error
	for i, ref := range cfg.Detectors.Models {
		man, err := detectors.LoadManifest(ref.Manifest)
		if err == nil {
			var model *detectors.Model
			if model, err = detectors.LoadModel(man, opts, log); err == nil {
				models[ref.Name] = model
				continue
			}
		}
		errs = append(errs, fmt.Errorf("detectors.models[%d] (%s): %w", i, ref.Name, err))
	}
	if len(errs) == 0 {
		errs = append(errs, checkCameraClasses(cfg, models)...)
	}
	if len(errs) > 0 {
		for _, m := range models {
			m.Close()
		}
		return nil, errors.Join(errs...)
	}
	return models, nil
}

// checkCameraClasses: a camera's thresholds, filters and station vehicle
// classes must name classes of the models it runs, or they silently do
// nothing.
func checkCameraClasses(cfg *config.Config, models map[string]*detectors.Model) []error {
	var errs []error
	for i, cam := range cfg.Cameras {
		names := cam.Models
		if len(names) == 0 {
			for _, ref := range cfg.Detectors.Models {
				names = append(names, ref.Name)
			}
		}
		known := map[string]bool{}
		var all []string
		for _, n := range names {
			if m, ok := models[n]; ok {
				for _, c := range m.Manifest.Classes {
					if !known[c] {
						known[c] = true
						all = append(all, c)
					}
				}
			}
		}
		for _, field := range []struct {
			name    string
			classes []string
		}{{"thresholds", slices.Sorted(maps.Keys(cam.Thresholds))}, {"filters", slices.Sorted(maps.Keys(cam.Filters))}} {
			for _, c := range field.classes {
				if !known[c] {
					errs = append(errs, fmt.Errorf("cameras[%d].%s.%s: no model this camera runs has that class (it has %v)", i, field.name, c, all))
				}
			}
		}
		if cam.Station != nil {
			for j, c := range cam.Station.VehicleClasses {
				if !known[c] {
					errs = append(errs, fmt.Errorf("cameras[%d].station.vehicle_classes[%d]: no model this camera runs has class %q (it has %v)", i, j, c, all))
				}
			}
		}
	}
	return errs
}

// CheckModels loads every model of the config as Run would, with the
// same checks, and frees them again: for check-config.
func CheckModels(cfg *config.Config, log *slog.Logger) error {
	dc := cfg.Detectors
	if len(dc.Models) == 0 {
		return nil
	}
	if _, err := detectors.InitRuntime(dc.Runtime.Library); err != nil {
		return fmt.Errorf("detectors.runtime: %w", err)
	}
	models, err := loadModels(cfg, sessionOptions(dc.Runtime), log)
	for _, m := range models {
		m.Close()
	}
	return err
}

func sessionOptions(rt config.Runtime) detectors.SessionOptions {
	return detectors.SessionOptions{
		Provider:          rt.Provider,
		DeviceID:          rt.DeviceID,
		IntraOpThreads:    rt.IntraOpThreads,
		InterOpThreads:    rt.InterOpThreads,
		GraphOptimization: rt.GraphOptimization,
		Spinning:          rt.Spinning,
	}
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

// run runs the detector stage until its frames end; onResult owns each
// frame (it must Release it).
func (d *detection) run(ctx context.Context, onResult func(detectors.Result)) error {
	d.batcher.HandOff = true
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
	for _, z := range d.zoomers {
		z.Close() // waits for a look in progress: before its model
	}
	for _, m := range d.models {
		m.Close()
	}
}
