package detectors

import (
	"time"

	"github.com/streetwatch/streetwatch/geom"
)

// Detection is one object found in a frame, in the frame's native pixels.
type Detection struct {
	Box   geom.Box
	Class string
	// ClassID is the index in the model's class list.
	ClassID int
	Score   float32
	// Model names the model that found it.
	Model string
	// Signals says what found it: the class model, the left-object
	// detector, or both for one object (zero means the class model).
	Signals Signal
	// Since is when the object was first there, when the detector knows it
	// was earlier than this frame (the left-object detector reports an
	// object only once it has stayed still); zero otherwise.
	Since time.Time
}

// Signal is a source of detections, as a bit set.
type Signal uint8

// Signals.
const (
	SignalModel Signal = 1 << iota
	SignalLeftObject
)

// Of returns the detection's signals, the class model when unset.
func (d Detection) Of() Signal {
	if d.Signals == 0 {
		return SignalModel
	}
	return d.Signals
}

// Names lists the signals by name: "model", "left_object".
func (s Signal) Names() []string {
	var out []string
	if s&SignalModel != 0 {
		out = append(out, "model")
	}
	if s&SignalLeftObject != 0 {
		out = append(out, "left_object")
	}
	return out
}
