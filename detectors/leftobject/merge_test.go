package leftobject

import (
	"testing"
	"time"

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
		{"the model found the same bag: one detection, both signals",
			[]detectors.Detection{{Box: b(102, 98, 152, 150), Class: "garbage_bag", Score: 0.7}},
			[]detectors.Detection{{Box: b(102, 98, 152, 150), Class: "garbage_bag", Score: 0.7, Signals: detectors.SignalModel | detectors.SignalLeftObject, Since: since}}},
		{"the model found the whole bag, the background only its side: one detection, both signals",
			[]detectors.Detection{{Box: b(40, 80, 180, 170), Class: "garbage_bag", Score: 0.4}},
			[]detectors.Detection{{Box: b(40, 80, 180, 170), Class: "garbage_bag", Score: 0.4, Signals: detectors.SignalModel | detectors.SignalLeftObject, Since: since}}},
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

func TestLeftObjectSaysWhenItAppeared(t *testing.T) {
	s := newScene(t, 640, 360)
	s.noise = 4
	d := New(Config{})
	defer d.Close()
	for i := range 40 {
		var things []thing
		if i >= 10 {
			things = []thing{bag}
		}
		m := s.frame(t, 1, things...)
		dets, err := d.Detect(m, epoch.Add(time.Duration(i)*time.Second), nil)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(dets) == 1 {
			// Between the last frame without it (9 s) and the first with it.
			appeared := epoch.Add(10 * time.Second)
			if off := dets[0].Since.Sub(appeared); off < -1100*time.Millisecond || off > 0 {
				t.Fatalf("frame %d: Since %v, %v from when the bag appeared", i, dets[0].Since, off)
			}
			return
		}
	}
	t.Fatal("the bag was never reported")
}
