// Package leftobject finds objects that newly appear in a camera's view and
// then stay still — a bag put down, a pile growing, a stall set up — without
// knowing what they are. It is the class-independent signal beside the ONNX
// model: a dumping must be caught even when no garbage class fires.
//
// It keeps two backgrounds of each camera's sampled frames at a reduced
// resolution (the "dual background" method for abandoned objects): a
// short-term one that absorbs anything still for a few seconds, and a
// long-term one that learns only where nothing is in front of it. A pixel
// that differs from the long-term background but not from the short-term
// one belongs to something that arrived and stopped; once such a region has
// been still for Config.StaticFor it is reported as a left_object
// detection. People and vehicles the model sees are masked out, so a person
// standing still is not a left object.
//
// What real cameras do is part of the design: light that changes slowly is
// followed (both backgrounds learn, and differences are taken after a global
// gain correction); a sudden global change (auto-exposure, IR switching, a
// cloud, the camera moved) re-baselines both backgrounds and reports nothing;
// sensor noise and rain are below the threshold after blurring or removed as
// specks; small shakes flicker in the short-term difference, so they never
// stay still long enough. Timing is in stream time, so it works at any
// sampling rate (a keyframe every 2 s is enough).
//
// It never sees tracks, zones or rules, and must not import them: it turns
// frames into detections, as the model does.
package leftobject

import (
	"fmt"
	"image"
	"math"
	"slices"
	"time"
	"unsafe"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
)

// Class is the class name of the detections, and Model their model name.
const (
	Class = "left_object"
	Model = "left_object"
)

// Config tunes one camera's detector. Zero fields take the defaults.
type Config struct {
	// Width of the working picture in pixels (default 320; the height
	// follows the frame's aspect ratio).
	Width int
	// MinArea and MaxArea bound a reported region, as a fraction of the
	// frame (defaults 0.001 and 0.25).
	MinArea, MaxArea float64
	// StaticFor is how long a region must stay still to be reported
	// (default 6 s). The rules then decide how long it must stay to count.
	StaticFor time.Duration
	// ShortTerm and LongTerm are the time constants of the two backgrounds
	// (defaults 5 s and 10 min).
	ShortTerm, LongTerm time.Duration
	// AbsorbAfter: a region still for this long becomes background (the
	// scene changed for good; default 30 min).
	AbsorbAfter time.Duration
	// Threshold is the grey-level difference (0..255) that counts as a
	// change, after blurring and gain correction (default 22).
	Threshold float32
	// GlobalChange is the fraction of the picture that, changed at once,
	// means the light or the camera changed, not the scene (default 0.3).
	GlobalChange float64
	// MaskMargin widens the boxes of people and vehicles, as a fraction of
	// their size, before they are masked out (default 0.15).
	MaskMargin float32
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Width <= 0 {
		c.Width = 320
	}
	if c.MinArea <= 0 {
		c.MinArea = 0.001
	}
	if c.MaxArea <= 0 {
		c.MaxArea = 0.25
	}
	def(&c.StaticFor, 6*time.Second)
	def(&c.ShortTerm, 5*time.Second)
	def(&c.LongTerm, 10*time.Minute)
	def(&c.AbsorbAfter, 30*time.Minute)
	if c.Threshold <= 0 {
		c.Threshold = 22
	}
	if c.GlobalChange <= 0 {
		c.GlobalChange = 0.3
	}
	if c.MaskMargin <= 0 {
		c.MaskMargin = 0.15
	}
	return c
}

// Detector is one camera's left-object detector. It is not safe for
// concurrent use: one camera's frames come one at a time.
type Detector struct {
	cfg Config

	// Working picture, reused: the frame shrunk, in grey, blurred.
	small, gray, blur gocv.Mat
	kernel, joiner    gocv.Mat
	mask              gocv.Mat // static pixels (255), then opened
	labels, stats     gocv.Mat
	centroids         gocv.Mat

	w, h, nativeW, nativeH int
	long, short            []float32 // backgrounds
	still                  []float32 // seconds each pixel has been still and new
	born                   []float32 // seconds each pixel has differed from the long-term background
	diff                   []float32 // this frame's difference from the long-term background
	excluded               []bool    // under a person or vehicle this frame
	staticPix              []byte
	ages                   []float32 // scratch for measure
	lab                    []int32   // the labels Mat's pixels, valid in regions
	gain                   float32   // light now, against the long-term background's
	last                   time.Time
	started                bool
}

// New returns a detector; Close frees it.
func New(cfg Config) *Detector {
	return &Detector{
		cfg:       cfg.withDefaults(),
		small:     gocv.NewMat(),
		gray:      gocv.NewMat(),
		blur:      gocv.NewMat(),
		kernel:    gocv.GetStructuringElement(gocv.MorphRect, image.Pt(3, 3)),
		joiner:    gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(9, 9)),
		mask:      gocv.NewMat(),
		labels:    gocv.NewMat(),
		stats:     gocv.NewMat(),
		centroids: gocv.NewMat(),
	}
}

// Close frees the detector's pictures.
func (d *Detector) Close() {
	for _, m := range []*gocv.Mat{&d.small, &d.gray, &d.blur, &d.kernel, &d.joiner, &d.mask, &d.labels, &d.stats, &d.centroids} {
		m.Close()
	}
}

// Reset forgets everything learnt: the next frame starts a new baseline.
func (d *Detector) Reset() { d.started = false }

// Detect takes one sampled BGR frame at stream time at, with the boxes (in
// the frame's pixels) of the people and vehicles the model found in it, and
// returns the regions that appeared and have stayed still, in the frame's
// pixels.
func (d *Detector) Detect(img gocv.Mat, at time.Time, exclude []geom.Box) ([]detectors.Detection, error) {
	if img.Empty() || img.Channels() != 3 {
		return nil, fmt.Errorf("left-object detector: want a BGR picture, got %dx%d with %d channels", img.Cols(), img.Rows(), img.Channels())
	}
	if err := d.prepare(img); err != nil {
		return nil, err
	}
	px, err := d.blur.DataPtrUint8()
	if err != nil {
		return nil, fmt.Errorf("left-object detector: %w", err)
	}
	if !d.started || at.Before(d.last) {
		d.baseline(px)
		d.last, d.started = at, true
		return nil, nil
	}
	dt := float32(at.Sub(d.last).Seconds())
	d.last = at
	d.rasterize(exclude)
	if !d.update(px, dt) {
		d.baseline(px) // the light or the camera changed: start again
		return nil, nil
	}
	return d.regions(at, px)
}

// prepare shrinks the frame to the working size, in grey, blurred; a new
// frame size starts a new baseline.
func (d *Detector) prepare(img gocv.Mat) error {
	w := min(d.cfg.Width, img.Cols())
	h := max(1, int(math.Round(float64(img.Rows())*float64(w)/float64(img.Cols()))))
	if w != d.w || h != d.h || img.Cols() != d.nativeW || img.Rows() != d.nativeH {
		d.w, d.h, d.nativeW, d.nativeH = w, h, img.Cols(), img.Rows()
		n := w * h
		d.long, d.short, d.still, d.diff = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		d.born = make([]float32, n)
		d.excluded, d.staticPix = make([]bool, n), make([]byte, n)
		d.started = false
	}
	gocv.Resize(img, &d.small, image.Pt(w, h), 0, 0, gocv.InterpolationLinear)
	gocv.CvtColor(d.small, &d.gray, gocv.ColorBGRToGray)
	gocv.GaussianBlur(d.gray, &d.blur, image.Pt(5, 5), 0, 0, gocv.BorderReplicate)
	if !d.blur.IsContinuous() {
		return fmt.Errorf("left-object detector: working picture is not continuous")
	}
	return nil
}

func (d *Detector) baseline(px []uint8) {
	for i, v := range px {
		d.long[i], d.short[i], d.still[i], d.born[i] = float32(v), float32(v), 0, 0
	}
	d.gain = 1
}

// rasterize marks the working pixels under people and vehicles.
func (d *Detector) rasterize(exclude []geom.Box) {
	clear(d.excluded)
	sx, sy := float32(d.w)/float32(d.nativeW), float32(d.h)/float32(d.nativeH)
	for _, b := range exclude {
		mx, my := b.W()*d.cfg.MaskMargin, b.H()*d.cfg.MaskMargin
		x1, y1 := clampInt(int((b.X1-mx)*sx), d.w), clampInt(int((b.Y1-my)*sy), d.h)
		x2, y2 := clampInt(int((b.X2+mx)*sx+1), d.w), clampInt(int((b.Y2+my)*sy+1), d.h)
		for y := y1; y < y2; y++ {
			row := d.excluded[y*d.w : (y+1)*d.w]
			for x := x1; x < x2; x++ {
				row[x] = true
			}
		}
	}
}

func clampInt(v, n int) int { return min(max(v, 0), n) }

// update compares the frame with both backgrounds, ages the still pixels
// and learns. It returns false when so much changed at once that the
// change is global (light, exposure, camera), not an object.
func (d *Detector) update(px []uint8, dt float32) bool {
	// Gain correction: a uniform change of light scales every grey level.
	// The backgrounds keep the light of their baseline; a gradual change
	// (dusk, clouds) is followed, a sudden one (exposure, IR) starts again.
	var sumI, sumL float64
	for i, v := range px {
		if !d.excluded[i] {
			sumI += float64(v)
			sumL += float64(d.long[i])
		}
	}
	gain := float32(1)
	if sumL > 0 {
		gain = float32(sumI / sumL)
	}
	if step := gain / d.gain; step < 0.8 || step > 1.25 || gain < 0.05 {
		return false
	}
	d.gain = gain
	aS := float32(1 - math.Exp(-float64(dt)/d.cfg.ShortTerm.Seconds()))
	aL := float32(1 - math.Exp(-float64(dt)/d.cfg.LongTerm.Seconds()))
	thr := d.cfg.Threshold
	absorb := float32(d.cfg.AbsorbAfter.Seconds())
	changed, counted := 0, 0
	for i, v := range px {
		f := float32(v)
		dl := abs32(f - gain*d.long[i])
		ds := abs32(f - gain*d.short[i])
		d.diff[i] = dl
		fl, fs := dl > thr, ds > thr
		switch {
		case d.excluded[i]:
			// Someone stands in front: keep what was there, learn nothing.
			continue
		case !fl:
			d.still[i], d.born[i] = 0, 0
			d.long[i] += aL * (f/gain - d.long[i])
		case !fs:
			d.still[i] += dt // new, and still
			d.born[i] += dt
		default:
			d.born[i] += dt
		}
		counted++
		if fl {
			changed++
		}
		d.short[i] += aS * (f/gain - d.short[i])
		if d.still[i] > absorb {
			d.long[i], d.still[i], d.born[i] = f/gain, 0, 0 // here for good: background now
		}
	}
	return counted == 0 || float64(changed) < d.cfg.GlobalChange*float64(counted)
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// regions turns the pixels still for StaticFor into boxes in native pixels.
func (d *Detector) regions(at time.Time, px []uint8) ([]detectors.Detection, error) {
	staticFor := float32(d.cfg.StaticFor.Seconds())
	any := false
	for i, s := range d.still {
		if s >= staticFor && !d.excluded[i] {
			d.staticPix[i] = 255
			any = true
		} else {
			d.staticPix[i] = 0
		}
	}
	if !any {
		return nil, nil
	}
	raw, err := gocv.NewMatFromBytes(d.h, d.w, gocv.MatTypeCV8U, d.staticPix)
	if err != nil {
		return nil, fmt.Errorf("left-object detector: %w", err)
	}
	defer raw.Close()
	// Specks go (noise, rain); the parts of one object that settled at
	// slightly different times are joined.
	gocv.MorphologyEx(raw, &d.mask, gocv.MorphOpen, d.kernel)
	gocv.MorphologyEx(d.mask, &d.mask, gocv.MorphClose, d.joiner)
	n := gocv.ConnectedComponentsWithStats(d.mask, &d.labels, &d.stats, &d.centroids)
	raw32, err := d.labels.DataPtrUint8()
	if err != nil || len(raw32) < 4*d.w*d.h {
		return nil, fmt.Errorf("left-object detector: labels: %v", err)
	}
	d.lab = unsafe.Slice((*int32)(unsafe.Pointer(&raw32[0])), d.w*d.h)
	total := float64(d.w * d.h)
	sx, sy := float32(d.nativeW)/float32(d.w), float32(d.nativeH)/float32(d.h)
	var out []detectors.Detection
	for l := 1; l < n; l++ { // 0 is the background
		x, y := int(d.stats.GetIntAt(l, 0)), int(d.stats.GetIntAt(l, 1))
		bw, bh := int(d.stats.GetIntAt(l, 2)), int(d.stats.GetIntAt(l, 3))
		area := float64(d.stats.GetIntAt(l, 4))
		if area < d.cfg.MinArea*total || area > d.cfg.MaxArea*total {
			continue
		}
		if d.ghost(px, x, y, bw, bh, int32(l)) {
			continue
		}
		score, age := d.measure(x, y, bw, bh, l)
		out = append(out, detectors.Detection{
			Box:   geom.Box{X1: float32(x) * sx, Y1: float32(y) * sy, X2: float32(x+bw) * sx, Y2: float32(y+bh) * sy},
			Class: Class, Score: score, Model: Model, Signals: detectors.SignalLeftObject,
			Since: at.Add(-time.Duration(age * float32(time.Second))),
		})
	}
	return out, nil
}

// ghost tells whether a region is where something left rather than
// arrived: the background uncovered by a person or cart that was part of
// the long-term background. A real object has its outline in the current
// picture; a ghost has it in the background only. A ghost is learnt into
// the long-term background at once and not reported.
func (d *Detector) ghost(px []uint8, x, y, bw, bh int, label int32) bool {
	var cur, bg float32
	w := d.w
	in := func(xx, yy int) bool {
		return xx >= 0 && yy >= 0 && xx < w && yy < d.h && d.lab[yy*w+xx] == label
	}
	for yy := max(y, 1); yy < min(y+bh, d.h-1); yy++ {
		for xx := max(x, 1); xx < min(x+bw, w-1); xx++ {
			if !in(xx, yy) || (in(xx-1, yy) && in(xx+1, yy) && in(xx, yy-1) && in(xx, yy+1)) {
				continue // outside, or inside away from the outline
			}
			i := yy*w + xx
			cur += abs32(float32(px[i+1])-float32(px[i-1])) + abs32(float32(px[i+w])-float32(px[i-w]))
			bg += d.gain * (abs32(d.long[i+1]-d.long[i-1]) + abs32(d.long[i+w]-d.long[i-w]))
		}
	}
	if bg <= 1.3*cur {
		return false
	}
	for yy := y; yy < y+bh; yy++ {
		for xx := x; xx < x+bw; xx++ {
			if i := yy*w + xx; d.lab[i] == label {
				d.long[i], d.still[i], d.born[i] = float32(px[i])/d.gain, 0, 0
			}
		}
	}
	return true
}

// measure scores a region — from 0.4 to 1, growing with its contrast
// against the background and with how long it has stayed — and says how
// long ago it appeared (seconds, the median pixel's).
func (d *Detector) measure(x, y, bw, bh, label int) (score, age float32) {
	var diff, still float32
	d.ages = d.ages[:0]
	n := 0
	for yy := y; yy < y+bh; yy++ {
		for xx := x; xx < x+bw; xx++ {
			if int(d.lab[yy*d.w+xx]) != label {
				continue
			}
			i := yy*d.w + xx
			diff += d.diff[i]
			still += d.still[i]
			d.ages = append(d.ages, d.born[i])
			n++
		}
	}
	if n == 0 {
		return 0.4, 0
	}
	slices.Sort(d.ages)
	age = d.ages[n/2]
	contrast := min(1, diff/float32(n)/(3*d.cfg.Threshold))
	persistence := min(1, still/float32(n)/(3*float32(d.cfg.StaticFor.Seconds())))
	return 0.4 + 0.3*contrast + 0.3*persistence, age
}
