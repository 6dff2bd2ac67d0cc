package violation

import (
	"time"

	"github.com/streetwatch/streetwatch/geom"
)

// Record is a confirmed violation: what the rules report, what an
// evidence manifest describes and what a ticket is made from. Stages add
// their own details around it (the rules their tracks, evidence its frame
// times, dispatch routing and status) and convert to their persisted
// formats in one place each.
type Record struct {
	ID      string `json:"id"`
	Type    Type   `json:"type"`
	Camera  string `json:"camera"`
	Zone    string `json:"zone"`
	TrackID uint64 `json:"track_id"`
	Class   string `json:"class"`
	// FirstSeen is when the object appeared (for dumping: the drop moment;
	// for vending: when it started to count).
	FirstSeen   time.Time `json:"first_seen"`
	ConfirmedAt time.Time `json:"confirmed_at"`
	// Confidence is the object's best detection score.
	Confidence float32 `json:"confidence"`
	// Box is the object's last box, in native pixels.
	Box geom.Box `json:"box"`
	// ActorTrackID and ActorClass are, for dumping, the person or vehicle
	// that left the object.
	ActorTrackID uint64 `json:"actor_track_id,omitempty"`
	ActorClass   string `json:"actor_class,omitempty"`
	// Signals are what confirmed it: "model" (the class model),
	// "left_object" (something new that stayed, of no known class), or both.
	// Empty in records made before signals existed (the model's).
	Signals []string `json:"signals,omitempty"`
}
