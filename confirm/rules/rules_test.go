package rules

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/confirm/track"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
)

var start = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func d(class string, x1, y1, x2, y2 float32) detectors.Detection {
	return detectors.Detection{Class: class, Score: 0.8, Box: geom.Box{X1: x1, Y1: y1, X2: x2, Y2: y2}}
}

// scene is a script: at second s (stream time), what is detected.
type scene func(s int) []detectors.Detection

// play runs tracker + engine at 1 fps for n seconds and returns the
// violations with the second they were confirmed at.
func play(t *testing.T, e *Engine, tr *track.Tracker, from time.Time, n int, sc scene) (out []Violation, at []int) {
	t.Helper()
	return playEvery(t, e, tr, from, 1, n, sc)
}

// playEvery is play with a frame every `every` seconds (keyframes).
func playEvery(t *testing.T, e *Engine, tr *track.Tracker, from time.Time, every, n int, sc scene) (out []Violation, at []int) {
	t.Helper()
	for s := 0; s < n; s += every {
		now := from.Add(time.Duration(s) * time.Second)
		ended := tr.Update(now, sc(s))
		vs, err := e.Update(now, 1280, 720, tr.Tracks(), ended)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			out = append(out, v)
			at = append(at, s)
		}
	}
	return out, at
}

var lowerHalf = Zone{Name: "sidewalk", Types: Types,
	Polygon: geom.Polygon{{X: 0, Y: 0.4}, {X: 1, Y: 0.4}, {X: 1, Y: 1}, {X: 0, Y: 1}}}

func engine(zones ...Zone) (*Engine, *track.Tracker) {
	return &Engine{Camera: "cam", Zones: zones, Params: map[Type]Params{
		GarbagePile:    {MinDwell: 5 * time.Minute, MinScore: 0.5, ClearAfter: 2 * time.Minute},
		StreetVending:  {MinDwell: 3 * time.Minute, MinScore: 0.5, ClearAfter: 2 * time.Minute},
		IllegalDumping: {MinDwell: 60 * time.Second, MinScore: 0.5, ClearAfter: 2 * time.Minute},
	}}, track.New(track.Config{}, 1)
}

func pile(s int) []detectors.Detection {
	return []detectors.Detection{d("garbage_pile", 600, 500, 700, 580)}
}

func TestGarbagePile(t *testing.T) {
	tests := []struct {
		name  string
		zones []Zone
		sc    scene
		n     int
		want  []int // seconds at which violations are confirmed
	}{
		{"stays 6 min: confirmed at 5 min", []Zone{lowerHalf}, pile, 360, []int{300}},
		{"stays 4 min: nothing", []Zone{lowerHalf}, pile, 240, nil},
		{"seen in 9 of 10 samples: confirmed", []Zone{lowerHalf}, func(s int) []detectors.Detection {
			if s%10 == 5 {
				return nil
			}
			return pile(s)
		}, 360, []int{300}},
		{"seen in half the samples: nothing", []Zone{lowerHalf}, func(s int) []detectors.Detection {
			if s%2 == 0 {
				return nil
			}
			return pile(s)
		}, 360, nil},
		{"named a pile in half the samples, a bag in it in all: confirmed", []Zone{lowerHalf}, func(s int) []detectors.Detection {
			bag := d("garbage_bag", 610, 520, 650, 580)
			if s%2 == 0 {
				return []detectors.Detection{bag}
			}
			return append(pile(s), bag)
		}, 360, []int{300}},
		{"a pile in half the samples, a bag beside it in all: nothing", []Zone{lowerHalf}, func(s int) []detectors.Detection {
			bag := d("garbage_bag", 720, 520, 760, 580)
			if s%2 == 0 {
				return []detectors.Detection{bag}
			}
			return append(pile(s), bag)
		}, 360, nil},
		{"outside the zone: nothing", []Zone{lowerHalf}, func(int) []detectors.Detection {
			return []detectors.Detection{d("garbage_pile", 600, 100, 700, 200)}
		}, 360, nil},
		{"feet just inside the zone edge: confirmed", []Zone{lowerHalf}, func(int) []detectors.Detection {
			return []detectors.Detection{d("garbage_pile", 600, 200, 700, 290)} // bottom at y=290 > 0.4*720=288
		}, 360, []int{300}},
		{"feet just outside the zone edge: nothing", []Zone{lowerHalf}, func(int) []detectors.Detection {
			return []detectors.Detection{d("garbage_pile", 600, 200, 700, 286)}
		}, 360, nil},
		{"zone enforcing only vending: nothing", []Zone{{Name: "market", Types: []Type{StreetVending}, Polygon: lowerHalf.Polygon}}, pile, 360, nil},
		{"persists 20 min: reported once", []Zone{lowerHalf}, pile, 1200, []int{300}},
		{"gone longer than clear_after, back: reported again", []Zone{lowerHalf}, func(s int) []detectors.Detection {
			if s >= 400 && s < 600 { // 200 s away > 120 s clear_after (+30 s track memory)
				return nil
			}
			return pile(s)
		}, 1000, []int{300, 900}},
		{"gone shorter than clear_after, back: not again", []Zone{lowerHalf}, func(s int) []detectors.Detection {
			if s >= 400 && s < 480 {
				return nil
			}
			return pile(s)
		}, 1000, []int{300}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, tr := engine(tt.zones...)
			vs, at := play(t, e, tr, start, tt.n, tt.sc)
			if len(at) != len(tt.want) {
				t.Fatalf("confirmed at %v s, want %v", at, tt.want)
			}
			for i := range at {
				if at[i] < tt.want[i] || at[i] > tt.want[i]+2 {
					t.Fatalf("confirmed at %v s, want %v", at, tt.want)
				}
				if vs[i].Type != GarbagePile || vs[i].Zone == "" || vs[i].Camera != "cam" || vs[i].ID == "" {
					t.Fatalf("violation %+v", vs[i])
				}
			}
		})
	}
}

func TestStreetVendingOnlyDuringEnforcementHours(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	z := lowerHalf
	z.Schedule = Schedule{Location: shanghai, Windows: []Window{{Start: 8 * 60, End: 20 * 60}}}
	stall := func(int) []detectors.Detection { return []detectors.Detection{d("vending_stall", 300, 300, 500, 520)} }
	tests := []struct {
		name  string
		local string // start, Shanghai time
		n     int
		want  []int
	}{
		{"inside hours: confirmed after 3 min", "10:00", 240, []int{180}},
		{"set up at 07:58: dwell counts from 08:00", "07:58", 400, []int{300}},
		{"hours end at 20:00 before 3 min: nothing", "19:58", 400, nil},
		{"night: nothing", "22:00", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, tr := engine(z)
			at, _ := time.ParseInLocation("2006-01-02 15:04", "2026-11-25 "+tt.local, shanghai)
			_, got := play(t, e, tr, at, tt.n, stall)
			if len(got) != len(tt.want) || (len(got) > 0 && (got[0] < tt.want[0] || got[0] > tt.want[0]+2)) {
				t.Fatalf("confirmed at %v s, want %v", got, tt.want)
			}
		})
	}
}

// Street vending begins when the stall stops where it stands, not while
// it is pushed along the pavement, though it opens (its box grows) after;
// and when the left-object detector saw it stand there before the model
// named it, it began then.
func TestStreetVendingBeginsWhenTheStallStops(t *testing.T) {
	pushed := func(s int) []detectors.Detection {
		x := float32(100 + 60*min(s, 10)) // pushed in for 10 s, then set up
		open := float32(min(max(s-10, 0), 6) * 10)
		return []detectors.Detection{d("vending_stall", x-open/2, 400-open, x+200+open/2, 560)}
	}
	e, tr := engine(lowerHalf)
	vs, at := play(t, e, tr, start, 240, pushed)
	if len(vs) != 1 {
		t.Fatalf("%d violations, want 1", len(vs))
	}
	if got := vs[0].FirstSeen.Sub(start); got != 10*time.Second || at[0] != 190 {
		t.Errorf("first seen at %v, confirmed at %d s; want 10s and 190 s (3 min after it stopped)", got, at[0])
	}

	e, tr = engine(lowerHalf)
	stood := func(s int) []detectors.Detection {
		st := d("vending_stall", 300, 400, 500, 560)
		if s >= 5 {
			st.Signals, st.Since = detectors.SignalModel|detectors.SignalLeftObject, start
		}
		return []detectors.Detection{st}
	}
	vs, _ = play(t, e, tr, start.Add(4*time.Second), 240, stood)
	if len(vs) != 1 || !vs[0].FirstSeen.Equal(start) {
		t.Fatalf("%d violations (first seen %v), want one first seen at the start, when the left-object detector saw the stall arrive",
			len(vs), firstSeen(vs))
	}
}

// A pile or a stall must stand for minutes, sampled hundreds of times: a
// model that names a static thing (parked cars, on vtest.avi) a pile at
// 0.30-0.45, and above min_score one frame in ten, would reach min_score
// once. Seen by the class model alone, a state violation needs the score
// steadily; the left-object detector seeing the object appear is the
// second opinion that lets the best score do, and a dumping (an actor seen
// leaving it) keeps the best score.
func TestAPileOrStallNeedsASteadyScore(t *testing.T) {
	now := func(class string, x1, y1, x2, y2 float32, sig detectors.Signal) scene {
		return func(s int) []detectors.Detection {
			det := d(class, x1, y1, x2, y2)
			det.Score, det.Signals = 0.35, sig
			if s%10 == 4 {
				det.Score = 0.6
			}
			return []detectors.Detection{det}
		}
	}
	steady := func(class string, x1, y1, x2, y2 float32) scene {
		return func(int) []detectors.Detection {
			det := d(class, x1, y1, x2, y2)
			det.Score = 0.55
			return []detectors.Detection{det}
		}
	}
	for _, tc := range []struct {
		name string
		sc   scene
		want []int
	}{
		{"a pile named now and then: nothing in 20 min", now("garbage_pile", 600, 500, 700, 580, detectors.SignalModel), nil},
		{"a stall named now and then: nothing in 20 min", now("vending_stall", 300, 300, 500, 520, detectors.SignalModel), nil},
		{"a pile named at 0.55 steadily: confirmed at 5 min", steady("garbage_pile", 600, 500, 700, 580), []int{300}},
		{"a stall named at 0.55 steadily: confirmed at 3 min", steady("vending_stall", 300, 300, 500, 520), []int{180}},
		{"a pile named now and then, seen appearing by the left-object detector: confirmed", now("garbage_pile", 600, 500, 700, 580, detectors.SignalModel|detectors.SignalLeftObject), []int{300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, tr := engine(lowerHalf)
			_, at := play(t, e, tr, start, 1200, tc.sc)
			if len(at) != len(tc.want) || (len(at) > 0 && (at[0] < tc.want[0] || at[0] > tc.want[0]+10)) {
				t.Fatalf("confirmed at %v s, want %v", at, tc.want)
			}
		})
	}

	// A dumping whose bag the model names at 0.35, and once at 0.6 (left at
	// 10 s, the walker gone at 20 s): confirmed on its best score.
	e, tr := engine(lowerHalf)
	vs, _ := play(t, e, tr, start, 200, func(s int) []detectors.Detection {
		out := walker(s, 20, 0)
		for i := range out {
			if out[i].Class == "garbage_bag" {
				out[i].Score = 0.35
				if s == 15 {
					out[i].Score = 0.6
				}
			}
		}
		return out
	})
	if len(vs) != 1 || vs[0].Type != IllegalDumping {
		t.Fatalf("got %d violations (%v), want the dumping", len(vs), vs)
	}
}

// A person walks to x=600, the bag appears beside them at 10 s.
func walker(s int, leaveAt, pickupAt int) []detectors.Detection {
	var out []detectors.Detection
	switch {
	case s < 8:
		x := float32(100 + 60*s) // walking in
		out = append(out, d("person", x, 380, x+60, 560))
	case s < leaveAt:
		out = append(out, d("person", 580, 380, 640, 560)) // standing by the bag
	case s < leaveAt+10:
		x := float32(580 + 70*(s-leaveAt)) // walking away
		out = append(out, d("person", x, 380, x+60, 560))
	}
	if s >= 10 && (pickupAt == 0 || s < pickupAt) {
		out = append(out, d("garbage_bag", 650, 500, 700, 560))
	}
	return out
}

// owner puts the bag down at 10 s and stays beside it (standing where
// walker's person stands) with the bag there until pickupAt; away(s) says
// where they are instead at second s: nowhere (nil, undetected) or a box.
func owner(s, pickupAt int, away func(s int) []detectors.Detection) []detectors.Detection {
	out := walker(s, 1000, pickupAt)
	if s < 8 {
		return out
	}
	if a, ok := awayAt(away, s); ok {
		out = append(out[:0:0], a...)
		if s >= 10 && s < pickupAt {
			out = append(out, d("garbage_bag", 650, 500, 700, 560))
		}
	}
	return out
}

func awayAt(away func(int) []detectors.Detection, s int) ([]detectors.Detection, bool) {
	if away == nil {
		return nil, false
	}
	a := away(s)
	return a, a != nil
}

// stepsAway: after waiting 80 s beside the bag the owner walks 480 px
// away (90-96 s), stands there until 110 s, walks back (110-116 s).
func stepsAway(s int) []detectors.Detection {
	switch {
	case s >= 90 && s < 96:
		x := float32(580 - 80*(s-90))
		return []detectors.Detection{d("person", x, 380, x+60, 560)}
	case s >= 96 && s < 110:
		return []detectors.Detection{d("person", 100, 380, 160, 560)}
	case s >= 110 && s < 116:
		x := float32(100 + 80*(s-110))
		return []detectors.Detection{d("person", x, 380, x+60, 560)}
	}
	return nil
}

// hiddenBehindTheTruck: the owner is not detected from 40 s to 80 s
// (longer than a stationary track survives, so the tracker ends it), then
// is seen again where they stood.
func hiddenBehindTheTruck(s int) []detectors.Detection {
	if s >= 40 && s < 80 {
		return []detectors.Detection{}
	}
	return nil
}

func TestIllegalDumping(t *testing.T) {
	tests := []struct {
		name string
		sc   scene
		want []int
	}{
		{"left behind: confirmed 60 s after the person left", func(s int) []detectors.Detection { return walker(s, 20, 0) }, []int{89}},
		{"left behind after waiting 90 s beside it: confirmed 60 s after the person left", func(s int) []detectors.Detection { return walker(s, 100, 0) }, []int{169}},
		{"put down and picked up again after 15 s: nothing", func(s int) []detectors.Detection { return walker(s, 40, 25) }, nil},
		{"the person stays by the bag: nothing", func(s int) []detectors.Detection { return walker(s, 1000, 0) }, nil},
		{"waits beside it 90 s, then takes it: nothing", func(s int) []detectors.Detection { return owner(s, 100, nil) }, nil},
		{"waits 80 s, steps away 20 s, comes back and takes it: nothing", func(s int) []detectors.Detection {
			return owner(s, 120, stepsAway)
		}, nil},
		{"waits for the truck, lost by the tracker behind it and seen again, the bag is collected: nothing", func(s int) []detectors.Detection {
			return owner(s, 140, hiddenBehindTheTruck)
		}, nil},
		{"a bag appears with nobody near: nothing", func(s int) []detectors.Detection {
			if s >= 10 {
				return []detectors.Detection{d("garbage_bag", 650, 500, 700, 560)}
			}
			return nil
		}, nil},
		{"a bag appears with nobody near, a vehicle detected once beside it 8 s before (noise): nothing", func(s int) []detectors.Detection {
			switch {
			case s == 2:
				return []detectors.Detection{d("vehicle", 560, 380, 710, 560)}
			case s >= 10:
				return []detectors.Detection{d("garbage_bag", 650, 500, 700, 560)}
			}
			return nil
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, tr := engine(lowerHalf)
			vs, at := play(t, e, tr, start, 240, tt.sc)
			if len(at) != len(tt.want) || (len(at) > 0 && (at[0] < tt.want[0] || at[0] > tt.want[0]+2)) {
				t.Fatalf("confirmed at %v s, want %v", at, tt.want)
			}
			if len(vs) == 1 {
				v := vs[0]
				if v.Type != IllegalDumping || !v.FirstSeen.Equal(start.Add(10*time.Second)) {
					t.Fatalf("violation %s first seen %v, want the drop at +10 s", v.Type, v.FirstSeen.Sub(start))
				}
				if v.ActorClass != "person" || len(v.Actor) == 0 {
					t.Fatalf("actor %q with %d samples", v.ActorClass, len(v.Actor))
				}
			}
		})
	}
}

// A person stands 3 s to put a bag down (8-10 s) and walks off at 70 px/s
// (from 11 s, out of reach at 20 s). Where the model misses them in the
// first two samples of their walk, the tracker, knowing no speed for
// them, starts a new track where they are seen again (13 s), 140 px on.
// The wait still starts when they are out of reach, as it does when every
// sample sees them, not when the track of the person who put the bag
// down ends (14 s); that person is still the actor.
func TestTheActorIsFollowedAcrossALostTrack(t *testing.T) {
	var want []int
	var wantActor uint64
	for _, tc := range []struct {
		name   string
		missed []int
	}{{"seen in every sample", nil}, {"missed in the first two samples of the walk", []int{11, 12}}} {
		e, tr := engine(lowerHalf)
		vs, at := play(t, e, tr, start, 240, func(s int) []detectors.Detection {
			out := walker(s, 11, 0)
			if slices.Contains(tc.missed, s) {
				out = slices.DeleteFunc(out, func(d detectors.Detection) bool { return d.Class == "person" })
			}
			return out
		})
		if len(vs) != 1 || vs[0].Type != IllegalDumping {
			t.Fatalf("%s: violations %+v, want one dumping", tc.name, vs)
		}
		t.Logf("%s: confirmed at %d s, actor track %d", tc.name, at[0], vs[0].ActorTrackID)
		if want == nil {
			want, wantActor = at, vs[0].ActorTrackID
			continue
		}
		if at[0] != want[0] || vs[0].ActorTrackID != wantActor {
			t.Errorf("%s: confirmed at %d s crediting track %d, want %d s and track %d as when every sample saw them",
				tc.name, at[0], vs[0].ActorTrackID, want[0], wantActor)
		}
	}
}

// passingBy: a bag appears at 10 s as something 180 px tall passes it
// on the pavement without stopping, at speed px/s, its bottom centre over
// the bag's at 10 s.
func passingBy(class string, width, speed float32) scene {
	return func(s int) []detectors.Detection {
		x := 675 - width/2 + speed*float32(s-10)
		out := []detectors.Detection{d(class, x, 380, x+width, 560)}
		if s >= 10 {
			out = append(out, d("garbage_bag", 650, 500, 700, 560))
		}
		return out
	}
}

// pausing: a bag appears at 10 s beside a tricycle that rides in at
// 120 px/s, stands over the bag's place from second from to second until
// and rides on.
func pausing(from, until int) scene {
	return func(s int) []detectors.Detection {
		x := float32(575) // standing: its bottom centre over the bag's
		switch {
		case s < from:
			x -= 120 * float32(from-s)
		case s > until:
			x += 120 * float32(s-until)
		}
		out := []detectors.Detection{d("vehicle", x, 380, x+200, 560)}
		if s >= 10 {
			out = append(out, d("garbage_bag", 650, 500, 700, 560))
		}
		return out
	}
}

// walkingDown: a bag appears at 10 s as someone walks slowly down the
// picture (towards the camera) past it, 50 px/s: their box keeps IoU 0.57
// from one second to the next, but their feet move 0.28 of their height
// a second, and they leave the picture at 14 s.
func walkingDown(s int) []detectors.Detection {
	var out []detectors.Detection
	if y := float32(560 + 50*(s-10)); y <= 720 {
		out = append(out, d("person", 645, y-180, 705, y))
	}
	if s >= 10 {
		out = append(out, d("garbage_bag", 650, 500, 700, 560))
	}
	return out
}

// jumpingBox: from 5 s to 15 s the model sees a "vehicle" beside where a
// bag appears at 10 s, its box jumping between two sizes every frame
// around one ground point (on real footage, its phantom vehicles on a
// knot of pedestrians), then sees it no more.
func jumpingBox(s int) []detectors.Detection {
	var out []detectors.Detection
	switch {
	case s >= 5 && s < 15 && s%2 == 0:
		out = append(out, d("vehicle", 520, 380, 720, 560))
	case s >= 5 && s < 15:
		out = append(out, d("vehicle", 570, 470, 670, 560))
	}
	if s >= 10 {
		out = append(out, d("garbage_bag", 650, 500, 700, 560))
	}
	return out
}

// crouchingUnseen: someone (of class) walks in at 70 px/s and reaches a
// spot at 8 s, where the model loses them while they crouch (9 and 10 s);
// a bag is there from 10 s; they stand up where they were last seen (11 s)
// and walk on (back, with back -1) at 70 px/s. Every sample the model has
// of them is of someone walking.
func crouchingUnseen(class string, back float32) scene {
	return func(s int) []detectors.Detection {
		var out []detectors.Detection
		x := float32(580 + 70*(s-8))
		switch {
		case s > 10 && back < 0:
			x = 580 - 70*float32(s-11)
		case s > 10:
			x = 580 + 70*float32(s-11)
		}
		if s < 9 || s > 10 {
			out = append(out, d(class, x, 380, x+60, 560))
		}
		if s >= 10 {
			out = append(out, d("garbage_bag", 650, 500, 700, 560))
		}
		return out
	}
}

// passingUnseen: someone walks past at 70 px/s as a bag appears at 10 s,
// unseen by the model (behind a passing van, say) from 9 to 10 s.
func passingUnseen(s int) []detectors.Detection {
	out := passingBy("person", 60, 70)(s)
	if s == 9 || s == 10 {
		out = out[1:]
	}
	return out
}

// Whoever leaves something stops to put it down. Seen at a frame a second,
// someone who walked or rode past as a bag appeared did not leave it (on a
// busy pavement the nearest passer-by was taken for the author of a pile
// nobody was seen leaving); seen at a keyframe every 2 s, a stop cannot be
// told from a pass, and a person is its actor as before. A vehicle is
// unloaded standing: it must have stood there 2 s (two keyframes in place),
// not paused for a moment as the model's phantom vehicles on a crowd do.
func TestAPasserByIsNoActor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every int
		sc    scene
		want  string // the actor's class; "" for no violation
	}{
		{"a person walking past, a frame a second: nothing", 1, passingBy("person", 60, 70), ""},
		{"a tricycle riding past, a frame a second: nothing", 1, passingBy("vehicle", 200, 120), ""},
		{"a tricycle riding past, a keyframe every 2 s: nothing", 2, passingBy("vehicle", 200, 120), ""},
		{"a tricycle pausing 1 s as it appears, a frame a second: nothing", 1, pausing(9, 10), ""},
		{"a tricycle standing 2 s as it appears, a frame a second: a dumping", 1, pausing(9, 11), "vehicle"},
		{"a tricycle standing 3 s as it appears, a keyframe every 2 s: a dumping", 2, pausing(9, 12), "vehicle"},
		{"a person walking past, a keyframe every 2 s: a dumping", 2, passingBy("person", 60, 30), "person"},
		{"a person walking slowly towards the camera past it, a frame a second: nothing", 1, walkingDown, ""},
		{"the model's vehicle box jumping between two sizes on one spot, then gone: nothing", 1, jumpingBox, ""},
		{"a person unseen while crouching to put it down, walking on: a dumping", 1, crouchingUnseen("person", 0), "person"},
		{"a person unseen while crouching to put it down, walking back: a dumping", 1, crouchingUnseen("person", -1), "person"},
		{"the model's vehicle box lost for 2 s in the same pattern: nothing (a vehicle does not crouch)", 1, crouchingUnseen("vehicle", 0), ""},
		{"a person unseen for 2 s as they walk past: nothing", 1, passingUnseen, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, tr := engine(lowerHalf)
			vs, _ := playEvery(t, e, tr, start, tc.every, 240, tc.sc)
			switch {
			case tc.want == "" && len(vs) > 0:
				t.Fatalf("%d violations, first %s by a %s, want none", len(vs), vs[0].Type, vs[0].ActorClass)
			case tc.want != "" && (len(vs) != 1 || vs[0].Type != IllegalDumping || vs[0].ActorClass != tc.want):
				t.Fatalf("violations %+v, want one dumping by the %s", vs, tc.want)
			}
		})
	}
}

// The model's phantom vehicle on the real-scene set's vtest_pile_2 (its
// boxes as traced, 200 px lower to stand in the zone), at 2 samples a
// second: its box jumps by 0.24-0.48 of its height every half second, is
// lost for 1.5 s and seen again 0.24 of its height off where it was last
// seen, its box IoU 0.52 with that one. Seen again that far off after a
// gap is no stop any more than it is between two samples: the small pile
// that appeared under it (at 6 s) has no actor, whether the model calls
// the phantom a vehicle or a person (only a person seen again in place
// after a gap stood there unseen).
func TestAPhantomSeenAgainIsNoActor(t *testing.T) {
	phantom := map[int]geom.Box{ // sample (half seconds) -> box
		12: {X1: 183.6, Y1: 154.8, X2: 283.1, Y2: 219.4},
		13: {X1: 153.0, Y1: 152.3, X2: 247.4, Y2: 222.1},
		14: {X1: 183.7, Y1: 163.6, X2: 273.7, Y2: 231.3},
		15: {X1: 187.0, Y1: 166.9, X2: 307.4, Y2: 266.8},
		16: {X1: 206.8, Y1: 170.0, X2: 334.1, Y2: 274.8},
		19: {X1: 221.1, Y1: 180.0, X2: 320.1, Y2: 249.7},
	}
	for _, class := range []string{"vehicle", "person"} {
		t.Run(class, func(t *testing.T) {
			e, tr := engine(lowerHalf)
			for i := 0; i < 240; i++ {
				now := start.Add(time.Duration(i) * 500 * time.Millisecond)
				var dets []detectors.Detection
				if b, ok := phantom[i]; ok {
					dets = append(dets, d(class, b.X1, b.Y1+200, b.X2, b.Y2+200))
				}
				if i >= 12 {
					dets = append(dets, d("garbage_bag", 190, 421, 216, 457))
				}
				ended := tr.Update(now, dets)
				vs, err := e.Update(now, 1280, 720, tr.Tracks(), ended)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range vs {
					t.Fatalf("%s by a %s at %.1f s, want none", v.Type, v.ActorClass, float64(i)/2)
				}
			}
		})
	}
}

// A cart stops, its rider leaves a pile at 10 s and rides off (out of
// reach at 29 s): the pile meets the dumping rule (at 89 s) and, later,
// the pile rule (at 310 s).
func cartDump(s int) []detectors.Detection {
	out := []detectors.Detection{}
	switch {
	case s < 5:
		x := float32(100 + 100*s)
		out = append(out, d("vehicle", x, 380, x+150, 560))
	case s < 20:
		out = append(out, d("vehicle", 500, 380, 650, 560))
	case s < 30:
		x := float32(500 + 80*(s-20))
		out = append(out, d("vehicle", x, 380, x+150, 560))
	}
	if s >= 10 {
		out = append(out, d("garbage_pile", 660, 480, 760, 570))
	}
	return out
}

func TestOneGarbageObjectIsOneViolation(t *testing.T) {
	tests := []struct {
		name   string
		params map[Type]Params
		want   Type
		at     int
	}{
		{"dumping confirms first: no pile later", nil, IllegalDumping, 89},
		{"pile confirms first: no dumping later", map[Type]Params{
			GarbagePile:    {MinDwell: 30 * time.Second, MinScore: 0.5, ClearAfter: 2 * time.Minute},
			IllegalDumping: {MinDwell: 2 * time.Minute, MinScore: 0.5, ClearAfter: 2 * time.Minute},
		}, GarbagePile, 40},
		{"both at once: the dumping (it has an actor)", map[Type]Params{
			GarbagePile:    {MinDwell: 79 * time.Second, MinScore: 0.5, ClearAfter: 2 * time.Minute},
			IllegalDumping: {MinDwell: 60 * time.Second, MinScore: 0.5, ClearAfter: 2 * time.Minute},
		}, IllegalDumping, 89},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, tr := engine(lowerHalf)
			for k, p := range tt.params {
				e.Params[k] = p
			}
			vs, at := play(t, e, tr, start, 600, cartDump)
			if len(vs) != 1 {
				t.Fatalf("%d violations at %v s, want one %s", len(vs), at, tt.want)
			}
			if vs[0].Type != tt.want || at[0] < tt.at || at[0] > tt.at+2 {
				t.Fatalf("%s at %d s, want %s at %d s", vs[0].Type, at[0], tt.want, tt.at)
			}
		})
	}
}

// A cart stops (5-25 s); its rider gets off, puts a bag down beside it at
// 12 s, gets back on at 17 s and the cart rides off (out of reach at 34 s).
func riderUnloads(s int) []detectors.Detection {
	out := []detectors.Detection{}
	switch {
	case s < 5:
		x := float32(100 + 80*s)
		out = append(out, d("vehicle", x, 380, x+150, 560))
	case s < 25:
		out = append(out, d("vehicle", 500, 380, 650, 560))
	case s < 40:
		x := float32(500 + 80*(s-25))
		out = append(out, d("vehicle", x, 380, x+150, 560))
	}
	if s >= 8 && s < 17 {
		out = append(out, d("person", 660, 380, 720, 560)) // nearer the bag than the cart
	}
	if s >= 12 {
		out = append(out, d("garbage_bag", 700, 500, 750, 560))
	}
	return out
}

func TestTheVehicleARiderUnloadsIsTheActor(t *testing.T) {
	e, tr := engine(lowerHalf)
	vs, at := play(t, e, tr, start, 200, riderUnloads)
	if len(vs) != 1 || vs[0].Type != IllegalDumping || at[0] < 94 || at[0] > 96 {
		t.Fatalf("violations %+v at %v s, want one dumping at 94 s (60 s after the cart left)", vs, at)
	}
	if vs[0].ActorClass != "vehicle" {
		t.Fatalf("credited to a %s, want the vehicle the rider got off", vs[0].ActorClass)
	}
}

// A vehicle stops beside the place for 3 s and moves on; 5 s later a
// person walks up, puts a bag down there at 10 s and walks off. The
// vehicle did not bring the bag, whether it left or stands out of reach
// as the bag appears: a rider unloads a vehicle standing beside what they
// unload (on the real-scene set, the model's vehicle on a crowd stood by
// a bag's place seconds before the bag was put down, and out of its reach
// as it was, and was credited with it). The vehicle still standing beside
// it when the bag appears is the actor
// (TestTheVehicleARiderUnloadsIsTheActor).
func TestAVehicleThatStoodThereBeforeIsNoActor(t *testing.T) {
	for _, tc := range []struct {
		name string
		then func(s int) float32 // where the vehicle is from 6 s (its x; < -150: gone)
	}{
		{"it drives off", func(s int) float32 { return float32(450 - 150*(s-5)) }},
		{"it stands out of reach from 8 s to 20 s", func(s int) float32 {
			if s < 8 {
				return float32(450 - 150*(s-5))
			}
			if s < 20 {
				return 100
			}
			return -1000
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, tr := engine(lowerHalf)
			vs, at := play(t, e, tr, start, 200, func(s int) []detectors.Detection {
				out := walker(s, 10, 0)
				x := float32(450)
				switch {
				case s < 3:
					x = float32(150 * s)
				case s >= 6:
					x = tc.then(s)
				}
				if x > -150 {
					out = append(out, d("vehicle", x, 380, x+150, 560))
				}
				return out
			})
			if len(vs) != 1 || vs[0].Type != IllegalDumping || at[0] < 79 || at[0] > 81 {
				t.Fatalf("violations %+v at %v s, want one dumping at 79 s (60 s after the person left)", vs, at)
			}
			if vs[0].ActorClass != "person" {
				t.Fatalf("credited to a %s, want the person who put it down", vs[0].ActorClass)
			}
		})
	}
}

// A van drives up and stands at [300 380 450 560] from 7 s, within reach
// of the place where, at 10 s, a person who walked up from the other side
// and stopped there puts a bag down; they walk back the way they came and
// the van stays. The person put it there, not the van they never came
// near (on the real-scene set, the model's phantom vehicle on a crowd
// stood 50 px from the dumper and was credited). A rider seen getting off
// beside their cart still makes the cart the actor
// (TestTheVehicleARiderUnloadsIsTheActor).
func TestAPersonWhoCameOnFootIsTheActorBesideAStandingVehicle(t *testing.T) {
	e, tr := engine(lowerHalf)
	vs, at := play(t, e, tr, start, 200, func(s int) []detectors.Detection {
		out := []detectors.Detection{d("vehicle", float32(300-40*max(7-s, 0)), 380, float32(450-40*max(7-s, 0)), 560)}
		switch {
		case s < 8:
			x := float32(1060 - 60*s) // walking in from the right
			out = append(out, d("person", x, 380, x+60, 560))
		case s < 10:
			out = append(out, d("person", 580, 380, 640, 560)) // standing by the bag's place
		case s < 20:
			x := float32(580 + 70*(s-10)) // walking back
			out = append(out, d("person", x, 380, x+60, 560))
		}
		if s >= 10 {
			out = append(out, d("garbage_bag", 520, 500, 570, 560))
		}
		return out
	})
	if len(vs) != 1 || vs[0].Type != IllegalDumping {
		t.Fatalf("violations %+v at %v s, want one dumping (the van that stays did not bring the bag)", vs, at)
	}
	if vs[0].ActorClass != "person" {
		t.Fatalf("credited to a %s, want the person who walked up and put it down", vs[0].ActorClass)
	}
	if at[0] < 75 || at[0] > 80 {
		t.Errorf("confirmed at %d s, want 60 s after the person walked off (about 77 s)", at[0])
	}
}

// A car is parked from the first frame, near enough to the place where a
// passer-by puts a bag down at 10 s and walks off (out of reach at 19 s).
// The car did not bring the bag: the person is the actor, and the dumping
// does not wait for the car to leave. The same car arriving 3 s before
// the bag (a rider stopping to unload) is the actor, as before.
func TestAParkedCarIsNoActor(t *testing.T) {
	tests := []struct {
		name   string
		parkAt int
		want   []int
		wantBy string
	}{
		{"parked from the start: the passer-by, 60 s after they left", 0, []int{79}, "person"},
		{"parked 20 s before the bag, seen driving in: the passer-by", -20, []int{79}, "person"},
		{"stopped 3 s before the bag and stays: nothing (its rider has not left)", 7, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := start
			if tt.parkAt < 0 {
				from = start.Add(time.Duration(tt.parkAt) * time.Second)
			}
			e, tr := engine(lowerHalf)
			sc := func(s int) []detectors.Detection {
				out := walker(s, 10, 0)
				if s >= max(tt.parkAt, 0) {
					out = append(out, d("vehicle", 400, 380, 550, 560))
				} else if tt.parkAt > 0 {
					x := float32(400 - 60*(tt.parkAt-s))
					out = append(out, d("vehicle", x, 380, x+150, 560))
				}
				return out
			}
			shift := 0
			if tt.parkAt < 0 {
				shift = -tt.parkAt
				// The car drives in during the camera's first seconds and
				// stands from -20 s; the walker's clock starts at 0 s.
				inner := sc
				sc = func(s int) []detectors.Detection {
					if s < shift {
						if s < 3 {
							x := float32(100 + 100*s)
							return []detectors.Detection{d("vehicle", x, 380, x+150, 560)}
						}
						return []detectors.Detection{d("vehicle", 400, 380, 550, 560)}
					}
					return inner(s - shift)
				}
			}
			vs, at := play(t, e, tr, from, 200+shift, sc)
			for i := range at {
				at[i] -= shift
			}
			if len(at) != len(tt.want) || (len(at) > 0 && (at[0] < tt.want[0] || at[0] > tt.want[0]+2)) {
				t.Fatalf("confirmed at %v s, want %v", at, tt.want)
			}
			if len(vs) == 1 && (vs[0].Type != IllegalDumping || vs[0].ActorClass != tt.wantBy) {
				t.Fatalf("%s credited to a %q, want a dumping by a %s", vs[0].Type, vs[0].ActorClass, tt.wantBy)
			}
		})
	}
}

func TestObjectAlreadyThereAtStartIsNoDumping(t *testing.T) {
	// The bag is there from the first frame; a passer-by walks past it and
	// on. Nobody was seen leaving it: at most a pile, never a dumping.
	e, tr := engine(lowerHalf)
	vs, at := play(t, e, tr, start, 200, func(s int) []detectors.Detection {
		out := []detectors.Detection{d("garbage_bag", 650, 500, 700, 560)}
		if s < 15 {
			x := float32(300 + 40*s)
			out = append(out, d("person", x, 380, x+60, 560))
		}
		return out
	})
	if len(vs) != 0 {
		t.Fatalf("violations %v at %v s for an object that was already there", vs[0].Type, at)
	}
}

func TestObjectSeenArrivingInTheFirstSecondsIsADumping(t *testing.T) {
	// The camera starts as a person walks in with a bag; they leave it at
	// 3 s and walk on. The class model alone cannot tell that bag from one
	// that was there before the first frame; the left-object detector,
	// whose background is the first frame, saw it arrive.
	for _, tc := range []struct {
		name string
		of   detectors.Signal
		want int
	}{
		{"class model only: maybe already there", detectors.SignalModel, 0},
		{"the left-object detector saw it arrive", detectors.SignalModel | detectors.SignalLeftObject, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, tr := engine(lowerHalf)
			vs, at := play(t, e, tr, start, 200, func(s int) []detectors.Detection {
				var out []detectors.Detection
				if s >= 3 {
					bag := d("garbage_bag", 650, 500, 700, 560)
					bag.Signals = tc.of
					out = append(out, bag)
				}
				if s < 15 {
					x := float32(560 + 60*max(s-3, 0))
					out = append(out, d("person", x, 380, x+60, 560))
				}
				return out
			})
			if len(vs) != tc.want {
				t.Fatalf("%d violations (at %v s), want %d", len(vs), at, tc.want)
			}
			if len(vs) == 1 && (vs[0].Type != IllegalDumping || vs[0].ActorClass != "person" || !vs[0].FirstSeen.Equal(start.Add(3*time.Second))) {
				t.Fatalf("%s by %q first seen %v, want a dumping by a person first seen at 3 s", vs[0].Type, vs[0].ActorClass, vs[0].FirstSeen.Sub(start))
			}
		})
	}
}

// The model names a "bag" at 10 s where nothing was put down (a parked
// car it misreads; a person walks up to it and on, as passers-by do): the
// left-object detector sees that place as it learnt it before, so it is no
// dumping, though it may still be a pile. An object whose place changed, or
// where the detector could not tell (hidden, or no detector), is judged as
// before.
func TestAnObjectWhosePlaceIsUnchangedIsNoDumping(t *testing.T) {
	for _, tc := range []struct {
		name  string
		place []detectors.Place // per second from 10 s, the last repeated
		want  int
	}{
		{"its place shows the background learnt before: nothing", []detectors.Place{detectors.PlaceOld}, 0},
		{"as before, once hidden first: nothing", []detectors.Place{detectors.PlaceUnknown, detectors.PlaceOld}, 0},
		{"its place changed, then the background learnt it: a dumping", []detectors.Place{detectors.PlaceNew, detectors.PlaceOld}, 1},
		{"as before once, then changed: a dumping", []detectors.Place{detectors.PlaceOld, detectors.PlaceNew}, 1},
		{"no left-object detector: a dumping", []detectors.Place{detectors.PlaceUnknown}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, tr := engine(lowerHalf)
			vs, at := play(t, e, tr, start, 200, func(s int) []detectors.Detection {
				out := walker(s, 20, 0)
				for i := range out {
					if out[i].Class == "garbage_bag" {
						out[i].Place = tc.place[min(s-10, len(tc.place)-1)]
					}
				}
				return out
			})
			if len(vs) != tc.want {
				t.Fatalf("%d violations (at %v s), want %d", len(vs), at, tc.want)
			}
			if len(vs) == 1 && vs[0].Type != IllegalDumping {
				t.Fatalf("a %s, want a dumping", vs[0].Type)
			}
		})
	}
}

// A bag lies there from the camera's first frame (never a dumping: it
// was there before StreetWatch looked). At 20 s it is taken away; at 30 s
// someone drops another at the same spot and walks off. A stationary
// track outlives 30 s of absence (an object hidden by passers-by must
// keep its track), so the tracker alone takes the new bag for the old one
// come back, refusal and all. The left-object detector sees the spot
// empty at 22 s (tracker.Gone): the old bag's track ends there, and the
// new bag is a dumping by the person who left it.
func TestObjectReplacedAtTheSameSpotIsANewObject(t *testing.T) {
	for _, tc := range []struct {
		name string
		gone bool
		want int
	}{
		{"the left-object detector saw the spot emptied", true, 1},
		{"class model only: the old bag come back", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, tr := engine(lowerHalf)
			place := geom.Box{X1: 645, Y1: 495, X2: 705, Y2: 565}
			var vs []Violation
			for s := range 200 {
				now := start.Add(time.Duration(s) * time.Second)
				var dets []detectors.Detection
				if s < 20 || s >= 30 {
					dets = append(dets, d("garbage_bag", 650, 500, 700, 560))
				}
				if s >= 24 && s < 42 {
					x := float32(560 + 60*max(s-30, 0))
					dets = append(dets, d("person", x, 380, x+60, 560))
				}
				ended := tr.Update(now, dets)
				if tc.gone && s == 22 {
					ended = append(ended, tr.Gone([]geom.Box{place})...)
				}
				got, err := e.Update(now, 1280, 720, tr.Tracks(), ended)
				if err != nil {
					t.Fatal(err)
				}
				vs = append(vs, got...)
			}
			if len(vs) != tc.want {
				t.Fatalf("%d violations, want %d", len(vs), tc.want)
			}
			if len(vs) == 1 && (vs[0].Type != IllegalDumping || vs[0].ActorClass != "person" || !vs[0].FirstSeen.Equal(start.Add(30*time.Second))) {
				t.Fatalf("%s by %q first seen %v, want a dumping by a person first seen at 30 s", vs[0].Type, vs[0].ActorClass, vs[0].FirstSeen.Sub(start))
			}
		})
	}
}

func TestRestartDoesNotReportTheSameObjectAgain(t *testing.T) {
	store := FileStore{Dir: t.TempDir()}
	e, tr := engine(lowerHalf)
	e.Store = store
	vs, _ := play(t, e, tr, start, 320, pile)
	if len(vs) != 1 {
		t.Fatalf("%d violations before the restart", len(vs))
	}
	// Restart: new engine, new tracker (new track ids), same store.
	e2, _ := engine(lowerHalf)
	e2.Store = store
	tr2 := track.New(track.Config{}, 1000)
	vs, _ = play(t, e2, tr2, start.Add(10*time.Minute), 600, pile)
	if len(vs) != 0 {
		t.Fatalf("after the restart the same pile was reported again: %+v", vs)
	}
	if open := e2.Open(); len(open) != 1 {
		t.Fatalf("open violations after restart: %+v", open)
	}
}

func TestIDsSortByTime(t *testing.T) {
	a, b := NewID(start), NewID(start.Add(time.Millisecond))
	if len(a) != 26 || a >= b {
		t.Fatalf("ids %q, %q: want 26 characters, sorted by time", a, b)
	}
}

func TestDeferSaveKeepsAViolationUnsavedUntilCommit(t *testing.T) {
	store := FileStore{Dir: t.TempDir()}
	e, tr := engine(lowerHalf)
	e.Store, e.DeferSave = store, true
	vs, _ := play(t, e, tr, start, 301, pile)
	if len(vs) != 1 {
		t.Fatalf("%d violations, want 1", len(vs))
	}
	// Crash here, before the violation was recorded: it must not count as
	// reported (the restarted engine reports it again).
	if open, err := store.Load("cam"); err != nil || len(open) != 0 {
		t.Fatalf("saved before Commit: %v %v", open, err)
	}
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	if open, err := store.Load("cam"); err != nil || len(open) != 1 {
		t.Fatalf("after Commit: %v %v", open, err)
	}
}

func TestPreloadedViolationsCountAsReported(t *testing.T) {
	// Recorded as evidence, then a crash before Commit: the store has
	// nothing, the preload (from the evidence stage) says it was reported.
	e, tr := engine(lowerHalf)
	e.Store = FileStore{Dir: t.TempDir()}
	e.Preload = []OpenViolation{{ID: "01PRE", Type: GarbagePile, Zone: "sidewalk",
		Box: geom.Box{X1: 600, Y1: 500, X2: 700, Y2: 580}, ConfirmedAt: start, LastSeen: start}}
	if vs, _ := play(t, e, tr, start.Add(time.Minute), 600, pile); len(vs) != 0 {
		t.Fatalf("a preloaded violation was reported again: %+v", vs)
	}
	if open := e.Open(); len(open) != 1 || open[0].ID != "01PRE" {
		t.Fatalf("open %+v", open)
	}
}

func TestAForgottenViolationConfirmsAgain(t *testing.T) {
	// The caller could not record the violation (disk full): Forget makes
	// the still-present pile confirm again instead of counting as reported.
	e, tr := engine(lowerHalf)
	vs, at := play(t, e, tr, start, 301, pile)
	if len(vs) != 1 {
		t.Fatalf("%d violations at %v", len(vs), at)
	}
	e.Forget(vs[0].ID)
	again, _ := play(t, e, tr, start.Add(301*time.Second), 5, pile)
	if len(again) != 1 || again[0].ID == vs[0].ID {
		t.Fatalf("after Forget: %+v, want the pile confirmed again with a new id", again)
	}
	if open := e.Open(); len(open) != 1 || open[0].ID != again[0].ID {
		t.Fatalf("open %+v", open)
	}
}

// leftBehind is walker's dumping seen by the left-object detector only:
// the bag is reported from 18 s (once it stayed still), dated back to the
// drop at 10 s, with no class from the model.
func leftBehind(s int) []detectors.Detection { return leftBehindBy(20)(s) }

// leftBehindBy is leftBehind with the walker leaving at leaveAt.
func leftBehindBy(leaveAt int) scene {
	return func(s int) []detectors.Detection { return leftObjectOf(walker(s, leaveAt, 0), s, 18) }
}

// leftObjectOf turns walker's bag into what the left-object detector
// reports of it, from second reported on.
func leftObjectOf(dets []detectors.Detection, s, reported int) []detectors.Detection {
	var out []detectors.Detection
	for _, det := range dets {
		if det.Class == "garbage_bag" {
			if s < reported {
				continue
			}
			det.Class, det.Score = "left_object", 0.6
			det.Signals, det.Since = detectors.SignalLeftObject, start.Add(10*time.Second)
		}
		out = append(out, det)
	}
	return out
}

func TestLeftObjects(t *testing.T) {
	optedOut := lowerHalf
	optedOut.NoLeftObjects = true
	for _, tc := range []struct {
		name    string
		zone    Zone
		sc      scene
		n       int
		want    Type
		signals []string
	}{
		{"left behind, no class: dumping by the left-object signal", lowerHalf, leftBehind, 200, IllegalDumping, []string{"left_object"}},
		{"zone opted out: nothing", optedOut, leftBehind, 200, "", nil},
		{"left behind and named by the model later: both signals", lowerHalf, func(s int) []detectors.Detection {
			out := leftBehind(s)
			for i := range out { // every 5 s the model names it too (as leftobject.Merge gives it)
				if out[i].Class == "left_object" && s >= 30 && s%5 == 0 {
					out[i].Class, out[i].Score = "garbage_bag", 0.7
					out[i].Signals |= detectors.SignalModel
				}
			}
			return out
		}, 200, IllegalDumping, []string{"model", "left_object"}},
		{"a pile of something nobody was seen leaving: garbage pile", lowerHalf, func(s int) []detectors.Detection {
			det := d("left_object", 600, 500, 700, 580)
			det.Signals = detectors.SignalLeftObject
			return []detectors.Detection{det}
		}, 360, GarbagePile, []string{"left_object"}},
		// (The bags appear at 20 s: what is there in a camera's first
		// seconds is no dumping anyway.)
		{"a bag nobody was seen leaving, named by the model and seen arriving: garbage pile", lowerHalf, func(s int) []detectors.Detection {
			if s < 20 {
				return nil
			}
			det := d("garbage_bag", 600, 500, 660, 580)
			det.Signals = detectors.SignalModel | detectors.SignalLeftObject
			return []detectors.Detection{det}
		}, 400, GarbagePile, []string{"model", "left_object"}},
		{"a bag nobody was seen leaving, named by the model alone: nothing", lowerHalf, func(s int) []detectors.Detection {
			if s < 20 {
				return nil
			}
			return []detectors.Detection{d("garbage_bag", 600, 500, 660, 580)}
		}, 400, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, tr := engine(tc.zone)
			vs, _ := play(t, e, tr, start, tc.n, tc.sc)
			if tc.want == "" {
				if len(vs) != 0 {
					t.Fatalf("got %d violations, want none", len(vs))
				}
				return
			}
			if len(vs) != 1 || vs[0].Type != tc.want {
				t.Fatalf("got %+v, want one %s", vs, tc.want)
			}
			v := vs[0]
			if len(v.Signals) != len(tc.signals) || v.Signals[0] != tc.signals[0] {
				t.Fatalf("signals %v, want %v", v.Signals, tc.signals)
			}
			if tc.want == IllegalDumping && (!v.FirstSeen.Equal(start.Add(10*time.Second)) || v.ActorClass != "person") {
				t.Fatalf("first seen +%v actor %q, want the drop at +10 s by a person", v.FirstSeen.Sub(start), v.ActorClass)
			}
		})
	}
}

// TestABagLeftBySomeoneIsNoPile: a bag the model names and the left-object
// detector saw arrive is a garbage pile only when nobody was near it (see
// TestLeftObjects); one its owner left stays a dumping, even where a pile
// would confirm first (equal dwells, as in the scenario tests: the pile's
// counts from the drop, the dumping's from the owner leaving).
func TestABagLeftBySomeoneIsNoPile(t *testing.T) {
	e, tr := equalDwells()
	vs, _ := play(t, e, tr, start, 120, func(s int) []detectors.Detection {
		out := walker(s, 20, 0)
		for i := range out {
			if out[i].Class == "garbage_bag" {
				out[i].Signals = detectors.SignalModel | detectors.SignalLeftObject
			}
		}
		return out
	})
	if len(vs) != 1 || vs[0].Type != IllegalDumping || vs[0].ActorClass != "person" {
		t.Fatalf("got %+v, want one illegal_dumping by the person", vs)
	}
}

// TestALeftObjectSomeoneLeftIsNoPile: as TestABagLeftBySomeoneIsNoPile, for
// an object only the left-object detector sees: its owner waits beside it
// 20 s before walking off; with equal dwells the pile's, counted from the
// drop, would end first, and the object be reported as a pile nobody left.
func TestALeftObjectSomeoneLeftIsNoPile(t *testing.T) {
	e, tr := equalDwells()
	vs, _ := play(t, e, tr, start, 120, leftBehindBy(40))
	if len(vs) != 1 || vs[0].Type != IllegalDumping || vs[0].ActorClass != "person" {
		t.Fatalf("got %+v, want one illegal_dumping by the person", vs)
	}
}

// equalDwells is engine on lowerHalf with the pile's and the dumping's
// dwells both 30 s, as in the scenario tests.
func equalDwells() (*Engine, *track.Tracker) {
	e, tr := engine(lowerHalf)
	for _, typ := range []Type{GarbagePile, IllegalDumping} {
		p := e.Params[typ]
		p.MinDwell = 30 * time.Second
		e.Params[typ] = p
	}
	return e, tr
}

func firstSeen(vs []Violation) []time.Time {
	var out []time.Time
	for _, v := range vs {
		out = append(out, v.FirstSeen)
	}
	return out
}

// A pile and a bag lying in it, both named by the model and seen arriving
// by the left-object detector from 20 s, nobody near (the bag's detection
// listed first): the pile is reported once, with its own box; the bag is
// part of it, not a second pile, though both confirm at the same frame.
// Someone who later puts a bag down on the reported pile and walks off has
// dumped it: a dumping of its own.
func TestABagInAReportedPileIsThatPile(t *testing.T) {
	pileBox := geom.Box{X1: 600, Y1: 500, X2: 760, Y2: 580}
	e, tr := engine(lowerHalf)
	vs, at := play(t, e, tr, start, 430, func(s int) []detectors.Detection {
		var out []detectors.Detection
		if s >= 330 {
			out = walker(s-330, 10, 0)
		}
		if s >= 20 {
			bag, pile := d("garbage_bag", 705, 515, 745, 565), d("garbage_pile", 600, 500, 760, 580)
			bag.Signals = detectors.SignalModel | detectors.SignalLeftObject
			pile.Signals = bag.Signals
			out = append(out, bag, pile)
		}
		return out
	})
	if len(vs) != 2 || vs[0].Type != GarbagePile || vs[0].Box != pileBox || at[0] != 320 {
		t.Fatalf("violations %+v at %v s, want the pile (box %v) at 320 s, then a dumping", vs, at, pileBox)
	}
	if vs[1].Type != IllegalDumping || vs[1].ActorClass != "person" {
		t.Fatalf("second violation %s by %q, want the person's dumping on the pile", vs[1].Type, vs[1].ActorClass)
	}
}

// The model sees a vehicle or a person on a façade from the camera's
// first second, in one place (as on the real-scene set: set i's
// i_leuvenA_pile had a "person" 0.26-0.37 above the pile from the second
// second to the end); a left object appears below it at 3 s, nobody else
// near. What was there before anything happened and never moved is no
// dumper, though the tracker calls it stationary only after 5 s: the
// object, nobody seen leaving it, becomes a garbage pile (before, the
// person was taken for its dumper and, never leaving, held it back for
// good). Someone there from the first second who puts a bag down and walks
// off has moved: they are its dumper.
func TestThereFromTheStartAndNeverMovedIsNoActor(t *testing.T) {
	object := d("left_object", 600, 500, 700, 580) // from 3 s
	object.Signals, object.Since = detectors.SignalLeftObject, start.Add(3*time.Second)
	phantom := func(class string, x1, y1, x2, y2 float32, until int) scene {
		return func(s int) []detectors.Detection {
			var out []detectors.Detection
			if s >= 1 && s < until {
				out = append(out, d(class, x1, y1, x2, y2))
			}
			if s >= 3 {
				out = append(out, object)
			}
			return out
		}
	}
	tests := []struct {
		name  string
		sc    scene
		want  Type
		actor string
	}{
		{"a vehicle on the façade until 30 s", phantom("vehicle", 300, 100, 800, 470, 30), GarbagePile, ""},
		{"a person on the façade to the end", phantom("person", 560, 330, 620, 480, 400), GarbagePile, ""},
		{"someone standing there from the first second puts it down and walks off at 5 s", func(s int) []detectors.Detection {
			var out []detectors.Detection
			switch {
			case s >= 1 && s < 5:
				out = append(out, d("person", 560, 380, 620, 560))
			case s >= 5 && s < 12:
				x := float32(560 - 70*(s-4))
				out = append(out, d("person", x, 380, x+60, 560))
			}
			if s >= 3 {
				out = append(out, object)
			}
			return out
		}, IllegalDumping, "person"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, tr := engine(lowerHalf)
			vs, at := play(t, e, tr, start, 400, tt.sc)
			if len(vs) != 1 || vs[0].Type != tt.want || vs[0].ActorClass != tt.actor {
				t.Fatalf("violations %+v at %v s, want one %s (actor %q)", vs, at, tt.want, tt.actor)
			}
		})
	}
}

// A pile is put down item by item, nobody seen leaving it (as on the
// real-scene set): the left-object detector finds three items as objects
// of their own, 10 px apart, at 20, 60 and 100 s, and misses the second in
// the frame where the first confirms as a pile, at 320 s. The pile is
// reported with the extent of all three; the other two are
// parts of it, not piles of their own. A bag carried past the pile as it
// confirms is not part of it, nor is an object put down elsewhere, which
// is a pile of its own.
func TestAPileGrownItemByItemIsReportedWhole(t *testing.T) {
	left := func(x1, y1, x2, y2 float32, since int) detectors.Detection {
		o := d("left_object", x1, y1, x2, y2)
		o.Signals, o.Since = detectors.SignalLeftObject, start.Add(time.Duration(since)*time.Second)
		return o
	}
	e, tr := engine(lowerHalf)
	vs, at := play(t, e, tr, start, 400, func(s int) []detectors.Detection {
		var out []detectors.Detection
		for _, item := range []struct {
			x1, y1, x2, y2 float32
			at             int
		}{{600, 500, 660, 560, 20}, {670, 505, 720, 560, 60}, {730, 510, 790, 565, 100}, {100, 500, 150, 560, 30}} {
			if s >= item.at && (s != 320 || item.at != 60) { // the second not found as the first confirms
				out = append(out, left(item.x1, item.y1, item.x2, item.y2, item.at))
			}
		}
		if s >= 314 && s <= 326 {
			x := 680 + 20*float32(s-314) // carried past, just below and beside the pile
			out = append(out, d("garbage_bag", x, 570, x+40, 610))
		}
		return out
	})
	whole := geom.Box{X1: 600, Y1: 500, X2: 790, Y2: 565}
	elsewhere := geom.Box{X1: 100, Y1: 500, X2: 150, Y2: 560}
	if len(vs) != 2 || vs[0].Type != GarbagePile || at[0] != 320 || vs[0].Box != whole || vs[0].Parts != 2 {
		t.Fatalf("violations %+v at %v s, want first the pile at 320 s with the box of its three items %v (two parts beside the first)", vs, at, whole)
	}
	if vs[1].Type != GarbagePile || at[1] != 330 || vs[1].Box != elsewhere || vs[1].Parts != 0 {
		t.Fatalf("second violation %s at %d s box %v (%d parts), want the pile elsewhere at 330 s box %v, one object", vs[1].Type, at[1], vs[1].Box, vs[1].Parts, elsewhere)
	}
}

// continued takes a track as it begins: one that began just after the
// actor was lost, where they were last seen, goes on for them within
// handover of its start, but not once it has been going on for longer
// (asked late, as when the actor becomes known only after the object
// has been there a while, it has walked on since, and in a crowd it is as
// likely a passer-by). Nor does a track that began before the actor was
// last seen (someone beside them), nor one of another class.
func TestContinuedTakesATrackAsItBegins(t *testing.T) {
	tr := track.New(track.Config{}, 1)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	// The actor walks right, 60 px a second, stands from 3 s and is lost
	// after 5 s; from 6 s a person is seen 140 px on (more than their
	// width: the tracker takes them for someone new) and walks on. Nearer
	// the actor's last place: a person standing there from 4 s (seen
	// beside the actor), and a vehicle from 6 s.
	var actor *track.Track
	for s := 0.0; s <= 11; s += 0.5 {
		var dets []detectors.Detection
		if s >= 4 {
			dets = append(dets, d("person", 300, 250, 360, 430)) // nearer the actor's last place than the new person
		}
		if s <= 5 {
			x := float32(100 + 60*min(s, 3))
			dets = append(dets, d("person", x, 380, x+60, 560))
		}
		if s >= 6 {
			x := float32(420 + 60*(s-6))
			dets = append(dets, d("person", x, 380, x+60, 560), d("vehicle", 340, 480, 410, 560))
		}
		tr.Update(at(s), dets)
		if s == 5 {
			for _, tk := range tr.Tracks() {
				if tk.Box.Y2 == 560 {
					actor = tk
				}
			}
		}
		if s < 5 {
			continue
		}
		if actor == nil {
			t.Fatal("no actor track at 5 s")
		}
		live := tr.Tracks()
		got := continued(at(s), actor, live)
		switch {
		case s < 6:
			if got != nil {
				t.Fatalf("at %.1f s: continued by track %d (%v), want none before the new one begins", s, got.ID, got.Box)
			}
		case s-6 <= handover.Seconds():
			if got == nil {
				t.Fatalf("at %.1f s: continued by none, want the person seen from 6 s", s)
			}
			if got.Class() != "person" || got.History[0].Box.X1 != 420 {
				t.Fatalf("at %.1f s: continued by track %d, a %s first at %v, want the person seen from 6 s",
					s, got.ID, got.Class(), got.History[0].Box)
			}
		default:
			if got != nil {
				t.Fatalf("at %.1f s: continued by track %d (first seen %v), want none: it began more than %v ago",
					s, got.ID, got.FirstSeen.Sub(start), handover)
			}
		}
	}
}

// TestTheWaitCountsFromWhenTheDumperLeft: the left-object detector reports
// a bag put down at 10 s only from 30 s (its dumper stood over it, then
// it had to stay still), when its dumper has gone. The wait counts from
// when they left, not from that first report: from their first sample
// out of Beside (21 s, walking off at 70 px/s from 12 s).
func TestTheWaitCountsFromWhenTheDumperLeft(t *testing.T) {
	e, tr := engine(lowerHalf)
	vs, at := play(t, e, tr, start, 120, func(s int) []detectors.Detection { return leftObjectOf(walker(s, 12, 0), s, 30) })
	if len(vs) != 1 || vs[0].Type != IllegalDumping || vs[0].ActorClass != "person" || at[0] != 21+60 {
		t.Fatalf("got %s, want one dumping by the person at 81 s", confirmed(vs, at))
	}
}

// TestLeftWhen: when an actor already gone left an object: their first
// sample out of Beside; their last sighting where their track ends beside
// it; now where they were never beside it; never before the object
// appeared.
func TestLeftWhen(t *testing.T) {
	obj := geom.Box{X1: 650, Y1: 500, X2: 700, Y2: 560}
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }
	off := func(s int) float32 { return float32(580 + 50*max(0, s-1)) } // beside the object to 13 s
	far := func(s int) float32 { return float32(1300 + 50*s) }
	for _, tc := range []struct {
		name          string
		x             func(s int) float32 // the actor's left edge at second s
		n, from, want int
	}{
		{"walked off", off, 17, 0, 14},
		{"track ends beside it", off, 7, 0, 6},
		{"left before the object was there", off, 17, 16, 16},
		{"never beside it", far, 4, 0, 20},
	} {
		tr := track.New(track.Config{}, 1)
		for s := range tc.n {
			x := tc.x(s)
			tr.Update(at(s), []detectors.Detection{d("person", x, 380, x+60, 560)})
		}
		if n := len(tr.Tracks()); n != 1 {
			t.Fatalf("%s: %d tracks, want the actor's alone", tc.name, n)
		}
		if got := leftWhen(tr.Tracks()[0], obj, at(tc.from), at(20)); !got.Equal(at(tc.want)) {
			t.Errorf("%s: left at +%v, want +%ds", tc.name, got.Sub(start), tc.want)
		}
	}
}

// TestAPilesDwellCountsFromWhenItAppeared: the model names a pile from
// 20 s; from 30 s the left-object detector, seeing it too, tells it
// appeared at 10 s (as it tells of a pile grown item by item, whose
// first items were too small to name). Its dwell counts from 10 s: it is
// confirmed at 10 s + 5 min, not 20 s + 5 min.
func TestAPilesDwellCountsFromWhenItAppeared(t *testing.T) {
	e, tr := engine(lowerHalf)
	vs, at := play(t, e, tr, start, 400, func(s int) []detectors.Detection {
		if s < 20 {
			return nil
		}
		det := d("garbage_pile", 600, 500, 700, 580)
		if s >= 30 {
			det.Signals = detectors.SignalModel | detectors.SignalLeftObject
			det.Since = start.Add(10 * time.Second)
		}
		return []detectors.Detection{det}
	})
	if len(vs) != 1 || vs[0].Type != GarbagePile || !vs[0].FirstSeen.Equal(start.Add(10*time.Second)) || at[0] != 310 {
		t.Fatalf("got %s, want one garbage_pile first seen at +10s, confirmed at 310 s", confirmed(vs, at))
	}
}

// confirmed describes violations confirmed at the seconds at.
func confirmed(vs []Violation, at []int) string {
	var out []string
	for i, v := range vs {
		out = append(out, fmt.Sprintf("%s by %s first seen +%v confirmed at %d s", v.Type, v.ActorClass, v.FirstSeen.Sub(start), at[i]))
	}
	return fmt.Sprintf("%d violations %v", len(vs), out)
}
