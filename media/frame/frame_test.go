package frame

import (
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"
)

// One pool serves cameras of different sizes: GetSized hands each the
// frame whose Mat already has its size (no reallocation), and the pool
// keeps at most maxFree frames however many cameras release into it.
func TestSharedPoolHandsOutFramesOfTheRightSize(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	hd, small := p.Get(), p.Get()
	hd.Ensure(1280, 720)
	small.Ensure(640, 360)
	hdPtr, smallPtr := hd.Mat.Ptr(), small.Mat.Ptr()
	hd.Release()
	small.Release() // the newest free frame is the small one

	f := p.GetSized(1280, 720)
	if f.Mat.Ptr() != hdPtr || f.Width() != 1280 {
		t.Errorf("GetSized(1280, 720) gave a %dx%d frame", f.Width(), f.Height())
	}
	g := p.GetSized(640, 360)
	if g.Mat.Ptr() != smallPtr {
		t.Errorf("GetSized(640, 360) gave a %dx%d frame", g.Width(), g.Height())
	}
	// No frame of the size: any free one (Ensure resizes it), else a new one.
	g.Release()
	if h := p.GetSized(1920, 1080); h.Mat.Ptr() != smallPtr {
		t.Errorf("GetSized of a new size did not reuse the free frame")
	} else {
		h.Release()
	}
	f.Release()

	var many []*Frame
	for range 10 {
		m := p.GetSized(320, 240)
		m.Ensure(320, 240)
		many = append(many, m)
	}
	for _, m := range many {
		m.Release()
	}
	if n := p.Free(); n != 3 {
		t.Errorf("pool keeps %d frames, want its bound 3", n)
	}
}

// A pending frame holds no picture until Load makes it, once, with the
// memory of a free frame of the size when the pool has one; one released
// unloaded (dropped from a queue) is never loaded and not kept.
func TestPendingFrameHoldsNoPictureUntilLoaded(t *testing.T) {
	p := NewPool(4)
	defer p.Close()
	spare := p.Get()
	spare.Ensure(64, 48)
	sparePtr := spare.Mat.Ptr()
	spare.Release()

	loads := 0
	load := func(f *Frame) error {
		loads++
		f.Reuse(64, 48)
		f.Ensure(64, 48)
		return nil
	}
	f := p.Pending(load)
	if !f.Pending() || f.Mat.Ptr() != nil {
		t.Fatal("a pending frame holds a picture before Load")
	}
	if err := f.Load(); err != nil {
		t.Fatal(err)
	}
	if err := f.Load(); err != nil || loads != 1 {
		t.Fatalf("load ran %d times for two Loads (err %v), want once", loads, err)
	}
	if f.Pending() || f.Mat.Ptr() != sparePtr || p.Free() != 0 {
		t.Fatalf("loaded frame: pending %v, reused the free picture %v, %d free", f.Pending(), f.Mat.Ptr() == sparePtr, p.Free())
	}
	f.Release()
	if p.Free() != 1 {
		t.Fatalf("%d free after releasing the loaded frame, want 1", p.Free())
	}

	dropped := p.Pending(load)
	dropped.Release()
	if loads != 1 || p.Free() != 1 {
		t.Fatalf("a pending frame released unloaded: %d loads, %d free, want 1 and 1", loads, p.Free())
	}
	if g := p.GetSized(64, 48); g.Mat.Ptr() != sparePtr || g.Pending() {
		t.Fatal("the pool did not hand out its kept picture")
	} else {
		g.Release()
	}
}

// A frame without a picture (pending, or whose load failed) has no size:
// asking does not reach into a missing Mat.
func TestAFrameWithoutAPictureHasNoSize(t *testing.T) {
	p := NewPool(1)
	defer p.Close()
	f := p.Pending(func(*Frame) error { return nil })
	if f.Width() != 0 || f.Height() != 0 {
		t.Fatalf("a pending frame is %dx%d", f.Width(), f.Height())
	}
	f.Release()
}

// A picture lent out of the pool (evidence decoding a kept keyframe) is a
// free frame's memory when one of the size is free, and comes back as a
// free frame; beyond what the pool keeps, it is closed.
func TestPicturesAreLentFromTheFreeFramesAndRecycled(t *testing.T) {
	p := NewPool(1)
	defer p.Close()
	spare := p.Get()
	spare.Ensure(64, 48)
	sparePtr := spare.Mat.Ptr()
	spare.Release()

	m := p.Picture(64, 48)
	if m.Ptr() != sparePtr || m.Cols() != 64 || m.Rows() != 48 || p.Free() != 0 {
		t.Fatalf("lent picture %dx%d, the free frame's memory %v, %d free; want 64x48 from it and none free", m.Cols(), m.Rows(), m.Ptr() == sparePtr, p.Free())
	}
	other := p.Picture(32, 24) // none free: a new one
	if other.Cols() != 32 || other.Rows() != 24 {
		t.Fatalf("new picture %dx%d, want 32x24", other.Cols(), other.Rows())
	}
	p.Recycle(gocv.NewMatWithSize(48, 64, gocv.MatTypeCV8U)) // not a frame's kind: closed
	p.Recycle(gocv.Mat{})
	if p.Free() != 0 {
		t.Fatalf("%d free after recycling a grey picture and none, want 0", p.Free())
	}
	p.Recycle(m)
	p.Recycle(other) // the pool keeps one: closed
	if p.Free() != 1 {
		t.Fatalf("%d free after recycling, want 1", p.Free())
	}
	if g := p.GetSized(64, 48); g.Mat.Ptr() != sparePtr {
		t.Fatal("the recycled picture is not handed out again")
	} else {
		g.Release()
	}
}

// The picture shrunk once serves every stage that asks for that size, is
// exactly what gocv.Resize makes, and belongs to one picture only: a new
// picture in the frame (written after Ensure, or in a frame back from
// the pool) is shrunk again.
func TestShrunkIsMadeOncePerPicture(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	paint := func(f *Frame, v float64) {
		f.Ensure(640, 360)
		f.Mat.SetTo(gocv.NewScalar(v, v+1, v+2, 0))
		gocv.Rectangle(&f.Mat, image.Rect(100, 100, 300, 200), color.RGBA{R: uint8(v) + 50, A: 255}, -1)
	}
	same := func(a, b gocv.Mat) bool {
		d := gocv.NewMat()
		defer d.Close()
		gocv.AbsDiff(a, b, &d)
		return a.Cols() == b.Cols() && a.Rows() == b.Rows() && d.Sum().Val1+d.Sum().Val2+d.Sum().Val3 == 0
	}
	want := gocv.NewMat()
	defer want.Close()
	into := gocv.NewMat()
	defer into.Close()

	f := p.Get()
	paint(f, 10)
	gocv.Resize(f.Mat, &want, image.Pt(160, 90), 0, 0, gocv.InterpolationLinear)
	first := f.Shrunk(160, 90, &into)
	if !same(first, want) {
		t.Fatal("Shrunk(160, 90) is not gocv.Resize's linear 160x90 picture")
	}
	// The same picture, asked again: the kept one, not a new resize (the
	// Mat is changed behind the frame's back to tell them apart).
	f.Mat.SetTo(gocv.NewScalar(200, 200, 200, 0))
	if again := f.Shrunk(160, 90, &into); again.Ptr() != first.Ptr() || !same(again, want) {
		t.Error("a second Shrunk of the same picture shrank it again")
	}
	// Another size: made into the caller's Mat, the kept one untouched.
	if other := f.Shrunk(320, 180, &into); other.Ptr() != into.Ptr() || other.Cols() != 320 {
		t.Errorf("Shrunk(320, 180) after (160, 90): %dx%d, not in the caller's Mat", other.Cols(), other.Rows())
	}
	if !same(f.Shrunk(160, 90, &into), want) {
		t.Error("another size replaced the kept picture")
	}
	// The picture's own size: the picture itself.
	if m := f.Shrunk(640, 360, &into); m.Ptr() != f.Mat.Ptr() {
		t.Error("Shrunk to the picture's size is not the picture")
	}

	// A new picture in the same frame.
	paint(f, 90)
	gocv.Resize(f.Mat, &want, image.Pt(160, 90), 0, 0, gocv.InterpolationLinear)
	if !same(f.Shrunk(160, 90, &into), want) {
		t.Error("after Ensure and a new picture, Shrunk gave the old picture's")
	}
	// The frame back from the pool with a picture written straight into
	// its Mat (as a decoder of the same size does, Ensure reusing it).
	f.Release()
	g := p.GetSized(640, 360)
	defer g.Release()
	g.Mat.SetTo(gocv.NewScalar(30, 60, 90, 0))
	gocv.Resize(g.Mat, &want, image.Pt(160, 90), 0, 0, gocv.InterpolationLinear)
	if !same(g.Shrunk(160, 90, &into), want) {
		t.Error("a frame from the pool gave the shrunk picture of its previous life")
	}
}
