package detectors

import "github.com/streetwatch/streetwatch/geom"

// Detection is one object found in a frame, in the frame's native pixels.
type Detection struct {
	Box   geom.Box
	Class string
	// ClassID is the index in the model's class list.
	ClassID int
	Score   float32
	// Model names the model that found it.
	Model string
}
