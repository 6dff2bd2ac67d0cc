package pipeline

import (
	"bytes"
	"image"
	"image/color"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/rules"
	"github.com/streetwatch/streetwatch/confirm/track"
	"github.com/streetwatch/streetwatch/internal/streamtest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/decode"
	"github.com/streetwatch/streetwatch/pipeline/history"
)

// Frames that may become evidence are kept as JPEG, encoded once however
// many tracks keep the same frame: a 720p frame costs a small fraction of
// its 2.7 MiB of BGR, and the picture the evidence stage gets back is the
// frame (mean error under 3 of 255 per channel on a noisy picture).
func TestKeptFramesAreSharedJPEGThatDecodeToTheFrame(t *testing.T) {
	c, cam := keptTestConfirmer(t)
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

// A keyframe of a camera with a video history is kept by reference, not
// encoded: the picture given for evidence is the keyframe decoded again
// from the history, exactly the frame detection saw, also once the
// history has spilled it to disk. A keyframe the history no longer holds
// gives no picture (as a frame that could not be kept), not a wrong one.
func TestKeptKeyframesAreReadBackFromTheHistory(t *testing.T) {
	aus := streamtest.Load(t, "h264_640x360.mp4").AUs
	var keys []*media.AccessUnit
	for _, au := range aus {
		if au.Key {
			keys = append(keys, au)
		}
	}
	if len(keys) < 3 {
		t.Fatalf("%d keyframes in the test file, want 3", len(keys))
	}
	// 512 KiB of RAM (a GOP of this file is about 200 KiB): the older GOPs go to disk.
	hm := history.NewMetrics(nil)
	h, err := history.New("cam", history.Config{MaxMemory: 512 << 10, SpillDir: t.TempDir(), Keep: time.Hour}, hm, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	mem := hm.Bytes.WithLabelValues("cam", "memory")
	for _, au := range aus {
		if au.Key {
			// The disk keeps up with a real-time camera: added all at
			// once, GOPs waiting to be spilled would be dropped (and the
			// kept keyframe with them).
			for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(mem) > 256<<10 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
		// A copy of its own, as ingest makes each unit (the file's units
		// share one buffer).
		h.Add(streamtest.NewAU(au.Codec, au.NALUs, au.PTS, au.Key, au.Width, au.Height, au.Session))
	}
	c, cam := keptTestConfirmer(t)
	c.history = h

	key := keys[1]
	f := &frame.Frame{Camera: cam.ID, Seq: 3, PTS: key.PTS, Time: key.Time, Key: true}
	defer f.Release()
	if _, err := decode.Keyframe(decode.Config{Codec: key.Codec}, key, f); err != nil {
		t.Fatal(err)
	}
	// The picture read back is decoded into a free frame of the pool,
	// not into fresh memory.
	pool := frame.NewPool(2)
	defer pool.Close()
	spare := pool.Get()
	spare.Ensure(f.Width(), f.Height())
	sparePtr := spare.Mat.Ptr()
	spare.Release()
	c.pictures = pool

	c.keep(c.best, 1, f, track.Sample{Time: f.Time})
	k := c.best[1]
	if k.jpeg != nil || k.key.pts != key.PTS {
		t.Fatalf("a keyframe was kept as %d bytes of JPEG, want by reference", len(k.jpeg))
	}
	disk := hm.Bytes.WithLabelValues("cam", "disk")
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(disk) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if testutil.ToFloat64(disk) == 0 {
		t.Fatal("the history spilled nothing to disk")
	}
	pic := c.picture(k)
	if pic.Ptr() == nil || pic.Empty() {
		t.Fatal("no picture read back from the history")
	}
	defer pool.Recycle(pic)
	if !bytes.Equal(pic.ToBytes(), f.Mat.ToBytes()) {
		t.Fatal("the picture read back from the history is not the frame detection saw")
	}
	if pic.Ptr() != sparePtr || pool.Free() != 0 {
		t.Fatalf("the picture read back was allocated (%d free frames left), want the pool's free frame", pool.Free())
	}

	// Not a keyframe, or no history: kept as JPEG.
	p := &frame.Frame{Camera: cam.ID, Seq: 4, PTS: key.PTS + 3600, Time: key.Time.Add(40 * time.Millisecond), Mat: f.Mat}
	c.keep(c.appear, 1, p, track.Sample{Time: p.Time})
	if len(c.appear[1].jpeg) == 0 {
		t.Fatal("a frame that is no keyframe was not kept as JPEG")
	}

	gone := keptFrame{}
	gone.key.pts, gone.key.at = keys[0].PTS-90000, keys[0].Time.Add(-time.Second)
	if pic := c.picture(gone); pic.Ptr() != nil {
		pic.Close()
		t.Fatal("a keyframe the history does not hold gave a picture")
	}
}

// A keyframe kept by reference that the history is about to let go (a
// track older than the history reaches) is copied as JPEG in time: its
// picture outlives the video. One well inside the history stays a
// reference, decoding nothing.
func TestAKeptKeyframeTheHistoryIsAboutToLetGoIsCopied(t *testing.T) {
	aus := streamtest.Looped(streamtest.Load(t, "h264_640x360.mp4").AUs, 16)
	c, cam := keptTestConfirmer(t)
	h := memoryHistory(t, 40*time.Second)
	c.history = h

	start := aus[0].Time
	half := slices.IndexFunc(aus, func(au *media.AccessUnit) bool { return au.Time.Sub(start) >= 80*time.Second })
	for _, au := range aus[:half] {
		h.Add(au)
	}
	// Oldest is now about 40 s in: a keyframe at 45 s is within keptMargin
	// of it, one at 75 s is not.
	keyAt := func(at time.Duration) *media.AccessUnit {
		i := slices.IndexFunc(aus, func(au *media.AccessUnit) bool { return au.Key && au.Time.Sub(start) >= at })
		return aus[i]
	}
	old, recent := keyAt(45*time.Second), keyAt(75*time.Second)
	want := &frame.Frame{}
	defer want.Release()
	if _, err := decode.Keyframe(decode.Config{Codec: old.Codec}, old, want); err != nil {
		t.Fatal(err)
	}
	for id, au := range map[uint64]*media.AccessUnit{1: old, 2: recent} {
		c.keep(c.best, id, &frame.Frame{Camera: cam.ID, PTS: au.PTS, Time: au.Time, Key: true}, track.Sample{Time: au.Time})
	}
	c.secureKept()
	if len(c.best[1].jpeg) == 0 || c.best[2].jpeg != nil {
		t.Fatalf("after securing: old kept as %d bytes of JPEG, recent as %d; want a copy of the old one only", len(c.best[1].jpeg), len(c.best[2].jpeg))
	}

	for _, au := range aus[half:] {
		h.Add(au)
	}
	ref := keptFrame{}
	ref.key.pts, ref.key.at = old.PTS, old.Time
	if pic, err := c.keyframePicture(ref); err == nil {
		pic.Close()
		t.Fatal("the history still holds the old keyframe: the test shows nothing")
	}
	pic := c.picture(c.best[1])
	if pic.Ptr() == nil || pic.Empty() {
		t.Fatal("the copied keyframe gave no picture once the history let it go")
	}
	defer pic.Close()
	diff := gocv.NewMat()
	defer diff.Close()
	gocv.AbsDiff(want.Mat, pic, &diff)
	if m := diff.Mean(); m.Val1 > 3 || m.Val2 > 3 || m.Val3 > 3 {
		t.Errorf("the copy differs from the keyframe by %.2f/%.2f/%.2f on average", m.Val1, m.Val2, m.Val3)
	}
}

// A history still filling up (the camera started less than Keep ago) lets
// nothing go before Keep: keyframes kept in its first seconds stay
// references, however close they are to its oldest video, until the
// history may let them go within keptMargin.
func TestAYoungHistoryHasKeptKeyframesCopiedNever(t *testing.T) {
	aus := streamtest.Looped(streamtest.Load(t, "h264_640x360.mp4").AUs, 3)
	const keep = 60 * time.Second // over 30 s of video plus keptMargin
	c, cam := keptTestConfirmer(t)
	h := memoryHistory(t, keep)
	c.history = h
	start := aus[0].Time
	var keys []*media.AccessUnit
	for _, au := range aus { // 30 s
		h.Add(au)
		if au.Key {
			keys = append(keys, au)
		}
	}
	if h.Oldest() != start || len(keys) < 2 {
		t.Fatalf("history from %v (%d keyframes), want everything from the start", h.Oldest().Sub(start), len(keys))
	}
	for i, au := range keys {
		c.keep(c.best, uint64(i), &frame.Frame{Camera: cam.ID, PTS: au.PTS, Time: au.Time, Key: true}, track.Sample{Time: au.Time})
	}
	c.secureKept()
	for i, au := range keys {
		if k := c.best[uint64(i)]; k.jpeg != nil {
			t.Errorf("the keyframe %v in was copied while the history lets nothing go for another %v", au.Time.Sub(start), keep-aus[len(aus)-1].Time.Sub(au.Time))
		}
	}
}

// keptTestConfirmer is a confirmer for camera "cam" with one zone over
// the whole picture, closed when the test ends.
func keptTestConfirmer(t *testing.T) (*confirmer, config.Camera) {
	t.Helper()
	cam := config.Camera{ID: "cam", Zones: []config.Zone{{Name: "all", Polygon: config.Polygon{{0, 0}, {1, 0}, {1, 1}, {0, 1}}}}}
	c, err := newConfirmer(cam, rules.FileStore{Dir: t.TempDir()}, rules.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c, cam
}

// memoryHistory is camera "cam"'s history in RAM alone, reaching keep
// back, closed when the test ends.
func memoryHistory(t *testing.T, keep time.Duration) *history.History {
	t.Helper()
	h, err := history.New("cam", history.Config{Keep: keep}, history.NewMetrics(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}
