package rules

import (
	"fmt"
	"time"

	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/violation"
)

// Type is a violation type (the vocabulary lives in package violation).
type Type = violation.Type

// Violation types.
const (
	GarbagePile    = violation.GarbagePile
	StreetVending  = violation.StreetVending
	IllegalDumping = violation.IllegalDumping
)

// Types lists every violation type.
var Types = violation.Types

// Params are a rule's thresholds.
type Params struct {
	// MinDwell: how long the object must stay before the violation is
	// confirmed (for a dumping: stay after its actor left).
	MinDwell time.Duration
	// MinScore: the track's best detection score must reach this (and,
	// for a pile or a stall the class model alone sees, its steady score:
	// see confident).
	MinScore float32
	// ClearAfter: a confirmed violation closes when its object has been
	// gone this long; only then can the same place be reported again.
	ClearAfter time.Duration
}

// DefaultParams are the documented defaults (README "How a violation is confirmed").
func DefaultParams(t Type) Params {
	switch t {
	case GarbagePile:
		return Params{MinDwell: 5 * time.Minute, MinScore: 0.5, ClearAfter: 10 * time.Minute}
	case StreetVending:
		return Params{MinDwell: 3 * time.Minute, MinScore: 0.5, ClearAfter: 10 * time.Minute}
	case IllegalDumping:
		return Params{MinDwell: 60 * time.Second, MinScore: 0.5, ClearAfter: 10 * time.Minute}
	}
	return Params{}
}

// Window is a daily enforcement period, in minutes after midnight; End
// before Start wraps past midnight. No Days means every day.
type Window struct {
	Days       []time.Weekday
	Start, End int
}

// Schedule is when a zone is enforced. No windows: always.
type Schedule struct {
	Location *time.Location
	Windows  []Window
}

// Active tells whether t is inside the schedule.
func (s Schedule) Active(t time.Time) bool {
	if len(s.Windows) == 0 {
		return true
	}
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	minute := lt.Hour()*60 + lt.Minute()
	for _, w := range s.Windows {
		day := lt.Weekday()
		in := false
		if w.Start <= w.End {
			in = minute >= w.Start && minute < w.End
		} else if minute >= w.Start {
			in = true
		} else if minute < w.End {
			in = true
			day = (day + 6) % 7 // the window started the day before
		}
		if in && (len(w.Days) == 0 || hasDay(w.Days, day)) {
			return true
		}
	}
	return false
}

func hasDay(days []time.Weekday, d time.Weekday) bool {
	for _, x := range days {
		if x == d {
			return true
		}
	}
	return false
}

// Zone is a monitored area of a camera.
type Zone struct {
	Name string
	// Polygon in native pixels, or normalised 0..1.
	Polygon geom.Polygon
	// Types enforced here.
	Types    []Type
	Schedule Schedule
	// Overrides per type; zero fields keep the camera's value.
	Overrides map[Type]Params
	// NoLeftObjects: objects only the left-object detector saw (no class
	// from the model) do not count here, e.g. a busy market.
	NoLeftObjects bool
}

func (z *Zone) enforces(t Type) bool {
	for _, x := range z.Types {
		if x == t {
			return true
		}
	}
	return false
}

// ParseClock parses "HH:MM" into minutes after midnight.
func ParseClock(s string) (int, error) {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("expected HH:MM, got %q", s)
	}
	return h*60 + m, nil
}
