package detectors

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media/frame"
)

// The golden models output the same boxes for every image, in model-input
// pixels (320x192): person (128,80)-(192,112) 0.9, a weaker overlapping
// person (NMS removes it, except from end2end output: final boxes), vehicle (30,40)-(50,80) 0.8, garbage_bag
// (285,155)-(315,185) 0.7 and a vehicle at 0.1 (below threshold).
func TestGoldenDecodingInEveryLayoutMapsBoxesToNativePixels(t *testing.T) {
	type want struct {
		class string
		box   geom.Box
		score float32
	}
	sizes := []struct {
		w, h int
		want []want
		// e2e: the weaker overlapping person, which NMS removes in the
		// other layouts; end2end boxes are final and keep it.
		e2e geom.Box
	}{
		// 640x360 → scale 0.5, padded 6 px top and bottom.
		{640, 360, []want{
			{"person", geom.Box{X1: 256, Y1: 148, X2: 384, Y2: 212}, 0.9},
			{"vehicle", geom.Box{X1: 60, Y1: 68, X2: 100, Y2: 148}, 0.8},
			{"garbage_bag", geom.Box{X1: 570, Y1: 298, X2: 630, Y2: 358}, 0.7},
		}, geom.Box{X1: 260, Y1: 152, X2: 384, Y2: 212}},
		// 1280x720 → scale 0.25, same padding: everything twice as large.
		{1280, 720, []want{
			{"person", geom.Box{X1: 512, Y1: 296, X2: 768, Y2: 424}, 0.9},
			{"vehicle", geom.Box{X1: 120, Y1: 136, X2: 200, Y2: 296}, 0.8},
			{"garbage_bag", geom.Box{X1: 1140, Y1: 596, X2: 1260, Y2: 716}, 0.7},
		}, geom.Box{X1: 520, Y1: 304, X2: 768, Y2: 424}},
		// 360x640 portrait → scale 0.3, padded 106 px left: the vehicle and
		// the bag fall in the padding and are dropped.
		{360, 640, []want{
			{"person", geom.Box{X1: 73.333, Y1: 266.667, X2: 286.667, Y2: 373.333}, 0.9},
		}, geom.Box{X1: 80, Y1: 273.333, X2: 286.667, Y2: 373.333}},
		// 320x192 → no scaling, no padding.
		{320, 192, []want{
			{"person", geom.Box{X1: 128, Y1: 80, X2: 192, Y2: 112}, 0.9},
			{"vehicle", geom.Box{X1: 30, Y1: 40, X2: 50, Y2: 80}, 0.8},
			{"garbage_bag", geom.Box{X1: 285, Y1: 155, X2: 315, Y2: 185}, 0.7},
		}, geom.Box{X1: 130, Y1: 82, X2: 192, Y2: 112}},
	}
	for _, layout := range []string{LayoutYOLOv8, LayoutYOLOv5, LayoutEnd2End} {
		t.Run(layout, func(t *testing.T) {
			m := loadTestModel(t, golden(layout), SessionOptions{})
			if m.Layout() != layout {
				t.Fatalf("detected layout %q, want %q", m.Layout(), layout)
			}
			var frames []*frame.Frame
			for i, sz := range sizes {
				frames = append(frames, solidFrame("cam", uint64(i), sz.w, sz.h))
			}
			got := detectAll(t, map[string]*Model{"g": m}, nil, 8, frames)
			for i, sz := range sizes {
				dets := got[i]
				sort.Slice(dets, func(a, b int) bool { return dets[a].Score > dets[b].Score })
				if layout == LayoutEnd2End {
					sz.want = append(slices.Clone(sz.want), want{"person", sz.e2e, 0.6})
				}
				if len(dets) != len(sz.want) {
					t.Fatalf("%dx%d: %d detections %v, want %d", sz.w, sz.h, len(dets), dets, len(sz.want))
				}
				for k, w := range sz.want {
					d := dets[k]
					e := max(abs(d.Box.X1-w.box.X1), abs(d.Box.Y1-w.box.Y1), abs(d.Box.X2-w.box.X2), abs(d.Box.Y2-w.box.Y2))
					if d.Class != w.class || e >= 1 || abs(d.Score-w.score) > 1e-4 {
						t.Errorf("%dx%d #%d: %s %.3f %v, want %s %.3f %v", sz.w, sz.h, k, d.Class, d.Score, d.Box, w.class, w.score, w.box)
					}
				}
			}
		})
	}
}

func TestWrongOutputShapeIsALoadError(t *testing.T) {
	needRuntime(t)
	man, err := LoadManifest(golden("badshape"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadModel(man, SessionOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), `model "golden-badshape": classes: output "output0" has shape [1 6 10]`) {
		t.Fatalf("error %v: want one naming the model, the tensor and its shape", err)
	}

	man, err = LoadManifest(golden("yolov8"))
	if err != nil {
		t.Fatal(err)
	}
	man.Layout = LayoutYOLOv5
	_, err = LoadModel(man, SessionOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "layout yolov5 with 3 classes needs [B, N, 8]") {
		t.Fatalf("declared layout that does not fit: %v", err)
	}
}

func TestMissingModelFileNamesIt(t *testing.T) {
	needRuntime(t)
	p := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(p, []byte("name: x\nfile: nowhere.onnx\ninput: {width: 320, height: 320}\nclasses: [a]\nthresholds: {a: 0.5}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	man, err := LoadManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadModel(man, SessionOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "nowhere.onnx") {
		t.Fatalf("error %v: want the missing file named", err)
	}
}

func TestBadManifestNamesTheField(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(p, []byte("name: x\nfile: m.onnx\nlayout: yolov9\ninput: {width: 320, height: 320}\nclasses: [a, a]\nthresholds: {b: 0.5}\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadManifest(p)
	if err == nil || !strings.Contains(err.Error(), "bogus: unknown field") {
		t.Fatalf("unknown key: %v", err)
	}
	if err := os.WriteFile(p, []byte("name: x\nfile: m.onnx\nlayout: yolov9\ninput: {width: 320, height: 320}\nclasses: [a, a]\nthresholds: {b: 0.5}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadManifest(p)
	for _, want := range []string{`layout: must be yolov8, yolov5 or end2end (got "yolov9")`, `classes[1]: empty or repeated class name "a"`, "thresholds.b: not one of the model's classes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v: want %q", err, want)
		}
	}
}

func TestMissingLibrarySaysWhereItLookedAndHowToFix(t *testing.T) {
	_, err := FindLibrary("/nonexistent/libonnxruntime.so")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/libonnxruntime.so") || !strings.Contains(err.Error(), "scripts/setup.sh") {
		t.Fatalf("error %v: want the path looked at and the fix", err)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv(LibraryEnv, "")
	t.Setenv("STREETWATCH_CACHE", "/nonexistent-cache")
	_, err = FindLibrary("")
	if err == nil && !fileExists("/usr/local/lib/libonnxruntime.so") && !fileExists("/usr/lib/libonnxruntime.so") {
		t.Fatal("no library anywhere, yet found one")
	}
	if err != nil && !strings.Contains(err.Error(), "/nonexistent-cache/onnxruntime-"+ORTVersion) {
		t.Fatalf("error %v: want the cache path listed", err)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

const wrongLibEnv = "STREETWATCH_TEST_WRONG_LIB"

// wrongLibraryChild runs in a child process (the runtime loads once per
// process): it loads a shared library that is not ONNX Runtime.
func wrongLibraryChild() int {
	_, err := InitRuntime(os.Getenv(wrongLibEnv))
	if err == nil {
		os.Stdout.WriteString("loaded\n")
		return 0
	}
	os.Stdout.WriteString(err.Error() + "\n")
	return 3
}

func TestWrongLibraryIsAClearError(t *testing.T) {
	out, err := exec.Command(mediatest.Tool(t, "pkg-config"), "--variable=libdir", "libavcodec").Output()
	if err != nil {
		mediatest.Missing(t, "pkg-config libavcodec (libavcodec-dev): %v", err)
	}
	wrong := filepath.Join(strings.TrimSpace(string(out)), "libavcodec.so")
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), wrongLibEnv+"="+wrong)
	got, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("child: %v, output %q", err, got)
	}
	if !strings.Contains(string(got), "load ONNX Runtime from "+wrong) || !strings.Contains(string(got), "scripts/setup.sh") {
		t.Fatalf("error %q: want the path and the fix", got)
	}
}

func TestSeveralModelsPerCameraAndPerCameraModelChoice(t *testing.T) {
	v8 := loadTestModel(t, golden("yolov8"), SessionOptions{})
	e2e := loadTestModel(t, golden("end2end"), SessionOptions{})
	frames := []*frame.Frame{solidFrame("both", 0, 640, 360), solidFrame("only-e2e", 1, 640, 360)}
	s := map[string]*Model{"a": v8, "b": e2e}
	got := detectAllWith(t, s, map[string][]string{"only-e2e": {"b"}}, frames)
	byModel := func(dets []Detection) map[string]int {
		n := map[string]int{}
		for _, d := range dets {
			n[d.Model]++
		}
		return n
	}
	if n := byModel(got[0]); n["a"] != 3 || n["b"] != 4 { // end2end keeps the overlapping box
		t.Fatalf("camera with both models: %v", n)
	}
	if n := byModel(got[1]); n["a"] != 0 || n["b"] != 4 {
		t.Fatalf("camera with only model b: %v", n)
	}
}
