package leftobject

import (
	"image"
	"image/color"
	"slices"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
)

func TestMerge(t *testing.T) {
	b := func(x1, y1, x2, y2 float32) geom.Box { return geom.Box{X1: x1, Y1: y1, X2: x2, Y2: y2} }
	since := epoch.Add(-10 * time.Second)
	left := detectors.Detection{Box: b(100, 100, 150, 150), Class: Class, Score: 0.6, Signals: detectors.SignalLeftObject, Since: since}
	for _, tc := range []struct {
		name  string
		model []detectors.Detection
		want  []detectors.Detection
	}{
		{"nothing from the model: the left object", nil, []detectors.Detection{left}},
		{"the model found the same bag, surer than the background: one detection, both signals, the model's score",
			[]detectors.Detection{{Box: b(102, 98, 152, 150), Class: "garbage_bag", Score: 0.7}},
			[]detectors.Detection{{Box: b(102, 98, 152, 150), Class: "garbage_bag", Score: 0.7, Signals: detectors.SignalModel | detectors.SignalLeftObject, Since: since}}},
		{"the model found the whole bag dimly, the background its side: one detection, both signals, the background's score",
			[]detectors.Detection{{Box: b(40, 80, 180, 170), Class: "garbage_bag", Score: 0.4}},
			[]detectors.Detection{{Box: b(40, 80, 180, 170), Class: "garbage_bag", Score: 0.6, Signals: detectors.SignalModel | detectors.SignalLeftObject, Since: since}}},
		{"a person stands there: dropped",
			[]detectors.Detection{{Box: b(95, 60, 155, 155), Class: "person", Score: 0.9}},
			[]detectors.Detection{{Box: b(95, 60, 155, 155), Class: "person", Score: 0.9, Signals: detectors.SignalModel}}},
		{"inside a person's box (at their feet): dropped",
			[]detectors.Detection{{Box: b(80, 0, 170, 160), Class: "person", Score: 0.9}},
			[]detectors.Detection{{Box: b(80, 0, 170, 160), Class: "person", Score: 0.9, Signals: detectors.SignalModel}}},
		{"a person standing in front of part of it (a vendor at their stall): both",
			[]detectors.Detection{{Box: b(115, 95, 130, 150), Class: "person", Score: 0.9}},
			[]detectors.Detection{{Box: b(115, 95, 130, 150), Class: "person", Score: 0.9, Signals: detectors.SignalModel}, left}},
		{"a bag elsewhere: both",
			[]detectors.Detection{{Box: b(300, 300, 340, 340), Class: "garbage_bag", Score: 0.7}},
			[]detectors.Detection{{Box: b(300, 300, 340, 340), Class: "garbage_bag", Score: 0.7, Signals: detectors.SignalModel}, left}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Merge(tc.model, []detectors.Detection{left})
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("detection %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			for _, m := range tc.model {
				if m.Signals != 0 {
					t.Fatal("Merge modified the model's slice")
				}
			}
		})
	}
}

// The detector's clocks tick in eighths of a second: at a sampling
// interval that is no whole number of ticks (3 fps, 150 ms) the fractions
// must add up, or every age comes out short.
func TestLeftObjectSaysWhenItAppeared(t *testing.T) {
	for _, every := range []time.Duration{time.Second, 2 * time.Second, time.Second / 3, 150 * time.Millisecond} {
		t.Run(every.String(), func(t *testing.T) {
			s := newScene(t, 640, 360)
			s.noise = 4
			d := New(Config{})
			defer d.Close()
			var appeared time.Time
			for i := 0; time.Duration(i)*every < 40*time.Second; i++ {
				at := epoch.Add(time.Duration(i) * every)
				var things []thing
				if at.Sub(epoch) >= 10*time.Second {
					things = []thing{bag}
					if appeared.IsZero() {
						appeared = at
					}
				}
				m := s.frame(t, 1, things...)
				dets, err := d.Detect(m, at, nil)
				m.Close()
				if err != nil {
					t.Fatal(err)
				}
				if len(dets) == 1 {
					// Between the last frame without it and the first with it
					// (a clock tick either side).
					if off := dets[0].Since.Sub(appeared); off < -every-200*time.Millisecond || off > 200*time.Millisecond {
						t.Fatalf("reported at %v: Since %v, %v from when the bag appeared", at.Sub(epoch), dets[0].Since.Sub(epoch), off)
					}
					return
				}
			}
			t.Fatal("the bag was never reported")
		})
	}
}

// Cameras share the detector's working pictures: what one camera's frame
// left in them must not reach another's. Two detectors fed in turn report
// exactly what each reports alone.
func TestLeftObjectCamerasShareNothing(t *testing.T) {
	s := newScene(t, 640, 360)
	s.noise = 4
	other := newScene(t, 320, 240) // another size, so every buffer is resized in turn
	box := thing{r: image.Rect(100, 100, 150, 150), col: color.RGBA{R: 200, G: 200, B: 40}}
	// Each scene's frames are drawn once: the noise comes from OpenCV's
	// random generator, so frames drawn again (or in another order) would
	// differ, and so could the frame an object is first reported in.
	frames := map[*scene][]gocv.Mat{}
	for _, sc := range []*scene{s, other} {
		for i := range 30 {
			var m gocv.Mat
			switch {
			case i < 5:
				m = sc.frame(t, 1)
			case sc == s:
				m = sc.frame(t, 1, bag)
			default:
				m = sc.frame(t, 1, box)
			}
			t.Cleanup(func() { m.Close() })
			frames[sc] = append(frames[sc], m)
		}
	}
	play := func(ds []*Detector, scenes []*scene) [][]int {
		out := make([][]int, len(ds))
		for i := range 30 {
			for k, d := range ds {
				dets, err := d.Detect(frames[scenes[k]][i], epoch.Add(time.Duration(i)*time.Second), nil)
				if err != nil {
					t.Fatal(err)
				}
				out[k] = append(out[k], len(dets))
			}
		}
		return out
	}
	alone := [][]int{play([]*Detector{New(Config{})}, []*scene{s})[0], play([]*Detector{New(Config{})}, []*scene{other})[0]}
	together := play([]*Detector{New(Config{}), New(Config{})}, []*scene{s, other})
	for k := range alone {
		if !slices.Equal(alone[k], together[k]) {
			t.Errorf("camera %d: detections per frame alone %v, beside another camera %v", k, alone[k], together[k])
		}
	}
	if slices.Max(alone[0]) == 0 || slices.Max(alone[1]) == 0 {
		t.Fatal("an object was never reported: the comparison proves nothing")
	}
}
