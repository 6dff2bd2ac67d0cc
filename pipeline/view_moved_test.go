package pipeline

import (
	"image"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/internal/gocvtest"
	"github.com/streetwatch/streetwatch/media/frame"
)

// A camera knocked aside shows in streetwatch_camera_view_moved_pixels as
// long as its view stays moved, and as 0 once the view is back (the
// left-object detector follows it; the alert StreetWatchCameraViewMoved
// reads the gauge).
func TestAKnockedCameraShowsInTheViewMovedGauge(t *testing.T) {
	cam, c := kerbConfirmer(t, true)
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "moved"})
	c.viewMoved = gauge
	street := blotches(t, 640, 360)
	knocked := shifted(t, street, image.Pt(16, -6))
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	// show plays m from second from to second to, then checks the gauge.
	show := func(from, to int, m gocv.Mat, want float64, what string) {
		t.Helper()
		for s := from; s < to; s++ {
			f := &frame.Frame{Camera: c.camera, Mat: m, Time: t0.Add(time.Duration(s) * time.Second)}
			c.addLeftObjects(f, nil)
			f.Mat = gocv.Mat{} // the test's: Release frees only the frame's shrunk picture
			f.Release()
		}
		if got := testutil.ToFloat64(gauge); got != want {
			t.Fatalf("%s: gauge %v, want %v", what, got, want)
		}
	}
	show(0, 5, street, 0, "still camera")
	show(5, 10, knocked, 16, "camera knocked 16 px across and 6 up")
	show(10, 12, street, 0, "camera back in place")
	// Knocked again, then a reload turns the detector off: nothing
	// measures the move any more, and the gauge says none.
	show(12, 15, knocked, 16, "knocked again")
	off := cam
	off.LeftObjects.Enabled = new(false)
	c.pending.Store(&off)
	c.applyPending()
	if c.left != nil || testutil.ToFloat64(gauge) != 0 {
		t.Fatalf("reloaded without left objects: detector %v, gauge %v; want none and 0", c.left != nil, testutil.ToFloat64(gauge))
	}
}

// blotches is a street-like picture with no repeating pattern: random grey
// levels on a coarse grid, smoothly interpolated, from a fixed seed.
func blotches(t *testing.T, w, h int) gocv.Mat {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	coarse := gocv.NewMatWithSize(h/8, w/8, gocv.MatTypeCV8UC3)
	defer coarse.Close()
	for y := range h / 8 {
		for x := range w / 8 {
			v := uint8(60 + rng.IntN(120))
			for ch := range 3 {
				coarse.SetUCharAt(y, x*3+ch, v)
			}
		}
	}
	m := gocv.NewMat()
	t.Cleanup(func() { m.Close() })
	gocv.Resize(coarse, &m, image.Pt(w, h), 0, 0, gocv.InterpolationLinear)
	return m
}

// shifted is m with its content moved by by (the edge it uncovers
// repeating the border), as a camera knocked aside sees the same street.
func shifted(t *testing.T, m gocv.Mat, by image.Point) gocv.Mat {
	t.Helper()
	out := gocvtest.Translated(m, by)
	t.Cleanup(func() { out.Close() })
	return out
}
