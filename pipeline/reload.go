package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/detectors/leftobject"
)

// Reload is what applying a new config to a running pipeline did.
type Reload struct {
	// Applied lists the cameras whose detection or confirmation settings
	// changed and now run with the new ones (zones, masks, thresholds,
	// filters, rules, left objects, models, name, location).
	Applied []string
	// Added and Removed are the cameras started and stopped; Restarted
	// the cameras whose stream settings changed (URL, transport,
	// sampling, decoder, timeouts): their connection was opened again,
	// their tracks, open violations and history go on.
	Added, Removed, Restarted []string
	// Dispatch: the dispatch settings changed and apply to tickets from
	// now on (review policies, teams, districts, the webhook).
	Dispatch bool
	// Restart names what changed but only takes effect at the next start,
	// as config fields ("evidence", "cameras[gate].station"). The running
	// pipeline keeps the old values for them.
	Restart []string
}

// cameraStop bounds how long Reload waits for a removed or restarted
// camera to close its connection.
const cameraStop = 10 * time.Second

// Reload applies cfg, validated, to the running pipeline:
//
//   - a running camera's masks, thresholds, object filters and models
//     apply from the next batch; its zones, rules and left-object settings
//     from its next frame, on its confirmation worker; its name and
//     location to the evidence recorded from now on. Its connection,
//     tracks, open violations and history go on.
//   - a camera whose stream settings changed (URL, transport, sampling,
//     decoder, timeouts) connects again; its tracks and history go on.
//   - a camera added starts (with its confirmation and history when it has
//     zones); a camera removed stops. A removed camera's history stays
//     until the next start, so the clips of its last violations can still
//     be cut (and it comes back if the camera is added again).
//
// What cannot change while running (models, evidence, dispatch, HTTP,
// stations, a camera's station, zones on a camera when the pipeline
// started without confirmation) is listed in Restart and keeps its old
// value. Call it from one goroutine at a time, while Run runs or before
// (then Run starts the cameras as they are).
func (p *Pipeline) Reload(cfg *config.Config) (Reload, error) {
	var r Reload
	old := p.Config()
	if p.detect != nil && reflect.DeepEqual(old.Detectors, cfg.Detectors) {
		if errs := checkCameraClasses(cfg, p.detect.models); len(errs) > 0 {
			return Reload{}, errors.Join(errs...)
		}
	}
	for _, cam := range cfg.Cameras {
		for _, m := range cam.Models {
			if p.detect == nil || p.detect.models[m] == nil {
				return Reload{}, fmt.Errorf("cameras[%s].models: model %q is not loaded (models load at start)", cam.ID, m)
			}
		}
		if _, _, err := rulesOf(cam); err != nil {
			return Reload{}, err
		}
	}
	r.Restart = restartFields(old, cfg, p.tickets != nil)

	p.camMu.Lock()
	defer p.camMu.Unlock()
	running := p.runCtx != nil
	next := *old
	next.Cameras = nil
	cameras := slices.Clone(p.cameras)
	confirm := maps.Clone(*p.confirms.Load())
	// Removed cameras stop first: a camera may be removed and another
	// added with its id in the same reload only through a restart below.
	for _, was := range old.Cameras {
		if slices.ContainsFunc(cfg.Cameras, func(c config.Camera) bool { return c.ID == was.ID }) {
			continue
		}
		if running {
			p.stopCamera(was.ID)
		}
		cameras = slices.DeleteFunc(cameras, func(c *Camera) bool { return c.ID() == was.ID })
		if c, ok := confirm[was.ID]; ok {
			delete(confirm, was.ID)
			if p.confirmers != nil {
				p.confirmers.after(was.ID, c.close) // after the frames already handed on
			}
		}
		r.Removed = append(r.Removed, was.ID)
	}
	for _, now := range cfg.Cameras {
		i := slices.IndexFunc(old.Cameras, func(c config.Camera) bool { return c.ID == now.ID })
		if i < 0 { // added
			if confirms(now) && (p.evidence == nil || p.confirmers == nil) {
				r.Restart = append(r.Restart, fmt.Sprintf("cameras[%s]: added with zones or a station, but this run started without confirmation", now.ID))
				continue
			}
			cam := newCamera(now, p.cfg.Pipeline.UnitQueue, p.queue, p.pool, p.m, p.im, p.log)
			if confirms(now) {
				c, err := newConfirmer(now, p.open, p.rm, p.log)
				if err != nil {
					return r, err
				}
				c.pictures = p.pool
				c.viewMoved = p.m.viewMoved.WithLabelValues(now.ID)
				p.lookCloserWith(c, now)
				if cam.history, err = p.evidence.addCamera(now); err != nil {
					c.close()
					return r, err
				}
				c.history = cam.history
				confirm[now.ID] = c
				p.confirmers.assign(now.ID)
			}
			p.m.dropped.WithLabelValues(now.ID, DropOverload)
			cameras = append(cameras, cam)
			next.Cameras = append(next.Cameras, now)
			if running {
				p.startCamera(cam)
			}
			r.Added = append(r.Added, now.ID)
			continue
		}
		was := old.Cameras[i]
		kept := was
		c, confirming := confirm[was.ID]
		if !reflect.DeepEqual(hotPart(was), hotPart(now)) || was.Name != now.Name || was.Location != now.Location {
			switch {
			case !confirming && confirms(now):
				r.Restart = append(r.Restart, fmt.Sprintf("cameras[%s].zones: the camera had no zones at start; it confirms violations from the next start", was.ID))
			default:
				if confirming {
					nc := now
					c.pending.Store(&nc)
					p.evidence.setCamera(withHot(was, now))
				}
				kept = withHot(was, now)
				r.Applied = append(r.Applied, was.ID)
			}
		}
		if !reflect.DeepEqual(streamPart(was), streamPart(now)) {
			kept = withStream(kept, now)
			j := slices.IndexFunc(cameras, func(c *Camera) bool { return c.ID() == was.ID })
			if running {
				p.stopCamera(was.ID)
			}
			cam := newCamera(kept, p.cfg.Pipeline.UnitQueue, p.queue, p.pool, p.m, p.im, p.log)
			cam.history = cameras[j].history
			cameras[j] = cam
			if running {
				p.startCamera(cam)
			}
			r.Restarted = append(r.Restarted, was.ID)
		}
		next.Cameras = append(next.Cameras, kept)
	}
	if p.tickets != nil && !reflect.DeepEqual(old.Dispatch, cfg.Dispatch) {
		r.Restart = append(r.Restart, p.tickets.SetConfig(cfg.Dispatch)...)
		next.Dispatch = p.tickets.Config()
		r.Dispatch = true
	}
	p.cameras = cameras
	p.confirms.Store(&confirm)
	if p.detect != nil {
		models, filters := cameraTables(next.Cameras)
		p.detect.batcher.SetCameras(models, filters)
	}
	p.running.Store(&next)
	return r, nil
}

// stopCamera ends a running camera and waits (at most cameraStop) for its
// connection to close; with camMu held.
func (p *Pipeline) stopCamera(id string) {
	run, ok := p.camStops[id]
	if !ok {
		return
	}
	delete(p.camStops, id)
	run.stop()
	select {
	case <-run.done:
	case <-time.After(cameraStop):
		p.log.Warn("reload: camera did not stop in time; going on", "camera", id, "wait", cameraStop)
	}
}

// Config is the config the pipeline runs now: the one it was built with,
// with what Reload applied.
func (p *Pipeline) Config() *config.Config {
	if c := p.running.Load(); c != nil {
		return c
	}
	return p.cfg
}

// hotCamera is the part of a camera's config Reload applies while it
// runs, without touching its connection.
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

// withHot is was with now's hot part, name and location.
func withHot(was, now config.Camera) config.Camera {
	was.Models, was.Thresholds, was.Filters, was.Masks = now.Models, now.Thresholds, now.Filters, now.Masks
	was.Zones, was.Rules, was.LeftObjects = now.Zones, now.Rules, now.LeftObjects
	was.Name, was.Location = now.Name, now.Location
	return was
}

// streamCamera is the part of a camera's config that a new connection
// applies.
type streamCamera struct {
	URL, Transport                             string
	AllowRedirectsToOtherHosts, AllowBasicAuth bool
	Sampling                                   config.Sampling
	StallTimeout                               config.Duration
	Reconnect                                  config.Reconnect
	Decoder                                    config.Decoder
}

func streamPart(c config.Camera) streamCamera {
	return streamCamera{c.URL, c.Transport, c.AllowRedirectsToOtherHosts, c.AllowBasicAuth, c.Sampling, c.StallTimeout, c.Reconnect, c.Decoder}
}

func withStream(was, now config.Camera) config.Camera {
	was.URL, was.Transport, was.AllowRedirectsToOtherHosts, was.AllowBasicAuth = now.URL, now.Transport, now.AllowRedirectsToOtherHosts, now.AllowBasicAuth
	was.Sampling, was.StallTimeout, was.Reconnect, was.Decoder = now.Sampling, now.StallTimeout, now.Reconnect, now.Decoder
	return was
}

// restartFields names what differs between old and cfg that Reload
// cannot apply: everything but the cameras (Reload adds, removes and
// updates them; what it cannot do it names itself), the review users (the
// review server reloads them) and, with a ticket service, dispatch.
func restartFields(old, cfg *config.Config, dispatch bool) []string {
	var out []string
	a, b := *old, *cfg
	a.Cameras, b.Cameras = nil, nil
	if dispatch { // Reload applies it (the ticket service names what it cannot)
		a.Dispatch, b.Dispatch = config.Dispatch{}, config.Dispatch{}
	}
	a.Review.Users, b.Review.Users = nil, nil
	a.Cluster, b.Cluster = config.Cluster{}, config.Cluster{} // applied as the cameras it adds and removes
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, yamlName(va.Type().Field(i)))
		}
	}
	for _, c := range cfg.Cameras {
		j := slices.IndexFunc(old.Cameras, func(o config.Camera) bool { return o.ID == c.ID })
		if j < 0 {
			continue
		}
		x, y := withStream(withHot(old.Cameras[j], c), c), c
		vx, vy := reflect.ValueOf(x), reflect.ValueOf(y)
		for i := range vx.NumField() {
			if !reflect.DeepEqual(vx.Field(i).Interface(), vy.Field(i).Interface()) {
				out = append(out, fmt.Sprintf("cameras[%s].%s", c.ID, yamlName(vx.Type().Field(i))))
			}
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
	c.useZoom(cam.Models)
	c.filter = cameraFilter(*cam)
	lo := cam.LeftObjects
	switch {
	case !lo.On():
		c.left, c.leftCfg = nil, lo
		c.noViewMoved()
	case c.left == nil || !lo.Same(c.leftCfg):
		c.left, c.leftCfg = leftobject.New(leftobject.Config{MinArea: lo.MinArea, StaticFor: lo.StaticFor.D()}), lo
		c.noViewMoved()
	}
	c.log.Info("reloaded", "camera", c.camera, "zones", len(zones), "left_objects", lo.On())
}
