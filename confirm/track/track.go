// Package track follows objects from frame to frame on one camera, the way
// ByteTrack does: detections are matched to tracks by IoU in two passes,
// confident detections first, then weak ones (an occluded or blurred object
// scores low, but is still the same object). Stationary objects keep their
// identity through missed detections and occlusion for a configurable time,
// because the violations StreetWatch confirms are about objects that stay.
//
// It is pure logic on stream time: no pixels, no wall clock, no I/O.
package track

import (
	"slices"
	"sort"
	"time"

	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/violation"
)

// Config tunes the tracker. Zero fields take the defaults of Defaults.
type Config struct {
	// HighScore: detections at or above are matched first and may start tracks.
	HighScore float32
	// LowScore: detections below are ignored; between Low and High they
	// only extend existing tracks (ByteTrack's second pass).
	LowScore float32
	// NewTrackScore: an unmatched detection starts a track from this score
	// (high or low pass). Objects a model is unsure of (a dropped bag at
	// 0.35) still get a track; the rules demand dwell before anything counts.
	NewTrackScore float32
	// MatchIoU is the minimum IoU to match in the first pass; the second
	// pass requires LowMatchIoU.
	MatchIoU, LowMatchIoU float32
	// MaxLost: a moving track not seen for this long ends.
	MaxLost time.Duration
	// StationaryMaxLost: a stationary track survives missed detections and
	// occlusion (people walking in front) for this long.
	StationaryMaxLost time.Duration
	// StationaryAfter: a track whose box stayed within StationaryIoU of its
	// position for this long is stationary.
	StationaryAfter time.Duration
	StationaryIoU   float32
	// History is how many past boxes a track keeps.
	History int
	// ClassGroups lists classes a model confuses for the same object; a
	// track may change class only within its group.
	ClassGroups [][]string
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	def := func(v *float32, d float32) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.HighScore, 0.5)
	def(&c.LowScore, 0.15)
	def(&c.NewTrackScore, 0.3)
	def(&c.MatchIoU, 0.2)
	def(&c.LowMatchIoU, 0.4)
	def(&c.StationaryIoU, 0.6)
	if c.MaxLost == 0 {
		c.MaxLost = 3 * time.Second
	}
	if c.StationaryMaxLost == 0 {
		c.StationaryMaxLost = 30 * time.Second
	}
	if c.StationaryAfter == 0 {
		c.StationaryAfter = 5 * time.Second
	}
	if c.History == 0 {
		c.History = 64
	}
	if c.ClassGroups == nil {
		c.ClassGroups = violation.ClassGroups()
	}
}

// Sample is a track's box at one moment.
type Sample struct {
	Time  time.Time
	Box   geom.Box
	Score float32
}

// Track is one object followed over time.
type Track struct {
	ID uint64
	// Box is the last matched box.
	Box       geom.Box
	Score     float32
	FirstSeen time.Time
	LastSeen  time.Time
	// Hits counts frames with a matched detection; Frames counts frames
	// since the track started (matched or not), for presence ratios.
	Hits, Frames int
	// Stationary is set once the object stayed in place for StationaryAfter.
	Stationary bool
	// StationarySince is when it came to rest (zero while moving).
	StationarySince time.Time
	// Best is the highest-scoring sample.
	Best Sample
	// Steady is the highest median of steadyWindow consecutive detection
	// scores the track has had (Frigate's top score): what the model says
	// of the object when it says it steadily, not its one best frame.
	Steady float32
	// History holds the most recent samples, oldest first.
	History []Sample
	// Missed is set when the last update had no detection for the track.
	Missed bool
	// Signals are every source that has seen the object (class model,
	// left-object detector).
	Signals detectors.Signal
	// leftSince is when the left-object detector last said the object
	// appeared: its latest word, on the region it sees now. Its first
	// reports are the part of the object that has stood longest: of a
	// stall rolled in, the part its still inside covered first, before
	// it stopped.
	leftSince time.Time
	// newPlace: a detection found the object's place changed from the
	// learnt background; oldPlaces counts those that found it as before.
	newPlace  bool
	oldPlaces int
	// modelSeen: a detection of the class model was matched to it (not
	// the left-object detector's alone).
	modelSeen bool

	votes  map[string]float32
	class  string
	anchor Sample     // the position stationarity is measured against
	moved  bool       // it left its first position at least once
	vel    [2]float32 // box centre velocity, pixels per second (smoothed)
}

// Place is how the object's place compared with the scene the
// left-object detector learnt before it (detectors.Place): PlaceNew once
// any detection found it changed, PlaceOld once two found it as before and
// none changed, PlaceUnknown until then (or with no left-object detector).
func (t *Track) Place() detectors.Place {
	switch {
	case t.newPlace:
		return detectors.PlaceNew
	case t.oldPlaces >= 2:
		return detectors.PlaceOld
	}
	return detectors.PlaceUnknown
}

func (t *Track) place(p detectors.Place) {
	switch p {
	case detectors.PlaceNew:
		t.newPlace = true
	case detectors.PlaceOld:
		t.oldPlaces++
	}
}

// StandingSince is when the object came to stand where it stands now:
// the oldest of its latest samples whose ground point (the bottom centre
// of the box) lies, in an unbroken run, within standTolerance of the
// newest one's, or, for an object only the left-object detector has
// seen (which reports only what stands still), whose box and the newest
// one lie one within the other (samePlace: a part of it, as it first
// reports a stall set up beside its vendor, the part that stood still
// first), or when the left-object detector saw it appear, if that
// was after the sample before the run (the time of that sample, if the
// detector dates it before). Its shape may change meanwhile (a stall
// opened, a pile grown); its place does not. When the run reaches
// back to the first sample it is its first sight, which the left-object
// detector may date before the model named it: by its latest word
// (leftSince), not by the first part of it that it reported. Zero when
// the run fills a history that has dropped older samples: it stands
// there since before the oldest, and the caller keeps what it knew.
func (t *Track) StandingSince() time.Time {
	if len(t.History) == 0 {
		return time.Time{}
	}
	last := t.History[len(t.History)-1].Box
	lx, ly := last.BottomCenter()
	tolX, tolY := standTolerance*last.W(), standTolerance*last.H()
	for i := len(t.History) - 2; i >= 0; i-- {
		x, y := t.History[i].Box.BottomCenter()
		if (abs(x-lx) > tolX || abs(y-ly) > tolY) && (t.modelSeen || !samePlace(t.History[i].Box, last)) {
			// It was elsewhere at sample i and here at i+1. The
			// left-object detector may have seen it arrive here between
			// the two: then it stands since then. If it dates it before
			// sample i, it arrived just after i: something pushed slowly
			// into place (a stall) looks still inside as it rolls, its
			// colour staying where its edges move, and so its pixels'
			// clocks start before it stopped.
			before, here := t.History[i].Time, t.History[i+1].Time
			switch {
			case t.leftSince.IsZero() || !t.leftSince.Before(here):
				return here
			case t.leftSince.After(before):
				return t.leftSince
			}
			return before
		}
	}
	if t.Hits > len(t.History) {
		return time.Time{}
	}
	if first := t.History[0].Time; t.leftSince.IsZero() || !t.leftSince.Before(first) {
		return first
	}
	return t.leftSince
}

// standTolerance is how far, as a fraction of the box's size, an object's
// ground point may wander (the model's boxes jitter) while it stands still.
const standTolerance = 0.15

// partOf: a box lying this much within another is a part of it.
const partOf = 0.9

// samePlace tells whether two boxes of an object the left-object detector
// alone reports (which reports only what stands still) show it standing
// in one place: either lies within the other (partOf). The detector
// reports a part of it first (a stall set up beside its vendor, the part
// that stood still first; a pile's first bag), then the whole, and its
// edges come and go by several pixels with the light and passers-by
// around it: on real-scene set m (m_vtest_stall_2) a stall's region grew
// from 43x24 to 77x58 px and its bottom edge then moved 10 px between
// two samples, more than standTolerance of its height, and its wait
// began again there.
func samePlace(a, b geom.Box) bool {
	return a.Within(b) >= partOf || b.Within(a) >= partOf
}

func abs(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// stillWindow is how many recent boxes (the new one included) a box's
// jitter is smoothed over, once there are three.
const stillWindow = 5

// still tells whether box (just appended to History) is where the track
// came to rest. A model's box jitters on an object that does not move (the
// top of a stall's awning comes and goes, a bag is half hidden): a box off
// its place still counts when the median of the recent boxes is on it, as
// Frigate's stationary check does. A moving object's recent boxes trail
// behind it, so their median leaves the place two samples after it.
func (t *Track) still(box geom.Box, minIoU float32) bool {
	if box.IoU(t.anchor.Box) >= minIoU {
		return true
	}
	if len(t.History) < 3 {
		return false
	}
	return medianBox(t.History[max(0, len(t.History)-stillWindow):]).IoU(t.anchor.Box) >= minIoU
}

// medianBox is the per-edge median of the samples' boxes.
func medianBox(ss []Sample) geom.Box {
	edge := func(f func(geom.Box) float32) float32 {
		var buf [stillWindow]float32 // no allocation per frame
		v := buf[:len(ss)]
		for i, s := range ss {
			v[i] = f(s.Box)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return geom.Box{X1: edge(func(b geom.Box) float32 { return b.X1 }), Y1: edge(func(b geom.Box) float32 { return b.Y1 }),
		X2: edge(func(b geom.Box) float32 { return b.X2 }), Y2: edge(func(b geom.Box) float32 { return b.Y2 })}
}

// steadyWindow is how many of a track's latest scores Steady takes the
// median of; under three count the missing ones as 0, so a track seen once
// or twice is not steady (Frigate pads its score history to three).
const steadyWindow = 10

// medianScore is the median of the samples' scores.
func medianScore(ss []Sample) float32 {
	var buf [steadyWindow]float32 // no allocation per frame
	v := buf[:max(len(ss), 3)]
	for i, s := range ss {
		v[i] = s.Score
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// maxPredict caps how far ahead a lost track's motion is extrapolated.
const maxPredict = 2 * time.Second

// Predicted is where the box is expected at now, moved by the track's
// velocity: at a few samples per second a walker moves more than its own
// width between samples, so plain IoU with the last box would lose it.
func (t *Track) Predicted(now time.Time) geom.Box {
	dt := float32(min(now.Sub(t.LastSeen), maxPredict).Seconds())
	if dt <= 0 {
		return t.Box
	}
	dx, dy := t.vel[0]*dt, t.vel[1]*dt
	return geom.Box{X1: t.Box.X1 + dx, Y1: t.Box.Y1 + dy, X2: t.Box.X2 + dx, Y2: t.Box.Y2 + dy}
}

// Class is the track's class by score-weighted vote. The left-object
// detector's class only wins while no model class has a vote: it says
// "something", the model says what.
func (t *Track) Class() string { return t.class }

// Moved tells whether the track left its first position (StationaryIoU)
// at least once.
func (t *Track) Moved() bool { return t.moved }

// Votes returns the score-weighted class votes.
func (t *Track) Votes() map[string]float32 { return t.votes }

func (t *Track) vote(class string, score float32) {
	t.votes[class] += score
	best := t.class
	if best == violation.ClassLeftObject {
		best = ""
	}
	for c, v := range t.votes {
		if c == violation.ClassLeftObject {
			continue
		}
		if best == "" || v > t.votes[best] || (v == t.votes[best] && c < best) {
			best = c
		}
	}
	if best == "" {
		best = violation.ClassLeftObject
	}
	t.class = best
}

// Named records that the class model named the object class on a closer
// look at it at time now (detectors.Zoomer: the whole frame showed it too
// small to name, and the left-object detector alone found it): the class
// gets the score's vote (a left object's own never outweighs one), the
// model is among its signals, and the look is its best sample when it
// scores higher than those before. The box stays the object's.
func (t *Track) Named(class string, score float32, now time.Time) {
	t.Signals |= detectors.SignalModel
	t.vote(class, score)
	if score > t.Best.Score {
		t.Best = Sample{Time: now, Box: t.Box, Score: score}
	}
}

// putDown tells whether the track is an object (not a person or vehicle)
// seen more than once that has not moved since it appeared: a bag put
// down. It is at rest from its first sight, and keeps its identity through
// occlusion as a stationary track does: on a busy pavement the next
// passers-by hide it before StationaryAfter has passed, and a new track
// when it is seen again would lose the moment it appeared, and so who
// left it.
func (t *Track) putDown() bool {
	return !t.moved && t.Hits >= 2 && !violation.IsActor(t.class)
}

// Tracker tracks one camera's objects.
type Tracker struct {
	cfg    Config
	nextID uint64
	tracks []*Track
}

// New returns a tracker whose track IDs start at firstID. IDs are unique
// for the tracker's life only: nothing persists them, and nothing needs to,
// because the rules recognise an open violation after a restart by its
// place (box overlap), never by its track ID.
func New(cfg Config, firstID uint64) *Tracker {
	cfg.Defaults()
	return &Tracker{cfg: cfg, nextID: max(firstID, 1)}
}

// NextID is the ID the next track will get.
func (tr *Tracker) NextID() uint64 { return tr.nextID }

// Tracks returns the live tracks (matched or recently lost).
func (tr *Tracker) Tracks() []*Track { return tr.tracks }

type pair struct {
	t    int
	d    int
	cost float32
}

// Update matches one frame's detections and returns the tracks that ended.
func (tr *Tracker) Update(now time.Time, dets []detectors.Detection) (ended []*Track) {
	cfg := tr.cfg
	var high, low []int
	for i, d := range dets {
		switch {
		case d.Score >= cfg.HighScore:
			high = append(high, i)
		case d.Score >= cfg.LowScore:
			low = append(low, i)
		}
	}
	matchedT := make([]bool, len(tr.tracks))
	matchedD := make([]bool, len(dets))
	tr.match(now, dets, high, matchedT, matchedD, cfg.MatchIoU, 0)
	tr.match(now, dets, low, matchedT, matchedD, cfg.LowMatchIoU, 0)
	// Third pass (C-BIoU): boxes grown by half their size on each side catch walkers
	// that moved further than their width between samples, before their
	// track has a velocity.
	tr.match(now, dets, append(high, low...), matchedT, matchedD, cfg.MatchIoU, 0.5)

	for i, t := range tr.tracks {
		t.Frames++
		if matchedT[i] {
			continue
		}
		t.Missed = true
		limit := cfg.MaxLost
		if t.Stationary || t.putDown() {
			limit = cfg.StationaryMaxLost
		}
		if now.Sub(t.LastSeen) > limit {
			ended = append(ended, t)
		}
	}
	for i := range dets {
		if !matchedD[i] && dets[i].Score >= cfg.NewTrackScore && dets[i].Score >= cfg.LowScore {
			tr.start(now, dets[i])
		}
	}
	tr.remove(ended)
	return ended
}

// remove takes the ended tracks out of the live ones.
func (tr *Tracker) remove(ended []*Track) {
	if len(ended) == 0 {
		return
	}
	live := tr.tracks[:0]
	for _, t := range tr.tracks {
		if !contains(ended, t) {
			live = append(live, t)
		}
	}
	tr.tracks = live
}

// Gone ends, after this frame's Update, the tracks of objects (not people
// or vehicles) that Update found missing where the left-object detector
// found the place emptied (leftobject's Removed: the background shows
// again). Without it a stationary object's track outlives StationaryMaxLost
// of absence, as it must when passers-by hide the object; but a bag taken
// away and another left at the same spot within that time would be taken
// for the first one come back, with its first sighting and its history.
// It returns the tracks it ended.
func (tr *Tracker) Gone(boxes []geom.Box) (ended []*Track) {
	if len(boxes) == 0 {
		return nil
	}
	for _, t := range tr.tracks {
		if t.Missed && !violation.IsActor(t.class) && emptied(t.Box, boxes) {
			ended = append(ended, t)
		}
	}
	tr.remove(ended)
	return ended
}

// emptied tells whether an object's box lies on a place found emptied:
// overlapping it, or mostly inside it.
func emptied(b geom.Box, boxes []geom.Box) bool {
	for _, g := range boxes {
		if b.IoU(g) >= 0.3 || b.Within(g) >= 0.5 {
			return true
		}
	}
	return false
}

func contains(ts []*Track, t *Track) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// match greedily pairs detections with unmatched tracks by IoU with the
// last or the predicted box, both grown by buffer (a fraction of their size
// on each side). Only related classes match (a bag may turn out to be a pile, a
// person never becomes a bag); a class change costs a little, so a bag
// next to a pile keeps its own track.
func (tr *Tracker) match(now time.Time, dets []detectors.Detection, idx []int, matchedT, matchedD []bool, minIoU, buffer float32) {
	var pairs []pair
	for ti, t := range tr.tracks {
		if matchedT[ti] {
			continue
		}
		last, pred := grow(t.Box, buffer), grow(t.Predicted(now), buffer)
		for _, di := range idx {
			if matchedD[di] || !tr.related(t.class, dets[di].Class) {
				continue
			}
			db := grow(dets[di].Box, buffer)
			iou := max(last.IoU(db), pred.IoU(db))
			if iou < minIoU {
				continue
			}
			cost := 1 - iou
			if dets[di].Class != t.class {
				cost += 0.3
			}
			pairs = append(pairs, pair{ti, di, cost})
		}
	}
	sort.Slice(pairs, func(a, b int) bool { return pairs[a].cost < pairs[b].cost })
	for _, p := range pairs {
		if matchedT[p.t] || matchedD[p.d] {
			continue
		}
		matchedT[p.t], matchedD[p.d] = true, true
		tr.extend(now, tr.tracks[p.t], dets[p.d])
	}
}

func grow(b geom.Box, f float32) geom.Box {
	if f == 0 {
		return b
	}
	dx, dy := b.W()*f, b.H()*f
	return geom.Box{X1: b.X1 - dx, Y1: b.Y1 - dy, X2: b.X2 + dx, Y2: b.Y2 + dy}
}

// related tells whether a track of class a may take a detection of class b.
func (tr *Tracker) related(a, b string) bool {
	if a == b {
		return true
	}
	for _, g := range tr.cfg.ClassGroups {
		if slices.Contains(g, a) && slices.Contains(g, b) {
			return true
		}
	}
	return false
}

func (tr *Tracker) start(now time.Time, d detectors.Detection) {
	s := Sample{Time: now, Box: d.Box, Score: d.Score}
	first := now
	if !d.Since.IsZero() && d.Since.Before(now) {
		first = d.Since // it was there before it could be reported
	}
	if grew := tr.grewFrom(d); !grew.IsZero() && grew.Before(first) {
		first = grew
	}
	t := &Track{ID: tr.nextID, Box: d.Box, Score: d.Score, FirstSeen: first, LastSeen: now, Hits: 1, Frames: 1,
		Best: s, History: []Sample{s}, votes: map[string]float32{}, anchor: s, Signals: d.Of(), leftSince: d.Since,
		modelSeen: d.Of()&detectors.SignalModel != 0}
	t.vote(d.Class, d.Score)
	t.place(d.Place)
	tr.nextID++
	tr.tracks = append(tr.tracks, t)
}

// grewFrom tells when the object a new detection shows began, if it is
// what objects already lying there grew into: a pile first named when
// several bags lie together, a left object's region covering a bag seen
// before. Objects of a related class at rest (stationary, or put down and
// not moved since), each mostly inside the new box, are its beginning; it
// began when the first of them appeared (zero: no such object). The
// earlier tracks go on; only the new one's first sight moves.
func (tr *Tracker) grewFrom(d detectors.Detection) time.Time {
	var first time.Time
	if violation.IsActor(d.Class) {
		return first
	}
	for _, o := range tr.tracks {
		if violation.IsActor(o.class) || !tr.related(o.class, d.Class) || !(o.Stationary || o.putDown()) {
			continue
		}
		if o.Box.Within(d.Box) >= grownWithin && (first.IsZero() || o.FirstSeen.Before(first)) {
			first = o.FirstSeen
		}
	}
	return first
}

// grownWithin is how much of an earlier object must lie inside a new
// detection for the new one to be what it grew into.
const grownWithin = 0.7

func (tr *Tracker) extend(now time.Time, t *Track, d detectors.Detection) {
	s := Sample{Time: now, Box: d.Box, Score: d.Score}
	if dt := float32(now.Sub(t.LastSeen).Seconds()); dt > 0 {
		vx := ((d.Box.X1 + d.Box.X2) - (t.Box.X1 + t.Box.X2)) / 2 / dt
		vy := ((d.Box.Y1 + d.Box.Y2) - (t.Box.Y1 + t.Box.Y2)) / 2 / dt
		if t.Hits == 1 {
			t.vel = [2]float32{vx, vy}
		} else {
			t.vel = [2]float32{0.5*t.vel[0] + 0.5*vx, 0.5*t.vel[1] + 0.5*vy}
		}
	}
	t.Box, t.Score, t.LastSeen = d.Box, d.Score, now
	if !d.Since.IsZero() && d.Since.Before(t.FirstSeen) {
		// The left-object detector knows when the object appeared: earlier
		// than the model first saw it (half hidden by whoever put it down).
		t.FirstSeen = d.Since
	}
	if !d.Since.IsZero() {
		t.leftSince = d.Since
	}
	t.Hits++
	t.Missed = false
	t.Signals |= d.Of()
	t.modelSeen = t.modelSeen || d.Of()&detectors.SignalModel != 0
	t.vote(d.Class, d.Score)
	t.place(d.Place)
	if d.Score > t.Best.Score {
		t.Best = s
	}
	t.History = append(t.History, s)
	if len(t.History) > tr.cfg.History {
		t.History = append(t.History[:0], t.History[len(t.History)-tr.cfg.History:]...)
	}
	if m := medianScore(t.History[max(0, len(t.History)-steadyWindow):]); m > t.Steady {
		t.Steady = m
	}
	// Stationary: still overlapping where it came to rest, or, seen by the
	// left-object detector alone, grown from it or a part of it
	// (samePlace); moving resets.
	if t.still(d.Box, tr.cfg.StationaryIoU) || (!t.modelSeen && samePlace(t.anchor.Box, d.Box)) {
		if !t.Stationary && now.Sub(t.anchor.Time) >= tr.cfg.StationaryAfter {
			t.Stationary, t.StationarySince = true, t.anchor.Time
		}
	} else {
		t.anchor, t.moved = s, true
		t.Stationary, t.StationarySince = false, time.Time{}
	}
}
