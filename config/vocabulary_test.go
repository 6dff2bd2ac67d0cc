package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/streetwatch/streetwatch/violation"
)

// Config accepts exactly the vocabulary's types, wherever a type is named,
// and a zone without types enforces all of them.
func TestConfigSpeaksTheViolationVocabulary(t *testing.T) {
	var rules, review, teams []string
	for _, typ := range violation.Types {
		rules = append(rules, fmt.Sprintf("%s: {min_dwell: 1m}", typ))
		review = append(review, fmt.Sprintf("%s: auto", typ))
		teams = append(teams, fmt.Sprintf("%s: crew", typ))
	}
	yaml := "cameras:\n  - id: cam1\n    url: rtsp://127.0.0.1/a\n" +
		"    rules: {" + strings.Join(rules, ", ") + "}\n" +
		"    zones:\n      - {name: kerb, polygon: [[0,0],[1,0],[1,1]], overrides: {" + strings.Join(rules, ", ") + "}}\n" +
		"dispatch:\n  review: {" + strings.Join(review, ", ") + "}\n  teams: {" + strings.Join(teams, ", ") + "}\n"
	cfg, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Cameras[0].Zones[0].Types; !slices.Equal(got, violation.TypeNames()) {
		t.Errorf("default zone types %v, want %v", got, violation.TypeNames())
	}
	_, err = Parse([]byte("cameras:\n  - id: cam1\n    url: rtsp://127.0.0.1/a\n    zones:\n      - {name: kerb, polygon: [[0,0],[1,0],[1,1]], types: [parking]}\n"))
	if want := `cameras[0].zones[0].types[0]: not a violation type (garbage_pile, street_vending, illegal_dumping) (got "parking")`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}
