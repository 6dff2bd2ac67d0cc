package detectors

import "github.com/streetwatch/streetwatch/geom"

// ObjectFilter rejects implausible boxes of one class, as Frigate's object
// filters do. Zero fields are not checked. Ratio is width / height.
type ObjectFilter struct {
	MinArea, MaxArea   float32
	MinRatio, MaxRatio float32
}

func (f ObjectFilter) pass(b geom.Box) bool {
	a := b.Area()
	if a == 0 || (f.MinArea > 0 && a < f.MinArea) || (f.MaxArea > 0 && a > f.MaxArea) {
		return false
	}
	r := b.W() / b.H()
	return !(f.MinRatio > 0 && r < f.MinRatio) && !(f.MaxRatio > 0 && r > f.MaxRatio)
}

// CameraFilter is a camera's post-processing: score thresholds over the
// model's, false-positive filters and masks.
type CameraFilter struct {
	// Thresholds override the model's per-class minimum scores.
	Thresholds map[string]float32
	Filters    map[string]ObjectFilter
	// Masks are areas where detections are ignored: a detection whose
	// bottom centre lies in a mask is dropped.
	Masks []geom.Polygon
}

// keep applies the filter to one detection on a w×h frame.
func (cf *CameraFilter) keep(d Detection, modelThreshold float32, w, h int) bool {
	th := modelThreshold
	if cf != nil {
		if t, ok := cf.Thresholds[d.Class]; ok {
			th = t
		}
	}
	if d.Score < th {
		return false
	}
	if cf == nil {
		return true
	}
	if f, ok := cf.Filters[d.Class]; ok && !f.pass(d.Box) {
		return false
	}
	x, y := d.Box.BottomCenter()
	for _, m := range cf.Masks {
		if m.Scaled(w, h).Contains(x, y) {
			return false
		}
	}
	return true
}
