package pipeline

import (
	"context"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/media/frame"
)

// A picture request is served by the camera's next processed frame, with
// that frame's detections; other cameras' frames do not serve it; a
// request given up is forgotten, and with nobody waiting nothing is
// encoded.
func TestPictureIsTheCamerasNextProcessedFrame(t *testing.T) {
	p := &Pipeline{cameras: []*Camera{{cfg: config.Camera{ID: "a"}}, {cfg: config.Camera{ID: "b"}}}}
	mat := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 255, 0), 72, 128, gocv.MatTypeCV8UC3)
	defer mat.Close()
	f := func(cam string) *frame.Frame {
		return &frame.Frame{Camera: cam, Time: time.Unix(1700000000, 0), Mat: mat}
	}
	dets := []detectors.Detection{{Class: "person", Score: 0.9, Box: geom.Box{X1: 1, Y1: 2, X2: 30, Y2: 40}}}

	if _, err := p.Picture(context.Background(), "nope"); err != ErrNoCamera {
		t.Errorf("unknown camera: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if _, err := p.Picture(ctx, "a"); err == nil {
		t.Error("a picture without any frame")
	}
	cancel()
	if n := p.pictures.waiting.Load(); n != 0 || len(p.pictures.want["a"]) != 0 {
		t.Errorf("a request given up is still waiting (%d)", n)
	}

	got := make(chan Picture, 1)
	go func() {
		pic, err := p.Picture(context.Background(), "a")
		if err != nil {
			t.Error(err)
		}
		got <- pic
	}()
	for p.pictures.waiting.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	p.pictures.take(f("b"), nil) // another camera's frame
	select {
	case <-got:
		t.Fatal("served by another camera's frame")
	case <-time.After(50 * time.Millisecond):
	}
	p.pictures.take(f("a"), dets)
	pic := <-got
	img, err := gocv.IMDecode(pic.JPEG, gocv.IMReadColor)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if pic.Camera != "a" || pic.Width != 128 || pic.Height != 72 || img.Cols() != 128 || !pic.Time.Equal(time.Unix(1700000000, 0)) ||
		len(pic.Detections) != 1 || pic.Detections[0].Class != "person" {
		t.Errorf("picture %+v (decoded %dx%d)", pic, img.Cols(), img.Rows())
	}
	if c := img.GetVecbAt(36, 64); c[2] < 240 || c[0] > 15 {
		t.Errorf("decoded pixel %v, want the frame's red", c)
	}
	if n := p.pictures.waiting.Load(); n != 0 {
		t.Errorf("%d requests still waiting", n)
	}
}
