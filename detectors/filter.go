package detectors

// Point is a position in pixels (or 0..1 when a polygon is normalised).
type Point struct{ X, Y float32 }

// Polygon is a closed polygon. When every coordinate is within 0..1 it is
// normalised to the frame size; otherwise it is in native pixels.
type Polygon []Point

// Normalized reports whether all coordinates are within 0..1.
func (p Polygon) Normalized() bool {
	for _, q := range p {
		if q.X < 0 || q.X > 1 || q.Y < 0 || q.Y > 1 {
			return false
		}
	}
	return true
}

// Scaled returns the polygon in pixels of a w×h frame.
func (p Polygon) Scaled(w, h int) Polygon {
	if !p.Normalized() {
		return p
	}
	out := make(Polygon, len(p))
	for i, q := range p {
		out[i] = Point{q.X * float32(w), q.Y * float32(h)}
	}
	return out
}

// Contains tells whether (x, y) is inside (even-odd rule; points on an edge
// may go either way).
func (p Polygon) Contains(x, y float32) bool {
	in := false
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		a, b := p[i], p[j]
		if (a.Y > y) != (b.Y > y) && x < (b.X-a.X)*(y-a.Y)/(b.Y-a.Y)+a.X {
			in = !in
		}
	}
	return in
}

// ObjectFilter rejects implausible boxes of one class, as Frigate's object
// filters do. Zero fields are not checked. Ratio is width / height.
type ObjectFilter struct {
	MinArea, MaxArea   float32
	MinRatio, MaxRatio float32
}

func (f ObjectFilter) pass(b Box) bool {
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
	Masks []Polygon
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
