package pipeline

import (
	"image/color"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/rules"
	"github.com/streetwatch/streetwatch/confirm/track"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/media/frame"
)

// dumpingScene is a synthetic dumping on a 640×360 camera, sampled every
// half second: a person stands at the kerb from 6 s to 10 s, then leaves
// the picture; the bag is beside them from 8 s. Each frame's pixels are
// its sample number, so a picture tells which frame it is.
type dumpingScene struct {
	t0 time.Time
	// bag is the detection of the bag at second s (ok=false: none).
	bag func(s float64) (detectors.Detection, bool)
}

const sceneStep = 500 * time.Millisecond

var (
	personBox = geom.Box{X1: 300, Y1: 180, X2: 360, Y2: 340}
	bagBox    = geom.Box{X1: 370, Y1: 300, X2: 420, Y2: 340}
)

// run feeds the scene to a real confirmer for 30 s and returns the
// dumping it confirms (with its pictures: the caller closes them) and the
// evidence event the evidence stage makes of it.
func (sc dumpingScene) run(t *testing.T) (ViolationEvent, *evidence.Event) {
	t.Helper()
	// The pictures show no bag (each is one grey level, its sample
	// number), so the left-object detector is off: it would find the
	// model's bag where the picture never changed (see
	// TestAnObjectPartOfTheSceneIsNoDumping).
	cam, c := kerbConfirmer(t, false)
	defer c.close()
	var got []ViolationEvent
	for i := 0; i <= 60; i++ {
		s := float64(i) * sceneStep.Seconds()
		f := &frame.Frame{Camera: cam.ID, Time: sc.t0.Add(time.Duration(i) * sceneStep), Seq: uint64(i + 1),
			Mat: gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(i), float64(i), float64(i), 0), 360, 640, gocv.MatTypeCV8UC3)}
		var dets []detectors.Detection
		if s >= 6 && s <= 10 {
			dets = append(dets, detectors.Detection{Box: personBox, Class: "person", Score: 0.9, Signals: detectors.SignalModel})
		}
		if d, ok := sc.bag(s); ok {
			dets = append(dets, d)
		}
		vs, _ := c.update(f, dets)
		got = append(got, vs...)
		f.Mat.Close()
	}
	if len(got) != 1 || got[0].Type != rules.IllegalDumping || got[0].ActorClass != "person" {
		for _, ev := range got {
			ev.Close()
		}
		t.Fatalf("confirmed %d violations (%+v), want one dumping by a person", len(got), got)
	}
	s := &evidenceStage{cameras: map[string]config.Camera{cam.ID: cam}}
	return got[0], s.event(got[0], 640, 360)
}

// kerbConfirmer is a real confirmer for a camera whose whole picture is a
// kerb zone watched for dumping (5 s wait), its left-object detector on or
// off.
func kerbConfirmer(t *testing.T, leftObjects bool) (config.Camera, *confirmer) {
	t.Helper()
	cam := config.Camera{ID: "kerb-1", LeftObjects: config.LeftObjects{Enabled: new(leftObjects)},
		Zones: []config.Zone{{Name: "kerb", Polygon: config.Polygon{{0, 0}, {1, 0}, {1, 1}, {0, 1}}, Types: []string{"illegal_dumping"}}},
		Rules: map[string]config.RuleParams{"illegal_dumping": {MinDwell: config.Duration(5 * time.Second)}}}
	return cam, testConfirmer(t, cam)
}

// testConfirmer is a real confirmer for cam, its rules' state in a
// temporary directory.
func testConfirmer(t *testing.T, cam config.Camera) *confirmer {
	t.Helper()
	c, err := newConfirmer(cam, rules.FileStore{Dir: t.TempDir()}, rules.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sampleAt is the time of the scene's sample at second s.
func (sc dumpingScene) at(s float64) time.Time {
	return sc.t0.Add(time.Duration(s * float64(time.Second)))
}

func pictureNumber(t *testing.T, m gocv.Mat) int {
	t.Helper()
	if m.Ptr() == nil || m.Empty() {
		t.Fatal("no actor picture")
	}
	return int(m.GetUCharAt(0, 0))
}

func actorMark(marks []evidence.Mark) (evidence.Mark, bool) {
	i := slices.IndexFunc(marks, func(m evidence.Mark) bool { return m.Color == evidence.ColorActor })
	if i < 0 {
		return evidence.Mark{}, false
	}
	return marks[i], true
}

// When the model sees the bag as it is put down, the actor's picture is
// the person's own last frame beside it (10 s), with the person's box of
// that frame, and the manifest's actor time is that frame's.
func TestActorPictureIsTheActorsOwnFrameBesideTheObject(t *testing.T) {
	sc := dumpingScene{t0: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
	sc.bag = func(s float64) (detectors.Detection, bool) {
		return detectors.Detection{Box: bagBox, Class: "garbage_bag", Score: 0.8, Signals: detectors.SignalModel}, s >= 8
	}
	ev, rec := sc.run(t)
	defer ev.Close()
	if n := pictureNumber(t, ev.AppearFrame); n != 20 || !ev.AppearAt.Equal(sc.at(10)) {
		t.Errorf("actor picture is frame %d taken at %v, want frame 20 (10 s), the person's last beside the bag", n, ev.AppearAt.Sub(sc.t0))
	}
	a, ok := actorMark(rec.AppearMarks)
	if !ok || a.Rect != personBox.Rect() || a.Label != "actor: person" {
		t.Errorf("actor mark %+v (found %v), want the person's box %v", a, ok, personBox.Rect())
	}
	if !rec.Violation.ActorAt.Equal(sc.at(10)) || len(rec.AppearCaption) != 0 {
		t.Errorf("ActorAt %v, caption %q: want the picture's time (10 s) and no note", rec.Violation.ActorAt.Sub(sc.t0), rec.AppearCaption)
	}
}

// When only the left-object detector sees the bag, 8 s after it was put
// down and the person gone, no frame of the person beside it was kept:
// the picture is the frame the bag was first detected in, and the person
// (last seen 6 s before it) is not drawn there on empty pavement.
func TestActorNotDrawnOnAPictureTakenSecondsFromItsSample(t *testing.T) {
	sc := dumpingScene{t0: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
	sc.bag = func(s float64) (detectors.Detection, bool) {
		return detectors.Detection{Box: bagBox, Class: "left_object", Score: 0.6, Signals: detectors.SignalLeftObject, Since: sc.at(8)}, s >= 16
	}
	ev, rec := sc.run(t)
	defer ev.Close()
	if n := pictureNumber(t, ev.AppearFrame); n != 32 || !ev.AppearAt.Equal(sc.at(16)) {
		t.Errorf("actor picture is frame %d taken at %v, want frame 32 (16 s), where the bag was first detected", n, ev.AppearAt.Sub(sc.t0))
	}
	if a, ok := actorMark(rec.AppearMarks); ok {
		t.Errorf("the actor is drawn at %v on a picture taken at 16 s, when the person was gone", a.Rect)
	}
	if !rec.Violation.ActorAt.Equal(sc.at(16)) || len(rec.AppearCaption) != 1 {
		t.Errorf("ActorAt %v, caption %q: want the picture's time (16 s) and a note that the actor is not in it", rec.Violation.ActorAt.Sub(sc.t0), rec.AppearCaption)
	}
	if len(rec.AppearMarks) != 1 || rec.AppearMarks[0].Rect != bagBox.Rect() {
		t.Errorf("marks %+v, want the bag alone", rec.AppearMarks)
	}
}

// A sample taken within a fraction of a second of the picture is drawn
// (the actor's own sample was thinned out of the record); one a second
// away is not.
func TestActorSampleWithinAFractionOfASecondIsDrawn(t *testing.T) {
	at := time.Date(2026, 12, 3, 8, 0, 16, 0, time.UTC)
	for _, tc := range []struct {
		off  time.Duration
		want bool
	}{{0, true}, {-200 * time.Millisecond, true}, {time.Second, false}, {-8 * time.Second, false}} {
		ev := ViolationEvent{AppearFrame: gocv.NewMatWithSize(4, 4, gocv.MatTypeCV8UC3), AppearAt: at}
		ev.Type, ev.Camera, ev.Class, ev.ActorClass = rules.IllegalDumping, "kerb-1", "left_object", "person"
		ev.Timeline = []track.Sample{{Time: at, Box: bagBox, Score: 0.6}}
		ev.Actor = []track.Sample{{Time: at.Add(tc.off), Box: personBox, Score: 0.9}, {Time: at.Add(-30 * time.Second), Box: bagBox}}
		rec := (&evidenceStage{}).event(ev, 640, 360)
		ev.Close()
		if _, ok := actorMark(rec.AppearMarks); ok != tc.want || !rec.Violation.ActorAt.Equal(at) {
			t.Errorf("actor sample %v from the picture: drawn %v, want %v (ActorAt %v)", tc.off, ok, tc.want, rec.Violation.ActorAt)
		}
	}
}

// With the camera's left-object detector on, what the model names where
// the picture looks as it did from the first frame (parked cars it reads
// as a bag) is no dumping, though a passer-by stops beside it and leaves;
// the same detection where a bag was put down is one.
func TestAnObjectPartOfTheSceneIsNoDumping(t *testing.T) {
	for _, tc := range []struct {
		name    string
		drawnAt float64 // when the object appears in the picture
		want    int
	}{
		{"in the picture from the first frame, named from 8 s: nothing", 0, 0},
		{"put down at 8 s: a dumping", 8, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cam, c := kerbConfirmer(t, true)
			defer c.close()
			t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
			var got []ViolationEvent
			for i := 0; i <= 60; i++ {
				s := float64(i) * sceneStep.Seconds()
				m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(100, 100, 100, 0), 360, 640, gocv.MatTypeCV8UC3)
				if s >= tc.drawnAt {
					gocv.Rectangle(&m, bagBox.Rect(), color.RGBA{R: 30, G: 30, B: 200}, -1)
				}
				f := &frame.Frame{Camera: cam.ID, Time: t0.Add(time.Duration(i) * sceneStep), Seq: uint64(i + 1), Mat: m}
				var dets []detectors.Detection
				if s >= 6 && s <= 10 {
					dets = append(dets, detectors.Detection{Box: personBox, Class: "person", Score: 0.9, Signals: detectors.SignalModel})
				}
				if s >= 8 {
					dets = append(dets, detectors.Detection{Box: bagBox, Class: "garbage_bag", Score: 0.8, Signals: detectors.SignalModel})
				}
				vs, _ := c.update(f, dets)
				got = append(got, vs...)
				m.Close()
			}
			for _, ev := range got {
				ev.Close()
			}
			if len(got) != tc.want || (len(got) == 1 && got[0].Type != rules.IllegalDumping) {
				t.Fatalf("confirmed %d violations (%+v), want %d dumping", len(got), got, tc.want)
			}
		})
	}
}
