// Package frame holds decoded BGR pictures for detection and the pool that
// recycles them. It is the only part of media that links OpenCV: stages that
// only move encoded video (ingest, simulate, evidence history) never import it.
package frame

import (
	"image"
	"sync"
	"time"

	"gocv.io/x/gocv"
)

// Frame is one decoded picture in BGR (CV_8UC3), ready for gocv. Frames come
// from a Pool and go back to it with Release: the Mat's memory is reused
// from frame to frame, never allocated per picture.
type Frame struct {
	Camera string
	// PTS and Time are those of the access unit the picture came from.
	PTS  int64
	Time time.Time
	// Key is true when the picture was a keyframe.
	Key bool
	// Seq numbers the frames sampled from one camera, from 1.
	Seq uint64
	Mat gocv.Mat

	pool *Pool
	// load makes the picture of a pending frame (see Pool.Pending).
	load func(*Frame) error

	// small is the picture shrunk by Shrunk, this picture's while smallOK;
	// its memory stays with the frame from picture to picture.
	smallMu sync.Mutex
	small   gocv.Mat
	smallOK bool
}

// Width of the picture in pixels (0 without one: a pending frame).
func (f *Frame) Width() int {
	if f.Mat.Ptr() == nil {
		return 0
	}
	return f.Mat.Cols()
}

// Height of the picture in pixels (0 without one).
func (f *Frame) Height() int {
	if f.Mat.Ptr() == nil {
		return 0
	}
	return f.Mat.Rows()
}

// Ensure makes Mat a continuous BGR matrix of the given size, reusing the
// current one when it already is. It is called before a new picture is
// written into Mat.
func (f *Frame) Ensure(width, height int) {
	f.smallOK = false
	if f.Mat.Ptr() != nil && !f.Mat.Empty() && f.Mat.Cols() == width && f.Mat.Rows() == height {
		return
	}
	if f.Mat.Ptr() != nil {
		f.Mat.Close()
	}
	f.Mat = gocv.NewMatWithSize(height, width, gocv.MatTypeCV8UC3)
}

// Shrunk returns the picture resized to width×height (linear
// interpolation, as gocv.Resize), made once per picture and shared: the
// detector's letterbox and the left-object detector both shrink a 720p
// frame to 320×180, and the second gets the first's. The first size asked
// for a picture is the one kept; another size is resized into into (the
// caller's) and returned. Safe for concurrent use while the picture does
// not change; the returned Mat belongs to the frame (or to into) and is
// read only.
func (f *Frame) Shrunk(width, height int, into *gocv.Mat) gocv.Mat {
	if f.Mat.Cols() == width && f.Mat.Rows() == height {
		return f.Mat
	}
	f.smallMu.Lock()
	defer f.smallMu.Unlock()
	if f.smallOK {
		if f.small.Cols() == width && f.small.Rows() == height {
			return f.small
		}
		gocv.Resize(f.Mat, into, image.Pt(width, height), 0, 0, gocv.InterpolationLinear)
		return *into
	}
	if f.small.Ptr() == nil {
		f.small = gocv.NewMat()
	}
	gocv.Resize(f.Mat, &f.small, image.Pt(width, height), 0, 0, gocv.InterpolationLinear)
	f.smallOK = true
	return f.small
}

// dropSmall frees the shrunk picture of a frame about to be dropped.
func (f *Frame) dropSmall() {
	if f.small.Ptr() != nil {
		f.small.Close()
		f.small = gocv.Mat{}
	}
	f.smallOK = false
}

// Pending reports whether the frame's picture is still to be made by Load.
func (f *Frame) Pending() bool { return f.load != nil }

// Load makes a pending frame's picture, once; a frame that is not pending
// is left as it is. After an error the frame has no usable picture: the
// caller releases it.
func (f *Frame) Load() error {
	if f.load == nil {
		return nil
	}
	load := f.load
	f.load = nil
	return load(f)
}

// Reuse gives a frame without a picture the memory of a free frame of
// width×height from its pool, when the pool has one: for a loader about to
// write a picture of that size into it (Ensure then allocates nothing).
func (f *Frame) Reuse(width, height int) {
	if f.pool == nil || f.Mat.Ptr() != nil || width <= 0 || height <= 0 {
		return
	}
	f.pool.mu.Lock()
	defer f.pool.mu.Unlock()
	for i := len(f.pool.free) - 1; i >= 0; i-- {
		g := f.pool.free[i]
		if g.Mat.Ptr() != nil && !g.Mat.Empty() && g.Mat.Cols() == width && g.Mat.Rows() == height {
			f.pool.free = append(f.pool.free[:i], f.pool.free[i+1:]...)
			f.Mat, g.Mat = g.Mat, gocv.Mat{}
			if f.small.Ptr() == nil {
				f.small, g.small = g.small, gocv.Mat{}
			}
			g.dropSmall()
			f.smallOK = false
			return
		}
	}
}

// Release hands the frame back to its pool. The frame must not be used after.
func (f *Frame) Release() {
	if f.pool != nil {
		f.pool.put(f)
		return
	}
	f.close()
}

func (f *Frame) close() {
	if f.Mat.Ptr() != nil {
		f.Mat.Close()
	}
	f.dropSmall()
}

// Pool recycles frames (and their Mats). Get never blocks: when every
// frame is in use it makes a new one, so the number of frames in flight is
// bounded by the queues downstream, not by the pool. One pool may serve
// many cameras of different sizes (GetSized finds a frame of the right
// size): then what it keeps is bounded by maxFree, not by the camera
// count.
type Pool struct {
	mu     sync.Mutex
	free   []*Frame
	max    int
	closed bool
}

// NewPool keeps up to maxFree released frames for reuse.
func NewPool(maxFree int) *Pool {
	return &Pool{max: maxFree}
}

// Pending returns a frame without a picture: load makes it when the
// frame's consumer calls Load, on the consumer's goroutine. A queue of
// pending frames holds no pictures, and a pending frame released unloaded
// (dropped) costs nothing. The caller fills in the other fields.
func (p *Pool) Pending(load func(*Frame) error) *Frame {
	return &Frame{pool: p, load: load}
}

// Get returns a frame from the pool, or a new empty one.
func (p *Pool) Get() *Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		f := p.free[n-1]
		p.free = p.free[:n-1]
		return f
	}
	return &Frame{pool: p}
}

// GetSized returns a free frame whose picture is already width×height
// (Ensure then reuses its memory) when the pool has one, else as Get.
func (p *Pool) GetSized(width, height int) *Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.free) - 1; i >= 0; i-- {
		f := p.free[i]
		if f.Mat.Ptr() != nil && !f.Mat.Empty() && f.Mat.Cols() == width && f.Mat.Rows() == height {
			p.free = append(p.free[:i], p.free[i+1:]...)
			return f
		}
	}
	if n := len(p.free); n > 0 {
		f := p.free[n-1]
		p.free = p.free[:n-1]
		return f
	}
	return &Frame{pool: p}
}

// Picture returns a width×height BGR picture for a holder outside the
// frame flow (evidence decoding a kept keyframe again), from the memory of
// a free frame when the pool has one of that size: a 720p picture freshly
// allocated and first written costs more than decoding into a warm one.
// Give it back with Recycle, or Close it. A nil pool allocates it.
func (p *Pool) Picture(width, height int) gocv.Mat {
	if p == nil {
		return gocv.NewMatWithSize(height, width, gocv.MatTypeCV8UC3)
	}
	f := p.GetSized(width, height)
	f.Ensure(width, height)
	m := f.Mat
	f.Mat = gocv.Mat{}
	f.dropSmall() // f itself is dropped
	return m
}

// Recycle takes back a picture the caller owns (from Picture, or any
// Mat) as a free frame; the pool closes it when it keeps enough, or when
// it is not a continuous BGR picture like a frame's, or when the pool is
// nil. The caller must not use m after.
func (p *Pool) Recycle(m gocv.Mat) {
	if m.Ptr() == nil {
		return
	}
	if p == nil || m.Empty() || m.Type() != gocv.MatTypeCV8UC3 || !m.IsContinuous() {
		m.Close()
		return
	}
	p.put(&Frame{pool: p, Mat: m})
}

// Free is the number of frames kept for reuse.
func (p *Pool) Free() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}

func (p *Pool) put(f *Frame) {
	if f.load != nil {
		f.load = nil
		return // a pending frame dropped unloaded: no memory worth keeping
	}
	f.smallOK = false // the next picture is another
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.free) >= p.max {
		f.close()
		return
	}
	p.free = append(p.free, f)
}

// Close frees the pooled frames; frames released later are freed on release.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.free {
		f.close()
	}
	p.free = nil
	p.closed = true
}
