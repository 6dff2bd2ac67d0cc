package pipeline

import (
	"image"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/rules"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media/frame"
)

// demoZoomer is a zoomer of the demo model.
func demoZoomer(t *testing.T) *detectors.Zoomer {
	t.Helper()
	if _, err := detectors.InitRuntime(""); err != nil {
		t.Fatal(err)
	}
	man, err := detectors.LoadManifest(filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := detectors.LoadModel(man, detectors.SessionOptions{IntraOpThreads: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	z, err := detectors.NewZoomer(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(z.Close)
	return z
}

// farStallScene is a 1920x1080 camera's view of the rendered empty street
// where, from 3 s, a vending stall stands far away: the rendered street's
// stall, shrunk four times (69x80 pixels, 12 in the model's input). It
// returns the frames' pictures, every half second for 40 s (the caller
// closes them).
func farStallScene(t *testing.T) []gocv.Mat {
	t.Helper()
	dir := filepath.Join(mediatest.Root(), "testdata", "models")
	bg := gocv.IMRead(filepath.Join(dir, "empty-street.jpg"), gocv.IMReadColor)
	street := gocv.IMRead(filepath.Join(dir, "street-day.jpg"), gocv.IMReadColor)
	defer bg.Close()
	defer street.Close()
	empty, withStall := gocv.NewMat(), gocv.NewMat()
	defer empty.Close()
	gocv.Resize(bg, &empty, image.Pt(1920, 1080), 0, 0, gocv.InterpolationLinear)
	empty.CopyTo(&withStall)
	defer withStall.Close()
	// street-day.jpg's stall (testdata/models/objects.json) and a little
	// of the pavement around it.
	part := street.Region(image.Rect(719, 121, 1015, 459))
	defer part.Close()
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(part, &small, image.Pt(74, 84), 0, 0, gocv.InterpolationArea)
	dst := withStall.Region(image.Rect(1500, 700, 1574, 784))
	small.CopyTo(&dst)
	dst.Close()
	var out []gocv.Mat
	for i := range 80 {
		src := empty
		if i >= 6 {
			src = withStall
		}
		out = append(out, src.Clone())
	}
	return out
}

// A stall too small for the model in the whole frame is found by the
// left-object detector alone, and named on a closer look: one street
// vending case, confirmed by both signals. Without the closer look the
// same unnamed object standing in the zone is reported as a garbage pile
// (the wrong case, as on the real-scene set). Each frame's detections are
// the demo model's on the whole frame, as the batcher's (see
// detectors.TestZoomOnTheWholePictureIsTheBatchersLook).
func TestAStallTooSmallForTheWholeFrameIsNamedOnACloserLook(t *testing.T) {
	z := demoZoomer(t)
	pictures := farStallScene(t)
	defer func() {
		for _, m := range pictures {
			m.Close()
		}
	}()
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	run := func(closer bool, thresholds map[string]float32) []ViolationEvent {
		cam := config.Camera{ID: "far-1", LeftObjects: config.LeftObjects{Enabled: new(true)}, Thresholds: thresholds,
			Zones: []config.Zone{{Name: "street", Polygon: config.Polygon{{0, 0}, {1, 0}, {1, 1}, {0, 1}}, Types: []string{"street_vending", "garbage_pile", "illegal_dumping"}}},
			Rules: map[string]config.RuleParams{"street_vending": {MinDwell: config.Duration(10 * time.Second)}, "garbage_pile": {MinDwell: config.Duration(10 * time.Second)}}}
		c := testConfirmer(t, cam)
		defer c.close()
		if closer {
			c.zoomers = map[string]*detectors.Zoomer{"demo": z}
			c.useZoom([]string{"demo"})
			c.looked = newMetrics(nil).looks
		}
		if closer && thresholds == nil {
			defer func() {
				if n := testutil.ToFloat64(c.looked.WithLabelValues(cam.ID, lookNamed)); n != 1 {
					t.Errorf("%v closer looks counted as named, want 1", n)
				}
			}()
		}
		var got []ViolationEvent
		for i, m := range pictures {
			dets, err := z.Detect(m, image.Rect(0, 0, m.Cols(), m.Rows()), "demo", cameraFilter(cam))
			if err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(dets, func(d detectors.Detection) bool { return d.Class == "vending_stall" }) {
				t.Fatalf("the model names a stall in the whole frame %d: the test proves nothing", i)
			}
			f := &frame.Frame{Camera: cam.ID, Time: t0.Add(time.Duration(i) * 500 * time.Millisecond), Seq: uint64(i + 1), Mat: m}
			vs, _ := c.update(f, dets)
			got = append(got, vs...)
		}
		return got
	}
	types := func(evs []ViolationEvent) (out []string) {
		for _, ev := range evs {
			out = append(out, string(ev.Type)+" of "+ev.Class+" "+ev.Box.String())
			ev.Close()
		}
		return out
	}
	got := run(true, nil)
	if len(got) != 1 || got[0].Type != rules.StreetVending || !slices.Equal(got[0].Signals, []string{"model", "left_object"}) {
		t.Fatalf("with the closer look: %v (signals %v), want one street vending case, by the model and the left-object detector", types(got), signalsOf(got))
	}
	if stall := (geom.Box{X1: 1500, Y1: 700, X2: 1574, Y2: 784}); got[0].Box.IoU(stall) < 0.7 {
		t.Errorf("the stall's case is at %v, want the stall at %v", got[0].Box, stall)
	}
	types(got)
	if without := run(false, nil); len(without) != 1 || without[0].Type != rules.GarbagePile {
		t.Errorf("without the closer look: %v, want the unnamed object taken for a garbage pile (what the look corrects)", types(without))
	} else {
		types(without)
	}
	// A camera that wants stalls named only above 0.99 gets none named
	// by the look either: its detections pass the camera's thresholds as
	// the whole frame's do.
	if strict := run(true, map[string]float32{"vending_stall": 0.99}); slices.ContainsFunc(strict, func(ev ViolationEvent) bool { return ev.Type == rules.StreetVending }) {
		t.Errorf("with the camera's stall threshold at 0.99: %v, want no vending case", types(strict))
	} else {
		types(strict)
	}
}

// onObject: the look's box is the left object's when half of the smaller
// of the two lies in the other, as with the boxes traced on real footage
// (a stall's and the detector's region of its vendor and table, IoU
// 0.26); a stall beside a region that holds only its vendor is not it.
func TestALooksBoxIsTheLeftObjectsWhenHalfTheSmallerLiesInTheOther(t *testing.T) {
	for _, c := range []struct {
		look, left geom.Box
		want       bool
	}{
		{geom.Box{X1: 91.8, Y1: 148, X2: 189.6, Y2: 255.3}, geom.Box{X1: 64.8, Y1: 199.2, X2: 148.8, Y2: 259.2}, true},
		{geom.Box{X1: 99.1, Y1: 164.4, X2: 153, Y2: 231.3}, geom.Box{X1: 67.2, Y1: 199.2, X2: 96, Y2: 256.8}, false},
		{geom.Box{X1: 100, Y1: 100, X2: 200, Y2: 200}, geom.Box{X1: 120, Y1: 150, X2: 140, Y2: 170}, true}, // a part of it
	} {
		if got := onObject(c.look, c.left); got != c.want {
			t.Errorf("onObject(%v, %v) = %v, want %v (IoU %.2f)", c.look, c.left, got, c.want, c.look.IoU(c.left))
		}
	}
}

func signalsOf(evs []ViolationEvent) [][]string {
	var out [][]string
	for _, ev := range evs {
		out = append(out, ev.Signals)
	}
	return out
}

// The closer look uses the camera's first model that has a zoomer (one
// that names objects), of its own list or, when it names none, of the
// config's; none when no such model runs on it. A reload changing the
// camera's models chooses again.
func TestTheCloserLookUsesTheCamerasFirstModelThatNamesObjects(t *testing.T) {
	garbage, stalls := &detectors.Zoomer{}, &detectors.Zoomer{}
	c := &confirmer{zoomers: map[string]*detectors.Zoomer{"garbage": garbage, "stalls": stalls}, allModels: []string{"faces", "stalls", "garbage"}}
	for _, tc := range []struct {
		models []string
		want   *detectors.Zoomer
		name   string
	}{
		{nil, stalls, "stalls"},
		{[]string{"faces", "garbage"}, garbage, "garbage"},
		{[]string{"faces"}, nil, ""},
	} {
		c.useZoom(tc.models)
		if c.zoom != tc.want || c.zoomModel != tc.name {
			t.Errorf("camera models %v: zoom of %q, want %q", tc.models, c.zoomModel, tc.name)
		}
	}
}
