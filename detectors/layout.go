package detectors

import (
	"fmt"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/geom"
)

// candidate is a decoded box before NMS, in model-input pixels.
type candidate struct {
	box   geom.Box
	class int
	score float32
}

// detectLayout picks the layout from the output shape [B, d1, d2] and the
// class count, or checks a declared one. Errors name the model and tensor.
func detectLayout(model, tensor string, declared string, shape []int64, nc int) (string, error) {
	if len(shape) != 3 {
		return "", fmt.Errorf("model %q: output %q has shape %v; want 3 dimensions [batch, ·, ·]", model, tensor, shape)
	}
	d1, d2 := shape[1], shape[2]
	fits := map[string]bool{
		LayoutYOLOv8:  d1 == int64(4+nc) && d2 > 0,
		LayoutYOLOv5:  d2 == int64(5+nc) && d1 > 0,
		LayoutEnd2End: d2 == 6 && d1 > 0,
	}
	if declared != "" {
		if !fits[declared] {
			want := map[string]string{
				LayoutYOLOv8:  fmt.Sprintf("[B, %d, N]", 4+nc),
				LayoutYOLOv5:  fmt.Sprintf("[B, N, %d]", 5+nc),
				LayoutEnd2End: "[B, N, 6]",
			}[declared]
			return "", fmt.Errorf("model %q: %w", model, config.FieldError{Path: "layout",
				Msg: fmt.Sprintf("output %q has shape %v, but layout %s with %d classes needs %s", tensor, shape, declared, nc, want)})
		}
		return declared, nil
	}
	var found []string
	for _, l := range []string{LayoutYOLOv8, LayoutYOLOv5, LayoutEnd2End} {
		if fits[l] {
			found = append(found, l)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("model %q: %w", model, config.FieldError{Path: "classes",
			Msg: fmt.Sprintf("output %q has shape %v, which fits no known layout for %d classes "+
				"(yolov8 [B, %d, N], yolov5 [B, N, %d], end2end [B, N, 6]): is the class list the model's?", tensor, shape, nc, 4+nc, 5+nc)})
	}
	return "", fmt.Errorf("model %q: %w", model, config.FieldError{Path: "layout",
		Msg: fmt.Sprintf("output %q shape %v fits layouts %v: set one", tensor, shape, found)})
}

// decodeOutput appends the candidates of one image (out is that image's
// slice of the output tensor) that reach their class threshold.
func decodeOutput(layout string, out []float32, d1, d2, nc int, thresholds []float32, dst []candidate) []candidate {
	switch layout {
	case LayoutYOLOv8: // [4+nc, N], attribute-major
		n := d2
		for i := 0; i < n; i++ {
			best, bestScore := -1, float32(0)
			for c := 0; c < nc; c++ {
				if s := out[(4+c)*n+i]; s >= thresholds[c] && s > bestScore {
					best, bestScore = c, s
				}
			}
			if best < 0 {
				continue
			}
			cx, cy, w, h := out[i], out[n+i], out[2*n+i], out[3*n+i]
			dst = append(dst, candidate{geom.Box{X1: cx - w/2, Y1: cy - h/2, X2: cx + w/2, Y2: cy + h/2}, best, bestScore})
		}
	case LayoutYOLOv5: // [N, 5+nc], box-major; score = objectness × class
		stride := d2
		for i := 0; i < d1; i++ {
			row := out[i*stride : (i+1)*stride]
			obj := row[4]
			best, bestScore := -1, float32(0)
			for c := 0; c < nc; c++ {
				if s := obj * row[5+c]; s >= thresholds[c] && s > bestScore {
					best, bestScore = c, s
				}
			}
			if best < 0 {
				continue
			}
			cx, cy, w, h := row[0], row[1], row[2], row[3]
			dst = append(dst, candidate{geom.Box{X1: cx - w/2, Y1: cy - h/2, X2: cx + w/2, Y2: cy + h/2}, best, bestScore})
		}
	case LayoutEnd2End: // [N, 6]: x1, y1, x2, y2, score, class
		for i := 0; i < d1; i++ {
			row := out[i*6 : i*6+6]
			c := int(row[5] + 0.5)
			if c < 0 || c >= nc || row[4] < thresholds[c] {
				continue
			}
			dst = append(dst, candidate{geom.Box{X1: row[0], Y1: row[1], X2: row[2], Y2: row[3]}, c, row[4]})
		}
	}
	return dst
}
