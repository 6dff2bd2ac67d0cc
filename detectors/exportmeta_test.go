package detectors

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Metadata as Ultralytics 8.4 writes it: str() of each value.
func ultralyticsProps() map[string]string {
	return map[string]string{
		"description": "Ultralytics YOLOv8n model trained on data.yaml",
		"author":      "Ultralytics",
		"date":        "2026-12-03T10:00:00.000000",
		"version":     "8.4.33",
		"license":     "AGPL-3.0 License (https://ultralytics.com/license)",
		"docs":        "https://docs.ultralytics.com",
		"stride":      "32",
		"task":        "detect",
		"batch":       "1",
		"imgsz":       "[320, 320]",
		"names":       `{0: 'person', 1: "vendor's cart", 2: '垃圾'}`,
		"args":        "{'batch': 1, 'dynamic': True, 'half': False, 'opset': None, 'simplify': False, 'nms': True, 'conf': 0.25}",
		"channels":    "3",
		"end2end":     "False",
	}
}

func TestUltralyticsMetadataIsRead(t *testing.T) {
	em, err := parseExportMeta(ultralyticsProps())
	if err != nil {
		t.Fatal(err)
	}
	if !em.Ultralytics || em.Version != "8.4.33" || em.Task != "detect" || em.Stride != 32 || em.Batch != 1 ||
		em.ImgH != 320 || em.ImgW != 320 || !em.NMS || !em.Dynamic || em.End2End {
		t.Errorf("read %+v", em)
	}
	if want := []string{"person", "vendor's cart", "垃圾"}; !slices.Equal(em.Names, want) {
		t.Errorf("names %q, want %q", em.Names, want)
	}

	// A file from another tool carries none of it.
	em, err = parseExportMeta(map[string]string{"names": "garbage"})
	if err != nil || em.Ultralytics || em.Names != nil {
		t.Errorf("non-Ultralytics file: %+v, %v", em, err)
	}

	// Unreadable values name their key; gaps in class indices are refused.
	for key, val := range map[string]string{
		"names": "{0: 'a', 2: 'b'}",
		"imgsz": "[320]",
		"batch": "eight",
		"args":  "{'nms': True",
	} {
		p := ultralyticsProps()
		p[key] = val
		if _, err := parseExportMeta(p); err == nil || !strings.Contains(err.Error(), `metadata "`+key+`"`) {
			t.Errorf("%s = %s: error %v, want one naming the key", key, val, err)
		}
	}
}

func TestPythonLiterals(t *testing.T) {
	for in, want := range map[string]string{
		"[640, 384]":                  "[640 384]",
		"(1, 2.5, None, False)":       "[1 2.5 <nil> false]",
		`{'a': [1, {'b': "c\'d\\"}]}`: `map[a:[1 map[b:c'd\]]]`,
		`'\x41\u00e9'`:                "Aé",
		"{}":                          "map[]",
	} {
		v, err := parsePyLiteral(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := fmt.Sprint(v); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{"[1, 2", "{'a' 1}", "'open", "[1] 2", "{[1]: 2}", "nope", strings.Repeat("[", 40)} {
		if _, err := parsePyLiteral(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}
