package detectors

import (
	"testing"

	"github.com/streetwatch/streetwatch/geom"
)

func TestNMSIsClassAware(t *testing.T) {
	c := []candidate{
		{geom.Box{X1: 0, Y1: 0, X2: 10, Y2: 10}, 0, 0.9},
		{geom.Box{X1: 1, Y1: 1, X2: 11, Y2: 11}, 0, 0.8}, // same class, IoU 0.68: suppressed
		{geom.Box{X1: 1, Y1: 1, X2: 11, Y2: 11}, 1, 0.7}, // other class, same place: kept
		{geom.Box{X1: 20, Y1: 20, X2: 30, Y2: 30}, 0, 0.6},
	}
	kept := nms(c, 0.5)
	if len(kept) != 3 || kept[0].score != 0.9 || kept[1].class != 1 || kept[2].score != 0.6 {
		t.Fatalf("kept %+v", kept)
	}
}

func TestLetterbox(t *testing.T) {
	tests := []struct {
		sw, sh, dw, dh        int
		scale                 float32
		left, top, newW, newH int
	}{
		{640, 360, 320, 320, 0.5, 0, 70, 320, 180},
		{360, 640, 320, 320, 0.5, 70, 0, 180, 320},
		{1280, 720, 640, 640, 0.5, 0, 140, 640, 360},
		{768, 576, 320, 320, 320.0 / 768, 0, 40, 320, 240},
		{320, 320, 320, 320, 1, 0, 0, 320, 320},
	}
	for _, tt := range tests {
		lb := newLetterbox(tt.sw, tt.sh, tt.dw, tt.dh, true)
		if abs(lb.scale-tt.scale) > 1e-6 || lb.left != tt.left || lb.top != tt.top || lb.newW != tt.newW || lb.newH != tt.newH {
			t.Errorf("%dx%d→%dx%d: %+v", tt.sw, tt.sh, tt.dw, tt.dh, lb)
		}
		// A box round-trips to where it came from.
		b := geom.Box{X1: 10, Y1: 20, X2: 100, Y2: 200}
		in := geom.Box{X1: b.X1*lb.scale + float32(lb.left), Y1: b.Y1*lb.scale + float32(lb.top), X2: b.X2*lb.scale + float32(lb.left), Y2: b.Y2*lb.scale + float32(lb.top)}
		if back := lb.toNative(in); max(abs(back.X1-b.X1), abs(back.Y2-b.Y2)) > 1e-3 {
			t.Errorf("%dx%d: %v → %v → %v", tt.sw, tt.sh, b, in, back)
		}
	}
}

func TestPolygonContains(t *testing.T) {
	sq := geom.Polygon{{X: 0, Y: 0}, {X: 10, Y: 0}, {X: 10, Y: 10}, {X: 0, Y: 10}}
	tri := geom.Polygon{{X: 0.5, Y: 0}, {X: 1, Y: 1}, {X: 0, Y: 1}} // normalised
	tests := []struct {
		p    geom.Polygon
		w, h int
		x, y float32
		want bool
	}{
		{sq, 0, 0, 5, 5, true},
		{sq, 0, 0, 15, 5, false},
		{sq, 0, 0, -1, 5, false},
		{tri, 100, 50, 50, 40, true},
		{tri, 100, 50, 5, 5, false},
		{tri, 100, 50, 90, 45, true},
	}
	for _, tt := range tests {
		if got := tt.p.Scaled(tt.w, tt.h).Contains(tt.x, tt.y); got != tt.want {
			t.Errorf("%v (%dx%d) contains (%g,%g) = %v", tt.p, tt.w, tt.h, tt.x, tt.y, got)
		}
	}
}

func TestCameraFilter(t *testing.T) {
	cf := &CameraFilter{
		Thresholds: map[string]float32{"person": 0.7},
		Filters:    map[string]ObjectFilter{"vehicle": {MinArea: 100, MaxArea: 1000, MinRatio: 0.5, MaxRatio: 3}},
		Masks:      []geom.Polygon{{{X: 0, Y: 0}, {X: 0.5, Y: 0}, {X: 0.5, Y: 0.5}, {X: 0, Y: 0.5}}}, // top-left quarter
	}
	tests := []struct {
		name string
		d    Detection
		want bool
	}{
		{"person above camera threshold", Detection{Box: geom.Box{X1: 60, Y1: 60, X2: 70, Y2: 90}, Class: "person", Score: 0.8}, true},
		{"person below camera threshold", Detection{Box: geom.Box{X1: 60, Y1: 60, X2: 70, Y2: 90}, Class: "person", Score: 0.6}, false},
		{"vehicle ok", Detection{Box: geom.Box{X1: 60, Y1: 60, X2: 80, Y2: 80}, Class: "vehicle", Score: 0.9}, true},
		{"vehicle too small", Detection{Box: geom.Box{X1: 60, Y1: 60, X2: 65, Y2: 65}, Class: "vehicle", Score: 0.9}, false},
		{"vehicle too large", Detection{Box: geom.Box{X1: 55, Y1: 55, X2: 99, Y2: 99}, Class: "vehicle", Score: 0.9}, false},
		{"vehicle too flat", Detection{Box: geom.Box{X1: 55, Y1: 60, X2: 95, Y2: 70}, Class: "vehicle", Score: 0.9}, false},
		{"in the mask (bottom centre)", Detection{Box: geom.Box{X1: 10, Y1: 10, X2: 20, Y2: 40}, Class: "garbage_bag", Score: 0.9}, false},
		{"feet out of the mask", Detection{Box: geom.Box{X1: 10, Y1: 10, X2: 20, Y2: 60}, Class: "garbage_bag", Score: 0.9}, true},
		{"model threshold applies without override", Detection{Box: geom.Box{X1: 60, Y1: 60, X2: 70, Y2: 90}, Class: "garbage_bag", Score: 0.2}, false},
	}
	for _, tt := range tests {
		if got := cf.keep(tt.d, 0.3, 100, 100); got != tt.want {
			t.Errorf("%s: keep = %v", tt.name, got)
		}
	}
}
