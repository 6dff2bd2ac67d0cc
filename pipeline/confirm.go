package pipeline

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/rules"
	"github.com/streetwatch/streetwatch/confirm/track"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/detectors/leftobject"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/internal/lograte"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/decode"
	"github.com/streetwatch/streetwatch/pipeline/history"
	"github.com/streetwatch/streetwatch/violation"
)

// ViolationEvent is a confirmed violation with the pictures the evidence
// stage needs: the best frame of the object and, for dumping, a picture
// of its actor, decoded from what the confirmer kept (keptFrame). The
// receiver owns the Mats and must Close them.
type ViolationEvent struct {
	rules.Violation
	// BestFrame is the snapshot's picture, taken at BestAt: the frame of
	// the best sample (Violation.Best), or for a pile seen as several
	// objects (Parts > 0) the frame it was confirmed in, where every part
	// lies within the box reported (the best sample may show the first
	// bag alone, before the rest was put down).
	BestFrame gocv.Mat
	BestAt    time.Time
	// AppearFrame (dumping only; empty otherwise) is the actor's picture:
	// the last frame the actor was seen in beside the object when one was
	// kept, else the frame the object was first detected in. AppearAt is
	// when it was taken.
	AppearFrame gocv.Mat
	AppearAt    time.Time
	// ActorSample is the actor's own sample in AppearFrame (zero Time when
	// the frame is the object's and the actor's place in it is unknown).
	ActorSample track.Sample
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
	// by the objects in view. See keptFrame for how they are kept.
	best, appear map[uint64]keptFrame
	// actors keeps, per person or vehicle seen beside a candidate object,
	// the last frame it was seen there in: the picture of who left an
	// object, taken at the time of the actor's sample drawn on it. Kept
	// after the actor's track ends (a dumping is confirmed once the actor
	// has gone), for actorFrameKeep and at most maxActorFrames of them.
	actors map[uint64]keptFrame
	// left finds objects that appear and stay, whatever their class (nil
	// when the camera does not use it).
	left     *leftobject.Detector
	leftCfg  config.LeftObjects // what left was made with
	leftErrs lograte.Limiter
	// zoom has the class model look closer at what only left found (nil:
	// no model runs on the camera; see lookCloser), as model zoomModel;
	// looks are the closer looks taken per track. zoomers are the
	// pipeline's, per model, to choose from on a reload.
	zoom      *detectors.Zoomer
	zoomModel string
	zoomers   map[string]*detectors.Zoomer
	allModels []string // the config's, for a camera that names none
	looks     map[uint64]closerLook
	zoomErrs  lograte.Limiter
	// filter is the camera's post-processing, which the looks' detections
	// pass as the batcher's do (thresholds, filters, masks).
	filter *detectors.CameraFilter
	// looked counts the closer looks by outcome (nil: not counted).
	looked *prometheus.CounterVec
	// viewMoved shows how far left has seen the camera's view move (nil:
	// not shown).
	viewMoved prometheus.Gauge
	// pending is a reloaded config for the worker to apply before the
	// next frame (applyPending); nil when none.
	pending atomic.Pointer[config.Camera]
	// station finds vehicle visits (nil unless a station camera).
	station *stationWatch
	// encoded is the last frame kept, as JPEG: a frame kept for several
	// tracks is encoded once.
	encoded struct {
		seq  uint64
		data []byte
	}
	keepErrs lograte.Limiter
	// history is the camera's video history (nil without evidence):
	// keyframes are kept by reference into it (see keptFrame).
	history *history.History
	// pictures lends the memory keyframes kept by reference are decoded
	// into again (nil: allocated, see frame.Pool.Picture): the pipeline's
	// frame pool, to which the evidence stage gives them back.
	pictures *frame.Pool
}

func newConfirmer(cam config.Camera, open rules.Store, m *rules.Metrics, log *slog.Logger) (*confirmer, error) {
	params, zones, err := rulesOf(cam)
	if err != nil {
		return nil, err
	}
	e := &rules.Engine{Camera: cam.ID, Store: open, Metrics: m, Params: params, Zones: zones, DeferSave: true}
	c := &confirmer{camera: cam.ID, tracker: track.New(track.Config{}, 1), engine: e, log: log, metrics: m,
		best: map[uint64]keptFrame{}, appear: map[uint64]keptFrame{}, actors: map[uint64]keptFrame{}, leftErrs: lograte.Limiter{Every: time.Minute},
		keepErrs: lograte.Limiter{Every: time.Minute}, looks: map[uint64]closerLook{}, zoomErrs: lograte.Limiter{Every: time.Minute},
		filter: cameraFilter(cam)}
	if lo := cam.LeftObjects; lo.On() {
		c.left, c.leftCfg = leftobject.New(leftobject.Config{MinArea: lo.MinArea, StaticFor: lo.StaticFor.D()}), lo
	}
	if cam.Station != nil {
		c.station = newStationWatch(cam.Station)
	}
	return c, nil
}

// rulesOf is a camera's rule parameters (defaults, then the camera's
// rules) and zones, as its rules engine takes them.
func rulesOf(cam config.Camera) (map[rules.Type]rules.Params, []rules.Zone, error) {
	params := map[rules.Type]rules.Params{}
	for _, t := range rules.Types {
		p := rules.DefaultParams(t)
		if o, ok := cam.Rules[string(t)]; ok {
			p = override(p, o)
		}
		params[t] = p
	}
	var zones []rules.Zone
	for _, z := range cam.Zones {
		rz, err := zone(z)
		if err != nil {
			return nil, nil, fmt.Errorf("camera %q zone %q: %w", cam.ID, z.Name, err)
		}
		zones = append(zones, rz)
	}
	return params, zones, nil
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
	rz := rules.Zone{Name: z.Name, Polygon: polygon(z.Polygon), Overrides: map[rules.Type]rules.Params{}}
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

// update tracks one frame's detections and returns the violations
// confirmed and the station visits that ended.
func (c *confirmer) update(f *frame.Frame, dets []detectors.Detection) ([]ViolationEvent, []VisitEvent) {
	if c.left != nil {
		dets = c.addLeftObjects(f, dets)
	}
	ended := c.tracker.Update(f.Time, dets)
	if c.left != nil {
		// An object missing where its place shows the background again has
		// gone: the next one left there is another object.
		ended = append(ended, c.tracker.Gone(c.left.Removed())...)
	}
	live := c.tracker.Tracks()
	c.metrics.TracksActive.WithLabelValues(c.camera).Set(float64(len(live)))
	for _, t := range ended {
		c.drop(t.ID)
	}
	if c.zoom != nil && c.left != nil {
		c.lookCloser(f, live)
	}
	for _, t := range live {
		if !violation.IsObject(t.Class()) || t.Missed {
			continue
		}
		if t.Best.Time.Equal(f.Time) {
			c.keep(c.best, t.ID, f, t.Best)
		}
		if t.Hits == 1 { // the frame it was first matched in (a left object may be dated earlier)
			c.keep(c.appear, t.ID, f, track.Sample{Time: f.Time, Box: t.Box, Score: t.Score})
		}
	}
	c.keepActors(f, live)
	c.secureKept()
	var visits []VisitEvent
	if c.station != nil {
		visits = c.updateVisits(f, live)
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
		if v.Parts > 0 && f.Width() > 0 {
			ev.BestFrame, ev.BestAt = c.pictures.Picture(f.Width(), f.Height()), f.Time
			f.Mat.CopyTo(&ev.BestFrame)
		} else if k, ok := c.best[v.TrackID]; ok {
			ev.BestFrame, ev.BestAt = c.picture(k), k.sample.Time
		}
		if v.Type == rules.IllegalDumping {
			c.actorPicture(&ev)
		}
		c.log.Info("violation confirmed", "camera", c.camera, "id", v.ID, "type", v.Type, "zone", v.Zone,
			"track", v.TrackID, "first_seen", v.FirstSeen, "confidence", v.Confidence)
		out = append(out, ev)
	}
	return out, visits
}

// noViewMoved shows no move of the view: a new left-object detector
// learns its background from the view as it is, and none sees none.
func (c *confirmer) noViewMoved() {
	if c.viewMoved != nil {
		c.viewMoved.Set(0)
	}
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
	left, err := c.left.DetectFrame(f, actors)
	if err != nil {
		if ok, held := c.leftErrs.Allow(time.Now()); ok {
			c.log.Error("left-object detection failed", "camera", c.camera, "err", err, "suppressed", held)
		}
		return dets
	}
	if c.viewMoved != nil {
		dx, dy := c.left.Moved()
		c.viewMoved.Set(float64(max(dx, -dx, dy, -dy)))
	}
	// Where the model names an object, the left-object detector tells
	// whether its place changed since the background was learnt (see
	// rules: a dumped object was not there before). Merge's result holds
	// the model's detections first; it is the caller's (shared) slice
	// itself when nothing was added, and is copied only then.
	out := leftobject.Merge(dets, left)
	copied := len(left) > 0
	for i, d := range dets {
		if !violation.IsObject(d.Class) || d.Of()&detectors.SignalModel == 0 {
			continue
		}
		if !copied {
			out, copied = slices.Clone(dets), true
		}
		out[i].Place = c.left.Place(d.Box)
	}
	return out
}

// keptFrame is a frame that may become evidence, and the sample of the
// track it was kept for, taken in that frame.
//
// A keyframe of a camera with a video history is kept by reference (its
// PTS and time): when a case is confirmed, the keyframe is read back from
// the history and decoded again (about 7 ms at 720p). The history holds
// it: it reaches back over every rule's dwell plus the pre-roll, since
// the clip is cut from it too. Any other frame is kept as JPEG at
// keptQuality: a 720p picture is about 150 KiB instead of 2.7 MiB of BGR,
// at the price of an encoding (about 4 ms at 720p) when a frame is first
// kept and a decoding when a case is confirmed. So a keyframe-sampled
// camera keeps a few bytes per object, and encodes nothing while it
// tracks.
type keptFrame struct {
	jpeg []byte
	// key is the kept keyframe (jpeg nil): PTS and Time of its unit in
	// the history, and the picture's size.
	key struct {
		pts  int64
		at   time.Time
		w, h int
	}
	sample track.Sample
}

// keptQuality is the JPEG quality of kept frames: the evidence snapshot
// is encoded again from them (at evidence.jpeg_quality), so they are kept
// well above it.
const keptQuality = 95

const (
	// actorFrameKeep: an actor's frame is kept this long after it was
	// last seen beside an object, as long as the rules remember the actor.
	actorFrameKeep = 60 * time.Second
	// maxActorFrames bounds the actor frames kept per camera (a busy
	// pavement); the oldest goes first.
	maxActorFrames = 8
)

// keep keeps f for track id, by reference when f is a keyframe the
// camera's history holds (see keptFrame).
func (c *confirmer) keep(into map[uint64]keptFrame, id uint64, f *frame.Frame, s track.Sample) {
	if f.Key && c.history != nil {
		k := keptFrame{sample: s}
		k.key.pts, k.key.at, k.key.w, k.key.h = f.PTS, f.Time, f.Width(), f.Height()
		into[id] = k
		return
	}
	c.keepCopy(into, id, f, s)
}

// keepCopy keeps f for track id as JPEG, whatever it is: for pictures
// that may be needed after the history has let their video go (a station
// visit can outlast it).
func (c *confirmer) keepCopy(into map[uint64]keptFrame, id uint64, f *frame.Frame, s track.Sample) {
	data, err := c.encode(f)
	if err != nil {
		// The track keeps its earlier frame (if any): evidence then shows
		// that one, or none.
		if ok, held := c.keepErrs.Allow(time.Now()); ok {
			c.log.Error("frame for evidence not kept", "camera", c.camera, "err", err, "suppressed", held)
		}
		return
	}
	into[id] = keptFrame{jpeg: data, sample: s}
}

// encode is the frame as JPEG, encoded once however many tracks keep it.
func (c *confirmer) encode(f *frame.Frame) ([]byte, error) {
	if c.encoded.data != nil && c.encoded.seq == f.Seq {
		return c.encoded.data, nil
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, f.Mat, []int{gocv.IMWriteJpegQuality, keptQuality})
	if err != nil {
		return nil, err
	}
	defer buf.Close()
	// Copied to Go memory: many tracks may share it, and the GC frees it.
	c.encoded.seq, c.encoded.data = f.Seq, append([]byte(nil), buf.GetBytes()...)
	return c.encoded.data, nil
}

// picture decodes a kept frame for the evidence stage (an empty Mat when
// it cannot be decoded, as if none was kept).
func (c *confirmer) picture(k keptFrame) gocv.Mat {
	if k.jpeg == nil {
		m, err := c.keyframePicture(k)
		if err != nil {
			c.log.Error("kept keyframe cannot be decoded from the history", "camera", c.camera, "at", k.key.at, "err", err)
			return gocv.Mat{}
		}
		return m
	}
	m, err := gocv.IMDecode(k.jpeg, gocv.IMReadColor)
	if err != nil || m.Empty() {
		c.log.Error("kept frame cannot be decoded", "camera", c.camera, "err", err)
		if err == nil {
			m.Close()
		}
		return gocv.Mat{}
	}
	return m
}

// keptMargin: a keyframe kept by reference is copied as JPEG once the
// history may let its video go within this (history.LetGoWithin).
// Tracks seldom live longer than the history reaches (it covers every
// dwell), but one can: a pile standing all night in a zone whose schedule
// starts in the morning.
const keptMargin = 30 * time.Second

// secureKept copies the keyframes kept by reference that the history is
// about to let go as JPEG (see keptMargin). It decodes nothing while every
// kept keyframe is well inside the history.
func (c *confirmer) secureKept() {
	if c.history == nil || len(c.best)+len(c.appear)+len(c.actors) == 0 {
		return
	}
	// Not the oldest keyframe: a history still filling up (a camera
	// started less than Keep ago) lets nothing go, and copying every
	// object seen in its first half minute cost 60 MB and a decode and
	// JPEG each at 128 cameras.
	limit := c.history.LetGoWithin(keptMargin)
	if limit.IsZero() {
		return
	}
	for _, m := range []map[uint64]keptFrame{c.best, c.appear, c.actors} {
		for id, k := range m {
			if k.jpeg != nil || !k.key.at.Before(limit) {
				continue
			}
			pic, err := c.keyframePicture(k)
			if err == nil {
				var buf *gocv.NativeByteBuffer
				if buf, err = gocv.IMEncodeWithParams(gocv.JPEGFileExt, pic, []int{gocv.IMWriteJpegQuality, keptQuality}); err == nil {
					k.jpeg = append([]byte(nil), buf.GetBytes()...)
					buf.Close()
				}
				c.pictures.Recycle(pic)
			}
			if err != nil {
				// It stays a reference: the picture is read back while
				// the history still holds it, else evidence has none.
				if ok, held := c.keepErrs.Allow(time.Now()); ok {
					c.log.Error("kept keyframe not copied before the history lets it go", "camera", c.camera, "at", k.key.at, "err", err, "suppressed", held)
				}
				continue
			}
			m[id] = k
		}
	}
}

// keyframePicture reads a keyframe kept by reference back from the
// camera's history and decodes it.
func (c *confirmer) keyframePicture(k keptFrame) (gocv.Mat, error) {
	if c.history == nil {
		return gocv.Mat{}, fmt.Errorf("no history")
	}
	// The clip from the keyframe's time to itself starts at that keyframe;
	// a history that no longer reaches back so far starts later (and says
	// so in err), and the keyframe is not in it.
	aus, err := c.history.Clip(k.key.at, k.key.at)
	i := slices.IndexFunc(aus, func(au *media.AccessUnit) bool { return au.Key && au.PTS == k.key.pts && au.Time.Equal(k.key.at) })
	if i < 0 {
		if err == nil {
			err = fmt.Errorf("the history no longer holds it")
		}
		return gocv.Mat{}, err
	}
	// The Mat goes to the evidence stage, which gives it back to the pool.
	f := &frame.Frame{}
	if k.key.w > 0 && k.key.h > 0 {
		f.Mat = c.pictures.Picture(k.key.w, k.key.h)
	}
	if _, err := decode.Keyframe(decode.Config{Codec: aus[i].Codec}, aus[i], f); err != nil {
		c.pictures.Recycle(f.Mat)
		return gocv.Mat{}, err
	}
	return f.Mat, nil
}

// keepActors keeps the frame of each person or vehicle seen now beside a
// candidate object, and forgets the actor frames too old to be used.
func (c *confirmer) keepActors(f *frame.Frame, live []*track.Track) {
	for id, k := range c.actors {
		if f.Time.Sub(k.sample.Time) > actorFrameKeep {
			delete(c.actors, id)
		}
	}
	for _, a := range live {
		if !violation.IsActor(a.Class()) || a.Missed || !besideObject(a, live) {
			continue
		}
		if _, ok := c.actors[a.ID]; !ok && len(c.actors) >= maxActorFrames {
			c.forgetOldestActor()
		}
		c.keep(c.actors, a.ID, f, track.Sample{Time: f.Time, Box: a.Box, Score: a.Score})
	}
}

// besideObject tells whether actor a stands, now, within reach of a
// candidate object seen now.
func besideObject(a *track.Track, live []*track.Track) bool {
	for _, o := range live {
		if violation.IsObject(o.Class()) && !o.Missed && rules.Near(a.Box, o.Box) {
			return true
		}
	}
	return false
}

func (c *confirmer) forgetOldestActor() {
	var oldest uint64
	var at time.Time
	for id, k := range c.actors {
		if at.IsZero() || k.sample.Time.Before(at) {
			oldest, at = id, k.sample.Time
		}
	}
	delete(c.actors, oldest)
}

// actorPicture gives a dumping its actor's picture: the actor's own
// frame beside the object (after the object was there) when one is kept,
// else the frame the object was first detected in.
func (c *confirmer) actorPicture(ev *ViolationEvent) {
	v := ev.Violation
	if k, ok := c.actors[v.ActorTrackID]; ok && v.ActorTrackID != 0 &&
		!k.sample.Time.Before(v.FirstSeen) && rules.Near(k.sample.Box, v.Box) {
		ev.AppearFrame, ev.AppearAt, ev.ActorSample = c.picture(k), k.sample.Time, k.sample
		return
	}
	if k, ok := c.appear[v.TrackID]; ok {
		ev.AppearFrame, ev.AppearAt = c.picture(k), k.sample.Time
	}
}

// drop forgets an ended track's object frames (an actor's frame outlives
// its track: see actors).
func (c *confirmer) drop(id uint64) {
	delete(c.best, id)
	delete(c.appear, id)
	delete(c.looks, id)
}

// closerLook counts the closer looks taken at one object, and when the
// next is due.
type closerLook struct {
	n    int
	next time.Time
}

// closerLooks is how many closer looks an object gets: the first as soon
// as the left-object detector reports it (it has stood still for its
// static_for), the others closerEvery later, then twice as long after
// each (at 0, 2, 6, 14 and 30 s), as it is set up or grows, and whoever
// stands beside it or passes in front moves away.
const (
	closerLooks = 5
	closerEvery = 2 * time.Second
)

// onObject tells whether the model's box d, seen on a closer look, is
// left object l: overlapping by half of the smaller of the two. The
// left-object detector often finds an object with what stood still next
// to it (a stall with its vendor, whom the model missed in the whole
// frame), or only part of it; the model's box, near by, is of another
// object.
func onObject(d, l geom.Box) bool {
	return max(d.Within(l), l.Within(d)) >= 0.5
}

// useZoom sets the zoomer of the camera's first model (of models, its
// own list, or of the config's when it names none) that has one: the
// model that names its objects.
func (c *confirmer) useZoom(models []string) {
	c.zoom, c.zoomModel = nil, ""
	if len(models) == 0 {
		models = c.allModels
	}
	for _, n := range models {
		if z, ok := c.zoomers[n]; ok {
			c.zoom, c.zoomModel = z, n
			return
		}
	}
}

// lookCloser has the class model look again, closer, at an object only
// the left-object detector found (detectors.Zoomer): on real footage the
// demo model names few stalls in a whole frame, and an unnamed object a
// vendor stands beside was reported as a pile of nobody's, or as dumped
// by a passer-by (models/README.md, "Set l"). An object class the
// model finds there, on the object, names it (track.Track.Named). One
// look a frame per camera, at an object seen in this frame, each object
// closerLooks times at most: it costs one inference of the model's
// input size, and a scene's left objects are few.
func (c *confirmer) lookCloser(f *frame.Frame, live []*track.Track) {
	for _, t := range live {
		if t.Class() != violation.ClassLeftObject || t.Missed {
			continue
		}
		l := c.looks[t.ID]
		if l.n >= closerLooks || f.Time.Before(l.next) {
			continue
		}
		c.looks[t.ID] = closerLook{n: l.n + 1, next: f.Time.Add(closerEvery << l.n)}
		dets, err := c.zoom.Detect(f.Mat, detectors.Around(t.Box, f.Width(), f.Height()), c.zoomModel, c.filter)
		if err != nil {
			c.countLook(lookFailed)
			if ok, held := c.zoomErrs.Allow(time.Now()); ok {
				c.log.Error("closer look failed", "camera", c.camera, "err", err, "suppressed", held)
			}
			return
		}
		var best *detectors.Detection
		for i, d := range dets {
			if violation.IsObject(d.Class) && onObject(d.Box, t.Box) && (best == nil || d.Score > best.Score) {
				best = &dets[i]
			}
		}
		if best == nil {
			c.countLook(lookUnnamed)
			return
		}
		t.Named(best.Class, best.Score, f.Time)
		c.countLook(lookNamed)
		c.log.Debug("named on a closer look", "camera", c.camera, "track", t.ID, "class", best.Class, "score", best.Score)
		return
	}
}

// Outcomes of a closer look (streetwatch_closer_looks_total).
const (
	lookNamed   = "named"
	lookUnnamed = "unnamed"
	lookFailed  = "failed"
)

func (c *confirmer) countLook(outcome string) {
	if c.looked != nil {
		c.looked.WithLabelValues(c.camera, outcome).Inc()
	}
}

func (c *confirmer) close() {
	if c.left != nil {
		c.left.Close()
	}
	if c.station != nil {
		c.station.close()
	}
	clear(c.best)
	clear(c.appear)
	clear(c.actors)
}
