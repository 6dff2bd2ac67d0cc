// Package detectors turns sampled frames into detections with ONNX models:
// ONNX Runtime sessions, model manifests, letterbox pre-processing, YOLO
// output decoding (yolov8, yolov5, end2end), NMS, per-class thresholds,
// false-positive filters and masks, and the scheduler that batches frames
// from all cameras into one inference per batch.
//
// It must never block the stages before it (frames come from a bounded,
// drop-oldest queue) and never allocate large buffers per frame: input and
// output tensors are allocated once per batch size and reused.
package detectors

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
	ix := min(b.X2, o.X2) - max(b.X1, o.X1)
	iy := min(b.Y2, o.Y2) - max(b.Y1, o.Y1)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	inter := ix * iy
	return inter / (b.Area() + o.Area() - inter)
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

// Detection is one object found in a frame, in the frame's native pixels.
type Detection struct {
	Box   Box
	Class string
	// ClassID is the index in the model's class list.
	ClassID int
	Score   float32
	// Model names the model that found it.
	Model string
}
