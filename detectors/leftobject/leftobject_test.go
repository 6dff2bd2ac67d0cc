package leftobject

import (
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/internal/gocvtest"
	"github.com/streetwatch/streetwatch/media/frame"
)

var epoch = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

// scene draws synthetic frames: a textured street, with things on it.
type scene struct {
	w, h  int
	base  gocv.Mat
	rng   *rand.Rand
	noise float64 // per-pixel noise, grey levels
}

func newScene(t testing.TB, w, h int) *scene {
	t.Helper()
	s := &scene{w: w, h: h, rng: rand.New(rand.NewPCG(1, 2))}
	s.base = gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	t.Cleanup(func() { s.base.Close() })
	// Paving: bands and a grid, so the background has edges like a street.
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(90 + (x/40+y/30)%2*30 + (x*7+y*3)%17)
			s.base.SetUCharAt(y, x*3, v)
			s.base.SetUCharAt(y, x*3+1, v+5)
			s.base.SetUCharAt(y, x*3+2, v+10)
		}
	}
	return s
}

type thing struct {
	r   image.Rectangle
	col color.RGBA
	// shade, when set, darkens the ground by this factor instead of
	// painting it: a shadow. tint, when set, scales the ground's blue,
	// green and red each by its own factor instead.
	shade float64
	tint  [3]float64
}

// frame renders the scene with things on it, light scaled by gain.
func (s *scene) frame(t testing.TB, gain float64, things ...thing) gocv.Mat {
	t.Helper()
	m := s.base.Clone()
	for _, th := range things {
		if th.shade == 0 && th.tint == [3]float64{} {
			gocv.Rectangle(&m, th.r, th.col, -1)
			continue
		}
		for y := th.r.Min.Y; y < th.r.Max.Y; y++ {
			for x := th.r.Min.X * 3; x < th.r.Max.X*3; x++ {
				f := th.shade
				if f == 0 {
					f = th.tint[x%3]
				}
				m.SetUCharAt(y, x, uint8(min(float64(m.GetUCharAt(y, x))*f, 255)))
			}
		}
	}
	if gain != 1 {
		m.ConvertToWithParams(&m, gocv.MatTypeCV8UC3, float32(gain), 0)
	}
	if s.noise > 0 {
		n := gocv.NewMatWithSize(s.h, s.w, gocv.MatTypeCV16SC3)
		defer n.Close()
		// OpenCV's generator is per thread, and goroutines move between
		// threads: seeded from the scene's own, on one thread, the noise
		// (and the test) is the same on every run.
		runtime.LockOSThread()
		gocv.SetRNGSeed(int(s.rng.Int32()))
		gocv.RandN(&n, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(s.noise, s.noise, s.noise, 0))
		runtime.UnlockOSThread()
		m16 := gocv.NewMat()
		defer m16.Close()
		m.ConvertTo(&m16, gocv.MatTypeCV16SC3)
		gocv.Add(m16, n, &m16)
		m16.ConvertTo(&m, gocv.MatTypeCV8UC3)
	}
	return m
}

// knocked is how far a knock moved the camera's view (20 px, 3% of the
// width).
var knocked = image.Pt(-12, 16)

var bag = thing{r: image.Rect(300, 250, 360, 310), col: color.RGBA{R: 30, G: 30, B: 200}}

func box(r image.Rectangle) geom.Box {
	return geom.Box{X1: float32(r.Min.X), Y1: float32(r.Min.Y), X2: float32(r.Max.X), Y2: float32(r.Max.Y)}
}

type step struct {
	things  []thing
	exclude []geom.Box
	gain    float64
	// shift moves the whole picture by this many pixels (the camera shook
	// or turned), the edge it uncovers repeating the border.
	shift image.Point
	// rain draws this many raindrop streaks, new ones every frame; drops
	// this many that stay where they are (on the lens), the same every frame.
	rain, drops int
}

// run plays steps at the given interval and returns each frame's boxes.
func run(t *testing.T, d *Detector, s *scene, every time.Duration, steps []step) [][]geom.Box {
	t.Helper()
	var out [][]geom.Box
	for i, st := range steps {
		g := st.gain
		if g == 0 {
			g = 1
		}
		m := s.frame(t, g, st.things...)
		if st.shift != (image.Point{}) {
			moved := translated(m, st.shift)
			m.Close()
			m = moved
		}
		streaks(&m, s.rng, st.rain)
		streaks(&m, rand.New(rand.NewPCG(5, 6)), st.drops)
		dets, err := d.Detect(m, epoch.Add(time.Duration(i)*every), st.exclude)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		var boxes []geom.Box
		for _, det := range dets {
			if det.Class != Class || det.Score < 0.4 || det.Score > 1 {
				t.Fatalf("frame %d: detection %+v", i, det)
			}
			boxes = append(boxes, det.Box)
		}
		out = append(out, boxes)
	}
	return out
}

// translated is gocvtest.Translated: m moved by by.
func translated(m gocv.Mat, by image.Point) gocv.Mat { return gocvtest.Translated(m, by) }

// streaks draws n streaks of rain falling slantwise, lighter than what is
// behind them, at places drawn from rng: large enough to be reported where
// they stay.
func streaks(m *gocv.Mat, rng *rand.Rand, n int) {
	for range n {
		x, y := rng.IntN(m.Cols()), rng.IntN(m.Rows())
		l := 15 + rng.IntN(15)
		gocv.Line(m, image.Pt(x, y), image.Pt(x+l/4, y+l), color.RGBA{R: 200, G: 200, B: 210}, 2)
	}
}

// bagFoundAloneFrom10 checks a bag put down at frame 10 (of 50, a second
// apart): found within 20 s, and found alone over the last 20 frames.
func bagFoundAloneFrom10(t *testing.T, frames [][]geom.Box) {
	t.Helper()
	if first := firstWith(frames); first < 10 || first > 10+20 {
		t.Fatalf("first detection at frame %d, want within 20 s of the bag appearing at 10", first)
	}
	for i, f := range frames[30:] {
		if len(f) != 1 || f[0].IoU(box(bag.r)) < 0.5 {
			t.Fatalf("frame %d: %v, want the bag alone", 30+i, f)
		}
	}
}

// shaking is n steps with things in view, the picture moved by up to amp
// pixels each way, a new offset every frame (from a fixed seed).
func shaking(n, amp int, things []thing) []step {
	rng := rand.New(rand.NewPCG(3, 4))
	out := make([]step, n)
	for i := range out {
		out[i] = step{things: things, shift: image.Pt(rng.IntN(2*amp+1)-amp, rng.IntN(2*amp+1)-amp)}
	}
	return out
}

func repeat(n int, st step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = st
	}
	return out
}

func firstWith(frames [][]geom.Box) int {
	for i, f := range frames {
		if len(f) > 0 {
			return i
		}
	}
	return -1
}

func TestLeftObject(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every time.Duration
		noise float64
		steps func() []step
		check func(t *testing.T, frames [][]geom.Box)
	}{
		{
			name: "appears and stays: one detection at its place", every: time.Second, noise: 4,
			steps: func() []step { return append(repeat(10, step{}), repeat(40, step{things: []thing{bag}})...) },
			check: func(t *testing.T, frames [][]geom.Box) {
				first := firstWith(frames)
				if first < 10 || first > 10+20 {
					t.Fatalf("first detection at frame %d, want within 20 s of the bag appearing at 10", first)
				}
				onlyTheBagFrom(t, frames, first, func(int) string { return "bag there" })
			},
		},
		{
			name: "keyframes every 2 s are enough", every: 2 * time.Second,
			steps: func() []step { return append(repeat(5, step{}), repeat(20, step{things: []thing{bag}})...) },
			check: func(t *testing.T, frames [][]geom.Box) {
				if first := firstWith(frames); first < 5 || first > 5+10 {
					t.Fatalf("first detection at frame %d, want within 20 s of the bag appearing at frame 5", first)
				}
				if last := frames[len(frames)-1]; len(last) != 1 || last[0].IoU(box(bag.r)) < 0.6 {
					t.Fatalf("last frame: %v, want the bag", last)
				}
			},
		},
		{
			name: "passes through: nothing", every: 500 * time.Millisecond, noise: 4,
			steps: func() []step {
				st := repeat(10, step{})
				for x := 0; x < 560; x += 8 { // a cart crossing at 16 px/s
					st = append(st, step{things: []thing{{r: image.Rect(x, 200, x+80, 280), col: color.RGBA{R: 200, G: 40, B: 40}}}})
				}
				return append(st, repeat(20, step{})...)
			},
			check: noDetections,
		},
		{
			name: "person standing still (masked by the model's box): nothing", every: time.Second,
			steps: func() []step {
				person := thing{r: image.Rect(300, 150, 340, 310), col: color.RGBA{R: 20, G: 25, B: 30}} // dark clothes: high contrast
				return append(repeat(10, step{}), repeat(40, step{things: []thing{person}, exclude: []geom.Box{box(person.r)}})...)
			},
			check: noDetections,
		},
		{
			// The model takes a part of the scene for a vehicle in every
			// frame from the first (a façade, a shop front): its box shows
			// the background, hides no one, and is not masked, so a bag put
			// down within it is found.
			name: "a bag put down in the box of the model's phantom on the scene: found", every: time.Second, noise: 3,
			steps: func() []step {
				phantom := []geom.Box{box(image.Rect(200, 100, 480, 290))}
				return append(repeat(10, step{exclude: phantom}), repeat(40, step{things: []thing{bag}, exclude: phantom})...)
			},
			check: bagFoundAloneFrom10,
		},
		{
			// A bus pulls up beside a bag left earlier and covers a third of
			// the picture for 20 s. The model sees the bus: what it hides is
			// neither learnt nor counted as changed, so the bus is not a
			// global change (which would start the backgrounds again and
			// forget the bag).
			name: "a bus (masked) covers a third of the picture: the bag stays found", every: time.Second, noise: 3,
			steps: func() []step {
				bus := thing{r: image.Rect(0, 0, 230, 360), col: color.RGBA{R: 230, G: 210, B: 40}}
				withBus := step{things: []thing{bag, bus}, exclude: []geom.Box{box(bus.r)}}
				return append(append(append(repeat(10, step{}), repeat(15, step{things: []thing{bag}})...),
					repeat(20, withBus)...), repeat(10, step{things: []thing{bag}})...)
			},
			check: func(t *testing.T, frames [][]geom.Box) {
				first := firstWith(frames)
				if first < 10 || first > 25 {
					t.Fatalf("first detection at frame %d, want before the bus comes at 25", first)
				}
				onlyTheBagFrom(t, frames, first, func(int) string { return "bus there from 25 to 44" })
			},
		},
		{
			name: "global brightness jump (auto-exposure): nothing", every: time.Second, noise: 3,
			steps: func() []step { return append(repeat(10, step{}), repeat(40, step{gain: 1.45})...) },
			check: noDetections,
		},
		{
			name: "IR switch (picture changes everywhere): nothing", every: time.Second,
			steps: func() []step {
				night := make([]step, 40)
				for i := range night {
					night[i] = step{gain: 0.55} // darker than any gain correction follows
				}
				return append(repeat(10, step{}), night...)
			},
			check: noDetections,
		},
		{
			name: "slow light ramp (dusk): nothing", every: 2 * time.Second, noise: 3,
			steps: func() []step {
				var st []step
				for i := range 150 { // five minutes, light down by 45 %
					st = append(st, step{gain: 1 - 0.45*float64(i)/150})
				}
				return st
			},
			check: noDetections,
		},
		{
			name: "bag during a slow light ramp: found and kept, nothing else", every: 2 * time.Second, noise: 3,
			steps: func() []step {
				st := repeat(10, step{})
				for i := range 150 { // five minutes, light down by 40 % with the bag there
					st = append(st, step{things: []thing{bag}, gain: 1 - 0.4*float64(i)/150})
				}
				return st
			},
			check: func(t *testing.T, frames [][]geom.Box) {
				first := firstWith(frames)
				if first < 10 || first > 20 {
					t.Fatalf("first detection at frame %d, want within 20 s of frame 10", first)
				}
				onlyTheBagFrom(t, frames, first, func(i int) string { return fmt.Sprintf("light at %.0f %%", 100-40*float64(i-10)/150) })
			},
		},
		{
			// Someone standing just out of the model's box (or out of view)
			// casts a shadow on the paving for a minute: the ground is still
			// there, darker, joints and all.
			name: "a shadow on paving: nothing", every: time.Second, noise: 3,
			steps: func() []step {
				shadow := thing{r: image.Rect(300, 250, 400, 330), shade: 0.6}
				return append(repeat(10, step{}), repeat(50, step{things: []thing{shadow}})...)
			},
			check: noDetections,
		},
		{
			name: "a dark bag beside a shadow: the bag only", every: time.Second, noise: 3,
			steps: func() []step {
				shadow := thing{r: image.Rect(420, 250, 520, 330), shade: 0.6}
				dark := thing{r: bag.r, col: color.RGBA{R: 40, G: 45, B: 50}}
				return append(repeat(10, step{}), repeat(50, step{things: []thing{dark, shadow}})...)
			},
			check: func(t *testing.T, frames [][]geom.Box) {
				if last := frames[len(frames)-1]; len(last) != 1 || last[0].IoU(box(bag.r)) < 0.6 {
					t.Fatalf("last frame: %v, want the bag %v only", last, box(bag.r))
				}
			},
		},
		{
			name: "object removed: detection ends", every: time.Second,
			steps: func() []step {
				return append(append(repeat(10, step{}), repeat(30, step{things: []thing{bag}})...), repeat(15, step{})...)
			},
			check: func(t *testing.T, frames [][]geom.Box) {
				if len(frames[39]) != 1 {
					t.Fatalf("frame 39 (bag still there): %v, want it", frames[39])
				}
				for i := 42; i < len(frames); i++ {
					if len(frames[i]) != 0 {
						t.Fatalf("frame %d, 2 s after the bag was taken: %v, want nothing", i, frames[i])
					}
				}
			},
		},
		{
			name: "sensor noise: nothing", every: time.Second, noise: 8,
			steps: func() []step { return repeat(60, step{}) },
			check: noDetections,
		},
		{
			name: "small camera shake (the pole in the wind, up to 4 px each way every frame): nothing", every: time.Second, noise: 3,
			steps: func() []step { return shaking(60, 4, nil) },
			check: noDetections,
		},
		{
			name: "a bag put down while the camera shakes: found", every: time.Second, noise: 3,
			steps: func() []step { return append(shaking(10, 4, nil), shaking(40, 4, []thing{bag})...) },
			check: bagFoundAloneFrom10,
		},
		{
			name: "a camera swaying (a tall pole in strong wind, up to 8 px each way every frame): nothing", every: time.Second, noise: 3,
			steps: func() []step { return shaking(60, 8, nil) },
			check: noDetections,
		},
		{
			name: "a bag put down while the camera sways 8 px: found", every: time.Second, noise: 3,
			steps: func() []step { return append(shaking(10, 8, nil), shaking(40, 8, []thing{bag})...) },
			check: bagFoundAloneFrom10,
		},
		{
			// Beyond what is followed (3% of the width, from where the
			// backgrounds were learnt): a bag may be lost, but nothing false is raised.
			name: "a camera swaying 12 px each way (24 px peak to peak, beyond what is followed): nothing", every: time.Second, noise: 3,
			steps: func() []step { return shaking(60, 12, nil) },
			check: noDetections,
		},
		{
			// The bag moves with the street; it is reported where the
			// picture shows it.
			name: "a bag found, then the camera knocked 20 px (and stays): still the bag alone", every: time.Second, noise: 3,
			steps: func() []step {
				return append(append(repeat(10, step{}), repeat(15, step{things: []thing{bag}})...),
					repeat(25, step{shift: knocked, things: []thing{bag}})...)
			},
			check: func(t *testing.T, frames [][]geom.Box) {
				if first := firstWith(frames); first < 10 || first > 24 {
					t.Fatalf("first detection at frame %d, want before the knock (25)", first)
				}
				for i, f := range frames[30:] {
					if len(f) != 1 || f[0].IoU(box(bag.r.Add(knocked))) < 0.5 {
						t.Fatalf("frame %d: %v, want the bag alone where the knocked camera shows it, %v", 30+i, f, box(bag.r.Add(knocked)))
					}
				}
			},
		},
		{
			// People are masked where the picture shows them, whatever the
			// view's move.
			name: "a person standing still after the camera was knocked (20 px): nothing", every: time.Second, noise: 3,
			steps: func() []step {
				person := thing{r: image.Rect(100, 60, 140, 300), col: color.RGBA{R: 200, G: 60, B: 40}}
				moved := image.Pt(-16, 12)
				return append(repeat(10, step{}), repeat(40, step{shift: moved, things: []thing{person},
					exclude: []geom.Box{box(person.r.Add(moved))}})...)
			},
			check: noDetections,
		},
		{
			name: "rain (150 streaks a frame): nothing", every: time.Second, noise: 3,
			steps: func() []step { return repeat(60, step{rain: 150}) },
			check: noDetections,
		},
		{
			// Not a fault of rain: marks that stay are new and still.
			name: "the same streaks every frame (drops on the lens): reported", every: time.Second, noise: 3,
			steps: func() []step { return append(repeat(10, step{}), repeat(30, step{drops: 150})...) },
			check: func(t *testing.T, frames [][]geom.Box) {
				if len(frames[len(frames)-1]) == 0 {
					t.Fatal("nothing reported, want the drops that stayed")
				}
			},
		},
		{
			name: "a bag put down in the rain: found", every: time.Second, noise: 3,
			steps: func() []step {
				return append(repeat(10, step{rain: 150}), repeat(40, step{things: []thing{bag}, rain: 150})...)
			},
			check: bagFoundAloneFrom10,
		},
		{
			name: "the camera turned (40 px, and stays): nothing", every: time.Second, noise: 3,
			steps: func() []step {
				return append(repeat(20, step{}), repeat(40, step{shift: image.Pt(40, 0)})...)
			},
			check: noDetections,
		},
		{
			name: "a bag put down after the camera turned: found", every: time.Second, noise: 3,
			steps: func() []step {
				// Turned at 5 s; the bag (where the picture shows it) at 10 s.
				turned := image.Pt(40, 0)
				return append(append(repeat(5, step{}), repeat(5, step{shift: turned})...),
					repeat(40, step{shift: turned, things: []thing{{r: bag.r.Sub(turned), col: bag.col}}})...)
			},
			check: bagFoundAloneFrom10,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScene(t, 640, 360)
			s.noise = tc.noise
			d := New(Config{})
			defer d.Close()
			tc.check(t, run(t, d, s, tc.every, tc.steps()))
		})
	}
}

// Someone standing in view when the camera starts, who walks off later:
// the pavement uncovered is not something new (its outline is in the
// background, not in the picture: a ghost).
func TestLeftObjectNoGhostOfWhatWasThereAtTheStart(t *testing.T) {
	s := newScene(t, 640, 360)
	s.noise = 3
	d := New(Config{})
	defer d.Close()
	cart := thing{r: image.Rect(300, 200, 380, 300), col: color.RGBA{R: 20, G: 20, B: 20}}
	steps := append(repeat(45, step{things: []thing{cart}}), repeat(45, step{})...)
	noDetections(t, run(t, d, s, time.Second, steps))
}

// onlyTheBagFrom checks that every frame from first on has one box, on
// the bag; when describes frame i in the failure.
func onlyTheBagFrom(t *testing.T, frames [][]geom.Box, first int, when func(i int) string) {
	t.Helper()
	for i := first; i < len(frames); i++ {
		if len(frames[i]) != 1 || frames[i][0].IoU(box(bag.r)) < 0.6 {
			t.Fatalf("frame %d (%s): %v, want only the bag %v", i, when(i), frames[i], box(bag.r))
		}
	}
}

func noDetections(t *testing.T, frames [][]geom.Box) {
	t.Helper()
	if i := firstWith(frames); i >= 0 {
		t.Fatalf("frame %d: %v, want no detection", i, frames[i])
	}
}

func TestLeftObjectRefusesAGreyPicture(t *testing.T) {
	d := New(Config{})
	defer d.Close()
	m := gocv.NewMatWithSize(10, 10, gocv.MatTypeCV8U)
	defer m.Close()
	if _, err := d.Detect(m, epoch, nil); err == nil {
		t.Fatal("a one-channel picture was accepted")
	}
}

// TestLeftObjectSaysHowFarTheViewMoved: Moved is the view's move in the
// frame's pixels, while it lasts.
func TestLeftObjectSaysHowFarTheViewMoved(t *testing.T) {
	s := newScene(t, 640, 360)
	s.noise = 3
	d := New(Config{})
	defer d.Close()
	run(t, d, s, time.Second, append(repeat(10, step{}), repeat(5, step{shift: knocked})...))
	if dx, dy := d.Moved(); dx != float32(knocked.X) || dy != float32(knocked.Y) {
		t.Fatalf("after a knock of %v: Moved() = %v, %v", knocked, dx, dy)
	}
	// The view back in place, the clock going on.
	for i := 15; i < 18; i++ {
		m := s.frame(t, 1)
		_, err := d.Detect(m, epoch.Add(time.Duration(i)*time.Second), nil)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if dx, dy := d.Moved(); dx != 0 || dy != 0 {
		t.Fatalf("the view back in place: Moved() = %v, %v, want 0, 0", dx, dy)
	}
}

// BenchmarkDetect720p is the per-frame cost on a 1280x720 camera with a
// bag in view (the budget: 2 ms on one core). "mat" shrinks the
// frame itself (Detect); "frame-shrunk" is the pipeline's case
// (DetectFrame), where the model's letterbox has already shrunk the frame
// to the same 320x180.
func BenchmarkDetect720p(b *testing.B) {
	s := newScene(b, 1280, 720)
	s.noise = 4
	frames := []gocv.Mat{s.frame(b, 1), s.frame(b, 1, thing{r: image.Rect(600, 500, 720, 620), col: color.RGBA{R: 30, G: 30, B: 200}})}
	defer frames[0].Close()
	defer frames[1].Close()
	warm := func(b *testing.B) *Detector {
		d := New(Config{})
		for i := range 20 { // the bag is a left object by now
			if _, err := d.Detect(frames[min(i, 1)], epoch.Add(time.Duration(i)*time.Second), nil); err != nil {
				b.Fatal(err)
			}
		}
		return d
	}
	b.Run("mat", func(b *testing.B) {
		d := warm(b)
		defer d.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := d.Detect(frames[1], epoch.Add(time.Duration(20+i)*time.Second), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("eight-boxes", func(b *testing.B) {
		// What the model found in the frame: eight people and a vehicle
		// that take a third of the picture (none there: each box is
		// measured against the background, and none is masked).
		d := warm(b)
		defer d.Close()
		var boxes []geom.Box
		for k := range 8 {
			boxes = append(boxes, box(image.Rect(40+150*k, 200, 120+150*k, 420)))
		}
		boxes = append(boxes, box(image.Rect(0, 0, 640, 360)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := d.Detect(frames[1], epoch.Add(time.Duration(20+i)*time.Second), boxes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("swaying", func(b *testing.B) {
		// The camera's view moves back and forth by 24 px (of 1280) every
		// frame: each frame is followed (moved, align, steady twice), and
		// the bag is reported where each frame shows it.
		swayed := translated(frames[1], image.Pt(24, 0))
		defer swayed.Close()
		d := warm(b)
		defer d.Close()
		b.ReportAllocs()
		b.ResetTimer()
		var x1 [2]float32
		for i := 0; i < b.N; i++ {
			pic := frames[1]
			if i%2 == 0 {
				pic = swayed
			}
			dets, err := d.Detect(pic, epoch.Add(time.Duration(20+i)*time.Second), nil)
			if err != nil {
				b.Fatal(err)
			}
			if i < 2 {
				if len(dets) != 1 {
					b.Fatalf("frame %d: %d detections of the bag, want 1", i, len(dets))
				}
				x1[i] = dets[0].Box.X1
			}
		}
		if b.N > 1 && x1[0]-x1[1] != 24 {
			b.Fatalf("the bag at x %v in the frames moved by 24 px and back, want 24 px apart", x1)
		}
	})
	b.Run("frame-shrunk", func(b *testing.B) {
		d := warm(b)
		defer d.Close()
		f := &frame.Frame{Mat: frames[1]}
		into := gocv.NewMat()
		defer into.Close()
		f.Shrunk(320, 180, &into) // as the letterbox does first
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			f.Time = epoch.Add(time.Duration(20+i) * time.Second)
			dets, err := d.DetectFrame(f, nil)
			if err != nil {
				b.Fatal(err)
			}
			if i == 0 && len(dets) != 1 {
				b.Fatalf("%d detections of the bag, want 1", len(dets))
			}
		}
	})
}

// BenchmarkGrey720pBaseline is the baseline measured beside
// BenchmarkDetect720p in the same run: converting the same 720p frame to
// grey at full size, the least any pixel-level method pays.
func BenchmarkGrey720pBaseline(b *testing.B) {
	s := newScene(b, 1280, 720)
	f := s.frame(b, 1)
	defer f.Close()
	g := gocv.NewMat()
	defer g.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		gocv.CvtColor(f, &g, gocv.ColorBGRToGray)
	}
}

// In the pipeline the detector works on the picture the model's letterbox
// shrank (DetectFrame): it finds exactly what it finds shrinking the frame
// itself, box for box and score for score.
func TestDetectFrameOnTheLetterboxPictureFindsWhatDetectFinds(t *testing.T) {
	s := newScene(t, 1280, 720)
	s.noise = 4
	big := thing{r: image.Rect(600, 500, 720, 620), col: color.RGBA{R: 30, G: 30, B: 200}}
	plain, shared := New(Config{}), New(Config{})
	defer plain.Close()
	defer shared.Close()
	into := gocv.NewMat()
	defer into.Close()
	found := 0
	for i := range 30 {
		var m gocv.Mat
		if i < 5 {
			m = s.frame(t, 1)
		} else {
			m = s.frame(t, 1, big)
		}
		at := epoch.Add(time.Duration(i) * time.Second)
		want, err := plain.Detect(m, at, nil)
		if err != nil {
			t.Fatal(err)
		}
		f := &frame.Frame{Mat: m, Time: at}
		f.Shrunk(320, 180, &into) // the letterbox, first
		got, err := shared.DetectFrame(f, nil)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("frame %d: DetectFrame %+v, Detect %+v", i, got, want)
		}
		found += len(got)
	}
	if found == 0 {
		t.Fatal("the bag was never found: the comparison proves nothing")
	}
}

// Removed says where an object went: the frame a reported bag is taken
// away, or once the place a cart stood on from the start is found empty
// (a ghost, learnt piece by piece: it may take more than one frame).
// Passers-by walking over the bag, and someone the model sees standing in
// front of it, hide it without making it gone.
func TestLeftObjectRemovedSaysWhereAnObjectWent(t *testing.T) {
	walker := func(i int) thing { // crosses the bag's place, 40 px a frame
		x := 200 + 40*i
		return thing{r: image.Rect(x, 200, x+50, 330), col: color.RGBA{R: 180, G: 60, B: 60}}
	}
	person := thing{r: image.Rect(290, 150, 370, 330), col: color.RGBA{R: 20, G: 25, B: 30}}
	cart := thing{r: image.Rect(300, 200, 380, 300), col: color.RGBA{R: 20, G: 20, B: 20}}
	for _, tc := range []struct {
		name        string
		steps       func() []step
		first, last int // the first frame with a removed box is in [first, last] (-1: none)
		where       image.Rectangle
	}{
		{"bag taken away", func() []step {
			return append(append(repeat(10, step{}), repeat(30, step{things: []thing{bag}})...), repeat(15, step{})...)
		}, 40, 40, bag.r},
		{"passers-by and someone standing in front: not gone", func() []step {
			st := append(repeat(10, step{}), repeat(20, step{things: []thing{bag}})...)
			for i := range 6 {
				st = append(st, step{things: []thing{bag, walker(i)}})
			}
			st = append(st, repeat(5, step{things: []thing{bag}})...)
			st = append(st, repeat(15, step{things: []thing{bag, person}, exclude: []geom.Box{box(person.r)}})...)
			return append(st, repeat(10, step{things: []thing{bag}})...)
		}, -1, -1, bag.r},
		{"picked up by someone standing in front of it", func() []step {
			// Hidden (masked) in the frames before it went, then the
			// person leaves with it.
			st := append(repeat(10, step{}), repeat(30, step{things: []thing{bag}})...)
			st = append(st, repeat(5, step{things: []thing{bag, person}, exclude: []geom.Box{box(person.r)}})...)
			return append(st, repeat(15, step{})...)
		}, 45, 45, bag.r},
		{"hidden for a minute, then picked up", func() []step {
			st := append(repeat(10, step{}), repeat(30, step{things: []thing{bag}})...)
			st = append(st, repeat(60, step{things: []thing{bag, person}, exclude: []geom.Box{box(person.r)}})...)
			return append(st, repeat(15, step{})...)
		}, 100, 100, bag.r},
		{"a cart there from the start leaves", func() []step {
			return append(repeat(20, step{things: []thing{cart}}), repeat(20, step{})...)
		}, 20, 35, cart.r},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScene(t, 640, 360)
			s.noise = 3
			d := New(Config{})
			defer d.Close()
			first, covered := -1, false
			for i, st := range tc.steps() {
				m := s.frame(t, 1, st.things...)
				_, err := d.Detect(m, epoch.Add(time.Duration(i)*time.Second), st.exclude)
				m.Close()
				if err != nil {
					t.Fatal(err)
				}
				for _, g := range d.Removed() {
					if first < 0 {
						first = i
					}
					if g.Within(box(tc.where.Inset(-4))) < 0.9 {
						t.Errorf("frame %d: removed %v, not on %v", i, g, box(tc.where))
					}
					covered = covered || g.IoU(box(tc.where)) >= 0.6
				}
			}
			if first < tc.first || first > tc.last {
				t.Errorf("first removed at frame %d, want in [%d, %d]", first, tc.first, tc.last)
			}
			if first >= 0 && !covered {
				t.Errorf("no removed box covers %v", box(tc.where))
			}
		})
	}
}

// Compare tells an object put down (its place differs from the learnt
// background) from part of the scene the model misnames (a parked car there
// from the first frame), and says nothing of a place hidden by a person,
// nor before the background has settled.
func TestCompare(t *testing.T) {
	s := newScene(t, 640, 360)
	car := thing{r: image.Rect(480, 20, 620, 100), col: color.RGBA{R: 160, G: 160, B: 170}}
	d := New(Config{})
	if _, ok := d.Compare(box(bag.r)); ok {
		t.Fatal("a comparison before the first frame")
	}
	person := box(image.Rect(280, 150, 380, 320))
	for i := range 12 {
		things := []thing{car}
		var exclude []geom.Box
		if i >= 4 {
			things = append(things, bag)
		}
		if i >= 4 && i < 6 {
			exclude = []geom.Box{person} // whoever put it down stands in front
		}
		m := s.frame(t, 1, things...)
		_, err := d.Detect(m, epoch.Add(time.Duration(i)*time.Second), exclude)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		carShare, ok := d.Compare(box(car.r))
		if i < 2 {
			if ok {
				t.Fatalf("frame %d: compared with a background learnt %d s ago", i, i)
			}
			continue
		}
		if !ok || carShare > 0.05 {
			t.Fatalf("frame %d: the car, there from the first frame: share %.2f ok %v, want about 0", i, carShare, ok)
		}
		bagShare, ok := d.Compare(box(bag.r))
		switch {
		case i < 4 && (!ok || bagShare > 0.05):
			t.Fatalf("frame %d: the empty pavement: share %.2f ok %v, want about 0", i, bagShare, ok)
		case i >= 4 && i < 6 && ok:
			t.Fatalf("frame %d: the bag behind the person was compared (share %.2f)", i, bagShare)
		case i >= 6 && (!ok || bagShare < 0.9):
			t.Fatalf("frame %d: the bag put down: share %.2f ok %v, want about 1", i, bagShare, ok)
		}
	}
}

// cobbles is a 640x360 scene of square cobbles of period pixels, grey
// levels 60 and 160.
func cobbles(t *testing.T, period int) *scene {
	s := newScene(t, 640, 360)
	for y := range 360 {
		for x := range 640 {
			v := uint8(60)
			if (x/period+y/period)%2 == 0 {
				v = 160
			}
			for c := range 3 {
				s.base.SetUCharAt(y, x*3+c, v)
			}
		}
	}
	return s
}

// A plain bag on cobbles hides the stones' edges, so by its outline alone
// it looks like the ghost of something that left; it stands out from the
// paving around it, which its place did not before, so it is a left
// object (never found before the check: the leuvenB bag of the real-scene
// set was taken for a ghost and learnt into the background).
func TestAPlainBagOnCobblesIsNoGhost(t *testing.T) {
	for _, tc := range []struct {
		period int   // cobble size, pixels
		grey   uint8 // the bag's grey level; the cobbles are 60 and 160
	}{{8, 90}, {12, 90}, {12, 110}, {12, 140}, {24, 110}, {32, 90}} {
		t.Run(fmt.Sprintf("cobbles %d px, bag %d", tc.period, tc.grey), func(t *testing.T) {
			s := cobbles(t, tc.period)
			plain := thing{r: bag.r, col: color.RGBA{R: tc.grey, G: tc.grey, B: tc.grey}}
			d := New(Config{})
			defer d.Close()
			found := 0
			for i := range 40 {
				var things []thing
				if i >= 5 {
					things = []thing{plain}
				}
				dets := detectSecond(t, d, s, i, things...)
				if len(d.Removed()) > 0 {
					t.Fatalf("frame %d: the bag's place taken for a ghost: %v", i, d.Removed())
				}
				for _, det := range dets {
					if det.Box.IoU(box(bag.r)) < 0.3 {
						t.Fatalf("frame %d: %v, the bag is at %v", i, det.Box, box(bag.r))
					}
				}
				found += len(dets)
			}
			if found < 20 {
				t.Fatalf("the bag was found in %d frames, want about 25 (from 6 s after it was put down)", found)
			}
		})
	}
}

// A cart (or someone) on cobbles from the start that leaves uncovers
// cobbles: a ghost, though the stones' edges run through its outline as
// strongly as the cart's did. Its place now blends into the ground around
// it far more than it did, so it is learnt and said removed, and raises
// no left object. A sliver of it that settles a frame before the rest may
// be found in that one frame (learnt with the rest in the next; a case
// needs it for StaticFor and more). Before the likeness check each of
// these carts came back as a left object about ten seconds after it left.
func TestACartLeavingCobblesIsAGhost(t *testing.T) {
	for _, tc := range []struct {
		period int   // cobble size, pixels
		grey   uint8 // the cart's grey level; the cobbles are 60 and 160
	}{{8, 90}, {12, 20}, {12, 90}, {12, 110}, {12, 140}, {12, 230}, {24, 110}, {32, 90}} {
		t.Run(fmt.Sprintf("cobbles %d px, cart %d", tc.period, tc.grey), func(t *testing.T) {
			s := cobbles(t, tc.period)
			s.noise = 3
			cart := thing{r: image.Rect(300, 200, 380, 300), col: color.RGBA{R: tc.grey, G: tc.grey, B: tc.grey}}
			d := New(Config{})
			defer d.Close()
			found, removed := 0, false
			for i := range 90 {
				var things []thing
				if i < 45 {
					things = []thing{cart}
				}
				dets := detectSecond(t, d, s, i, things...)
				for _, r := range d.Removed() {
					removed = removed || r.IoU(box(cart.r)) >= 0.5
				}
				if len(dets) > 0 {
					found++
					t.Logf("frame %d: %v", i, dets[0].Box)
				}
			}
			if found > 1 {
				t.Errorf("left objects found in %d frames where the cart left, want none (or a sliver in one)", found)
			}
			if !removed {
				t.Error("the cart's place was never said removed")
			}
		})
	}
}

// A bag put down beside someone who stood there since the camera started
// (in the long-term background), who then walks off: the ground they
// uncovered settles into a ghost joined to the bag. The ghost is learnt and
// said removed; the bag alone goes on being reported. Judged as one
// region, the two were reported as one bigger object for as long as the
// bag stood (a person's size beside a bag), or, where the ghost is the
// larger part, taken for one ghost: the bag was learnt into the background
// with it and never reported again (a growing pile of the real-scene set,
// vtest_pile_2, was lost so 9 s after it was found).
func TestABagJoinedByAGhostStaysReportedAlone(t *testing.T) {
	for _, tc := range []struct {
		name           string
		stander, thing image.Rectangle
	}{
		{"a person beside a bag", image.Rect(300, 200, 360, 300), image.Rect(360, 250, 410, 300)},
		{"a cart beside a small bag", image.Rect(200, 150, 360, 300), image.Rect(360, 266, 392, 300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScene(t, 640, 360)
			s.noise = 3
			d := New(Config{})
			defer d.Close()
			stander := thing{r: tc.stander, col: color.RGBA{R: 20, G: 20, B: 20}}
			left := thing{r: tc.thing, col: color.RGBA{R: 30, G: 30, B: 200}}
			removed := false
			for i := range 60 {
				things := []thing{left}
				switch {
				case i < 5:
					things = []thing{stander}
				case i < 25:
					things = append(things, stander)
				}
				dets := detectSecond(t, d, s, i, things...)
				for _, r := range d.Removed() {
					removed = removed || r.Within(box(tc.stander)) >= 0.8
					if r.IoU(box(tc.thing)) >= 0.3 {
						t.Fatalf("frame %d: the bag's place %v said removed", i, r)
					}
				}
				// Still for StaticFor (6 s) once the short-term
				// background has it: reported from frame 17.
				if i < 18 {
					continue
				}
				if len(dets) != 1 || dets[0].Box.IoU(box(tc.thing)) < 0.6 {
					t.Fatalf("frame %d (the stander left at 25): %v, want only the bag %v", i, boxesOf(dets), box(tc.thing))
				}
			}
			if !removed {
				t.Error("the stander's place was never said removed")
			}
		})
	}
}

func boxesOf(dets []detectors.Detection) []geom.Box {
	var out []geom.Box
	for _, d := range dets {
		out = append(out, d.Box)
	}
	return out
}

// detectSecond renders the scene with things on it and runs the detector
// on it as the frame of second i.
func detectSecond(t *testing.T, d *Detector, s *scene, i int, things ...thing) []detectors.Detection {
	t.Helper()
	m := s.frame(t, 1, things...)
	defer m.Close()
	dets, err := d.Detect(m, epoch.Add(time.Duration(i)*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	return dets
}

// TestABagPartlyHiddenWhenAGhostJoinsIt: as TestABagJoinedByAGhostStaysReportedAlone,
// but a passer-by (masked, as the model's person boxes are) stands over
// the far part of the bag for the three seconds before the stander's ghost
// settles beside it, and steps away in the frame it does: the part that
// shows again is the bag's, not something that joined it with the ghost
// (vtest_pile_2: judged with the ghost, the pile was learnt into the
// background).
func TestABagPartlyHiddenWhenAGhostJoinsIt(t *testing.T) {
	stander := thing{r: image.Rect(300, 200, 360, 300), col: color.RGBA{R: 20, G: 20, B: 20}}
	bag := thing{r: image.Rect(360, 250, 410, 300), col: color.RGBA{R: 30, G: 30, B: 200}}
	passer := thing{r: image.Rect(388, 180, 420, 300), col: color.RGBA{R: 200, G: 60, B: 60}}
	// play runs the scene with the passer there in frames [from, to) and
	// returns each frame's detections and the frame the stander's place
	// was said removed (its ghost settled and was judged), -1 if never.
	play := func(from, to int) ([][]detectors.Detection, int) {
		s := newScene(t, 640, 360)
		s.noise = 3
		d := New(Config{})
		defer d.Close()
		var out [][]detectors.Detection
		settled := -1
		for i := range 60 {
			things, exclude := []thing{bag}, []geom.Box(nil)
			switch {
			case i < 5:
				things = []thing{stander}
			case i < 25:
				things = append(things, stander)
			}
			if i >= from && i < to {
				things, exclude = append(things, passer), []geom.Box{box(passer.r)}
			}
			m := s.frame(t, 1, things...)
			dets, err := d.Detect(m, epoch.Add(time.Duration(i)*time.Second), exclude)
			m.Close()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, dets)
			if settled < 0 && slices.ContainsFunc(d.Removed(), func(r geom.Box) bool { return r.Within(box(stander.r)) >= 0.8 }) {
				settled = i
			}
		}
		return out, settled
	}
	_, settled := play(-1, -1)
	if settled < 30 {
		t.Fatalf("without the passer the ghost was judged at frame %d, want some frames after the bag is reported (18)", settled)
	}
	frames, again := play(settled-3, settled)
	if again < 0 {
		t.Error("with the passer the stander's place was never said removed")
	}
	for i, dets := range frames {
		if i < 18 || (i >= settled-3 && i < settled) {
			continue // not yet reported, or mostly hidden
		}
		if len(dets) != 1 || dets[0].Box.IoU(box(bag.r)) < 0.6 {
			t.Fatalf("frame %d (passer there %d-%d): %v, want only the bag %v", i, settled-3, settled-1, boxesOf(dets), box(bag.r))
		}
	}
}
