// Package gocvtest holds picture helpers for tests that use OpenCV.
package gocvtest

import (
	"image"
	"image/color"

	"gocv.io/x/gocv"
)

// Translated is a new picture of m with its content moved by by, the edge
// it uncovers repeating the border (a camera's view moved, a camera
// knocked aside). The matrix is zeroed first (a new Mat's memory is not),
// and warpAffine does not work in place. The caller closes the result.
func Translated(m gocv.Mat, by image.Point) gocv.Mat {
	shift := gocv.Zeros(2, 3, gocv.MatTypeCV64F)
	defer shift.Close()
	shift.SetDoubleAt(0, 0, 1)
	shift.SetDoubleAt(0, 2, float64(by.X))
	shift.SetDoubleAt(1, 1, 1)
	shift.SetDoubleAt(1, 2, float64(by.Y))
	out := gocv.NewMat()
	gocv.WarpAffineWithParams(m, &out, shift, image.Pt(m.Cols(), m.Rows()), gocv.InterpolationLinear, gocv.BorderReplicate, color.RGBA{})
	return out
}
