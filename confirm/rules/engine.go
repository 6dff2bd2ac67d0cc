package rules

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/streetwatch/streetwatch/confirm/track"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/violation"
)

// Violation is a confirmed violation, handed to the evidence stage: the
// record with the object's (and actor's) samples.
type Violation struct {
	violation.Record
	// Best is the highest-scoring sample: the frame for the snapshot.
	Best track.Sample `json:"best"`
	// Timeline is a sampled box timeline of the object.
	Timeline []track.Sample `json:"timeline"`
	// Actor is, for dumping, the samples of the person or vehicle that
	// left the object.
	Actor []track.Sample `json:"actor,omitempty"`
	// Parts is, for a pile, how many other objects lying next to it were
	// taken into its box (see pileExtent): 0 when the pile is one object
	// and Box is its own.
	Parts int `json:"parts,omitempty"`
}

// OpenViolation is a confirmed violation whose object is still there.
type OpenViolation struct {
	ID          string    `json:"id"`
	Type        Type      `json:"type"`
	Zone        string    `json:"zone"`
	TrackID     uint64    `json:"track_id"`
	Box         geom.Box  `json:"box"`
	ConfirmedAt time.Time `json:"confirmed_at"`
	LastSeen    time.Time `json:"last_seen"`
}

// Opened is the open violation a confirmed record starts as (also for
// records found pending after a crash, see Engine.Preload).
func Opened(r violation.Record) OpenViolation {
	return OpenViolation{ID: r.ID, Type: r.Type, Zone: r.Zone, TrackID: r.TrackID, Box: r.Box,
		ConfirmedAt: r.ConfirmedAt, LastSeen: r.ConfirmedAt}
}

// Store keeps a camera's open violations across restarts.
type Store interface {
	Load(camera string) ([]OpenViolation, error)
	Save(camera string, open []OpenViolation) error
}

const (
	// actorWindow: an actor counts if it was near the object within this
	// long before (or shortly after) the object appeared.
	actorWindow = 15 * time.Second
	// actorSearch: how long after appearing an object may still find its actor.
	actorSearch = 5 * time.Second
	// recentActors: ended actor tracks are remembered this long.
	recentActors = 60 * time.Second
	// placeIoU: boxes overlapping this much are the same place.
	placeIoU = 0.3
	// alreadyThere: an object the class model first saw this soon after
	// the camera's first frame may have been there before StreetWatch
	// looked (the model misses an object in some frames); it cannot be a
	// dumping (nobody was seen leaving it), only a pile. The left-object
	// detector's word overrides it: its background is learnt from the
	// first frame, so an object it reports appeared after it, in view —
	// a camera that starts while someone walks in with a bag still sees
	// the bag left.
	alreadyThere = 5 * time.Second
	// loadRetry: how soon a failed load of the open violations is tried
	// again (each try may wait for the database's timeout).
	loadRetry = 30 * time.Second
)

// Engine applies the rules to one camera.
type Engine struct {
	Camera string
	Zones  []Zone
	// Params are the camera's per-type parameters (DefaultParams if absent).
	Params  map[Type]Params
	Store   Store
	Metrics *Metrics
	// DeferSave: Update does not save newly confirmed violations; the
	// caller calls Commit once it has recorded them.
	DeferSave bool
	// Preload are violations recorded elsewhere but perhaps not saved
	// (a crash between recording and Commit): Start treats them as open.
	Preload []OpenViolation

	cands   map[candKey]*cand
	open    []*OpenViolation
	recent  []*track.Track
	order   []*track.Track // live tracks, largest first (see Update)
	size    [2]int
	scaled  []geom.Polygon
	started bool
	since   time.Time // the first frame
	retryAt time.Time // the next load after a failed one
	dirty   bool      // open violations changed since the last save
}

type candKey struct {
	track uint64
	typ   Type
}

type cand struct {
	zone         int
	start        time.Time
	floor        time.Time // nothing before it counts: the enforcement hours began
	frames, hits int
	actor        *track.Track
	follow       *track.Track // the actor's track now: actor's, or the one that went on where the tracker lost it
	leftAt       time.Time    // when the actor left (zero while it is beside the object)
	stood        geom.Box     // where the actor last stood still beside the object
	noActor      bool
	done         bool
}

// Start loads the open violations; objects seen again at their place are
// not reported a second time.
// Until they are loaded nothing is confirmed: a failed load (the shared
// database unreachable) is retried by Update every loadRetry, and objects
// keep the time their tracks began, so their dwell is not lost.
func (e *Engine) Start(now time.Time) error {
	e.cands = map[candKey]*cand{}
	e.since = now
	if e.Store == nil {
		e.started = true
		return nil
	}
	open, err := e.Store.Load(e.Camera)
	if err != nil {
		e.retryAt = now.Add(loadRetry)
		return fmt.Errorf("camera %q: load open violations (nothing is confirmed until they are loaded; retried in %s): %w", e.Camera, loadRetry, err)
	}
	e.started = true
	for _, p := range e.Preload {
		known := false
		for _, o := range open {
			known = known || o.ID == p.ID
		}
		if !known {
			open = append(open, p)
			e.dirty = true
		}
	}
	for i := range open {
		// Downtime does not count as "gone": the object gets ClearAfter
		// from now to be seen again.
		if open[i].LastSeen.Before(now) {
			open[i].LastSeen = now
		}
		e.open = append(e.open, &open[i])
	}
	return nil
}

// Open returns the open violations.
func (e *Engine) Open() []OpenViolation {
	out := make([]OpenViolation, len(e.open))
	for i, o := range e.open {
		out[i] = *o
	}
	return out
}

func (e *Engine) params(t Type, zone int) Params {
	p, ok := e.Params[t]
	if !ok {
		p = DefaultParams(t)
	}
	if zone >= 0 {
		if o, ok := e.Zones[zone].Overrides[t]; ok {
			if o.MinDwell > 0 {
				p.MinDwell = o.MinDwell
			}
			if o.MinScore > 0 {
				p.MinScore = o.MinScore
			}
			if o.ClearAfter > 0 {
				p.ClearAfter = o.ClearAfter
			}
		}
	}
	return p
}

// Update takes one frame's tracking result (the live tracks and those that
// ended) on a w×h frame and returns the violations confirmed now.
func (e *Engine) Update(now time.Time, w, h int, live, ended []*track.Track) ([]Violation, error) {
	if !e.started {
		if now.Before(e.retryAt) {
			return nil, nil // the failed load was reported
		}
		if err := e.Start(now); err != nil {
			return nil, err
		}
	}
	e.scaleZones(w, h)
	for _, t := range ended {
		if violation.IsActor(t.Class()) {
			e.recent = append(e.recent, t)
		}
		for _, typ := range Types {
			delete(e.cands, candKey{t.ID, typ})
		}
	}
	keep := e.recent[:0]
	for _, t := range e.recent {
		if now.Sub(t.LastSeen) <= recentActors {
			keep = append(keep, t)
		}
	}
	e.recent = keep

	var out []Violation
	changed := false
	// The largest objects first: of a pile and a bag lying in it that
	// confirm at the same frame, the pile is reported, and the bag is
	// part of it (see openAt).
	e.order = append(e.order[:0], live...)
	slices.SortStableFunc(e.order, func(a, b *track.Track) int { return cmp.Compare(b.Box.Area(), a.Box.Area()) })
	for _, t := range e.order {
		if t.Missed {
			continue // an object not seen now neither refreshes nor confirms
		}
		for _, typ := range e.typesOf(t) {
			v, ch := e.consider(now, t, typ, live)
			changed = changed || ch
			if v != nil {
				out = append(out, *v)
			}
		}
	}
	// Live tracks not seen this frame still count towards presence ratios.
	// A pile is seen in a frame where garbage lying within it is (the
	// model named only a bag of it).
	for k, c := range e.cands {
		if tr := find(live, k.track); tr != nil && tr.Missed {
			c.frames++
			if k.typ == GarbagePile && garbageSeenIn(tr, live) {
				c.hits++
			}
		}
	}
	// Close violations whose object has been gone long enough.
	kept := e.open[:0]
	for _, o := range e.open {
		if now.Sub(o.LastSeen) > e.params(o.Type, e.zoneIndex(o.Zone)).ClearAfter {
			changed = true
			continue
		}
		kept = append(kept, o)
	}
	e.open = kept
	e.dirty = e.dirty || changed
	if e.DeferSave && len(out) > 0 {
		return out, nil // the caller records the violations first, then Commits
	}
	return out, e.Commit()
}

// typesOf returns the types a live track can become: its class's
// (violation.TypesOf), and a garbage pile for a bag the left-object
// detector saw arrive once the dumping rule found nobody near it when it
// appeared. A left object the model names a bag is no less a pile than one
// it does not name: left to stand in a garbage zone, it is reported as
// one. A bag with an actor stays a dumping case alone (the more specific
// finding, and with the production dwells the earlier one), and a bag only
// the model sees, with no actor, stays nothing: on real footage the model
// names bags where there are none. So does an unnamed left object once
// the dumping rule has found who left it: its pile case is for objects
// nobody was seen leaving, and with equal dwells (the pile's counting from
// the drop, the dumping's from the actor leaving) it would be reported as
// a pile of nobody's before the dumping it is.
func (e *Engine) typesOf(t *track.Track) []Type {
	types := violation.TypesOf(t.Class())
	if t.Class() == violation.ClassLeftObject {
		if c := e.cands[candKey{t.ID, IllegalDumping}]; c != nil && c.actor != nil {
			return dumpingOnly
		}
		return types
	}
	if t.Class() != violation.ClassGarbageBag || t.Signals&detectors.SignalLeftObject == 0 {
		return types
	}
	if c := e.cands[candKey{t.ID, IllegalDumping}]; c != nil && c.noActor {
		return unclaimedBag
	}
	return types
}

// unclaimedBag, dumpingOnly: see typesOf.
var (
	unclaimedBag = []Type{IllegalDumping, GarbagePile}
	dumpingOnly  = []Type{IllegalDumping}
)

// garbageSeenIn tells whether garbage (a bag, a pile, a left object) seen
// in this frame lies within the pile's box: the model named a part of it.
func garbageSeenIn(pile *track.Track, live []*track.Track) bool {
	for _, o := range live {
		if o != pile && !o.Missed && slices.Contains(violation.TypesOf(o.Class()), IllegalDumping) &&
			o.Box.Within(pile.Box) >= partWithin {
			return true
		}
	}
	return false
}

// partWithin is how much of an object must lie inside a pile to be part of it.
const partWithin = 0.7

// pileExtent is the box of a pile confirmed on track pile: its own box
// grown by the garbage lying next to it. A pile put down item by item is
// seen as several objects (the model names one bag of it, the left-object
// detector finds the items that differ from the pavement as regions of
// their own), and the one that confirms first is only a part: on the
// real-scene set a pile 127 px wide was reported with the box of its
// first bag, 42 px. A part is garbage (a bag, a pile, a left object) that
// came to rest (Stationary: a bag carried past is not; it may be missed
// in this one frame, as the real-scene pile's other items were, whose
// regions the left-object detector found in one frame and not the next),
// whose place changed (not PlaceOld: part of the scene the model
// misreads), in the pile's zone, and within partGap of the pile's box as
// grown so far. The parts lie within the box reported, and so are this
// pile (see openAt). parts is how many were taken in.
func (e *Engine) pileExtent(pile *track.Track, zone int, live []*track.Track) (b geom.Box, parts int) {
	b = pile.Box
	for grown := true; grown; {
		grown = false
		for _, o := range live {
			if o == pile || !o.Stationary || o.Place() == detectors.PlaceOld ||
				!slices.Contains(violation.TypesOf(o.Class()), IllegalDumping) || o.Box.Within(b) >= 1 {
				continue
			}
			if x, y := o.Box.BottomCenter(); e.zoneAt(x, y, GarbagePile) != zone || !nextTo(o.Box, b) {
				continue
			}
			b = geom.Box{X1: min(b.X1, o.Box.X1), Y1: min(b.Y1, o.Box.Y1), X2: max(b.X2, o.Box.X2), Y2: max(b.Y2, o.Box.Y2)}
			grown = true
			parts++
		}
	}
	return b, parts
}

// nextTo tells whether object box o lies next to box b: the gap between
// them, across and down, is at most partGap of the object's larger side.
func nextTo(o, b geom.Box) bool {
	g := partGap * max(o.W(), o.H())
	return max(b.X1-o.X2, o.X1-b.X2) <= g && max(b.Y1-o.Y2, o.Y1-b.Y2) <= g
}

// partGap: see nextTo. Items of a pile lie touching or a hand apart.
const partGap = 0.5

// Forget undoes a confirmation the caller could not record (e.g. a full
// disk): the violation is no longer open and its object may confirm again
// at a later frame, so nothing confirmed is silently dropped.
func (e *Engine) Forget(id string) {
	kept := e.open[:0]
	for _, o := range e.open {
		if o.ID == id {
			for _, typ := range Types {
				delete(e.cands, candKey{o.TrackID, typ})
			}
			continue
		}
		kept = append(kept, o)
	}
	e.open = kept
}

// Commit saves the open violations if they changed. With DeferSave, call
// it once the violations Update returned are safely recorded: a crash in
// between then reports them again rather than losing them.
func (e *Engine) Commit() error {
	if !e.dirty || e.Store == nil {
		return nil
	}
	if err := e.Store.Save(e.Camera, e.Open()); err != nil {
		return fmt.Errorf("camera %q: save open violations: %w", e.Camera, err)
	}
	e.dirty = false
	return nil
}

// consider updates one (track, type) candidate and confirms it when the
// rule holds. It reports whether the open set changed.
func (e *Engine) consider(now time.Time, t *track.Track, typ Type, live []*track.Track) (*Violation, bool) {
	x, y := t.Box.BottomCenter()
	zone := e.zoneAt(x, y, typ)
	key := candKey{t.ID, typ}
	// A known violation's object is still there: refresh it, never re-report.
	if o := e.openAt(typ, t.Box); o != nil {
		o.LastSeen = now
		if c, ok := e.cands[key]; ok {
			c.done = true
		} else {
			e.cands[key] = &cand{zone: zone, done: true}
		}
		return nil, false
	}
	if zone < 0 || (e.Zones[zone].NoLeftObjects && t.Signals&detectors.SignalModel == 0) {
		delete(e.cands, key)
		return nil, false
	}
	c, ok := e.cands[key]
	if !ok || c.zone != zone {
		c = &cand{zone: zone, start: t.FirstSeen}
		if typ == StreetVending {
			c.start = now
		}
		e.cands[key] = c
	}
	if c.done {
		return nil, false
	}
	z := &e.Zones[zone]
	p := e.params(typ, zone)
	if !z.Schedule.Active(now) {
		// Outside enforcement hours nothing accumulates: dwell counts from
		// the first moment inside them.
		c.start, c.frames, c.hits = time.Time{}, 0, 0
		return nil, false
	}
	if c.start.IsZero() {
		c.start, c.floor = now, now
	}
	switch typ {
	case GarbagePile:
		// A pile's dwell counts from when it appeared, as the tracker
		// learns it: the left-object detector, seeing a pile the model
		// named first, dates it back to its first items (too small for
		// the model to name), and the pile's wait with it. On the
		// real-scene set a pile whose wait stayed at the model's first
		// sight lost the race to a passer-by's "dumping" of it.
		c.start = later(t.FirstSeen, c.floor)
	case StreetVending:
		// Vending began when the stall came to rest here, not while it was
		// pushed in (nor when the model first named it, if the left-object
		// detector saw it stand there before).
		if r := t.StandingSince(); !r.IsZero() {
			c.start = later(r, c.floor)
		}
	}
	c.frames++
	c.hits++
	ratio := float64(c.hits) / float64(max(c.frames, 1))
	dwell := now.Sub(c.start)
	ok = false
	switch typ {
	case GarbagePile:
		ok = t.Stationary && dwell >= p.MinDwell && ratio >= 0.8
	case StreetVending:
		ok = t.Stationary && dwell >= p.MinDwell && ratio >= 0.6
	case IllegalDumping:
		if c.noActor || (t.FirstSeen.Before(e.since.Add(alreadyThere)) && t.Signals&detectors.SignalLeftObject == 0) {
			return nil, false
		}
		if t.Place() == detectors.PlaceOld {
			// Where the model names it, the left-object detector sees the
			// scene as it learnt it before: the object was not put down,
			// it is part of the scene the model misreads (parked cars
			// called a pile, a shop front a bag), however often people
			// walk past it. It may still be a pile.
			return nil, false
		}
		found := false
		if c.actor == nil {
			c.actor = e.findActor(t, live)
			if c.actor == nil {
				if now.Sub(t.FirstSeen) > actorSearch {
					c.noActor = true // appeared with nobody near: not a dumping
				}
				return nil, false
			}
			found = true
		}
		// The wait counts from the moment the actor left, and starts again
		// if it comes back: an owner standing beside their bag (waiting for
		// the collection truck) has not left it, however long they wait.
		// An actor already gone when the object is first found with them
		// left before it was seen (the left-object detector reports an
		// object once it has stood still, after its dumper stepped away):
		// the wait counts from when they left (see leftWhen).
		if e.actorPresent(now, c, t, live) {
			c.leftAt = time.Time{}
		} else if c.leftAt.IsZero() {
			c.leftAt = now
			if found {
				c.leftAt = leftWhen(c.actor, t.Box, later(t.FirstSeen, c.floor), now)
			}
		}
		ok = !c.leftAt.IsZero() && now.Sub(c.leftAt) >= p.MinDwell && ratio >= 0.6
	}
	if !ok || !confident(t, typ, p.MinScore) {
		return nil, false
	}
	c.done = true
	v := e.violation(now, t, typ, zone, c)
	if typ == GarbagePile {
		v.Box, v.Parts = e.pileExtent(t, zone, live)
	}
	o := Opened(v.Record)
	e.open = append(e.open, &o)
	if e.Metrics != nil {
		e.Metrics.confirmed(e.Camera, typ, v.ConfirmedAt.Sub(v.FirstSeen))
	}
	return v, true
}

// confident tells whether the object's scores reach the rule's min score.
// A dumping needs its best score there: the act is the rest of its
// evidence (an actor seen leaving it, its place changed). A pile or a
// stall must stand for minutes, sampled hundreds of times, and a model
// that names a static thing a pile now and then (parked cars, a shop
// front) reaches any score once in so many tries: seen by the class model
// alone, it needs the score steadily, the median of ten consecutive
// scores (track.Track.Steady), as Frigate's threshold does. The
// left-object detector seeing it appear and stay is the second opinion
// that lets the best score do.
func confident(t *track.Track, typ Type, minScore float32) bool {
	if t.Best.Score < minScore {
		return false
	}
	return typ == IllegalDumping || t.Signals&detectors.SignalLeftObject != 0 || t.Steady >= minScore
}

func (e *Engine) violation(now time.Time, t *track.Track, typ Type, zone int, c *cand) *Violation {
	v := &Violation{
		Record: violation.Record{ID: NewID(now), Type: typ, Camera: e.Camera, Zone: e.Zones[zone].Name, TrackID: t.ID,
			Class: t.Class(), FirstSeen: t.FirstSeen, ConfirmedAt: now, Confidence: t.Best.Score, Box: t.Box,
			Signals: t.Signals.Names()},
		Best: t.Best, Timeline: thin(t.History, 32),
	}
	if typ == StreetVending {
		v.FirstSeen = c.start
	}
	if c.actor != nil {
		v.ActorTrackID, v.ActorClass = c.actor.ID, c.actor.Class()
		v.Actor = thin(c.actor.History, 32)
	}
	return v
}

// findActor looks for a person or vehicle that was near the object around
// the moment it appeared. A vehicle is an actor only where it stood there
// as the object appeared (see stoodBy), and is then preferred to the
// nearest person: its rider got off to unload it and rides away on it.
// Not to a person nearer the object who was never seen with it (see
// alongside): someone who walked up on their own, stopped at the object
// and left put it there, not the van standing a few metres off (on the
// real-scene set, the model's phantom vehicle on vtest's crowd stood
// 50 px from the dumper, who stopped at the bag, and was credited).
// A vehicle that stopped for a moment is no more than the model's phantom
// on a crowd (on the real-scene set, a box that grew from 81 to 168 px
// wide in 1.5 s, and one that jumped 100 px between samples, beside a
// stall the left-object detector saw stop: both reported as dumpings).
// A parked vehicle is no actor, nor a person there from the camera's
// first frames who never moved (see parked), nor is a track seen only
// once: on real footage a single detection is as often the model's noise
// (a doorway, a shadow) as anyone, and a track keeps it for recentActors.
// Nor is one that walked or drove past without stopping, where its samples
// are close enough in time to see a stop (see stopped).
func (e *Engine) findActor(obj *track.Track, live []*track.Track) *track.Track {
	ox, oy := obj.Box.BottomCenter()
	from, to := obj.FirstSeen.Add(-actorWindow), obj.FirstSeen.Add(actorSearch)
	var best, person, unloaded *track.Track
	bestD, personD, unloadedD := math.MaxFloat64, math.MaxFloat64, math.MaxFloat64
	consider := func(a *track.Track) {
		if a.ID == obj.ID || !violation.IsActor(a.Class()) || a.Hits < 2 || e.parked(a, from) ||
			!stopped(a, obj.Box, from, to) {
			return
		}
		vehicle := a.Class() == violation.ClassVehicle
		if vehicle && !stoodBy(a, obj.Box, obj.FirstSeen) {
			return
		}
		for _, s := range a.History {
			if s.Time.Before(from) || s.Time.After(to) {
				continue
			}
			ax, ay := s.Box.BottomCenter()
			d := math.Hypot(float64(ax-ox), float64(ay-oy))
			if d > reach(s.Box, obj.Box) {
				continue
			}
			if d < bestD {
				best, bestD = a, d
			}
			if vehicle && d < unloadedD {
				unloaded, unloadedD = a, d
			}
			if !vehicle && d < personD {
				person, personD = a, d
			}
		}
	}
	for _, a := range live {
		consider(a)
	}
	for _, a := range e.recent {
		consider(a)
	}
	if unloaded != nil && (person == nil || personD >= unloadedD || alongside(person, unloaded, from, to)) {
		return unloaded
	}
	return best
}

// alongside tells whether person p was seen with vehicle v between from
// and to: in some frame in which both were seen, p's box touched v's or
// stood within a quarter of p's height of it (a rider on their cart, or
// getting off it, or unloading it beside it). Someone walking past it
// touches it too, and counts: the vehicle stays preferred where it is
// unclear.
func alongside(p, v *track.Track, from, to time.Time) bool {
	for _, ps := range p.History {
		if ps.Time.Before(from) || ps.Time.After(to) {
			continue
		}
		for _, vs := range v.History {
			if !vs.Time.Equal(ps.Time) {
				continue
			}
			m := ps.Box.H() / 4
			if ps.Box.X1-m <= vs.Box.X2 && vs.Box.X1 <= ps.Box.X2+m && ps.Box.Y1-m <= vs.Box.Y2 && vs.Box.Y1 <= ps.Box.Y2+m {
				return true
			}
		}
	}
	return false
}

// parked tells whether a person or vehicle was never seen moving since the
// camera's first frames (it was there before StreetWatch looked), or a
// vehicle has stood where it stands since before the object's window
// opened: a parked car, a shop front or a bus shelter the model takes for
// a vehicle, a window or a statue it takes for a person. It did not bring
// the object, and as the actor it would hold the dumping back for as long
// as it stays.
// The first holds from its first samples, before the tracker calls it
// stationary (5 s in place): on the real-scene set the model's vehicle on
// a façade, seen from the camera's first second, had stood 2.5 s when a
// pile's first bag appeared below it, and was taken for its dumper; so
// was a "person" on a façade above a pile (set i's i_leuvenA_pile), seen
// from the second second to the end. Someone who was there as the camera
// started, put a bag down and walks off within actorSearch has moved, and
// is found (findActor looks again on every frame until then).
// A vehicle that arrived and stopped to unload is not parked.
func (e *Engine) parked(a *track.Track, from time.Time) bool {
	if !a.Moved() && a.FirstSeen.Before(e.since.Add(alreadyThere)) {
		return true
	}
	return a.Class() == violation.ClassVehicle && a.Stationary && a.StationarySince.Before(from)
}

// stopped tells whether an actor stopped within reach of an object (box
// obj) between from and to: two consecutive samples there, at most
// stopGap apart, between which its ground point moved less than
// stopSpeed body heights a second and its box stayed the same (stopIoU:
// a box that jumps to twice its size around the same ground point is the
// model's noise, not someone standing). Whoever leaves something stops
// to put it down; on a busy pavement many walk past a pile that grows
// with nobody seen leaving it, and the nearest of them is no author (the
// real-scene set's vtest_pile_2 was reported as a phantom vehicle's
// dumping, and without it as a passer-by's).
// The model often loses someone crouching: a person seen again, after a
// gap of up to lostGap, where they were last seen (their ground point
// within lostMoved of their height) and as they were (box IoU at least
// stopIoU), stood there unseen. Someone who walked on while the model lost
// them is elsewhere, and a phantom box that jumps by a quarter of its
// height from sample to sample is not where it was. A vehicle does not
// crouch: one the model loses for seconds and sees again in place is as
// often the model's phantom, coming and going on one spot (vtest_pile_2's,
// lost for 3.5 s and seen again in the same box), and only its samples
// within stopGap can tell that it stopped.
// Where no two samples within reach are stopGap or less apart (keyframes
// every 2 s) a stop cannot be seen, and being within reach must do: it
// then returns true (a vehicle must still have stood there, two keyframes
// in place: see stoodBy).
func stopped(a *track.Track, obj geom.Box, from, to time.Time) bool {
	longest := stopGap // the widest gap between two samples that can show a stop
	if a.Class() == violation.ClassPerson {
		longest = lostGap
	}
	seen := false
	for i := 1; i < len(a.History); i++ {
		p, s := &a.History[i-1], &a.History[i]
		dt := s.Time.Sub(p.Time)
		if p.Time.Before(from) || s.Time.After(to) || dt > longest || !Near(p.Box, obj) || !Near(s.Box, obj) {
			continue
		}
		seen = seen || dt <= stopGap
		px, py := p.Box.BottomCenter()
		sx, sy := s.Box.BottomCenter()
		moved := math.Hypot(float64(sx-px), float64(sy-py)) / float64(max(p.Box.H(), s.Box.H(), 1))
		limit := stopSpeed * dt.Seconds()
		if dt > stopGap {
			limit = lostMoved
		}
		if moved <= limit && s.Box.IoU(p.Box) >= stopIoU {
			return true
		}
	}
	return !seen
}

const (
	// stopGap: samples further apart than this cannot tell a stop from a
	// walk past (a walker crosses a body height in about 1.2 s).
	stopGap = time.Second
	// stopSpeed: moving less than this many body heights a second is
	// standing (walking is 0.5-0.8; a standing person's box jitters by a
	// few hundredths between samples).
	stopSpeed = 0.25
	// stopIoU: a person crouching to put a bag down keeps about 0.6.
	stopIoU = 0.5
	// lostGap: the longest the model may lose someone standing within
	// reach (crouching, hidden by a passer-by) for their track to tell that
	// they stood there: the tracker ends a moving track lost for over 3 s
	// (and one seen again later is another track, whose first sample
	// cannot tell where it was before).
	lostGap = 4 * time.Second
	// lostMoved: seen again after a gap longer than stopGap, at most this
	// many body heights from where they were last seen. Standing still is
	// being in place, not moving slowly (the speed test, stretched over a
	// gap of seconds, would allow most of a height); the four real dumpers
	// moved 0-0.06 of their height between samples.
	lostMoved = 0.1
)

// stoodBy tells whether a vehicle stood in place (its box within IoU 0.6
// of where it stopped) for at least 2 s within reach of an object (box
// obj) when the object appeared (at, give or take unloadSlack): a rider
// unloads a vehicle standing beside what they unload. One that stood
// there seconds before and moved on did not bring it, nor one standing
// out of reach meanwhile (on the real-scene set, the model's vehicle on a
// crowd stood by a bag's place 4 s before the bag was put down, and out
// of its reach as it was, and was preferred to the person who put it
// there).
func stoodBy(a *track.Track, obj geom.Box, at time.Time) bool {
	from, to := at.Add(-unloadSlack), at.Add(unloadSlack)
	var rest, last *track.Sample
	for i := range a.History {
		s := &a.History[i]
		if !Near(s.Box, obj) {
			if standing(rest, last, from, to) {
				return true
			}
			rest, last = nil, nil
			continue
		}
		if rest != nil && s.Box.IoU(rest.Box) >= 0.6 {
			last = s
			continue
		}
		if standing(rest, last, from, to) {
			return true
		}
		rest, last = s, s
	}
	return standing(rest, last, from, to)
}

// standing tells whether a run of samples in place, from rest to last,
// lasted 2 s and overlaps from-to.
func standing(rest, last *track.Sample, from, to time.Time) bool {
	return rest != nil && last.Time.Sub(rest.Time) >= 2*time.Second && !rest.Time.After(to) && !last.Time.Before(from)
}

// unloadSlack: how long before the object appeared a vehicle may have
// moved on, or after it appeared come to stand, and still be the one a
// rider unloaded it from (the model loses a vehicle for a sample or two
// and dates a left object within a sample).
const unloadSlack = 2 * time.Second

// reach is how far from an object its actor may stand: about a body height.
func reach(actor, obj geom.Box) float64 {
	return 1.5 * float64(max(actor.H(), obj.W(), obj.H()))
}

// Near tells whether an actor with box actor stands within reach of an
// object with box obj: near enough to have left it there.
func Near(actor, obj geom.Box) bool {
	ax, ay := actor.BottomCenter()
	ox, oy := obj.BottomCenter()
	return math.Hypot(float64(ax-ox), float64(ay-oy)) <= reach(actor, obj)
}

// actorPresent tells whether the candidate's actor is beside the object.
// The tracker can lose a person standing there (hidden behind the truck
// they wait for) or swap their track with a passer-by's: a track standing
// still where the actor stood still beside the object is the actor. It
// can lose them as they walk off too (see continued): the track that goes
// on where theirs was lost is followed instead.
func (e *Engine) actorPresent(now time.Time, c *cand, obj *track.Track, live []*track.Track) bool {
	if c.follow == nil {
		c.follow = c.actor
	}
	a := find(live, c.follow.ID)
	if a == nil || a.Missed {
		if s := continued(now, c.follow, live); s != nil {
			c.follow, a = s, s
		}
	}
	if a != nil && Beside(a.Box, obj.Box) {
		if a.Stationary && !a.Missed {
			c.stood = a.Box
		}
		return true
	}
	if c.stood == (geom.Box{}) {
		return false
	}
	for _, s := range live {
		if s.Stationary && !s.Missed && s.Class() == c.actor.Class() && s.Box.IoU(c.stood) >= placeIoU &&
			Beside(s.Box, obj.Box) {
			c.actor, c.follow = s, s
			return true
		}
	}
	return false
}

// continued finds the track that goes on where the tracker lost track f.
// At two samples a second a person who stood to put something down and
// walks off moves about their own width between samples, and where the
// model misses them in one sample the tracker, knowing no speed yet,
// starts a new track for them in the next (on the demo's dumping scene
// with a model trained on real backgrounds: the actor's track lost as
// they set off, two new tracks in 1 s, and the wait started 2.5 s
// early). The track that goes on is of f's class, first seen after f was
// last seen (not someone seen beside them) and within handover of it,
// and of now (it is taken as it begins: one that began long before the
// actor was known has walked on since, and in a crowd is as likely a
// passer-by), its first box within one of f's heights of f's last box;
// the nearest such, or nil.
func continued(now time.Time, f *track.Track, live []*track.Track) *track.Track {
	fx, fy := f.Box.BottomCenter()
	var best *track.Track
	bestD := float64(f.Box.H())
	for _, s := range live {
		if s == f || s.Missed || s.Class() != f.Class() || !s.FirstSeen.After(f.LastSeen) ||
			s.FirstSeen.Sub(f.LastSeen) > handover || now.Sub(s.FirstSeen) > handover || len(s.History) == 0 {
			continue
		}
		x, y := s.History[0].Box.BottomCenter()
		if d := math.Hypot(float64(x-fx), float64(y-fy)); d <= bestD {
			best, bestD = s, d
		}
	}
	return best
}

// handover: how long after a track was last seen the track that goes on
// may begin (see continued): as long as the tracker keeps a moving track
// it lost (track.Config.MaxLost's default), a sample or two.
const handover = 3 * time.Second

// Beside tells whether an actor with box actor is still beside an object
// with box obj: within twice its reach it has not left it (the wait of a
// dumping starts once it has).
func Beside(actor, obj geom.Box) bool {
	ax, ay := actor.BottomCenter()
	ox, oy := obj.BottomCenter()
	return math.Hypot(float64(ax-ox), float64(ay-oy)) <= 2*reach(actor, obj)
}

// leftWhen is when actor a, gone from the object (box obj) when it is
// first found with it, left it: its first sample after the last one
// Beside the object, or, where its track ends beside it (the model lost
// someone setting off from standing), its last sighting, or now where
// no sample in its history is beside it; never before the object
// appeared, nor before the enforcement hours began (from). On the
// real-scene set a bag put down at 9 s was reported by the left-object
// detector from 25 s (its dumper stood over it, then it had to stay
// still), and a wait counted from then ended after the footage did.
func leftWhen(a *track.Track, obj geom.Box, from, now time.Time) time.Time {
	last := -1
	for i, s := range a.History {
		if Beside(s.Box, obj) {
			last = i
		}
	}
	at := now
	if last >= 0 {
		at = a.History[min(last+1, len(a.History)-1)].Time
	}
	return later(at, from)
}

func find(ts []*track.Track, id uint64) *track.Track {
	for _, t := range ts {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// openAt finds the open violation of the same object: one of the same type
// at the same place. A garbage pile and a dumping are the same garbage
// object: whichever was reported first stands for both. A pile (box b)
// lying mostly within a reported pile or dumped object is a part of it,
// not another pile: the model and the left-object detector each see a
// bag of a pile, or a piece of it, as an object of its own (on the
// real-scene set, a bag and a piece inside a reported pile were reported
// as two more). A bag put down on a reported pile is still a dumping of
// its own: someone else's act.
func (e *Engine) openAt(typ Type, b geom.Box) *OpenViolation {
	for _, o := range e.open {
		if !sameObject(o.Type, typ) {
			continue
		}
		if o.Box.IoU(b) >= placeIoU || typ == GarbagePile && b.Within(o.Box) >= partWithin {
			return o
		}
	}
	return nil
}

func (e *Engine) scaleZones(w, h int) {
	if e.size == [2]int{w, h} && e.scaled != nil {
		return
	}
	e.size = [2]int{w, h}
	e.scaled = make([]geom.Polygon, len(e.Zones))
	for i, z := range e.Zones {
		e.scaled[i] = z.Polygon.Scaled(w, h)
	}
}

func (e *Engine) zoneAt(x, y float32, typ Type) int {
	for i := range e.Zones {
		if e.Zones[i].enforces(typ) && e.scaled[i].Contains(x, y) {
			return i
		}
	}
	return -1
}

func (e *Engine) zoneIndex(name string) int {
	for i := range e.Zones {
		if e.Zones[i].Name == name {
			return i
		}
	}
	return -1
}

// thin returns at most n samples spread over s.
func thin(s []track.Sample, n int) []track.Sample {
	if len(s) <= n {
		return append([]track.Sample(nil), s...)
	}
	out := make([]track.Sample, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, s[i*(len(s)-1)/(n-1)])
	}
	return out
}

func sameObject(a, b Type) bool {
	garbage := func(t Type) bool { return t == GarbagePile || t == IllegalDumping }
	return a == b || garbage(a) && garbage(b)
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}
