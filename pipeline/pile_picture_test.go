package pipeline

import (
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/rules"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/media/frame"
)

// A pile seen as two objects (named a pile from 1 s, with its best score
// then; a bag put down beside it at 3 s) is pictured whole: the snapshot
// is the frame the pile was confirmed in, marked with the box the ticket
// carries, and the manifest's picture time is that frame's. The best
// sample's frame (1 s) shows the pile without the bag, and its box is half the
// pile. A pile of one object keeps its best frame and box.
func TestAPileOfSeveralObjectsIsPicturedWhole(t *testing.T) {
	first := geom.Box{X1: 300, Y1: 280, X2: 350, Y2: 330}
	second := geom.Box{X1: 355, Y1: 285, X2: 400, Y2: 330}
	for _, tc := range []struct {
		name      string
		withOther bool
		wantBox   geom.Box
	}{
		{"two objects: the confirming frame, the pile's box", true, geom.Box{X1: 300, Y1: 280, X2: 400, Y2: 330}},
		{"one object: its best frame (1 s) and box", false, first},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cam := config.Camera{ID: "lane-1", LeftObjects: config.LeftObjects{Enabled: new(false)},
				Zones: []config.Zone{{Name: "lane", Polygon: config.Polygon{{0, 0}, {1, 0}, {1, 1}, {0, 1}}, Types: []string{"garbage_pile"}}},
				Rules: map[string]config.RuleParams{"garbage_pile": {MinDwell: config.Duration(10 * time.Second)}}}
			c := testConfirmer(t, cam)
			defer c.close()
			t0 := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
			var got []ViolationEvent
			at := map[string]time.Time{}
			for i := 0; i <= 60; i++ {
				s := float64(i) * sceneStep.Seconds()
				f := &frame.Frame{Camera: cam.ID, Time: t0.Add(time.Duration(i) * sceneStep), Seq: uint64(i + 1),
					Mat: gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(i), float64(i), float64(i), 0), 360, 640, gocv.MatTypeCV8UC3)}
				var dets []detectors.Detection
				if s >= 1 {
					score := float32(0.7)
					if s == 1 {
						score = 0.9 // the best sample
					}
					dets = append(dets, detectors.Detection{Box: first, Class: "garbage_pile", Score: score, Signals: detectors.SignalModel})
				}
				if tc.withOther && s >= 3 {
					dets = append(dets, detectors.Detection{Box: second, Class: "garbage_bag", Score: 0.6, Signals: detectors.SignalModel})
				}
				vs, _ := c.update(f, dets)
				for _, v := range vs {
					at[v.ID] = f.Time
				}
				got = append(got, vs...)
				f.Mat.Close()
			}
			defer func() {
				for _, ev := range got {
					ev.Close()
				}
			}()
			if len(got) != 1 || got[0].Type != rules.GarbagePile || got[0].Box != tc.wantBox {
				t.Fatalf("confirmed %+v, want one pile with box %v", got, tc.wantBox)
			}
			ev := got[0]
			rec := (&evidenceStage{cameras: map[string]config.Camera{cam.ID: cam}}).event(ev, 640, 360)
			wantAt := t0.Add(time.Second) // the best sample's
			if tc.withOther {
				wantAt = at[ev.ID]
			}
			wantPic := int(wantAt.Sub(t0) / sceneStep)
			if n := int(ev.BestFrame.GetUCharAt(0, 0)); n != wantPic || !rec.Violation.BestAt.Equal(wantAt) {
				t.Errorf("snapshot is frame %d, manifest says taken at %v: want frame %d (%v)", n, rec.Violation.BestAt.Sub(t0), wantPic, wantAt.Sub(t0))
			}
			wantLabel := "garbage_pile 0.90" // the best sample's class and score
			if tc.withOther {
				wantLabel += " + 1 next to it" // and how many objects the pile took in
			}
			if len(rec.BestMarks) != 1 || rec.BestMarks[0].Rect != tc.wantBox.Rect() || rec.BestMarks[0].Label != wantLabel {
				t.Errorf("snapshot marks %+v, want one mark %q on the reported box %v", rec.BestMarks, wantLabel, tc.wantBox.Rect())
			}
		})
	}
}
