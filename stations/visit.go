package stations

import (
	"context"
	"time"
)

// Visit is a vehicle's visit to a station's unloading bay, as one of its
// cameras saw it: it arrived, stood in the bay from Stop, and left the
// bay at Departure. Its evidence (clip, pictures, signed manifest) is a
// bundle like a violation's, under EvidencePrefix once stored.
type Visit struct {
	// ID is unique (a ULID): the visit's evidence bundle has it too.
	ID      string `json:"id"`
	Station string `json:"station"`
	Camera  string `json:"camera"`
	// Arrival is when the vehicle was first seen (in the camera's
	// entrance zone, when it has one and the vehicle was seen there).
	Arrival time.Time `json:"arrival"`
	// Stop is when it came to rest in the bay.
	Stop time.Time `json:"stop"`
	// Departure is when it was last seen in the bay.
	Departure    time.Time `json:"departure"`
	VehicleClass string    `json:"vehicle_class"`
	// Score is the detector's score of the vehicle's best picture.
	Score float32 `json:"score"`
	// EvidencePrefix is the store key prefix of the bundle (empty until
	// EvidenceStatus is EvidenceStored).
	EvidencePrefix string `json:"evidence_prefix,omitempty"`
	EvidenceStatus string `json:"evidence_status"`
	// EvidenceFiles are the bundle's file names under EvidencePrefix
	// (manifest included), ManifestSHA256 its manifest's digest.
	EvidenceFiles  []string `json:"evidence_files,omitempty"`
	ManifestSHA256 string   `json:"manifest_sha256,omitempty"`
	// Weighing is the record reconciliation matched the visit with
	// ("source/record_id"; empty: none yet), and OverLimitKG the load
	// limit of its vehicle class when that record's net weight exceeds it.
	Weighing    string  `json:"weighing,omitempty"`
	OverLimitKG float64 `json:"over_limit_kg,omitempty"`
	// CreatedAt is when the visit was stored.
	CreatedAt time.Time `json:"created_at"`
}

// A visit's evidence status.
const (
	// EvidencePending: the bundle is being made (post-roll, spool).
	EvidencePending = "pending"
	// EvidenceStored: the bundle is spooled for the store under EvidencePrefix.
	EvidenceStored = "stored"
	// EvidenceFailed: no bundle could be saved for the visit.
	EvidenceFailed = "failed"
)

// VisitStore keeps visits. Every method is atomic.
type VisitStore interface {
	// PutVisit stores v (CreatedAt set by the caller) unless a visit with
	// its ID exists; it returns the visit as stored and whether it is new.
	// Storing the same visit again (after a crash) is therefore harmless.
	PutVisit(ctx context.Context, v Visit) (Visit, bool, error)
	// VisitsBetween returns a station's visits whose stay (arrival to
	// departure) overlaps [from, to), by arrival, at most limit of them:
	// the visits a weighing record at a time within the window could
	// belong to.
	VisitsBetween(ctx context.Context, station string, from, to time.Time, limit int) ([]Visit, error)
	// SetVisitEvidence records where the visit's bundle is (status
	// EvidenceStored) or that it has none (EvidenceFailed).
	SetVisitEvidence(ctx context.Context, id string, ev VisitEvidence) error
	// SetVisitWeighing records the visit's matched record (empty: none)
	// and its over-limit flag; changed says whether that is news.
	SetVisitWeighing(ctx context.Context, id, record string, overLimitKG float64) (changed bool, err error)
}

// VisitEvidence is where a visit's evidence bundle is.
type VisitEvidence struct {
	Prefix, Status string
	Files          []string
	ManifestSHA256 string
}
