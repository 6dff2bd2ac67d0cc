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
	// Place says how the object's place compares with the scene the
	// left-object detector learnt before it (PlaceUnknown when none runs).
	Place Place
}

// Place is how an object's place compares with the background the
// left-object detector learnt: the scene as it was before.
type Place uint8

// Places.
const (
	// PlaceUnknown: no left-object detector runs, the place was hidden,
	// or it was neither clearly new nor clearly as before.
	PlaceUnknown Place = iota
	// PlaceNew: the place differs from the background: something new
	// stands there.
	PlaceNew
	// PlaceOld: the place looks as it did when the background was learnt:
	// what the model names there was part of the scene (a parked car, a
	// shop front), not something put down since.
	PlaceOld
)

func (p Place) String() string {
	switch p {
	case PlaceNew:
		return "new"
	case PlaceOld:
		return "old"
	}
	return "unknown"
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
