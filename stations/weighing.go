package stations

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Weighing is one weighing record as stored: a vehicle weighed on a
// station's weighbridge, as its weighbridge software (the source) reported
// it. Source and RecordID identify it: a source sending the same record
// again is a duplicate, not a second weighing.
type Weighing struct {
	Source   string    `json:"source"`
	RecordID string    `json:"record_id"`
	Station  string    `json:"station"`
	Time     time.Time `json:"time"` // when the vehicle was weighed (UTC)
	NetKG    float64   `json:"net_kg"`
	GrossKG  *float64  `json:"gross_kg,omitempty"`
	TareKG   *float64  `json:"tare_kg,omitempty"`
	Plate    string    `json:"plate,omitempty"`    // vehicle number plate as the weighbridge has it
	Operator string    `json:"operator,omitempty"` // who ran the weighbridge
	// ReceivedAt is when StreetWatch stored it; records may arrive late
	// (a weighbridge offline for a day uploads its backlog).
	ReceivedAt time.Time `json:"received_at"`
	// Seq orders records by arrival: a reconciler keeps the last one it
	// saw and asks for those after it (Store.WeighingsReceivedAfter).
	Seq int64 `json:"-"`
}

// SameContent reports whether two records say the same thing (what a
// source sent; not when or in which order it arrived, and times compared
// as instants).
func (w Weighing) SameContent(o Weighing) bool {
	return w.Source == o.Source && w.RecordID == o.RecordID && w.Station == o.Station && w.Time.Equal(o.Time) &&
		w.NetKG == o.NetKG && sameKG(w.GrossKG, o.GrossKG) && sameKG(w.TareKG, o.TareKG) &&
		w.Plate == o.Plate && w.Operator == o.Operator
}

func sameKG(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Input is a record as a source sends it (JSON body of POST
// /api/v1/weighings, or a CSV row). Numbers are pointers so that a missing
// value can be told from 0.
type Input struct {
	RecordID string   `json:"record_id"`
	Station  string   `json:"station"`
	Time     string   `json:"time"`
	NetKG    *float64 `json:"net_kg"`
	GrossKG  *float64 `json:"gross_kg"`
	TareKG   *float64 `json:"tare_kg"`
	Plate    string   `json:"plate"`
	Operator string   `json:"operator"`
}

// Problem is what is wrong with one field of a record.
type Problem struct {
	Field string `json:"field"` // e.g. net_kg, or records[3].net_kg in a batch
	Error string `json:"error"`
}

func (p Problem) String() string { return p.Field + ": " + p.Error }

// Limits of a record.
const (
	// MaxKG bounds every weight: no road vehicle weighs 100 t.
	MaxKG = 100_000
	// NetTolerance is how far gross − tare may be from net (rounding of
	// the weighbridge's display).
	NetTolerance = 1.0
	// FutureSkew is how far ahead of StreetWatch's clock a weighbridge's
	// clock may be.
	FutureSkew = time.Hour
	maxIDLen   = 128
	maxTextLen = 64
)

// LocalTimeLayout is the local-time form CSV imports also accept (in the
// importer's time zone); the API takes RFC 3339 only.
const LocalTimeLayout = "2006-01-02 15:04:05"

var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Check turns a source's input into a record, or says what is wrong with
// it, field by field. local is the time zone of times in LocalTimeLayout;
// nil: only RFC 3339 is accepted. Whether the station exists and the
// source may post for it is the caller's to check (it knows the config).
func Check(in Input, source string, local *time.Location, now time.Time) (Weighing, []Problem) {
	var probs []Problem
	bad := func(field, format string, args ...any) {
		probs = append(probs, Problem{Field: field, Error: fmt.Sprintf(format, args...)})
	}
	w := Weighing{Source: source, RecordID: in.RecordID, Station: in.Station,
		GrossKG: in.GrossKG, TareKG: in.TareKG, Plate: strings.TrimSpace(in.Plate), Operator: strings.TrimSpace(in.Operator)}
	switch {
	case in.RecordID == "":
		bad("record_id", "required")
	case len(in.RecordID) > maxIDLen || !printable(in.RecordID) || strings.TrimSpace(in.RecordID) != in.RecordID:
		bad("record_id", "must be 1-%d bytes of printable text without leading or trailing spaces", maxIDLen)
	}
	if in.Station == "" {
		bad("station", "required")
	}
	switch t, err := parseTime(in.Time, local); {
	case in.Time == "":
		bad("time", "required")
	case err != nil:
		if local != nil {
			bad("time", "expected RFC 3339 (2026-01-02T15:04:05+08:00) or %q in %s (got %q)", LocalTimeLayout, local, clip(in.Time))
		} else {
			bad("time", "expected an RFC 3339 time such as 2026-01-02T15:04:05+08:00 (got %q)", clip(in.Time))
		}
	case t.Before(earliest):
		bad("time", "before 2000-01-01: the weighbridge's clock is wrong")
	case t.After(now.Add(FutureSkew)):
		bad("time", "more than %s in the future", FutureSkew)
	default:
		w.Time = t.UTC()
	}
	switch {
	case in.NetKG == nil:
		bad("net_kg", "required")
	case !(*in.NetKG > 0):
		bad("net_kg", "must be > 0 (got %g)", *in.NetKG)
	case *in.NetKG > MaxKG:
		bad("net_kg", "must be at most %d (got %g)", MaxKG, *in.NetKG)
	default:
		w.NetKG = *in.NetKG
	}
	grossOK := checkKG("gross_kg", in.GrossKG, bad)
	tareOK := checkKG("tare_kg", in.TareKG, bad)
	if grossOK && tareOK && in.GrossKG != nil && in.TareKG != nil && in.NetKG != nil {
		if d := *in.GrossKG - *in.TareKG - *in.NetKG; math.Abs(d) > NetTolerance {
			bad("gross_kg", "gross_kg − tare_kg = %g, but net_kg is %g (they must agree within %g kg)",
				*in.GrossKG-*in.TareKG, *in.NetKG, NetTolerance)
		}
	}
	if len([]rune(w.Plate)) > maxTextLen || !printable(w.Plate) {
		bad("plate", "must be at most %d characters of printable text", maxTextLen)
	}
	if len([]rune(w.Operator)) > maxTextLen || !printable(w.Operator) {
		bad("operator", "must be at most %d characters of printable text", maxTextLen)
	}
	if len(probs) > 0 {
		return Weighing{}, probs
	}
	return w, nil
}

func checkKG(field string, v *float64, bad func(field, format string, args ...any)) bool {
	switch {
	case v == nil:
		return true
	case math.IsNaN(*v) || *v < 0 || *v > MaxKG:
		bad(field, "must be between 0 and %d (got %g)", MaxKG, *v)
		return false
	}
	return true
}

func parseTime(s string, local *time.Location) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err == nil || local == nil {
		return t, err
	}
	return time.ParseInLocation(LocalTimeLayout, s, local)
}

func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' })
}

// clip keeps an echoed value short (it came from a client).
func clip(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}

// Results of storing a record (and of refusing one: the result label of
// streetwatch_weighings_received_total).
const (
	ResultStored       = "stored"       // new: stored now
	ResultDuplicate    = "duplicate"    // stored before with the same content: nothing changed
	ResultConflict     = "conflict"     // stored before with other content: refused, the first stays
	ResultInvalid      = "invalid"      // a field is wrong, or the station is unknown
	ResultUnauthorized = "unauthorized" // no valid credential, or a station the source may not post for
)

// Put is what became of one record handed to Store.PutWeighings.
type Put struct {
	// Weighing is the record as stored: w itself when new, else the
	// record stored before under its source and id.
	Weighing Weighing
	// Result is ResultStored, ResultDuplicate or ResultConflict.
	Result string
}

// Store keeps weighing records. Every method is atomic.
type Store interface {
	// PutWeighings stores the records (ReceivedAt set by the caller) in
	// one transaction, except those whose source already has a record
	// with their id: those come back as ResultDuplicate (same content) or
	// ResultConflict, with the stored record. One Put per record, in
	// order; a record repeated within ws is judged against the first.
	PutWeighings(ctx context.Context, ws []Weighing) ([]Put, error)
	// WeighingsBetween returns a station's records weighed in [from, to),
	// by time, at most limit of them.
	WeighingsBetween(ctx context.Context, station string, from, to time.Time, limit int) ([]Weighing, error)
	// WeighingsReceivedAfter returns up to limit records stored after the
	// one with Seq seq (0: from the first), in arrival order.
	WeighingsReceivedAfter(ctx context.Context, seq int64, limit int) ([]Weighing, error)
}
