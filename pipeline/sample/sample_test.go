package sample

import (
	"testing"

	"github.com/streetwatch/streetwatch/media"
)

func TestFPSKeepsEvenlySpacedPicturesInStreamTime(t *testing.T) {
	tests := []struct {
		name     string
		fps      float64
		frameDur int64 // stream time between pictures
		frames   int
		want     int
	}{
		{"2 of 25 fps over 10 s", 2, 3600, 250, 20},
		{"5 of 25 fps over 10 s", 5, 3600, 250, 50},
		{"1 of 10 fps over 8 s", 1, 9000, 80, 8},
		{"more than the source keeps all", 50, 3600, 100, 100},
		{"25 of 25 keeps all", 25, 3600, 100, 100},
		{"0 keeps all", 0, 3600, 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := FPS(tt.fps)
			got := 0
			for i := 0; i < tt.frames; i++ {
				if s.Keep(int64(i) * tt.frameDur) {
					got++
				}
			}
			if got != tt.want {
				t.Fatalf("kept %d pictures, want %d", got, tt.want)
			}
		})
	}
}

func TestFPSDoesNotDriftWithJitter(t *testing.T) {
	s := FPS(2)
	kept := 0
	// 25 fps with ±1 ms of jitter on every timestamp, 100 s.
	for i := 0; i < 2500; i++ {
		jitter := int64((i%3)-1) * 90
		if s.Keep(int64(i)*3600 + jitter) {
			kept++
		}
	}
	if kept < 199 || kept > 201 {
		t.Fatalf("kept %d pictures in 100 s at 2 fps, want 200±1", kept)
	}
}

func TestFPSAfterAGapKeepsTheNextPictureOnly(t *testing.T) {
	s := FPS(1)
	if !s.Keep(0) {
		t.Fatal("first picture not kept")
	}
	// 10 s gap: the next picture is kept, then the grid continues at 1 s.
	if !s.Keep(10 * media.ClockRate) {
		t.Fatal("picture after gap not kept")
	}
	if s.Keep(10*media.ClockRate + 3600) {
		t.Fatal("picture 40 ms after the kept one was kept too")
	}
}

func TestKeyframesDecodesOnlyKeyframes(t *testing.T) {
	s := Keyframes()
	if !s.Decode(&media.AccessUnit{Key: true}) {
		t.Fatal("keyframe not decoded")
	}
	if s.Decode(&media.AccessUnit{Key: false}) {
		t.Fatal("non-keyframe decoded in keyframes mode")
	}
	if !FPS(2).Decode(&media.AccessUnit{Key: false}) {
		t.Fatal("fps mode must decode every picture")
	}
}
