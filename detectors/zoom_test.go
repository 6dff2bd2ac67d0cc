package detectors

import (
	"image"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media/frame"
)

func newTestZoomer(t *testing.T) *Zoomer {
	t.Helper()
	z, err := NewZoomer(loadTestModel(t, demoManifest(), SessionOptions{IntraOpThreads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(z.Close)
	return z
}

// A zoom on the whole picture is the batcher's look at it: the same
// letterbox, decoding and mapping back, so the same detections.
func TestZoomOnTheWholePictureIsTheBatchersLook(t *testing.T) {
	z := newTestZoomer(t)
	found := 0
	for _, p := range testImages(t) {
		f := imageFrame(t, p, "cam", 0)
		want := detectAll(t, map[string]*Model{"demo": z.m}, nil, 1, []*frame.Frame{imageFrame(t, p, "cam", 0)})[0]
		got, err := z.Detect(f.Mat, image.Rect(0, 0, f.Mat.Cols(), f.Mat.Rows()), "demo", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := sameDetections(got, want, 0.5); err != nil {
			t.Errorf("%s: zoom vs batcher: %v", filepath.Base(p), err)
		}
		found += len(want)
		f.Mat.Close()
	}
	if found == 0 {
		t.Fatal("nothing found in the test images: the comparison proves nothing")
	}
}

// A stall far from a 2560x1440 camera is too small for the model in the
// whole frame (8 pixels wide in its 320-pixel input), and a closer look
// around it finds it where it is: the rendered street of the test images,
// shrunk four times, stands in a corner of the same empty street at full
// size.
func TestZoomFindsWhatIsTooSmallInTheWholeFrame(t *testing.T) {
	z := newTestZoomer(t)
	dir := filepath.Join(mediatest.Root(), "testdata", "models")
	bg := gocv.IMRead(filepath.Join(dir, "empty-street.jpg"), gocv.IMReadColor)
	street := gocv.IMRead(filepath.Join(dir, "street-day.jpg"), gocv.IMReadColor)
	defer bg.Close()
	defer street.Close()
	canvas := gocv.NewMat()
	defer canvas.Close()
	gocv.Resize(bg, &canvas, image.Pt(2560, 1440), 0, 0, gocv.InterpolationLinear)
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(street, &small, image.Pt(320, 180), 0, 0, gocv.InterpolationArea)
	at := image.Pt(1800, 1000)
	dst := canvas.Region(image.Rectangle{Min: at, Max: at.Add(image.Pt(320, 180))})
	small.CopyTo(&dst)
	dst.Close()
	// street-day.jpg's stall (testdata/models/objects.json), a quarter of it.
	stall := geom.Box{X1: 729/4.0 + 1800, Y1: 131/4.0 + 1000, X2: 1005/4.0 + 1800, Y2: 449/4.0 + 1000}

	found := func(dets []Detection) float32 {
		var best float32
		for _, d := range dets {
			if d.Class == "vending_stall" {
				best = max(best, d.Box.IoU(stall))
			}
		}
		return best
	}
	whole, err := z.Detect(canvas, image.Rect(0, 0, 2560, 1440), "demo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if iou := found(whole); iou >= 0.5 {
		t.Fatalf("the whole frame finds the far stall (IoU %.2f): the test proves nothing", iou)
	}
	r := Around(stall, 2560, 1440)
	if r.Dx() != r.Dy() || r.Dx() < int(stall.H()*ZoomContext) || !image.Pt(int(stall.X1), int(stall.Y1)).In(r) {
		t.Fatalf("Around(%v) = %v: not a square %g times the stall around it", stall, r, ZoomContext)
	}
	near, err := z.Detect(canvas, r, "demo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if iou := found(near); iou < 0.5 {
		t.Fatalf("a closer look at %v did not find the stall at %v (best IoU %.2f): %v", r, stall, iou, near)
	}
}

// Around keeps the part inside the frame, and no larger than it.
func TestAroundStaysInTheFrame(t *testing.T) {
	for _, c := range []struct {
		b    geom.Box
		want image.Rectangle
	}{
		{geom.Box{X1: 0, Y1: 0, X2: 10, Y2: 10}, image.Rect(0, 0, 96, 96)},             // at least ZoomMinSide, moved in
		{geom.Box{X1: 620, Y1: 300, X2: 640, Y2: 360}, image.Rect(490, 210, 640, 360)}, // 150 square, moved in from the corner
		{geom.Box{X1: 100, Y1: 100, X2: 500, Y2: 300}, image.Rect(120, 0, 480, 360)},   // no larger than the frame's smaller side
	} {
		if got := Around(c.b, 640, 360); got != c.want {
			t.Errorf("Around(%v) in 640x360 = %v, want %v", c.b, got, c.want)
		}
	}
}
