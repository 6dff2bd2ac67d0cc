package detectors

import (
	"fmt"
	"image"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/geom"
)

// Zoomer runs a model on a part of a frame, enlarged to the model's input:
// a closer look, as DeepStream's secondary inference takes at an object
// the primary one found. On a whole 720p frame letterboxed to 320 pixels
// a vending stall 40 pixels wide is 17 pixels in the model's input, and
// on real backgrounds the demo model names few stalls so small; the same
// stall cut out with its surroundings (2.5 times its size) and enlarged
// is named as well as a rendered one (models/README.md, "Set l").
// It is for the rare object that needs it (one the left-object detector
// found and the model did not name), not for every frame: one image per
// run, on the caller's goroutine. Safe for concurrent use (runs are
// serialised).
type Zoomer struct {
	m *Model

	mu      sync.Mutex
	pre     *preprocessor
	in, out []float32
	t       [2]*ort.Tensor[float32]
	cands   []candidate
	th      []float32 // decode thresholds under a camera's
}

// NewZoomer makes a zoomer for model m, which must stay loaded while it
// is used. Close frees it.
func NewZoomer(m *Model) (*Zoomer, error) {
	batch := max(m.fixedBatch, 1)
	z := &Zoomer{m: m, pre: newPreprocessor(), in: make([]float32, batch*m.InputSize()), out: make([]float32, batch*m.OutputSize())}
	in := m.Manifest.Input
	pad := float32(in.Letterbox.PadValue) / 255
	for i := range z.in {
		z.in[i] = pad // the images padding a fixed batch: the letterbox's grey
	}
	var err error
	if z.t[0], err = ort.NewTensor(ort.NewShape(int64(batch), 3, int64(in.Height), int64(in.Width)), z.in); err != nil {
		z.pre.close()
		return nil, fmt.Errorf("zoom input tensor: %w", err)
	}
	if z.t[1], err = ort.NewTensor(ort.NewShape(int64(batch), int64(m.d1), int64(m.d2)), z.out); err != nil {
		z.Close()
		return nil, fmt.Errorf("zoom output tensor: %w", err)
	}
	return z, nil
}

// Close frees the zoomer's buffers.
func (z *Zoomer) Close() {
	z.mu.Lock()
	defer z.mu.Unlock()
	for i, t := range z.t {
		if t != nil {
			_ = t.Destroy()
			z.t[i] = nil
		}
	}
	if z.pre != nil {
		z.pre.close()
		z.pre = nil
	}
}

// ZoomContext is how much larger than the object the part looked at is,
// on each axis (its surroundings tell a stall from a bag), and ZoomMinSide
// the smallest part, in the frame's pixels: a bag 20 pixels wide is looked
// at in 96, enlarged 3.3 times at 320.
const (
	ZoomContext = 2.5
	ZoomMinSide = 96
)

// Around is the part of a w×h frame to look at for an object at box b: a
// square ZoomContext times its larger side (at least ZoomMinSide, at most
// the frame's smaller side) centred on it, moved inside the frame.
func Around(b geom.Box, w, h int) image.Rectangle {
	side := int(max(b.W(), b.H())*ZoomContext + 0.5)
	side = min(max(side, ZoomMinSide), w, h)
	cx, cy := int((b.X1+b.X2)/2), int((b.Y1+b.Y2)/2)
	x0 := min(max(cx-side/2, 0), w-side)
	y0 := min(max(cy-side/2, 0), h-side)
	return image.Rect(x0, y0, x0+side, y0+side)
}

// Detect runs the model on part r of BGR picture img and returns what it
// finds there, in img's pixels, kept as the batcher keeps the camera's
// detections (its thresholds over the model's, filters and masks: cf,
// nil for none; the model's name and SignalModel set).
func (z *Zoomer) Detect(img gocv.Mat, r image.Rectangle, model string, cf *CameraFilter) ([]Detection, error) {
	r = r.Intersect(image.Rect(0, 0, img.Cols(), img.Rows()))
	if r.Empty() {
		return nil, fmt.Errorf("zoom: part %v lies outside the %dx%d picture", r, img.Cols(), img.Rows())
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.pre == nil {
		return nil, fmt.Errorf("zoom: closed")
	}
	m := z.m
	in := m.Manifest.Input
	lb := newLetterbox(r.Dx(), r.Dy(), in.Width, in.Height, in.Letterbox.Centered)
	part := img.Region(r)
	defer part.Close()
	gocv.Resize(part, &z.pre.resized, image.Pt(lb.newW, lb.newH), 0, 0, gocv.InterpolationLinear)
	if err := z.pre.fillMat(z.in[:m.InputSize()], z.pre.resized, lb, in.Width, in.Height, float32(in.Letterbox.PadValue)/255); err != nil {
		return nil, fmt.Errorf("zoom: %w", err)
	}
	if err := m.session.Run([]ort.Value{z.t[0]}, []ort.Value{z.t[1]}); err != nil {
		return nil, fmt.Errorf("zoom: inference: %w", err)
	}
	th := m.thresholds
	if cf != nil && len(cf.Thresholds) > 0 {
		// Decoded at the lower of the model's and the camera's, as the
		// batcher does (newCameraTable); the camera's applies after.
		z.th = append(z.th[:0], m.thresholds...)
		for i, c := range m.Manifest.Classes {
			if t, ok := cf.Thresholds[c]; ok && t < z.th[i] {
				z.th[i] = t
			}
		}
		th = z.th
	}
	z.cands = decodeOutput(m.layout, z.out[:m.OutputSize()], m.d1, m.d2, m.nc, th, z.cands[:0])
	if m.layout != LayoutEnd2End {
		z.cands = nms(z.cands, m.Manifest.NMSIoU)
	}
	var out []Detection
	for _, c := range z.cands {
		b := lb.toNative(c.box)
		if b.Area() == 0 {
			continue // entirely in the padding
		}
		b = geom.Box{X1: b.X1 + float32(r.Min.X), Y1: b.Y1 + float32(r.Min.Y), X2: b.X2 + float32(r.Min.X), Y2: b.Y2 + float32(r.Min.Y)}
		d := Detection{Box: b, ClassID: c.class, Class: m.Manifest.Classes[c.class], Score: c.score, Model: model, Signals: SignalModel}
		if cf.keep(d, m.thresholds[c.class], img.Cols(), img.Rows()) {
			out = append(out, d)
		}
	}
	return out, nil
}
