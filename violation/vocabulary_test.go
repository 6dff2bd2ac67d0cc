package violation

import (
	"slices"
	"strings"
	"testing"
)

func TestClassesBecomeTheirTypes(t *testing.T) {
	for _, tc := range []struct {
		class  string
		types  []Type
		object bool
		actor  bool
	}{
		{ClassGarbagePile, []Type{IllegalDumping, GarbagePile}, true, false},
		{ClassGarbageBag, []Type{IllegalDumping}, true, false},
		{ClassVendingStall, []Type{StreetVending}, true, false},
		{ClassPerson, nil, false, true},
		{ClassVehicle, nil, false, true},
		{"dog", nil, false, false},
	} {
		if got := TypesOf(tc.class); !slices.Equal(got, tc.types) {
			t.Errorf("TypesOf(%q) = %v, want %v", tc.class, got, tc.types)
		}
		if IsObject(tc.class) != tc.object || IsActor(tc.class) != tc.actor {
			t.Errorf("%q: object %t actor %t, want %t %t", tc.class, IsObject(tc.class), IsActor(tc.class), tc.object, tc.actor)
		}
	}
}

func TestEveryTypeAnObjectCanBecomeIsValid(t *testing.T) {
	for class, types := range typesOf {
		for _, typ := range types {
			if !typ.Valid() {
				t.Errorf("class %q becomes %q, which is not in Types", class, typ)
			}
		}
	}
}

func TestCheckTypeNamesTheAllowedTypes(t *testing.T) {
	for _, typ := range Types {
		if err := CheckType(string(typ)); err != nil {
			t.Errorf("CheckType(%q) = %v", typ, err)
		}
	}
	err := CheckType("parking")
	if err == nil || err.Error() != "not a violation type (garbage_pile, street_vending, illegal_dumping)" {
		t.Fatalf("CheckType(parking) = %v", err)
	}
}

func TestClassGroupsIsACopy(t *testing.T) {
	g := ClassGroups()
	g[0][0] = "changed"
	if ClassGroups()[0][0] != ClassGarbageBag {
		t.Fatal("ClassGroups returned shared state")
	}
}

func TestStationCasesAreTicketTypesButNoZoneType(t *testing.T) {
	for _, typ := range StationTypes {
		if typ.Valid() || CheckType(string(typ)) == nil {
			t.Errorf("%s is a zone/rule type", typ)
		}
		if err := CheckTicketType(string(typ)); err != nil {
			t.Errorf("CheckTicketType(%q) = %v", typ, err)
		}
	}
	for _, typ := range Types {
		if err := CheckTicketType(string(typ)); err != nil {
			t.Errorf("CheckTicketType(%q) = %v", typ, err)
		}
	}
	if err := CheckTicketType("station_visit"); err == nil || !strings.Contains(err.Error(), "unweighed_unload") {
		t.Errorf("CheckTicketType(station_visit) = %v: a visit is no ticket; the error names the ticket types", err)
	}
}
