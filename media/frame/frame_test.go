package frame

import "testing"

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
