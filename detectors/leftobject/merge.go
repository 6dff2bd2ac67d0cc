package leftobject

import (
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/violation"
)

// mergeIoU: a left object overlapping a model's detection this much is the
// same object. So is one lying mostly inside it (mergeWithin): the
// background model often finds only part of an object (the side of a bag
// that differs from the pavement), and that part must not become a second
// object beside the model's (the tracker would follow both, and the two
// tracks would share the object's detections between them).
const (
	mergeIoU    = 0.3
	mergeWithin = 0.7
)

// Merge adds the left objects of one frame to the model's detections of
// the same frame. A left object the model also found (an object class
// overlapping it) is not a second object: the model's detection carries
// both signals, the earlier Since and the higher of the two scores (the
// model may name a bag it sees only dimly, the background model seeing it
// clearly new: two witnesses, and the case is as sure as the surer). One
// overlapping a person or vehicle is dropped (what is left behind is
// reported once they have gone). The model's detections come first in the
// result, in their order; the model's slice is not modified, and is
// returned itself when there are no left objects.
func Merge(model, left []detectors.Detection) []detectors.Detection {
	if len(left) == 0 {
		return model
	}
	out := append(make([]detectors.Detection, 0, len(model)+len(left)), model...)
	for i := range out {
		out[i].Signals = out[i].Of()
	}
next:
	for _, l := range left {
		best, bestIoU := -1, float32(-1)
		for i, m := range out[:len(model)] {
			iou := m.Box.IoU(l.Box)
			if iou < mergeIoU && l.Box.Within(m.Box) < mergeWithin {
				continue
			}
			if violation.IsActor(m.Class) {
				continue next
			}
			if violation.IsObject(m.Class) && iou > bestIoU {
				best, bestIoU = i, iou
			}
		}
		if best < 0 {
			out = append(out, l)
			continue
		}
		m := &out[best]
		m.Signals |= detectors.SignalLeftObject
		m.Score = max(m.Score, l.Score)
		if m.Since.IsZero() || (!l.Since.IsZero() && l.Since.Before(m.Since)) {
			m.Since = l.Since
		}
	}
	return out
}
