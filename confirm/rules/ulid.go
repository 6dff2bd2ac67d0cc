package rules

import (
	"time"

	"github.com/streetwatch/streetwatch/internal/ulid"
)

// NewID returns a ULID (violation ids): 26 characters, sortable by time.
func NewID(t time.Time) string { return ulid.New(t) }
