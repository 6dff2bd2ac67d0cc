// Package visits turns a station camera's vehicle tracks into visits: a
// vehicle (cargo tricycle, hand cart, truck) that comes, stops in the
// station's unloading bay for at least MinStop, and goes. A reconciler
// later matches each visit with the station's weighing records.
//
// It is pure logic on stream time, like the rules: it never sees pixels,
// never blocks, and knows nothing of storage or evidence. The caller
// feeds it the camera's live tracks after every sampled frame and keeps
// the picture of each open visit's best sample (see Open).
package visits

import (
	"slices"
	"time"

	"github.com/streetwatch/streetwatch/geom"
)

// Config is one station camera's visit rule. Polygons are in pixels or
// normalised to 0..1, as zones are; a vehicle is in one by the bottom
// centre of its box (where it touches the ground).
type Config struct {
	Bay geom.Polygon
	// Entrance (optional): a vehicle's arrival is the first time it was
	// seen there, rather than the first time it was seen at all.
	Entrance geom.Polygon
	// MinStop is how long a vehicle must stand still in the bay.
	MinStop time.Duration
	// LeaveAfter is how long a vehicle must have been away from the bay
	// (seen elsewhere, or its track ended) before its visit is over; one
	// that comes back sooner, or is picked up again by a new track where
	// it stood, is on the same visit.
	LeaveAfter time.Duration
	// Classes are the vehicle classes; other tracks are ignored.
	Classes []string
}

// Defaults of Config's zero fields.
const (
	DefaultMinStop    = 10 * time.Second
	DefaultLeaveAfter = 5 * time.Second
)

// Thresholds on box overlap (IoU).
const (
	// stillIoU: a vehicle whose box overlaps where it came to rest by at
	// least this much is standing still (the tracker's own measure).
	stillIoU = 0.6
	// adoptIoU: a new track this close to where an open visit's vehicle
	// was last seen in the bay is that vehicle, found again.
	adoptIoU = 0.3
)

// Track is a tracked object as the visit rule needs it (confirm/track's
// Track, see FromTrack).
type Track struct {
	ID        uint64
	Class     string
	Box       geom.Box // the last matched box
	Score     float32
	FirstSeen time.Time
	// Seen is set when the track was matched in this frame; a track not
	// seen is kept by the tracker for a while (occlusion, a missed detection).
	Seen bool
}

// Sample is a vehicle's box at one moment.
type Sample struct {
	Time  time.Time
	Box   geom.Box
	Score float32
}

// Visit is one vehicle's visit to the bay.
type Visit struct {
	// Seq numbers the rule's visits from 1 (candidates that never became
	// visits included), so the caller can keep a picture per open visit.
	Seq uint64
	// TrackID is the vehicle's track (the latest, if it was found again).
	TrackID uint64
	Class   string
	// Arrival is when the vehicle was first seen (in the entrance, when
	// one is configured and it was seen there).
	Arrival time.Time
	// Stop is when it came to rest in the bay.
	Stop time.Time
	// Departure is when it was last seen in the bay (zero while open).
	Departure time.Time
	// Best is its best sample while it stood in the bay: the highest
	// score, the largest box on a tie.
	Best Sample
}

// Rule follows one camera's vehicles and finds their visits.
type Rule struct {
	cfg Config

	bay, entrance      geom.Polygon // scaled to the frame
	seq                uint64
	open               []*visit
	entered            map[uint64]time.Time // track → first seen in the entrance
	byTrack            map[uint64]*visit
	scaledFor          [2]int
	hasEntrance, ready bool
}

// visit is an open visit and what the rule needs to end it.
type visit struct {
	Visit
	anchor    Sample // where the vehicle came to rest, or its latest place while moving
	lastBox   geom.Box
	lastInBay time.Time
	qualified bool // stood still MinStop in the bay: a visit, not a pass-by
}

// New returns a rule for cfg, with defaults for its zero durations.
func New(cfg Config) *Rule {
	if cfg.MinStop <= 0 {
		cfg.MinStop = DefaultMinStop
	}
	if cfg.LeaveAfter <= 0 {
		cfg.LeaveAfter = DefaultLeaveAfter
	}
	return &Rule{cfg: cfg, entered: map[uint64]time.Time{}, byTrack: map[uint64]*visit{}, hasEntrance: len(cfg.Entrance) >= 3}
}

// Update takes the camera's live tracks after the frame at now (of
// width×height pixels) and returns the visits that ended, by departure.
// A track missing from tracks has ended.
func (r *Rule) Update(now time.Time, width, height int, tracks []Track) []Visit {
	r.scale(width, height)
	live := make(map[uint64]*Track, len(tracks))
	for i := range tracks {
		t := &tracks[i]
		if !slices.Contains(r.cfg.Classes, t.Class) {
			continue
		}
		live[t.ID] = t
		if t.Seen && r.hasEntrance && r.in(r.entrance, t.Box) {
			if _, ok := r.entered[t.ID]; !ok {
				r.entered[t.ID] = now
			}
		}
	}
	for id := range r.entered {
		if live[id] == nil {
			delete(r.entered, id)
		}
	}
	for id := range r.byTrack {
		if live[id] == nil {
			delete(r.byTrack, id) // its visit stays open: the vehicle may be found again
		}
	}
	// Tracks in ID order: the same input gives the same visits.
	ids := make([]uint64, 0, len(live))
	for id, t := range live {
		if t.Seen {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		r.see(now, live[id], live)
	}
	return r.finish(now, live)
}

// see applies one track's sample in this frame.
func (r *Rule) see(now time.Time, t *Track, live map[uint64]*Track) {
	inBay := r.in(r.bay, t.Box)
	v := r.byTrack[t.ID]
	if v == nil {
		if !inBay {
			return
		}
		if v = r.adopt(t, live); v == nil {
			r.seq++
			arrival := t.FirstSeen
			if at, ok := r.entered[t.ID]; ok {
				arrival = at
			}
			v = &visit{Visit: Visit{Seq: r.seq, Class: t.Class, Arrival: arrival}, anchor: Sample{now, t.Box, t.Score}}
			r.open = append(r.open, v)
		}
		if r.byTrack[v.TrackID] == v {
			delete(r.byTrack, v.TrackID) // adopted from a track that lost it
		}
		v.TrackID = t.ID
		r.byTrack[t.ID] = v
	}
	if !inBay {
		if !v.qualified {
			r.drop(v) // drove through, or left before it stopped long enough
		}
		return
	}
	v.lastInBay, v.lastBox = now, t.Box
	s := Sample{now, t.Box, t.Score}
	if !v.qualified && t.Box.IoU(v.anchor.Box) < stillIoU {
		v.anchor, v.Best = s, Sample{} // still moving: the stop starts again
		return
	}
	if better(s, v.Best) {
		v.Best = s
	}
	if !v.qualified && now.Sub(v.anchor.Time) >= r.cfg.MinStop {
		v.qualified, v.Stop = true, v.anchor.Time
	}
}

// adopt finds the open visit whose vehicle t is, found again by another
// track: the visit's own track is not seen now (ended, or lost by the
// tracker) and t stands where that vehicle was last seen in the bay.
func (r *Rule) adopt(t *Track, live map[uint64]*Track) *visit {
	var best *visit
	var bestIoU float32
	for _, v := range r.open {
		if own := live[v.TrackID]; own != nil && own.Seen {
			continue
		}
		if iou := t.Box.IoU(v.lastBox); iou >= adoptIoU && iou > bestIoU {
			best, bestIoU = v, iou
		}
	}
	return best
}

// finish ends the visits whose vehicle has been away from the bay for
// LeaveAfter: its track ended, or it is (last) seen outside the bay. A
// vehicle the tracker still keeps in the bay, unseen (someone in front
// of it), is still there.
func (r *Rule) finish(now time.Time, live map[uint64]*Track) []Visit {
	var out []Visit
	for _, v := range slices.Clone(r.open) {
		if now.Sub(v.lastInBay) < r.cfg.LeaveAfter {
			continue
		}
		if t := live[v.TrackID]; t != nil && r.in(r.bay, t.Box) {
			continue
		}
		r.drop(v)
		if v.qualified {
			v.Departure = v.lastInBay
			out = append(out, v.Visit)
		}
	}
	return out
}

func (r *Rule) drop(v *visit) {
	r.open = slices.DeleteFunc(r.open, func(o *visit) bool { return o == v })
	if r.byTrack[v.TrackID] == v {
		delete(r.byTrack, v.TrackID)
	}
}

// Open returns the open visits (qualified or not yet), oldest first: the
// caller keeps the picture of each whose Best was taken in this frame
// and may forget those of visits no longer open.
func (r *Rule) Open() []Visit {
	out := make([]Visit, len(r.open))
	for i, v := range r.open {
		out[i] = v.Visit
	}
	return out
}

// better: a higher score, or the same score and a larger box.
func better(s, than Sample) bool {
	if than.Time.IsZero() {
		return true
	}
	return s.Score > than.Score || (s.Score == than.Score && s.Box.Area() > than.Box.Area())
}

func (r *Rule) in(p geom.Polygon, b geom.Box) bool {
	x, y := b.BottomCenter()
	return p.Contains(x, y)
}

func (r *Rule) scale(w, h int) {
	if r.ready && r.scaledFor == [2]int{w, h} {
		return
	}
	r.bay, r.entrance = r.cfg.Bay.Scaled(w, h), r.cfg.Entrance.Scaled(w, h)
	r.scaledFor, r.ready = [2]int{w, h}, true
}
