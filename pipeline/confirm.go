package pipeline

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/rules"
	"github.com/streetwatch/streetwatch/confirm/track"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/detectors/leftobject"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/internal/lograte"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/violation"
)

// ViolationEvent is a confirmed violation with the pictures the evidence
// stage needs: the best frame of the object and, for dumping, the frame
// where it appeared with its actor. The receiver owns the Mats and must
// Close them.
type ViolationEvent struct {
	rules.Violation
	BestFrame   gocv.Mat
	AppearFrame gocv.Mat // empty unless the violation is a dumping
}

// Close frees the event's pictures.
func (e *ViolationEvent) Close() {
	if e.BestFrame.Ptr() != nil {
		e.BestFrame.Close()
	}
	if e.AppearFrame.Ptr() != nil {
		e.AppearFrame.Close()
	}
}

// confirmer is one camera's confirmation stage: tracker, rules, and copies
// of the frames that may become evidence.
type confirmer struct {
	camera  string
	tracker *track.Tracker
	engine  *rules.Engine
	log     *slog.Logger
	metrics *rules.Metrics
	// kept frames per candidate track: its best frame and the frame it
	// appeared in. Only object classes are kept, so memory stays bounded
	// by the objects in view.
	best, appear map[uint64]gocv.Mat
	// left finds objects that appear and stay, whatever their class (nil
	// when the camera does not use it).
	left     *leftobject.Detector
	leftErrs lograte.Limiter
}

func newConfirmer(cam config.Camera, stateDir string, m *rules.Metrics, log *slog.Logger) (*confirmer, error) {
	e := &rules.Engine{Camera: cam.ID, Store: rules.FileStore{Dir: stateDir}, Metrics: m, Params: map[rules.Type]rules.Params{}, DeferSave: true}
	for _, t := range rules.Types {
		p := rules.DefaultParams(t)
		if o, ok := cam.Rules[string(t)]; ok {
			p = override(p, o)
		}
		e.Params[t] = p
	}
	for _, z := range cam.Zones {
		rz, err := zone(z)
		if err != nil {
			return nil, fmt.Errorf("camera %q zone %q: %w", cam.ID, z.Name, err)
		}
		e.Zones = append(e.Zones, rz)
	}
	c := &confirmer{camera: cam.ID, tracker: track.New(track.Config{}, 1), engine: e, log: log, metrics: m,
		best: map[uint64]gocv.Mat{}, appear: map[uint64]gocv.Mat{}, leftErrs: lograte.Limiter{Every: time.Minute}}
	if lo := cam.LeftObjects; lo.Enabled {
		c.left = leftobject.New(leftobject.Config{MinArea: lo.MinArea, StaticFor: lo.StaticFor.D()})
	}
	return c, nil
}

func override(p rules.Params, o config.RuleParams) rules.Params {
	if o.MinDwell > 0 {
		p.MinDwell = o.MinDwell.D()
	}
	if o.MinScore > 0 {
		p.MinScore = o.MinScore
	}
	if o.ClearAfter > 0 {
		p.ClearAfter = o.ClearAfter.D()
	}
	return p
}

func zone(z config.Zone) (rules.Zone, error) {
	rz := rules.Zone{Name: z.Name, Overrides: map[rules.Type]rules.Params{}}
	for _, pt := range z.Polygon {
		rz.Polygon = append(rz.Polygon, geom.Point{X: pt[0], Y: pt[1]})
	}
	for _, t := range z.Types {
		rz.Types = append(rz.Types, rules.Type(t))
	}
	for t, o := range z.Overrides {
		rz.Overrides[rules.Type(t)] = override(rules.Params{}, o)
	}
	rz.NoLeftObjects = z.LeftObjects != nil && !*z.LeftObjects
	loc, err := time.LoadLocation(z.Schedule.Timezone)
	if err != nil {
		return rz, err
	}
	rz.Schedule.Location = loc
	for _, w := range z.Schedule.Windows {
		start, err := rules.ParseClock(w.Start)
		if err != nil {
			return rz, err
		}
		end, err := rules.ParseClock(w.End)
		if err != nil {
			return rz, err
		}
		rw := rules.Window{Start: start, End: end}
		for _, d := range w.Days {
			rw.Days = append(rw.Days, config.Weekdays[strings.ToLower(d)])
		}
		rz.Schedule.Windows = append(rz.Schedule.Windows, rw)
	}
	return rz, nil
}

// update tracks one frame's detections and returns the violations confirmed.
func (c *confirmer) update(f *frame.Frame, dets []detectors.Detection) []ViolationEvent {
	if c.left != nil {
		dets = c.addLeftObjects(f, dets)
	}
	ended := c.tracker.Update(f.Time, dets)
	live := c.tracker.Tracks()
	c.metrics.TracksActive.WithLabelValues(c.camera).Set(float64(len(live)))
	for _, t := range ended {
		c.drop(t.ID)
	}
	for _, t := range live {
		if !violation.IsObject(t.Class()) || t.Missed {
			continue
		}
		if t.Best.Time.Equal(f.Time) {
			c.keep(c.best, t.ID, f.Mat)
		}
		if t.Hits == 1 { // the frame it was first matched in (a left object may be dated earlier)
			c.keep(c.appear, t.ID, f.Mat)
		}
	}
	vs, err := c.engine.Update(f.Time, f.Width(), f.Height(), live, ended)
	if err != nil {
		// Persisting open violations failed: the events still go out (nothing
		// confirmed is lost); a restart might report them again.
		c.log.Error("rules", "camera", c.camera, "err", err)
	}
	var out []ViolationEvent
	for _, v := range vs {
		ev := ViolationEvent{Violation: v}
		if m, ok := c.best[v.TrackID]; ok {
			ev.BestFrame = m.Clone()
		}
		if m, ok := c.appear[v.TrackID]; ok && v.Type == rules.IllegalDumping {
			ev.AppearFrame = m.Clone()
		}
		c.log.Info("violation confirmed", "camera", c.camera, "id", v.ID, "type", v.Type, "zone", v.Zone,
			"track", v.TrackID, "first_seen", v.FirstSeen, "confidence", v.Confidence)
		out = append(out, ev)
	}
	return out
}

// addLeftObjects runs the left-object detector on the frame, with the
// people and vehicles the model found masked out, and merges what it finds
// with the model's detections.
func (c *confirmer) addLeftObjects(f *frame.Frame, dets []detectors.Detection) []detectors.Detection {
	var actors []geom.Box
	for _, d := range dets {
		if violation.IsActor(d.Class) {
			actors = append(actors, d.Box)
		}
	}
	left, err := c.left.Detect(f.Mat, f.Time, actors)
	if err != nil {
		if ok, held := c.leftErrs.Allow(time.Now()); ok {
			c.log.Error("left-object detection failed", "camera", c.camera, "err", err, "suppressed", held)
		}
		return dets
	}
	return leftobject.Merge(dets, left)
}

func (c *confirmer) keep(into map[uint64]gocv.Mat, id uint64, src gocv.Mat) {
	m, ok := into[id]
	if !ok {
		m = gocv.NewMat()
	}
	src.CopyTo(&m) // reuses m's memory when the size matches
	into[id] = m
}

func (c *confirmer) drop(id uint64) {
	for _, kept := range []map[uint64]gocv.Mat{c.best, c.appear} {
		if m, ok := kept[id]; ok {
			m.Close()
			delete(kept, id)
		}
	}
}

func (c *confirmer) close() {
	if c.left != nil {
		c.left.Close()
	}
	for id := range c.best {
		c.drop(id)
	}
	for id := range c.appear {
		c.drop(id)
	}
}
