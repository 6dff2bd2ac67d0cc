package evidence

import (
	"fmt"
	"image"
	"image/color"

	"gocv.io/x/gocv"
)

// Mark is one box to draw on an annotated snapshot.
type Mark struct {
	Rect  image.Rectangle
	Label string // e.g. "garbage_bag 0.83"
	Color color.RGBA
}

// Mark colours: the violation's object, its actor, other detections.
var (
	ColorObject = color.RGBA{R: 230, G: 40, B: 40, A: 255}
	ColorActor  = color.RGBA{R: 250, G: 170, B: 20, A: 255}
	ColorOther  = color.RGBA{R: 90, G: 200, B: 90, A: 255}
	colorZone   = color.RGBA{R: 40, G: 160, B: 255, A: 255}
)

// EncodeJPEG encodes a BGR picture as JPEG at the given quality (1-100).
func EncodeJPEG(m gocv.Mat, quality int) ([]byte, error) {
	if m.Ptr() == nil || m.Empty() {
		return nil, fmt.Errorf("evidence: no picture to encode")
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, m, []int{gocv.IMWriteJpegQuality, quality})
	if err != nil {
		return nil, fmt.Errorf("evidence: encode JPEG: %w", err)
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...), nil
}

// Annotate burns the zone polygon, the marks and the caption lines
// (camera, time, violation) into the picture itself: the recorder encodes
// the plain snapshot first, then draws on the same memory (copying the
// picture first was most of annotating's CPU). Sizes scale with the picture
// so the text stays readable from 360p to 4K.
func Annotate(dst *gocv.Mat, marks []Mark, zone []image.Point, caption []string) error {
	if dst.Ptr() == nil || dst.Empty() {
		return fmt.Errorf("evidence: no picture to annotate")
	}
	scale := float64(dst.Rows()) / 720
	thick := max(1, int(2*scale+0.5))
	font := gocv.FontHersheySimplex
	fontScale := 0.7 * scale

	if len(zone) >= 3 {
		pts := gocv.NewPointsVectorFromPoints([][]image.Point{zone})
		gocv.Polylines(dst, pts, true, colorZone, thick)
		pts.Close()
	}
	for _, m := range marks {
		gocv.Rectangle(dst, m.Rect, m.Color, thick+1)
		if m.Label == "" {
			continue
		}
		sz := gocv.GetTextSize(m.Label, font, fontScale, thick)
		y := m.Rect.Min.Y - 4
		if y-sz.Y < 0 {
			y = m.Rect.Min.Y + sz.Y + 4 // no room above: inside the box
		}
		bg := image.Rect(m.Rect.Min.X, y-sz.Y-4, m.Rect.Min.X+sz.X+6, y+4)
		gocv.Rectangle(dst, bg, m.Color, -1)
		gocv.PutText(dst, m.Label, image.Pt(m.Rect.Min.X+3, y), font, fontScale, color.RGBA{A: 255}, thick)
	}
	// Caption: white on a dark band at the top left.
	lineH := int(28 * scale)
	for i, line := range caption {
		sz := gocv.GetTextSize(line, font, fontScale, thick)
		y := (i + 1) * lineH
		gocv.Rectangle(dst, image.Rect(0, y-lineH+2, sz.X+16, y+6), color.RGBA{A: 255}, -1)
		gocv.PutText(dst, line, image.Pt(8, y), font, fontScale, color.RGBA{R: 255, G: 255, B: 255, A: 255}, thick)
	}
	return nil
}
