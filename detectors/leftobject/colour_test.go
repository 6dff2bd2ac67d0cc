package leftobject

import (
	"image"
	"image/color"
	"testing"
	"time"
)

// grass turns the scene's ground green, its texture kept: each channel of
// the paving scaled by its own factor.
func grass(s *scene) {
	px, _ := s.base.DataPtrUint8()
	for i := range px {
		px[i] = uint8(min(float64(px[i])*[3]float64{0.5, 1.15, 0.65}[i%3], 255))
	}
}

// What only colour tells: a bag as bright as the ground it lies on, and a
// dark thing on grass that follows the grass's texture the way a shadow
// does but is another colour. Each is shown invisible to the grey levels
// alone (ChromaThreshold out of reach), so the case measures colour.
func TestLeftObjectSeesColour(t *testing.T) {
	// Grass darkened to about half, blue kept: the grey levels of a
	// shadow, the colour of something else.
	dark := thing{r: image.Rect(300, 250, 360, 310), tint: [3]float64{1.1, 0.45, 0.35}}
	shadow := thing{r: dark.r, shade: 0.55}
	for _, tc := range []struct {
		name   string
		ground func(*scene)
		th     thing
		want   bool // a detection at th's place, with colour compared
	}{
		{"a bag as bright as the paving, another colour: found", func(*scene) {}, ochre, true},
		{"a dark bluish thing on grass, following its texture: found", grass, dark, true},
		{"a shadow on grass: nothing", grass, shadow, false},
	} {
		for _, colour := range []bool{true, false} {
			name := tc.name + ", colour compared"
			cfg := Config{}
			if !colour {
				name, cfg.ChromaThreshold = tc.name+", grey levels alone", 1e6
			}
			t.Run(name, func(t *testing.T) {
				s := newScene(t, 640, 360)
				s.noise = 3
				tc.ground(s)
				d := New(cfg)
				defer d.Close()
				frames := run(t, d, s, time.Second, append(repeat(10, step{}), repeat(40, step{things: []thing{tc.th}})...))
				want := tc.want && colour
				first := firstWith(frames)
				if !want {
					if first >= 0 {
						t.Fatalf("frame %d: %v, want nothing", first, frames[first])
					}
					return
				}
				if first < 10 || first > 30 {
					t.Fatalf("first detection at frame %d, want within 20 s of frame 10", first)
				}
				for i := first; i < len(frames); i++ {
					if len(frames[i]) != 1 || frames[i][0].IoU(box(tc.th.r)) < 0.6 {
						t.Fatalf("frame %d: %v, want only %v", i, frames[i], box(tc.th.r))
					}
				}
			})
		}
	}
}

// ochre is a flat bag of the luma of the paving square it lies in (90-106
// grey, 96-112 in luma, against its 108), another colour.
var ochre = thing{r: image.Rect(322, 242, 358, 268), col: color.RGBA{R: 140, G: 105, B: 40}}

// Where a bag of the ground's brightness and another colour was put down,
// the place is not as it was (Compare, which the rules ask before they
// believe the model there): compared in grey levels alone, it would be.
func TestCompareSeesColour(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		want   func(share float64) bool
		expect string
	}{
		{"colour compared", Config{}, func(v float64) bool { return v >= 0.9 }, "about 1"},
		{"grey levels alone", Config{ChromaThreshold: 1e6}, func(v float64) bool { return v <= oldShare }, "at most oldShare"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScene(t, 640, 360)
			s.noise = 3
			d := New(tc.cfg)
			defer d.Close()
			run(t, d, s, time.Second, append(repeat(4, step{}), repeat(4, step{things: []thing{ochre}})...))
			if share, ok := d.Compare(box(ochre.r)); !ok || !tc.want(share) {
				t.Fatalf("the ochre bag 4 s after it was put down: share %.2f ok %v, want %s", share, ok, tc.expect)
			}
		})
	}
}

// A camera's white balance changes at once (a colour cast over the whole
// picture, the grey levels about the same): the backgrounds start again,
// nothing is reported, and a bag put down later is found, alone.
func TestLeftObjectColourCastIsGlobal(t *testing.T) {
	s := newScene(t, 640, 360)
	s.noise = 3
	d := New(Config{})
	defer d.Close()
	cast := thing{r: image.Rect(0, 0, 640, 360), tint: [3]float64{0.8, 1.0, 1.25}}
	steps := append(repeat(10, step{}), repeat(10, step{things: []thing{cast}})...)
	frames := run(t, d, s, time.Second, append(steps, repeat(30, step{things: []thing{cast, bag}})...))
	noDetections(t, frames[:20])
	first := firstWith(frames)
	if first < 20 || first > 40 {
		t.Fatalf("first detection at frame %d, want within 20 s of the bag put down at 20", first)
	}
	// The bag's edges may settle a frame or two before its middle, and be
	// reported alone for as long (a dark bag's grey levels take longer to
	// settle; so it is without colour): the bag is judged once settled.
	for i := 35; i < len(frames); i++ {
		if len(frames[i]) != 1 || frames[i][0].IoU(box(bag.r)) < 0.6 {
			t.Fatalf("frame %d (bag there since 20, under the cast): %v, want only the bag %v", i, frames[i], box(bag.r))
		}
	}
}
