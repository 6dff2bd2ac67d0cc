package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const withZones = `
cameras:
  - id: gate
    url: rtsp://127.0.0.1:8554/gate
  - id: street-1
    url: rtsp://127.0.0.1:8554/street-1
    masks: [[[0, 0], [100, 0], [100, 50]]]
    zones:
      - name: pavement
        polygon: [[0.1, 0.5], [0.9, 0.5], [0.9, 1], [0.1, 1]]
        types: [illegal_dumping]
        schedule: {timezone: Asia/Urumqi, windows: [{start: "07:00", end: "22:00", days: [mon, tue]}]}
        overrides: {illegal_dumping: {min_dwell: 45s}}
        left_objects: false
`

// indent puts a YAML block under a camera of a cameras: list.
func indent(block string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(block, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

func TestWithAreasKeepsAZonesSettingsByNameAndDefaultsNewOnes(t *testing.T) {
	cfg, err := Parse([]byte(withZones))
	if err != nil {
		t.Fatal(err)
	}
	before := cfg.Cameras[1]
	edited, err := cfg.WithAreas("street-1", Areas{
		Masks: []Polygon{{{10, 10}, {20, 10}, {20, 20}}},
		Zones: []Zone{
			{Name: "pavement", Polygon: Polygon{{100, 400}, {1200, 400}, {1200, 720}}, Types: []string{"illegal_dumping"}},
			{Name: "kerb", Polygon: Polygon{{0, 600}, {1280, 600}, {1280, 720}, {0, 720}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := edited.Validate(); err != nil {
		t.Fatalf("valid areas refused: %v", err)
	}
	z := edited.Cameras[1].Zones
	if len(z) != 2 || z[0].Schedule.Timezone != "Asia/Urumqi" || len(z[0].Schedule.Windows) != 1 ||
		z[0].Overrides["illegal_dumping"].MinDwell.D().Seconds() != 45 || z[0].LeftObjects == nil || *z[0].LeftObjects {
		t.Errorf("pavement lost its settings: %+v", z[0])
	}
	if !reflect.DeepEqual(z[1].Types, defaultZoneTypes()) || z[1].Schedule.Timezone != defaultTimezone || z[1].LeftObjects != nil {
		t.Errorf("new zone kerb not defaulted: %+v", z[1])
	}
	if !reflect.DeepEqual(cfg.Cameras[1], before) || len(cfg.Cameras[1].Masks) != 1 || cfg.Cameras[1].Masks[0][1][0] != 100 {
		t.Errorf("the running config changed: %+v", cfg.Cameras[1])
	}
	if _, err := cfg.WithAreas("nope", Areas{}); err == nil {
		t.Error("an unknown camera was accepted")
	}
}

func TestWithAreasErrorsNameTheField(t *testing.T) {
	cfg, err := Parse([]byte(withZones))
	if err != nil {
		t.Fatal(err)
	}
	edited, err := cfg.WithAreas("street-1", Areas{
		Masks: []Polygon{{{1, 1}, {2, 2}}},
		Zones: []Zone{
			{Name: "pavement", Polygon: Polygon{{0, 0}, {10, 0}, {10, 10}}},
			{Name: "pavement", Polygon: Polygon{{0, 0}, {10, 0}}, Types: []string{"littering"}},
			{Polygon: Polygon{{0, 0}, {10, 0}, {10, 10}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var errs Errors
	if !errors.As(edited.Validate(), &errs) {
		t.Fatal("invalid areas accepted")
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Path)
	}
	want := []string{"cameras[1].masks[0]", "cameras[1].zones[1].name", "cameras[1].zones[1].polygon",
		"cameras[1].zones[1].types[0]", "cameras[1].zones[2].name"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors name %q, want %q", got, want)
	}
}

// The YAML block pasted under the camera gives back the same masks and
// zones, settings kept from the old zone included.
func TestAreasYAMLParsesBackToTheSameAreas(t *testing.T) {
	cfg, err := Parse([]byte(withZones))
	if err != nil {
		t.Fatal(err)
	}
	for _, areas := range []Areas{
		{
			Masks: []Polygon{{{10, 10}, {20.5, 10}, {20, 20}}, {{0.25, 0.125}, {0.5, 0.125}, {0.5, 0.75}}},
			Zones: []Zone{
				{Name: "pavement", Polygon: Polygon{{0.1, 0.55}, {0.9, 0.55}, {0.9, 1}}, Types: []string{"illegal_dumping"}},
				{Name: "人行道 2", Polygon: Polygon{{0, 600}, {1280, 600}, {1280, 720}, {0, 720}}, Types: []string{"garbage_pile", "street_vending"}},
			},
		},
		{}, // everything removed
	} {
		edited, err := cfg.WithAreas("street-1", areas)
		if err != nil {
			t.Fatal(err)
		}
		want := edited.Cameras[1]
		block, err := AreasYAML(Areas{Masks: want.Masks, Zones: want.Zones})
		if err != nil {
			t.Fatal(err)
		}
		doc := "cameras:\n  - id: street-1\n    url: rtsp://127.0.0.1:8554/street-1\n" + indent(string(block))
		back, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("the YAML block does not parse: %v\n%s", err, doc)
		}
		got := back.Cameras[0]
		if len(got.Masks) != len(want.Masks) || (len(want.Masks) > 0 && !reflect.DeepEqual(got.Masks, want.Masks)) {
			t.Errorf("masks: %v, want %v\n%s", got.Masks, want.Masks, block)
		}
		if len(got.Zones) != len(want.Zones) || (len(want.Zones) > 0 && !reflect.DeepEqual(got.Zones, want.Zones)) {
			t.Errorf("zones:\n%+v\nwant\n%+v\n%s", got.Zones, want.Zones, block)
		}
	}
}
