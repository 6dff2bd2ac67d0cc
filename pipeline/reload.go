package pipeline

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/detectors/leftobject"
)

// Reload is what applying a new config to a running pipeline did.
type Reload struct {
	// Applied lists the cameras whose detection or confirmation settings
	// changed and now run with the new ones (zones, masks, thresholds,
	// filters, rules, left objects, models).
	Applied []string
	// Restart names what changed but only takes effect at the next start,
	// as config fields ("cameras[gate].url", "evidence", "cameras: added
	// street-9"). The running pipeline keeps the old values for them.
	Restart []string
}

// Reload applies cfg, validated, to the running pipeline: each running
// camera's detection and confirmation settings — masks, thresholds,
// object filters and models (from the next batch), zones, rules and left
// objects (from the camera's next frame, on its confirmation worker) —
// while its connection, tracks, open violations and history go on. What
// cannot change while running is listed in Restart and keeps its old
// value. Safe to call while Run runs, from one goroutine at a time.
func (p *Pipeline) Reload(cfg *config.Config) (Reload, error) {
	var r Reload
	old := p.running.Load()
	if old == nil {
		old = p.cfg
	}
	r.Restart = restartFields(old, cfg)
	if p.detect != nil && reflect.DeepEqual(old.Detectors, cfg.Detectors) {
		if errs := checkCameraClasses(cfg, p.detect.models); len(errs) > 0 {
			return Reload{}, errors.Join(errs...)
		}
	}
	next := *old
	next.Cameras = slices.Clone(old.Cameras)
	for i, was := range old.Cameras {
		j := slices.IndexFunc(cfg.Cameras, func(c config.Camera) bool { return c.ID == was.ID })
		if j < 0 {
			continue
		}
		now := cfg.Cameras[j]
		if reflect.DeepEqual(hotPart(was), hotPart(now)) {
			continue
		}
		if _, ok := p.confirm[was.ID]; !ok && (len(now.Zones) > 0 || now.Station != nil) {
			r.Restart = append(r.Restart, fmt.Sprintf("cameras[%s].zones: the camera had no zones at start; it confirms violations from the next start", was.ID))
			continue
		}
		for _, m := range now.Models {
			if p.detect == nil || p.detect.models[m] == nil {
				return Reload{}, fmt.Errorf("cameras[%s].models: model %q is not loaded (models load at start)", was.ID, m)
			}
		}
		if c, ok := p.confirm[was.ID]; ok {
			if _, _, err := rulesOf(now); err != nil {
				return Reload{}, err
			}
			nc := now
			c.pending.Store(&nc)
		}
		next.Cameras[i] = withHot(was, now)
		r.Applied = append(r.Applied, was.ID)
	}
	if p.detect != nil {
		models, filters := cameraTables(next.Cameras)
		p.detect.batcher.SetCameras(models, filters)
	}
	p.running.Store(&next)
	return r, nil
}

// Config is the config the pipeline runs now: the one it was built with,
// with what Reload applied.
func (p *Pipeline) Config() *config.Config {
	if c := p.running.Load(); c != nil {
		return c
	}
	return p.cfg
}

// hotCamera is the part of a camera's config Reload applies while it runs.
type hotCamera struct {
	Models      []string
	Thresholds  map[string]float32
	Filters     map[string]config.ObjectFilter
	Masks       []config.Polygon
	Zones       []config.Zone
	Rules       map[string]config.RuleParams
	LeftObjects config.LeftObjects
}

func hotPart(c config.Camera) hotCamera {
	return hotCamera{c.Models, c.Thresholds, c.Filters, c.Masks, c.Zones, c.Rules, c.LeftObjects}
}

// withHot is was with now's hot part.
func withHot(was, now config.Camera) config.Camera {
	was.Models, was.Thresholds, was.Filters, was.Masks = now.Models, now.Thresholds, now.Filters, now.Masks
	was.Zones, was.Rules, was.LeftObjects = now.Zones, now.Rules, now.LeftObjects
	return was
}

// restartFields names what differs between old and cfg outside the
// cameras' hot parts and the review users (which the review server
// reloads itself).
func restartFields(old, cfg *config.Config) []string {
	var out []string
	a, b := *old, *cfg
	a.Cameras, b.Cameras = nil, nil
	a.Review.Users, b.Review.Users = nil, nil
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, yamlName(va.Type().Field(i)))
		}
	}
	for _, c := range cfg.Cameras {
		j := slices.IndexFunc(old.Cameras, func(o config.Camera) bool { return o.ID == c.ID })
		if j < 0 {
			out = append(out, "cameras: added "+c.ID)
			continue
		}
		x, y := withHot(old.Cameras[j], c), c
		vx, vy := reflect.ValueOf(x), reflect.ValueOf(y)
		for i := range vx.NumField() {
			if !reflect.DeepEqual(vx.Field(i).Interface(), vy.Field(i).Interface()) {
				out = append(out, fmt.Sprintf("cameras[%s].%s", c.ID, yamlName(vx.Type().Field(i))))
			}
		}
	}
	for _, o := range old.Cameras {
		if !slices.ContainsFunc(cfg.Cameras, func(c config.Camera) bool { return c.ID == o.ID }) {
			out = append(out, "cameras: removed "+o.ID)
		}
	}
	return out
}

func yamlName(f reflect.StructField) string {
	if tag := f.Tag.Get("yaml"); tag != "" && tag != "-" {
		name, _, _ := strings.Cut(tag, ",")
		return name
	}
	return f.Name
}

// cameraTables are the batcher's per-camera models and filters.
func cameraTables(cams []config.Camera) (map[string][]string, map[string]*detectors.CameraFilter) {
	models, filters := map[string][]string{}, map[string]*detectors.CameraFilter{}
	for _, cam := range cams {
		if len(cam.Models) > 0 {
			models[cam.ID] = cam.Models
		}
		filters[cam.ID] = cameraFilter(cam)
	}
	return models, filters
}

// applyPending applies a reloaded camera config on the confirmation
// worker, before the frame it is about to confirm: rule parameters and
// zones replace the engine's (open violations and tracks go on), and the
// left-object detector starts, stops or restarts when its settings
// changed.
func (c *confirmer) applyPending() {
	cam := c.pending.Swap(nil)
	if cam == nil {
		return
	}
	params, zones, err := rulesOf(*cam)
	if err != nil { // checked by Reload; a config that got here is valid
		c.log.Error("reload: rules", "camera", c.camera, "err", err)
		return
	}
	c.engine.Params, c.engine.Zones = params, zones
	lo := cam.LeftObjects
	switch {
	case !lo.Enabled:
		c.left, c.leftCfg = nil, lo
	case c.left == nil || lo != c.leftCfg:
		c.left, c.leftCfg = leftobject.New(leftobject.Config{MinArea: lo.MinArea, StaticFor: lo.StaticFor.D()}), lo
	}
	c.log.Info("reloaded", "camera", c.camera, "zones", len(zones), "left_objects", lo.Enabled)
}
