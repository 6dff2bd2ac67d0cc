// Package geom holds the plane geometry every stage shares: boxes in
// pixels, points and polygons (zones). It imports nothing of StreetWatch.
package geom

import (
	"fmt"
	"image"
)

// Box is an axis-aligned rectangle in pixels: X1,Y1 top-left, X2,Y2 bottom-right.
type Box struct{ X1, Y1, X2, Y2 float32 }

// W is the box width.
func (b Box) W() float32 { return b.X2 - b.X1 }

// H is the box height.
func (b Box) H() float32 { return b.Y2 - b.Y1 }

// Area of the box.
func (b Box) Area() float32 {
	if b.X2 <= b.X1 || b.Y2 <= b.Y1 {
		return 0
	}
	return (b.X2 - b.X1) * (b.Y2 - b.Y1)
}

// IoU is intersection over union.
func (b Box) IoU(o Box) float32 {
	inter := b.intersection(o)
	if inter == 0 {
		return 0
	}
	return inter / (b.Area() + o.Area() - inter)
}

// Within is the share of b that lies inside o: 1 for a box inside
// another, however much smaller (where IoU is small).
func (b Box) Within(o Box) float32 {
	inter := b.intersection(o)
	if inter == 0 {
		return 0
	}
	return inter / b.Area()
}

func (b Box) intersection(o Box) float32 {
	ix := min(b.X2, o.X2) - max(b.X1, o.X1)
	iy := min(b.Y2, o.Y2) - max(b.Y1, o.Y1)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	return ix * iy
}

// BottomCenter is where an object touches the ground: what zones test.
func (b Box) BottomCenter() (x, y float32) { return (b.X1 + b.X2) / 2, b.Y2 }

// Rect rounds the box to an image.Rectangle.
func (b Box) Rect() image.Rectangle {
	return image.Rect(int(b.X1+0.5), int(b.Y1+0.5), int(b.X2+0.5), int(b.Y2+0.5))
}

func (b Box) String() string {
	return fmt.Sprintf("[%.1f,%.1f,%.1f,%.1f]", b.X1, b.Y1, b.X2, b.Y2)
}

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
