package pipeline

import (
	"image"
	"image/color"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/rules"
	"github.com/streetwatch/streetwatch/confirm/track"
	"github.com/streetwatch/streetwatch/media/frame"
)

// Frames that may become evidence are kept as JPEG, encoded once however
// many tracks keep the same frame: a 720p frame costs a small fraction of
// its 2.7 MiB of BGR, and the picture the evidence stage gets back is the
// frame (mean error under 3 of 255 per channel on a noisy picture).
func TestKeptFramesAreSharedJPEGThatDecodeToTheFrame(t *testing.T) {
	cam := config.Camera{ID: "cam", Zones: []config.Zone{{Name: "all", Polygon: config.Polygon{{0, 0}, {1, 0}, {1, 1}, {0, 1}}}}}
	c, err := newConfirmer(cam, rules.FileStore{Dir: t.TempDir()}, rules.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	// A street-like picture: smooth noise with edges.
	mat := gocv.NewMatWithSize(720, 1280, gocv.MatTypeCV8UC3)
	defer mat.Close()
	gocv.RandU(&mat, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(255, 255, 255, 0))
	gocv.GaussianBlur(mat, &mat, image.Pt(15, 15), 0, 0, gocv.BorderDefault)
	gocv.Rectangle(&mat, image.Rect(400, 300, 700, 600), color.RGBA{R: 200, G: 40, B: 20, A: 255}, -1)
	f := &frame.Frame{Camera: cam.ID, Seq: 7, Time: time.Unix(1_800_000_000, 0), Mat: mat}

	s := track.Sample{Time: f.Time}
	c.keep(c.best, 1, f, s)
	c.keep(c.appear, 1, f, s)
	c.keep(c.actors, 2, f, s)
	b, a, p := c.best[1].jpeg, c.appear[1].jpeg, c.actors[2].jpeg
	if len(b) == 0 || &b[0] != &a[0] || &b[0] != &p[0] {
		t.Fatal("one frame kept for three tracks was not encoded once and shared")
	}
	if bgr := 1280 * 720 * 3; len(b) > bgr/8 {
		t.Errorf("a kept 720p frame costs %d bytes, want well under its %d bytes of BGR", len(b), bgr)
	}

	pic := c.picture(c.best[1])
	defer pic.Close()
	if pic.Cols() != 1280 || pic.Rows() != 720 || pic.Type() != gocv.MatTypeCV8UC3 {
		t.Fatalf("picture %dx%d type %v", pic.Cols(), pic.Rows(), pic.Type())
	}
	diff := gocv.NewMat()
	defer diff.Close()
	gocv.AbsDiff(mat, pic, &diff)
	if m := diff.Mean(); m.Val1 > 3 || m.Val2 > 3 || m.Val3 > 3 {
		t.Errorf("picture differs from the frame by %.2f/%.2f/%.2f on average", m.Val1, m.Val2, m.Val3)
	}

	// A later frame is encoded anew.
	f2 := &frame.Frame{Camera: cam.ID, Seq: 8, Time: f.Time.Add(time.Second), Mat: mat}
	c.keep(c.best, 1, f2, track.Sample{Time: f2.Time})
	if &c.best[1].jpeg[0] == &b[0] || !c.best[1].sample.Time.Equal(f2.Time) {
		t.Error("a new frame reused the previous frame's encoding")
	}
}
