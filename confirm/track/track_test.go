package track

import (
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func det(class string, score float32, x1, y1, x2, y2 float32) detectors.Detection {
	return detectors.Detection{Class: class, Score: score, Box: geom.Box{X1: x1, Y1: y1, X2: x2, Y2: y2}}
}

// step runs the tracker at 2 fps for d, calling frame for each moment.
func step(tr *Tracker, from time.Time, d time.Duration, frame func(now time.Time) []detectors.Detection) (time.Time, []*Track) {
	var ended []*Track
	now := from
	for ; now.Before(from.Add(d)); now = now.Add(500 * time.Millisecond) {
		ended = append(ended, tr.Update(now, frame(now))...)
	}
	return now, ended
}

func TestStationaryObjectKeepsItsIdentityThroughOcclusion(t *testing.T) {
	tr := New(Config{}, 1)
	bag := det("garbage_bag", 0.8, 100, 200, 140, 240)
	now, _ := step(tr, t0, 10*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{bag} })
	if len(tr.Tracks()) != 1 || !tr.Tracks()[0].Stationary {
		t.Fatalf("after 10 s in place: %d tracks, stationary=%v", len(tr.Tracks()), tr.Tracks()[0].Stationary)
	}
	id := tr.Tracks()[0].ID
	// 20 s of occlusion: a crowd passes in front, the bag is not detected.
	now, ended := step(tr, now, 20*time.Second, func(time.Time) []detectors.Detection { return nil })
	if len(ended) != 0 {
		t.Fatalf("the stationary bag's track ended during a 20 s occlusion")
	}
	now, _ = step(tr, now, 2*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{bag} })
	if len(tr.Tracks()) != 1 || tr.Tracks()[0].ID != id {
		t.Fatalf("after the occlusion: tracks %v, want the same id %d", ids(tr.Tracks()), id)
	}
	// Gone for longer than StationaryMaxLost: the track ends.
	_, ended = step(tr, now, 31*time.Second, func(time.Time) []detectors.Detection { return nil })
	if len(ended) != 1 || ended[0].ID != id {
		t.Fatalf("ended %v, want the bag's track", ids(ended))
	}
}

// A stationary bag missing where the left-object detector found its place
// emptied is gone now, not in 30 s: the next object at that spot starts a
// track of its own. Gone ends nothing the model still sees, no person or
// vehicle, and nothing elsewhere.
func TestGoneEndsAMissingObjectWhosePlaceIsEmpty(t *testing.T) {
	tr := New(Config{}, 1)
	bag := det("garbage_bag", 0.8, 100, 200, 140, 240)
	other := det("garbage_bag", 0.8, 400, 200, 440, 240)
	person := det("person", 0.8, 600, 100, 640, 240)
	now, _ := step(tr, t0, 10*time.Second, func(time.Time) []detectors.Detection {
		return []detectors.Detection{bag, other, person}
	})
	ids0 := ids(tr.Tracks())
	place := geom.Box{X1: 96, Y1: 196, X2: 144, Y2: 244}
	// The model still sees all three: nothing ends, whatever Gone says.
	tr.Update(now, []detectors.Detection{bag, other, person})
	if ended := tr.Gone([]geom.Box{place, other.Box, person.Box}); len(ended) != 0 {
		t.Fatalf("Gone ended %v while the model sees them", ids(ended))
	}
	// The bag is taken away and the person hidden: missing, both. Only the
	// bag's place is empty.
	now = now.Add(500 * time.Millisecond)
	tr.Update(now, []detectors.Detection{other})
	ended := tr.Gone([]geom.Box{place, person.Box})
	if len(ended) != 1 || ended[0].ID != ids0[0] {
		t.Fatalf("Gone ended %v, want the bag's track %d only (tracks were %v)", ids(ended), ids0[0], ids0)
	}
	// Another bag at the same spot: a new track, first seen now.
	now = now.Add(500 * time.Millisecond)
	tr.Update(now, []detectors.Detection{bag, other})
	found := false
	for _, tk := range tr.Tracks() {
		if tk.Box != bag.Box {
			continue
		}
		found = true
		if tk.ID == ids0[0] || !tk.FirstSeen.Equal(now) {
			t.Fatalf("the new bag is on track %d first seen %v, want a new track first seen now", tk.ID, tk.FirstSeen.Sub(t0))
		}
	}
	if !found {
		t.Fatal("no track for the new bag")
	}
}

// A bag put down is hidden by passers-by 2 s after it appeared, before it
// counts as stationary: it keeps its track (and so the moment it appeared).
// A bag carried past, lost as long, does not linger: its track ends.
func TestAnObjectPutDownKeepsItsIdentityBeforeItIsStationary(t *testing.T) {
	tests := []struct {
		name     string
		step     float32 // pixels the bag moves per sample
		wantSame bool
	}{
		{"put down", 0, true},
		{"carried past", 30, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(Config{}, 1)
			x := float32(100)
			now, _ := step(tr, t0, 2*time.Second, func(time.Time) []detectors.Detection {
				x += tt.step
				return []detectors.Detection{det("garbage_bag", 0.8, x, 200, x+40, 240)}
			})
			id := tr.Tracks()[0].ID
			now, ended := step(tr, now, 10*time.Second, func(time.Time) []detectors.Detection { return nil })
			if tt.wantSame != (len(ended) == 0) {
				t.Fatalf("lost for 10 s: %d tracks ended", len(ended))
			}
			step(tr, now, time.Second, func(time.Time) []detectors.Detection {
				return []detectors.Detection{det("garbage_bag", 0.8, x, 200, x+40, 240)}
			})
			if got := tr.Tracks()[0].ID; tt.wantSame != (got == id) {
				t.Fatalf("seen again as track %d (first %d)", got, id)
			}
		})
	}
}

func TestMovingObjectEndsSoonAfterItIsLost(t *testing.T) {
	tr := New(Config{}, 1)
	x := float32(0)
	now, _ := step(tr, t0, 5*time.Second, func(time.Time) []detectors.Detection {
		x += 10
		return []detectors.Detection{det("person", 0.9, x, 100, x+40, 200)}
	})
	if tr.Tracks()[0].Stationary {
		t.Fatal("a walking person is stationary")
	}
	_, ended := step(tr, now, 4*time.Second, func(time.Time) []detectors.Detection { return nil })
	if len(ended) != 1 {
		t.Fatalf("a walker lost for 4 s: %d tracks ended, want 1", len(ended))
	}
}

func TestWeakDetectionsExtendButNeverStartTracks(t *testing.T) {
	tr := New(Config{}, 1)
	tr.Update(t0, []detectors.Detection{det("person", 0.9, 0, 0, 50, 100)})
	// Partly occluded: the score drops to 0.2, still the same person.
	tr.Update(t0.Add(time.Second), []detectors.Detection{det("person", 0.2, 2, 0, 52, 100), det("vehicle", 0.2, 300, 300, 400, 380)})
	if len(tr.Tracks()) != 1 {
		t.Fatalf("%d tracks, want 1: a weak detection started a track", len(tr.Tracks()))
	}
	if tr.Tracks()[0].Hits != 2 {
		t.Fatalf("hits %d, want 2: the weak detection did not extend the track", tr.Tracks()[0].Hits)
	}
}

func TestNeighboursDoNotSwap(t *testing.T) {
	tr := New(Config{}, 1)
	for i := range 20 {
		now := t0.Add(time.Duration(i) * 500 * time.Millisecond)
		tr.Update(now, []detectors.Detection{
			det("garbage_bag", 0.8, 100, 100, 140, 140),
			det("person", 0.9, 130, 60, 170, 160), // overlaps the bag a little
		})
	}
	if len(tr.Tracks()) != 2 {
		t.Fatalf("%d tracks", len(tr.Tracks()))
	}
	for _, tk := range tr.Tracks() {
		if tk.Hits != 20 {
			t.Fatalf("track %d (%s) has %d hits, want 20", tk.ID, tk.Class(), tk.Hits)
		}
	}
}

func TestClassIsTheScoreWeightedVote(t *testing.T) {
	tr := New(Config{}, 7)
	classes := []string{"garbage_bag", "garbage_pile", "garbage_pile", "garbage_bag", "garbage_pile", "garbage_pile"}
	for i, c := range classes {
		tr.Update(t0.Add(time.Duration(i)*time.Second), []detectors.Detection{det(c, 0.7, 100, 100, 160, 150)})
	}
	tk := tr.Tracks()[0]
	if tk.ID != 7 || tk.Class() != "garbage_pile" {
		t.Fatalf("track %d class %q, want id 7 and garbage_pile", tk.ID, tk.Class())
	}
}

func ids(ts []*Track) []uint64 {
	var out []uint64
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func TestFastWalkerAtTwoSamplesPerSecondKeepsOneTrack(t *testing.T) {
	// 140 px/s with a 60 px wide box at 2 samples per second: consecutive
	// boxes do not overlap at all.
	tr := New(Config{}, 1)
	for i := range 20 {
		x := float32(70 * i)
		tr.Update(t0.Add(time.Duration(i)*500*time.Millisecond), []detectors.Detection{det("person", 0.8, x, 300, x+60, 480)})
	}
	if n := len(tr.Tracks()); n != 1 {
		t.Fatalf("%d tracks for one walker, want 1", n)
	}
	if h := tr.Tracks()[0].Hits; h != 20 {
		t.Fatalf("%d hits, want 20", h)
	}
}

func TestAPersonNeverBecomesABag(t *testing.T) {
	tr := New(Config{}, 1)
	tr.Update(t0, []detectors.Detection{det("person", 0.8, 500, 300, 580, 520)})
	// The person walks off, a bag is where they stood.
	tr.Update(t0.Add(time.Second), []detectors.Detection{det("garbage_bag", 0.4, 510, 400, 580, 520), det("person", 0.8, 640, 300, 720, 520)})
	for _, tk := range tr.Tracks() {
		if tk.Votes()["person"] > 0 && tk.Votes()["garbage_bag"] > 0 {
			t.Fatalf("track %d is both a person and a bag: %v", tk.ID, tk.Votes())
		}
	}
	// A bag the model later calls a pile stays the same object.
	tr2 := New(Config{}, 1)
	tr2.Update(t0, []detectors.Detection{det("garbage_bag", 0.6, 500, 400, 600, 500)})
	tr2.Update(t0.Add(time.Second), []detectors.Detection{det("garbage_pile", 0.6, 495, 395, 605, 505)})
	if n := len(tr2.Tracks()); n != 1 {
		t.Fatalf("bag then pile at the same place: %d tracks, want 1", n)
	}
}

// A left object the model later names is one track: the model's class, both
// signals, and the time the left-object detector said it was first there.
func TestLeftObjectTrackTakesTheModelsClassAndKeepsBothSignals(t *testing.T) {
	tr := New(Config{}, 1)
	left := det("left_object", 0.6, 100, 200, 140, 240)
	left.Signals, left.Since = detectors.SignalLeftObject, t0.Add(-8*time.Second)
	now, _ := step(tr, t0, 5*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{left} })
	if len(tr.Tracks()) != 1 {
		t.Fatalf("%d tracks", len(tr.Tracks()))
	}
	tk := tr.Tracks()[0]
	if tk.Class() != "left_object" || tk.Signals != detectors.SignalLeftObject || !tk.FirstSeen.Equal(left.Since) {
		t.Fatalf("left object only: class %q signals %v first seen %v, want left_object, left_object, %v", tk.Class(), tk.Signals.Names(), tk.FirstSeen, left.Since)
	}
	// The model sees it once (weaker than the left-object votes so far):
	// it still names the object.
	bag := det("garbage_bag", 0.4, 101, 201, 141, 241)
	_, _ = step(tr, now, 500*time.Millisecond, func(time.Time) []detectors.Detection { return []detectors.Detection{bag} })
	if len(tr.Tracks()) != 1 || tr.Tracks()[0] != tk {
		t.Fatalf("the model's detection started another track: %d tracks", len(tr.Tracks()))
	}
	if tk.Class() != "garbage_bag" || tk.Signals != detectors.SignalModel|detectors.SignalLeftObject {
		t.Fatalf("after the model: class %q signals %v, want garbage_bag with both", tk.Class(), tk.Signals.Names())
	}
}

// A left object the model names on a closer look (Named) takes its class
// for good: the left-object detections that follow, however many, do not
// unname it; the model is among its signals, and the look, scoring higher
// than the left object, is its best sample, at the object's box.
func TestALeftObjectNamedOnACloserLookKeepsTheName(t *testing.T) {
	tr := New(Config{}, 1)
	left := det("left_object", 0.5, 100, 200, 140, 240)
	left.Signals = detectors.SignalLeftObject
	next := func(time.Time) []detectors.Detection { return []detectors.Detection{left} }
	now, _ := step(tr, t0, 3*time.Second, next)
	tk := tr.Tracks()[0]
	tk.Named("vending_stall", 0.7, now)
	if tk.Class() != "vending_stall" || tk.Signals != detectors.SignalModel|detectors.SignalLeftObject ||
		tk.Best.Score != 0.7 || !tk.Best.Time.Equal(now) || tk.Best.Box != left.Box {
		t.Fatalf("named: class %q signals %v best %+v, want vending_stall, both, the look's (0.7 at %v, %v)", tk.Class(), tk.Signals.Names(), tk.Best, now, left.Box)
	}
	_, _ = step(tr, now.Add(500*time.Millisecond), 20*time.Second, next)
	if len(tr.Tracks()) != 1 || tr.Tracks()[0] != tk || tk.Class() != "vending_stall" {
		t.Fatalf("after 20 s more of left-object detections: %d tracks, class %q, want the named one", len(tr.Tracks()), tk.Class())
	}
}

// The model sees a bag first (late: its dropper stood in front of it); the
// left-object detector, reporting it later, knows it appeared earlier. The
// track's first sight moves back to then.
func TestALeftObjectDatesTheModelsTrackBack(t *testing.T) {
	tr := New(Config{}, 1)
	bag := det("garbage_bag", 0.6, 100, 200, 140, 240)
	now, _ := step(tr, t0, 5*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{bag} })
	merged := bag
	merged.Signals, merged.Since = detectors.SignalModel|detectors.SignalLeftObject, t0.Add(-1500*time.Millisecond)
	step(tr, now, time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{merged} })
	if len(tr.Tracks()) != 1 || !tr.Tracks()[0].FirstSeen.Equal(merged.Since) {
		t.Fatalf("%d tracks, first seen %v, want one from %v", len(tr.Tracks()), tr.Tracks()[0].FirstSeen, merged.Since)
	}
	later := merged
	later.Since = t0.Add(time.Second)
	step(tr, now, time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{later} })
	if !tr.Tracks()[0].FirstSeen.Equal(merged.Since) {
		t.Fatalf("a later Since moved the first sight to %v", tr.Tracks()[0].FirstSeen)
	}
}

// A pile the model first names when several bags lie together began when
// the first bag was put down: its track takes that moment. A bag that
// moved (carried through) or lies outside the pile's box does not date it,
// nor does anything date a person.
func TestAPileBeganWithTheBagsItGrewFrom(t *testing.T) {
	tr := New(Config{}, 1)
	bag1 := det("garbage_bag", 0.6, 100, 200, 140, 240)
	bag2 := det("garbage_bag", 0.6, 150, 205, 190, 245)
	away := det("garbage_bag", 0.6, 400, 200, 440, 240) // lies elsewhere, since before the pile's first bag
	now, _ := step(tr, t0, 2*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{away} })
	bag1At := now
	now, _ = step(tr, now, 4*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{bag1, away} })
	now, _ = step(tr, now, 4*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{bag1, bag2, away} })
	pile := det("garbage_pile", 0.7, 90, 190, 200, 250)
	step(tr, now, time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{bag1, bag2, away, pile} })
	var got *Track
	for _, tk := range tr.Tracks() {
		if tk.Class() == "garbage_pile" {
			got = tk
		}
	}
	if got == nil {
		t.Fatalf("no pile track among %d", len(tr.Tracks()))
	}
	if !got.FirstSeen.Equal(bag1At) {
		t.Errorf("pile first seen %v after t0, want %v (the first bag in it)", got.FirstSeen.Sub(t0), bag1At.Sub(t0))
	}
	if len(tr.Tracks()) != 4 {
		t.Errorf("%d tracks, want the three bags and the pile", len(tr.Tracks()))
	}

	// A bag carried across the spot (it moves) was not put down there.
	tr2 := New(Config{}, 1)
	carried := func(now time.Time) []detectors.Detection {
		x := float32(40 + 8*int(now.Sub(t0)/(500*time.Millisecond)))
		return []detectors.Detection{det("garbage_bag", 0.6, x, 200, x+40, 240)}
	}
	wide := det("garbage_pile", 0.7, 40, 170, 260, 270)
	now, _ = step(tr2, t0, 4*time.Second, carried)
	step(tr2, now, time.Second, func(now time.Time) []detectors.Detection { return append(carried(now), wide) })
	for _, tk := range tr2.Tracks() {
		if tk.Class() == "garbage_pile" && tk.FirstSeen.Before(now) {
			t.Errorf("the pile took the carried bag's first sight %v", tk.FirstSeen.Sub(t0))
		}
	}
}

// A stall whose box's top edge jumps about (the model finds the awning in
// some frames only, as on vtest_stall_1 of the real-scene set) stands
// still: it becomes stationary and stays so. A person walking slowly past,
// a quarter of their width a second, does not, though each box overlaps
// the one before.
func TestAJitteringBoxOnAStillObjectIsStationary(t *testing.T) {
	tr := New(Config{}, 1)
	tops := []float32{170, 195, 60, 180, 165, 70, 190, 175, 160, 75}
	i := -1
	step(tr, t0, 30*time.Second, func(time.Time) []detectors.Detection {
		i++
		return []detectors.Detection{det("vending_stall", 0.6, 547, tops[i%len(tops)], 668, 301)}
	})
	stall := tr.Tracks()[0]
	if len(tr.Tracks()) != 1 || !stall.Stationary || stall.moved {
		t.Fatalf("%d tracks; stationary %v, moved %v: want one still stall", len(tr.Tracks()), stall.Stationary, stall.moved)
	}

	tr = New(Config{}, 1)
	x := float32(0)
	step(tr, t0, 30*time.Second, func(time.Time) []detectors.Detection {
		x += 5 // 10 px a second, a box 40 px wide
		return []detectors.Detection{det("person", 0.9, x, 100, x+40, 200)}
	})
	if p := tr.Tracks()[0]; p.Stationary {
		t.Errorf("a slow walker is stationary since %v", p.StationarySince.Sub(t0))
	}
}

// A stall pushed in stands where it stopped from the moment it stopped,
// though it opens (its box grows upwards and sideways) after that; one
// the left-object detector saw standing before the model named it stands
// since then.
func TestStandingSince(t *testing.T) {
	tr := New(Config{}, 1)
	x := float32(0)
	now, _ := step(tr, t0, 4*time.Second, func(time.Time) []detectors.Detection {
		x += 30
		return []detectors.Detection{det("vending_stall", 0.7, x, 100, x+100, 200)}
	})
	stopped := now.Add(-500 * time.Millisecond) // its last move
	if got := tr.Tracks()[0].StandingSince(); !got.Equal(stopped) {
		t.Fatalf("pushed in: standing since %v after t0, want %v", got.Sub(t0), stopped.Sub(t0))
	}
	open := float32(0)
	step(tr, now, 10*time.Second, func(now time.Time) []detectors.Detection {
		open = min(open+8, 60)
		jit := float32((int(open)+int(now.Sub(t0)/(500*time.Millisecond)))%3-1) * 6 // the model's boxes jitter
		return []detectors.Detection{det("vending_stall", 0.7, x-open/4+jit, 100-open, x+100+open/4+jit, 200-jit)}
	})
	if got := tr.Tracks()[0].StandingSince(); !got.Equal(stopped) {
		t.Errorf("opened: standing since %v after t0, want %v", got.Sub(t0), stopped.Sub(t0))
	}

	// Pushed in, then missed by the model for 2 s: the left-object
	// detector saw it arrive within that time, after its last sample
	// elsewhere.
	tr = New(Config{}, 1)
	x = 0
	now, _ = step(tr, t0, 4*time.Second, func(time.Time) []detectors.Detection {
		x += 30
		return []detectors.Detection{det("vending_stall", 0.7, x, 100, x+100, 200)}
	})
	now = now.Add(2 * time.Second)
	arrived := now.Add(-time.Second)
	here := det("vending_stall", 0.7, x+30, 100, x+130, 200)
	here.Signals, here.Since = detectors.SignalModel|detectors.SignalLeftObject, arrived
	step(tr, now, 2*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{here} })
	if got := tr.Tracks()[0].StandingSince(); !got.Equal(arrived) {
		t.Errorf("seen arriving by the left-object detector: standing since %v after t0, want %v", got.Sub(t0), arrived.Sub(t0))
	}

	// The same, the left-object detector dating it before the model's
	// last sample elsewhere (its inside looked still as it rolled in
	// slowly): it stopped just after that sample.
	tr = New(Config{}, 1)
	x = 0
	now, _ = step(tr, t0, 4*time.Second, func(time.Time) []detectors.Detection {
		x += 30
		return []detectors.Detection{det("vending_stall", 0.7, x, 100, x+100, 200)}
	})
	lastElsewhere := now.Add(-500 * time.Millisecond)
	now = now.Add(2 * time.Second)
	here.Box = det("vending_stall", 0.7, x+30, 100, x+130, 200).Box
	here.Since = lastElsewhere.Add(-time.Second)
	step(tr, now, 2*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{here} })
	if got := tr.Tracks()[0].StandingSince(); !got.Equal(lastElsewhere) {
		t.Errorf("dated early by the left-object detector: standing since %v after t0, want %v (the last sample elsewhere)", got.Sub(t0), lastElsewhere.Sub(t0))
	}

	tr = New(Config{}, 1)
	stall := det("vending_stall", 0.7, 100, 100, 200, 200)
	now, _ = step(tr, t0, 6*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{stall} })
	merged := stall
	merged.Signals, merged.Since = detectors.SignalModel|detectors.SignalLeftObject, t0.Add(-2*time.Second)
	step(tr, now, time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{merged} })
	if got := tr.Tracks()[0].StandingSince(); !got.Equal(merged.Since) {
		t.Errorf("dated by the left-object detector: standing since %v after t0, want -2s", got.Sub(t0))
	}
	// Longer than its history: unknown, the caller keeps what it knew.
	step(tr, now, time.Minute, func(time.Time) []detectors.Detection { return []detectors.Detection{stall} })
	if got := tr.Tracks()[0].StandingSince(); !got.IsZero() {
		t.Errorf("standing for longer than its history: %v after t0, want zero", got.Sub(t0))
	}

	// Rolled in and named by the model only once it stood: the left-object
	// detector first reports the part its still inside covered first (a
	// fragment, dated 1.5 s before the whole), then the whole. It stands
	// since the whole's dating, not the fragment's.
	tr = New(Config{}, 1)
	whole := merged
	whole.Since = t0.Add(-500 * time.Millisecond)
	fragment := whole
	fragment.Since = t0.Add(-2 * time.Second)
	now, _ = step(tr, t0, 2*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{fragment} })
	step(tr, now, 4*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{whole} })
	if got := tr.Tracks()[0].StandingSince(); !got.Equal(whole.Since) {
		t.Errorf("a fragment dated first: standing since %v after t0, want %v (the whole's dating)", got.Sub(t0), whole.Since.Sub(t0))
	}

	// Seen by the left-object detector alone: first the vendor's side of
	// a stall set up beside them (its ground point 20 px, half its width,
	// from the whole's), then, as the rest stood still long enough, the
	// whole. Only what stands still is reported: it stands since its
	// first sight (dated by the detector's latest word), not since the
	// whole was first reported.
	tr = New(Config{}, 1)
	side := det("left_object", 0.5, 140, 100, 180, 200)
	side.Signals, side.Since = detectors.SignalLeftObject, t0.Add(-6*time.Second)
	all := side
	all.Box, all.Since = geom.Box{X1: 100, Y1: 100, X2: 180, Y2: 202}, t0.Add(-5*time.Second)
	now, _ = step(tr, t0, 6*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{side} })
	step(tr, now, 6*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{all} })
	if got := tr.Tracks()[0].StandingSince(); len(tr.Tracks()) != 1 || !got.Equal(all.Since) {
		t.Errorf("left object grown from a part: %d tracks, standing since %v after t0, want %v", len(tr.Tracks()), got.Sub(t0), all.Since.Sub(t0))
	}
}

// Seen by the left-object detector alone, a stall set up on vtest (set m):
// first the part that stood still first (43x24 px), then the whole, its
// bottom edge 10 px lower in two samples than in the rest (more than
// standTolerance of its height). It came to rest once: it stays
// stationary since the part did and stands since its first sight, the
// whole's dating (a pile's bags, reported one region after another, are
// the same case).
func TestALeftObjectGrownInPlaceStaysWhereItCameToRest(t *testing.T) {
	tr := New(Config{}, 1)
	part := det("left_object", 0.8, 620, 204, 664, 228)
	part.Signals, part.Since = detectors.SignalLeftObject, t0.Add(-2*time.Second)
	whole := part
	whole.Box, whole.Since = geom.Box{X1: 590, Y1: 180, X2: 667, Y2: 238}, t0.Add(-time.Second)
	now, _ := step(tr, t0, 8*time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{part} })
	obj := tr.Tracks()[0]
	if !obj.Stationary {
		t.Fatal("the part is not stationary after 8 s")
	}
	since := obj.StationarySince
	now, _ = step(tr, now, time.Second, func(time.Time) []detectors.Detection { return []detectors.Detection{whole} })
	whole.Box.Y2 = 228
	for end := now.Add(8 * time.Second); now.Before(end); now = now.Add(500 * time.Millisecond) {
		tr.Update(now, []detectors.Detection{whole})
		if len(tr.Tracks()) != 1 || !obj.Stationary || !obj.StationarySince.Equal(since) {
			t.Fatalf("at %v: %d tracks, stationary %v since %v, want one track stationary since %v",
				now.Sub(t0), len(tr.Tracks()), obj.Stationary, obj.StationarySince.Sub(t0), since.Sub(t0))
		}
	}
	if got := obj.StandingSince(); !got.Equal(whole.Since) {
		t.Errorf("standing since %v after t0, want %v (its first sight, the whole's dating)", got.Sub(t0), whole.Since.Sub(t0))
	}
}

// A track's place is new once any of its detections found it changed
// from the learnt background, old once two found it as before and none
// changed: one comparison is not enough to call an object part of the
// scene.
func TestPlace(t *testing.T) {
	O, N, U := detectors.PlaceOld, detectors.PlaceNew, detectors.PlaceUnknown
	for _, tc := range []struct {
		seen []detectors.Place
		want detectors.Place
	}{
		{[]detectors.Place{U, U, U}, U},
		{[]detectors.Place{U, O, U}, U},
		{[]detectors.Place{O, U, O}, O},
		{[]detectors.Place{O, O, N}, N},
		{[]detectors.Place{N, O, O, O}, N},
	} {
		tr := New(Config{}, 1)
		for i, p := range tc.seen {
			d := det("garbage_bag", 0.8, 600, 500, 660, 560)
			d.Place = p
			tr.Update(t0.Add(time.Duration(i)*time.Second), []detectors.Detection{d})
		}
		ts := tr.Tracks()
		if len(ts) != 1 {
			t.Fatalf("%v: %d tracks", tc.seen, len(ts))
		}
		if got := ts[0].Place(); got != tc.want {
			t.Errorf("places %v: track's place %v, want %v", tc.seen, got, tc.want)
		}
	}
}

// Steady is the best the model says of an object steadily: the highest
// median of ten consecutive scores, not the one best frame.
func TestSteadyIsTheBestMedianOfTenScores(t *testing.T) {
	repeat := func(n int, s ...float32) []float32 {
		var out []float32
		for i := 0; i < n; i++ {
			out = append(out, s...)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		scores []float32
		best   float32
		steady float32
	}{
		{"seen once: not steady", []float32{0.9}, 0.9, 0},
		{"seen twice: the lower", []float32{0.9, 0.7}, 0.9, 0.7},
		{"steady at 0.55", repeat(30, 0.55), 0.55, 0.55},
		{"0.35, above 0.5 one frame in ten", repeat(10, 0.35, 0.35, 0.35, 0.35, 0.6, 0.35, 0.35, 0.35, 0.35, 0.35), 0.6, 0.35},
		{"high in every other frame: between", repeat(20, 0.3, 0.7), 0.7, 0.5},
		{"weak, then named well for ten frames", append(repeat(20, 0.3), repeat(10, 0.7)...), 0.7, 0.7},
		{"named well, then weak: it was steady once", append(repeat(10, 0.7), repeat(20, 0.3)...), 0.7, 0.7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(Config{}, 1)
			i := 0
			step(tr, t0, time.Duration(len(tc.scores))*500*time.Millisecond, func(time.Time) []detectors.Detection {
				i++
				return []detectors.Detection{det("garbage_pile", tc.scores[i-1], 100, 200, 200, 260)}
			})
			if len(tr.Tracks()) != 1 {
				t.Fatalf("%d tracks, want 1", len(tr.Tracks()))
			}
			got := tr.Tracks()[0]
			if abs(got.Best.Score-tc.best) > 1e-6 || abs(got.Steady-tc.steady) > 1e-6 {
				t.Fatalf("best %.3f steady %.3f, want %.3f and %.3f", got.Best.Score, got.Steady, tc.best, tc.steady)
			}
		})
	}
}
