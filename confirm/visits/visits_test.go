package visits

import (
	"fmt"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/geom"
)

// The scene: a 1000×1000 frame, the bay in its lower right quarter, the
// entrance a strip at the left edge. Vehicles are 100×100 boxes named by
// where they touch the ground.
var (
	t0       = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	bay      = geom.Polygon{{X: 0.5, Y: 0.5}, {X: 1, Y: 0.5}, {X: 1, Y: 1}, {X: 0.5, Y: 1}}
	entrance = geom.Polygon{{X: 0, Y: 0}, {X: 0.1, Y: 0}, {X: 0.1, Y: 1}, {X: 0, Y: 1}}
	outside  = at(300, 800) // on the way, not in the bay
	gate     = at(50, 800)  // in the entrance
	spot     = at(700, 800) // in the bay
	spot2    = at(900, 800) // the bay's other place
	away     = at(300, 300)
)

func at(x, y float32) geom.Box { return geom.Box{X1: x - 50, Y1: y - 100, X2: x + 50, Y2: y} }

func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// waypoint: the track's box at t seconds; between two waypoints the box
// moves in a straight line.
type waypoint struct {
	t float64
	b geom.Box
}

// vehicle is one synthetic track: alive from its first waypoint to its
// last, unseen (kept by the tracker, not matched) during hidden.
type vehicle struct {
	id     uint64
	class  string
	path   []waypoint
	hidden [][2]float64
	score  func(s float64) float32 // nil: 0.8
}

func (v vehicle) track(s float64) (Track, bool) {
	p := v.path
	if s < p[0].t || s > p[len(p)-1].t {
		return Track{}, false
	}
	box := p[0].b
	for i := 1; i < len(p); i++ {
		if s <= p[i].t {
			f := float32((s - p[i-1].t) / (p[i].t - p[i-1].t))
			a, b := p[i-1].b, p[i].b
			box = geom.Box{X1: a.X1 + f*(b.X1-a.X1), Y1: a.Y1 + f*(b.Y1-a.Y1), X2: a.X2 + f*(b.X2-a.X2), Y2: a.Y2 + f*(b.Y2-a.Y2)}
			break
		}
	}
	seen := true
	for _, h := range v.hidden {
		if s >= h[0] && s < h[1] {
			seen = false
			box, _ = v.boxBefore(h[0])
		}
	}
	score := float32(0.8)
	if v.score != nil {
		score = v.score(s)
	}
	class := v.class
	if class == "" {
		class = "vehicle"
	}
	return Track{ID: v.id, Class: class, Box: box, Score: score, FirstSeen: sec(p[0].t), Seen: seen}, true
}

func (v vehicle) boxBefore(s float64) (geom.Box, bool) {
	w := vehicle{id: v.id, path: v.path}
	t, ok := w.track(s - 0.5)
	return t.Box, ok
}

// play samples the scene at 2 frames a second up to until and returns the
// finished visits with the second each was reported at.
func play(t *testing.T, cfg Config, until float64, vs ...vehicle) ([]Visit, []float64) {
	t.Helper()
	if cfg.Bay == nil {
		cfg.Bay = bay
	}
	if cfg.Classes == nil {
		cfg.Classes = []string{"vehicle"}
	}
	r := New(cfg)
	var out []Visit
	var when []float64
	for s := 0.0; s <= until; s += 0.5 {
		var tracks []Track
		for _, v := range vs {
			if tr, ok := v.track(s); ok {
				tracks = append(tracks, tr)
			}
		}
		for _, v := range r.Update(sec(s), 1000, 1000, tracks) {
			out = append(out, v)
			when = append(when, s)
		}
	}
	return out, when
}

func secs(tm time.Time) float64 { return tm.Sub(t0).Seconds() }

func describe(vs []Visit) string {
	s := ""
	for _, v := range vs {
		s += fmt.Sprintf(" [track %d %s arrival %.1f stop %.1f departure %.1f best %.1f@%.2f]", v.TrackID, v.Class,
			secs(v.Arrival), secs(v.Stop), secs(v.Departure), secs(v.Best.Time), v.Best.Score)
	}
	return s
}

func checkTimes(t *testing.T, v Visit, arrival, stop, departure float64) {
	t.Helper()
	if secs(v.Arrival) != arrival || secs(v.Stop) != stop || secs(v.Departure) != departure {
		t.Errorf("arrival %.1f stop %.1f departure %.1f, want %.1f %.1f %.1f", secs(v.Arrival), secs(v.Stop), secs(v.Departure), arrival, stop, departure)
	}
}

func TestAStopShorterThanMinStopIsNoVisit(t *testing.T) {
	got, _ := play(t, Config{}, 40, vehicle{id: 1, path: []waypoint{{0, outside}, {2, spot}, {11.5, spot}, {13, away}, {15, away}}})
	if len(got) != 0 {
		t.Fatalf("visits:%s", describe(got))
	}
}

func TestDrivingThroughTheBayIsNoVisit(t *testing.T) {
	got, _ := play(t, Config{}, 40, vehicle{id: 1, path: []waypoint{{0, outside}, {10, spot2}, {12, away}}})
	if len(got) != 0 {
		t.Fatalf("visits:%s", describe(got))
	}
}

func TestAStopThenDepartureIsOneVisitWithItsTimes(t *testing.T) {
	// Seen at 0 s on its way, in the bay from 2 s, rests there 3-20 s,
	// gone from the bay at 21 s, out of view at 25 s.
	v := vehicle{id: 7, path: []waypoint{{0, outside}, {3, spot}, {20, spot}, {20.5, away}, {25, away}},
		score: func(s float64) float32 {
			if s == 12 {
				return 0.95 // its best moment
			}
			return 0.7
		}}
	got, when := play(t, Config{}, 40, v)
	if len(got) != 1 {
		t.Fatalf("%d visits:%s", len(got), describe(got))
	}
	checkTimes(t, got[0], 0, 3, 20)
	if got[0].TrackID != 7 || got[0].Class != "vehicle" || got[0].Seq != 1 {
		t.Errorf("visit %+v", got[0])
	}
	if secs(got[0].Best.Time) != 12 || got[0].Best.Score != 0.95 || got[0].Best.Box != spot {
		t.Errorf("best %+v, want the 0.95 sample at 12 s", got[0].Best)
	}
	// Reported once away for LeaveAfter (5 s) after the last sample in the bay.
	if when[0] != 25 {
		t.Errorf("reported at %.1f s, want 25", when[0])
	}
}

func TestMinStopAndLeaveAfterAreConfigurable(t *testing.T) {
	v := vehicle{id: 1, path: []waypoint{{0, spot}, {30, spot}, {30.5, away}}}
	if got, _ := play(t, Config{MinStop: 31 * time.Second}, 60, v); len(got) != 0 {
		t.Errorf("a 30 s stop with min_stop 31s:%s", describe(got))
	}
	got, when := play(t, Config{MinStop: 30 * time.Second, LeaveAfter: 12 * time.Second}, 60, v)
	if len(got) != 1 || when[0] != 42 {
		t.Fatalf("a 30 s stop with min_stop 30s: %v at %v", describe(got), when)
	}
	checkTimes(t, got[0], 0, 0, 30)
}

func TestTwoVehiclesAreTwoVisits(t *testing.T) {
	a := vehicle{id: 1, path: []waypoint{{0, outside}, {2, spot}, {20, spot}, {20.5, away}, {22, away}}}
	b := vehicle{id: 2, path: []waypoint{{5, outside}, {8, spot2}, {40, spot2}, {40.5, away}, {42, away}}}
	got, _ := play(t, Config{}, 60, a, b)
	if len(got) != 2 {
		t.Fatalf("%d visits:%s", len(got), describe(got))
	}
	checkTimes(t, got[0], 0, 2, 20)
	checkTimes(t, got[1], 5, 8, 40)
	if got[0].TrackID != 1 || got[1].TrackID != 2 || got[0].Seq == got[1].Seq {
		t.Errorf("visits:%s", describe(got))
	}
}

func TestTheSameVehicleComingBackLaterIsASecondVisit(t *testing.T) {
	v := vehicle{id: 1, path: []waypoint{{0, spot}, {15, spot}, {15.5, away}, {30, away}, {31, spot}, {50, spot}, {50.5, away}, {60, away}}}
	got, _ := play(t, Config{}, 70, v)
	if len(got) != 2 {
		t.Fatalf("%d visits:%s", len(got), describe(got))
	}
	checkTimes(t, got[1], 0, 31, 50) // arrival: the track's first sighting
}

func TestATrackLostBrieflyIsStillOneVisit(t *testing.T) {
	// The tracker loses the tricycle at 15 s (its track ends) and starts
	// a new track on it at 17 s, slightly shifted.
	first := vehicle{id: 3, path: []waypoint{{0, outside}, {2, spot}, {15, spot}}}
	shifted := spot
	shifted.X1, shifted.X2 = shifted.X1+10, shifted.X2+10
	second := vehicle{id: 9, path: []waypoint{{17, shifted}, {30, shifted}, {30.5, away}, {33, away}}}
	got, _ := play(t, Config{}, 50, first, second)
	if len(got) != 1 {
		t.Fatalf("%d visits:%s", len(got), describe(got))
	}
	checkTimes(t, got[0], 0, 2, 30)
	if got[0].TrackID != 9 {
		t.Errorf("track %d, want the latest (9)", got[0].TrackID)
	}
}

func TestAVehicleHiddenInTheBayLongerThanLeaveAfterIsStillThere(t *testing.T) {
	// Someone stands in front of it for 12 s: the tracker keeps its track.
	v := vehicle{id: 1, path: []waypoint{{0, spot}, {40, spot}, {40.5, away}, {43, away}}, hidden: [][2]float64{{15, 27}}}
	got, _ := play(t, Config{}, 60, v)
	if len(got) != 1 {
		t.Fatalf("%d visits:%s", len(got), describe(got))
	}
	checkTimes(t, got[0], 0, 0, 40)
}

func TestAVehicleWhoseTrackEndsInTheBayDepartsWhenLastSeen(t *testing.T) {
	v := vehicle{id: 1, path: []waypoint{{0, spot}, {20, spot}}}
	got, when := play(t, Config{}, 40, v)
	if len(got) != 1 || when[0] != 25 {
		t.Fatalf("visits %s at %v", describe(got), when)
	}
	checkTimes(t, got[0], 0, 0, 20)
}

func TestAStopRestartsWhenTheVehicleMovesBeforeMinStop(t *testing.T) {
	// Rests at spot 2-8 s, moves over to spot2 (still in the bay), rests there 10-25 s.
	v := vehicle{id: 1, path: []waypoint{{0, outside}, {2, spot}, {8, spot}, {10, spot2}, {25, spot2}, {25.5, away}}}
	got, _ := play(t, Config{}, 40, v)
	if len(got) != 1 {
		t.Fatalf("%d visits:%s", len(got), describe(got))
	}
	checkTimes(t, got[0], 0, 10, 25)
	if got[0].Best.Box != spot2 {
		t.Errorf("best picture at %v, want where it stopped (%v)", got[0].Best.Box, spot2)
	}
}

func TestArrivalIsTheFirstSightingInTheEntrance(t *testing.T) {
	v := vehicle{id: 1, path: []waypoint{{0, away}, {4, gate}, {6, outside}, {8, spot}, {25, spot}, {26, away}}}
	got, _ := play(t, Config{Entrance: entrance}, 40, v)
	if len(got) != 1 {
		t.Fatalf("%d visits:%s", len(got), describe(got))
	}
	// The box reaches the entrance strip (bottom centre x < 100) between 3.5 and 4 s.
	if a := secs(got[0].Arrival); a < 3 || a > 4 {
		t.Errorf("arrival %.1f s, want when it was first in the entrance (3-4 s)", a)
	}
	// Without an entrance it is the track's first sighting.
	got, _ = play(t, Config{}, 40, v)
	if len(got) != 1 || secs(got[0].Arrival) != 0 {
		t.Errorf("without an entrance:%s", describe(got))
	}
}

func TestOnlyVehicleClassesMakeVisits(t *testing.T) {
	person := vehicle{id: 1, class: "person", path: []waypoint{{0, spot}, {30, spot}, {31, away}}}
	cart := vehicle{id: 2, class: "hand_cart", path: []waypoint{{0, spot2}, {30, spot2}, {31, away}}}
	got, _ := play(t, Config{Classes: []string{"vehicle", "hand_cart"}}, 50, person, cart)
	if len(got) != 1 || got[0].Class != "hand_cart" {
		t.Fatalf("visits:%s", describe(got))
	}
}

func TestOpenListsVisitsUntilTheyFinish(t *testing.T) {
	r := New(Config{Bay: bay, Classes: []string{"vehicle"}})
	tr := Track{ID: 1, Class: "vehicle", Box: spot, Score: 0.8, FirstSeen: sec(0), Seen: true}
	for s := 0.0; s <= 12; s += 0.5 {
		r.Update(sec(s), 1000, 1000, []Track{tr})
	}
	open := r.Open()
	if len(open) != 1 || !open[0].Departure.IsZero() || secs(open[0].Stop) != 0 || open[0].Best.Time.IsZero() {
		t.Fatalf("open %+v", open)
	}
	for s := 12.5; s <= 20; s += 0.5 {
		r.Update(sec(s), 1000, 1000, nil)
	}
	if open := r.Open(); len(open) != 0 {
		t.Fatalf("still open %+v", open)
	}
}
