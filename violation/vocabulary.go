package violation

import (
	"fmt"
	"slices"
	"strings"
)

// Type is a violation type.
type Type string

// Violation types.
const (
	GarbagePile    Type = "garbage_pile"    // 垃圾堆积
	StreetVending  Type = "street_vending"  // 占道经营
	IllegalDumping Type = "illegal_dumping" // 偷倒垃圾
)

// Types lists every violation type, in the order configuration defaults
// and messages use. Do not modify.
var Types = []Type{GarbagePile, StreetVending, IllegalDumping}

// StationVisit is the type of a station visit's evidence (confirm/visits):
// recorded like a violation's, but not a violation, so not in Types: no
// zone enforces it and no ticket is made of it.
const StationVisit Type = "station_visit"

// WeighingBay is the type of the evidence of a weighing record: the clip
// of its station's bay around the record's time, cut when the record
// arrives, so that a weighing_without_visit ticket shows the empty bay.
// Not a violation either: no ticket is made of it.
const WeighingBay Type = "weighing_bay"

// Station cases: made by reconciling a station's visits with its
// weighing records (dispatch's reconciler), not by zones and rules, so
// not in Types either; they are tickets, reviewed and dispatched like the
// others (TicketTypes).
const (
	UnweighedUnload      Type = "unweighed_unload"       // 未过磅倾倒: a visit without a weighing record
	WeighingWithoutVisit Type = "weighing_without_visit" // 疑似虚假过磅: a record without a visit
)

// StationTypes lists the station cases. Do not modify.
var StationTypes = []Type{UnweighedUnload, WeighingWithoutVisit}

// Class names of the demo model (and of any model using the names).
const (
	ClassPerson       = "person"
	ClassVehicle      = "vehicle"
	ClassGarbageBag   = "garbage_bag"
	ClassGarbagePile  = "garbage_pile"
	ClassVendingStall = "vending_stall"
	// ClassLeftObject is what the left-object detector reports: something
	// new that stayed, of no known class.
	ClassLeftObject = "left_object"
)

// typesOf says which types an object class can become. Dumping comes
// first: when one object meets both rules at once, the more specific
// finding (with its actor) is the one reported.
var typesOf = map[string][]Type{
	ClassGarbagePile:  {IllegalDumping, GarbagePile},
	ClassGarbageBag:   {IllegalDumping},
	ClassVendingStall: {StreetVending},
	// An unclassified object left behind: dumped next to someone who
	// leaves, or piling up in a garbage zone; a stall needs the model.
	ClassLeftObject: {IllegalDumping, GarbagePile},
}

// TypesOf returns the violation types an object of class can become, in
// the order the rules consider them (nil for actors and unknown classes).
// The slice is shared: do not modify it.
func TypesOf(class string) []Type { return typesOf[class] }

// IsObject tells whether class is an object that can become a violation
// (its frames are kept as evidence).
func IsObject(class string) bool { return len(typesOf[class]) > 0 }

// IsActor tells whether class is a person or vehicle that can leave an
// object behind.
func IsActor(class string) bool { return class == ClassPerson || class == ClassVehicle }

// ClassGroups lists classes a model confuses for the same object: a
// garbage bag that grows into a pile is one object. Each call returns a
// fresh copy.
func ClassGroups() [][]string {
	// A left object is any of them until the model names it.
	return [][]string{{ClassGarbageBag, ClassGarbagePile, ClassLeftObject}, {ClassVendingStall, ClassLeftObject}}
}

// TypeNames returns the types as strings, in Types order.
func TypeNames() []string {
	out := make([]string, len(Types))
	for i, t := range Types {
		out[i] = string(t)
	}
	return out
}

// TicketTypeNames returns the types a ticket can have: Types, then
// StationTypes.
func TicketTypeNames() []string {
	out := TypeNames()
	for _, t := range StationTypes {
		out = append(out, string(t))
	}
	return out
}

// CheckTicketType validates a ticket type name from configuration (review
// policies, teams); its error names the types allowed.
func CheckTicketType(name string) error {
	if slices.Contains(TicketTypeNames(), name) {
		return nil
	}
	return fmt.Errorf("not a violation type (%s)", strings.Join(TicketTypeNames(), ", "))
}

// Valid tells whether t is a known violation type.
func (t Type) Valid() bool {
	for _, x := range Types {
		if x == t {
			return true
		}
	}
	return false
}

// CheckType validates a type name from configuration; its error names
// the types allowed.
func CheckType(name string) error {
	if Type(name).Valid() {
		return nil
	}
	return fmt.Errorf("not a violation type (%s)", strings.Join(TypeNames(), ", "))
}
