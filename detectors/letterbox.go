package detectors

import (
	"math"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/media/frame"
)

// letterbox maps a frame into the model input: scaled to fit, keeping the
// aspect ratio, padded (centred, as Ultralytics does) with grey.
type letterbox struct {
	scale      float32
	left, top  int
	newW, newH int
	srcW, srcH int
}

func newLetterbox(srcW, srcH, dstW, dstH int, centered bool) letterbox {
	r := math.Min(float64(dstW)/float64(srcW), float64(dstH)/float64(srcH))
	nw, nh := int(math.Round(float64(srcW)*r)), int(math.Round(float64(srcH)*r))
	nw, nh = min(max(nw, 1), dstW), min(max(nh, 1), dstH)
	lb := letterbox{scale: float32(r), newW: nw, newH: nh, srcW: srcW, srcH: srcH}
	if centered {
		// Ultralytics: top = round(dh/2 - 0.1), left = round(dw/2 - 0.1).
		lb.left = int(math.Round(float64(dstW-nw)/2 - 0.1))
		lb.top = int(math.Round(float64(dstH-nh)/2 - 0.1))
	}
	return lb
}

// toNative maps a box from model-input pixels back to the frame's pixels,
// clipped to the frame.
func (l letterbox) toNative(b geom.Box) geom.Box {
	fx := func(x float32) float32 { return clamp((x-float32(l.left))/l.scale, 0, float32(l.srcW)) }
	fy := func(y float32) float32 { return clamp((y-float32(l.top))/l.scale, 0, float32(l.srcH)) }
	return geom.Box{X1: fx(b.X1), Y1: fy(b.Y1), X2: fx(b.X2), Y2: fy(b.Y2)}
}

func clamp(v, lo, hi float32) float32 { return min(max(v, lo), hi) }

// preprocessor letterboxes BGR frames into NCHW float RGB [0,1]. Each has
// its own resize buffer: one per worker goroutine.
type preprocessor struct {
	resized gocv.Mat
	lut     [256]float32
}

func newPreprocessor() *preprocessor {
	p := &preprocessor{resized: gocv.NewMat()}
	for i := range p.lut {
		p.lut[i] = float32(i) / 255
	}
	return p
}

func (p *preprocessor) close() { p.resized.Close() }

// fill writes one frame's picture into dst (3·W·H floats, planes R, G,
// B). The picture is shrunk by the frame (frame.Shrunk), which keeps it for
// the left-object detector.
func (p *preprocessor) fill(dst []float32, f *frame.Frame, lb letterbox, w, h int, pad float32) error {
	img := f.Mat
	if lb.newW != img.Cols() || lb.newH != img.Rows() {
		img = f.Shrunk(lb.newW, lb.newH, &p.resized)
	}
	return p.fillMat(dst, img, lb, w, h, pad)
}

// fillMat writes picture img, already lb.newW×lb.newH, into dst as fill.
func (p *preprocessor) fillMat(dst []float32, img gocv.Mat, lb letterbox, w, h int, pad float32) error {
	pix, err := img.DataPtrUint8()
	if err != nil {
		return err
	}
	step := img.Step()
	plane := w * h
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	for y := 0; y < h; y++ {
		row := y * w
		iy := y - lb.top
		if iy < 0 || iy >= lb.newH {
			fillPad(r[row:row+w], g[row:row+w], b[row:row+w], pad)
			continue
		}
		fillPad(r[row:row+lb.left], g[row:row+lb.left], b[row:row+lb.left], pad)
		end := lb.left + lb.newW
		fillPad(r[row+end:row+w], g[row+end:row+w], b[row+end:row+w], pad)
		src := pix[iy*step : iy*step+3*lb.newW]
		rr, gg, bb := r[row+lb.left:row+end], g[row+lb.left:row+end], b[row+lb.left:row+end]
		for x := range lb.newW {
			bb[x] = p.lut[src[3*x]]
			gg[x] = p.lut[src[3*x+1]]
			rr[x] = p.lut[src[3*x+2]]
		}
	}
	return nil
}

func fillPad(r, g, b []float32, v float32) {
	for i := range r {
		r[i], g[i], b[i] = v, v, v
	}
}
