package dispatch

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/streetwatch/streetwatch/violation"
)

// Status is where a ticket is in its lifecycle:
//
//	pending_review ──▶ confirmed ──▶ dispatched ──▶ resolved
//	      │                │ ▲
//	      ▼                ▼ │ (manual retry)
//	  rejected ◀──── dispatch_failed
type Status string

// Ticket statuses.
const (
	StatusPendingReview  Status = "pending_review"
	StatusConfirmed      Status = "confirmed" // queued in the outbox
	StatusDispatched     Status = "dispatched"
	StatusResolved       Status = "resolved"
	StatusRejected       Status = "rejected"
	StatusDispatchFailed Status = "dispatch_failed"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{StatusPendingReview, StatusConfirmed, StatusDispatched, StatusResolved, StatusRejected, StatusDispatchFailed}

// Reject reasons.
const (
	ReasonFalsePositive = "false_positive"
	ReasonDuplicate     = "duplicate"
	ReasonNotViolation  = "not_a_violation"
	ReasonOther         = "other" // needs a note
)

var rejectReasons = map[string]bool{ReasonFalsePositive: true, ReasonDuplicate: true, ReasonNotViolation: true, ReasonOther: true}

// Errors callers decide on (wrapped; test with errors.Is).
var (
	ErrNotFound = errors.New("dispatch: ticket not found")
	// ErrConflict: the ticket changed since the caller read it (its
	// version differs); re-read and try again.
	ErrConflict = errors.New("dispatch: ticket was changed by someone else")
	// ErrIllegalTransition: the lifecycle does not allow the change.
	ErrIllegalTransition = errors.New("dispatch: illegal transition")
	// ErrInvalid: the request itself is malformed (missing reason, ...).
	ErrInvalid = errors.New("dispatch: invalid request")
	// ErrNoteTooLong: a note over MaxNoteLen characters (it is also
	// ErrInvalid).
	ErrNoteTooLong = fmt.Errorf("%w: note too long", ErrInvalid)
)

// MaxNoteLen is the longest note a person may write, in characters (the
// review page's form says the same).
const MaxNoteLen = 2000

// checkNote refuses a note over MaxNoteLen characters.
func checkNote(note string) error {
	if n := utf8.RuneCountInString(note); n > MaxNoteLen {
		return fmt.Errorf("%w (at most %d characters, got %d)", ErrNoteTooLong, MaxNoteLen, n)
	}
	return nil
}

// Ticket is one violation as a work order. Its JSON form is the API's and
// the webhook's Ticket schema (api/openapi.yaml).
type Ticket struct {
	ID          string    `json:"id"`
	ViolationID string    `json:"violation_id"`
	Type        string    `json:"type"`
	CameraID    string    `json:"camera_id"`
	CameraName  string    `json:"camera_name"`
	Zone        string    `json:"zone"`
	Location    Location  `json:"location"`
	District    string    `json:"district"`
	Team        string    `json:"team"`
	FirstSeen   time.Time `json:"first_seen"`
	ConfirmedAt time.Time `json:"confirmed_at"`
	Confidence  float64   `json:"confidence"`
	// Class is the object's class: a model class (garbage_bag, ...) or
	// left_object, an unclassified object left behind. Empty on tickets
	// made before it was recorded.
	Class string `json:"class"`
	// Signals are what confirmed the violation: "model" (the class
	// model), "left_object" (something new that stayed), or both. Tickets
	// made before signals existed are the model's.
	Signals  []string `json:"signals"`
	Model    Model    `json:"model"`
	Evidence Evidence `json:"evidence"`
	Status   Status   `json:"status"`
	// RejectReason is set while the ticket is rejected.
	RejectReason string `json:"reject_reason,omitempty"`
	// Keep holds the evidence past retention whatever the status.
	Keep     bool          `json:"keep"`
	Delivery DeliveryState `json:"delivery"`
	// Version grows by one with every change; transitions must name the
	// version they were based on.
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Location is where the camera looks.
type Location struct {
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	Address string  `json:"address"`
}

// Model is the detector model that found the violation.
type Model struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Evidence locates the violation's evidence bundle: objects Prefix+file.
type Evidence struct {
	Prefix         string   `json:"prefix"`
	Files          []string `json:"files"`
	ManifestSHA256 string   `json:"manifest_sha256"`
}

// Keys are the store keys of the evidence files.
func (e Evidence) Keys() []string {
	keys := make([]string, len(e.Files))
	for i, f := range e.Files {
		keys[i] = e.Prefix + f
	}
	return keys
}

// DeliveryState is the webhook's progress for the ticket.
type DeliveryState struct {
	// Attempts since the ticket was last queued.
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	// QueuedAt is when the ticket last entered the outbox.
	QueuedAt     *time.Time `json:"queued_at,omitempty"`
	DispatchedAt *time.Time `json:"dispatched_at,omitempty"`
}

// Signal names, as violation.Record.Signals has them.
const (
	SignalModel      = "model"
	SignalLeftObject = "left_object"
)

// signalsOr returns signals, or the model alone when there are none: the
// records and rows made before signals existed were all the model's.
func signalsOr(signals []string) []string {
	if len(signals) == 0 {
		return []string{SignalModel}
	}
	return signals
}

// TicketInput is a confirmed violation with stored evidence, as the
// pipeline hands it over.
type TicketInput struct {
	// Violation is what was confirmed: its id, type, camera, zone, times
	// and confidence become the ticket's.
	Violation      violation.Record
	CameraName     string
	Lat, Lon       float64
	Address        string
	ModelName      string
	ModelVersion   string
	EvidencePrefix string
	// EvidenceFiles are file names under EvidencePrefix (clip.mp4, ...).
	EvidenceFiles  []string
	ManifestSHA256 string
}

func (in TicketInput) validate() error {
	switch v := in.Violation; {
	case v.ID == "":
		return fmt.Errorf("%w: violation id is empty", ErrInvalid)
	case v.Type == "":
		return fmt.Errorf("%w: violation %s: type is empty", ErrInvalid, v.ID)
	case v.Camera == "":
		return fmt.Errorf("%w: violation %s: camera id is empty", ErrInvalid, v.ID)
	}
	return nil
}

// shortFloat widens a float32 to the float64 with the same shortest
// decimal form (0.8, not 0.800000011920929).
func shortFloat(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// AuditEntry is one change of a ticket.
type AuditEntry struct {
	ID       int64     `json:"id"`
	TicketID string    `json:"ticket_id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Kind     AuditKind `json:"kind"`
	From     Status    `json:"from,omitempty"` // empty when the ticket was created
	To       Status    `json:"to"`
	Reason   string    `json:"reason,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// AuditKind says what an audit entry records.
type AuditKind string

// Audit entry kinds. Only AuditStatus entries change the status; the
// others have From == To.
const (
	AuditStatus   AuditKind = "status"   // the ticket was created (From empty) or changed status
	AuditNote     AuditKind = "note"     // a reviewer's note (Note)
	AuditReassign AuditKind = "reassign" // moved to another district (Note: "from → to (team t)")
	AuditKeep     AuditKind = "keep"     // evidence retention set (Note: "keep evidence: true|false")
)

// AuditKinds lists every audit entry kind.
var AuditKinds = []AuditKind{AuditStatus, AuditNote, AuditReassign, AuditKeep}

func validAuditKind(k AuditKind) bool {
	for _, v := range AuditKinds {
		if v == k {
			return true
		}
	}
	return false
}

// Who may make a transition.
type mover int

const (
	byPerson mover = 1 << iota // a reviewer through the API
	bySender                   // the outbox sender
)

// transitions is the lifecycle: from → to → who may move it.
var transitions = map[Status]map[Status]mover{
	StatusPendingReview:  {StatusConfirmed: byPerson, StatusRejected: byPerson},
	StatusConfirmed:      {StatusDispatched: bySender, StatusDispatchFailed: bySender},
	StatusDispatchFailed: {StatusConfirmed: byPerson, StatusRejected: byPerson},
	StatusDispatched:     {StatusResolved: byPerson},
}

// checkTransition says why from → to is not allowed for who (nil: allowed).
func checkTransition(from, to Status, who mover) error {
	if !validStatus(to) {
		return fmt.Errorf("%w: unknown status %q", ErrIllegalTransition, to)
	}
	m, ok := transitions[from][to]
	switch {
	case !ok:
		return fmt.Errorf("%w: %s → %s is not allowed", ErrIllegalTransition, from, to)
	case m&who == 0 && who == byPerson:
		return fmt.Errorf("%w: %s → %s is made by the webhook sender, not by hand", ErrIllegalTransition, from, to)
	case m&who == 0:
		return fmt.Errorf("%w: %s → %s is made by a reviewer", ErrIllegalTransition, from, to)
	}
	return nil
}

func validStatus(s Status) bool {
	for _, v := range Statuses {
		if v == s {
			return true
		}
	}
	return false
}

// TransitionRequest asks to move a ticket to another status.
type TransitionRequest struct {
	To Status `json:"to"`
	// Reason is required when rejecting: false_positive, duplicate,
	// not_a_violation or other (other needs a Note).
	Reason string `json:"reason,omitempty"`
	Note   string `json:"note,omitempty"`
	// Version is the ticket version the change is based on.
	Version int64  `json:"version"`
	Actor   string `json:"actor,omitempty"`
}

func (r TransitionRequest) validate() error {
	switch {
	case r.Actor == "":
		return fmt.Errorf("%w: actor is required", ErrInvalid)
	case r.Version <= 0:
		return fmt.Errorf("%w: version is required (the ticket version the change is based on)", ErrInvalid)
	case r.To == StatusRejected && !rejectReasons[r.Reason]:
		return fmt.Errorf("%w: reason must be false_positive, duplicate, not_a_violation or other (got %q)", ErrInvalid, r.Reason)
	case r.To == StatusRejected && r.Reason == ReasonOther && r.Note == "":
		return fmt.Errorf("%w: reason other needs a note", ErrInvalid)
	case r.To != StatusRejected && r.Reason != "":
		return fmt.Errorf("%w: reason only applies to rejected", ErrInvalid)
	case len(r.Actor) > 200:
		return fmt.Errorf("%w: actor too long", ErrInvalid)
	}
	return checkNote(r.Note)
}
