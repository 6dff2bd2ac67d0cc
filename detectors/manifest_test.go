package detectors

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streetwatch/streetwatch/media/frame"
)

// A manifest without classes takes them from the Ultralytics metadata;
// a class without its own threshold takes default_threshold.
func TestClassNamesComeFromTheModelsMetadata(t *testing.T) {
	m := loadTestModel(t, golden("ultralytics"), SessionOptions{})
	if want := []string{"person", "vehicle", "garbage_bag"}; !slices.Equal(m.Manifest.Classes, want) {
		t.Fatalf("classes %v, want %v from the metadata", m.Manifest.Classes, want)
	}
	if !m.Meta.Ultralytics || m.Meta.Version != "8.4.33" {
		t.Errorf("metadata %+v", m.Meta)
	}
	if got := m.Manifest.Threshold("garbage_bag"); got != 0.6 {
		t.Errorf("garbage_bag threshold %v, want default_threshold 0.6", got)
	}
	got := detectAll(t, map[string]*Model{"u": m}, nil, 8, []*frame.Frame{solidFrame("cam", 0, 320, 192)})
	var classes []string
	for _, d := range got[0] {
		classes = append(classes, d.Class)
	}
	slices.Sort(classes)
	if want := []string{"garbage_bag", "person", "vehicle"}; !slices.Equal(classes, want) {
		t.Errorf("detected %v, want %v", classes, want)
	}
}

// A one-class export with NMS in the graph outputs [B, N, 6], which fits
// the yolov5 layout too; its metadata says end2end.
func TestMetadataSettlesALayoutTheShapeLeavesOpen(t *testing.T) {
	m := loadTestModel(t, golden("oneclass_nms"), SessionOptions{})
	if m.Layout() != LayoutEnd2End || m.RunLimit() != 1 {
		t.Fatalf("layout %s, run limit %d; want end2end and 1", m.Layout(), m.RunLimit())
	}
	got := detectAll(t, map[string]*Model{"p": m}, nil, 8, []*frame.Frame{solidFrame("cam", 0, 320, 192)})
	if len(got[0]) != 2 { // the two persons; end2end boxes are final
		t.Errorf("detections %v, want the 2 persons", got[0])
	}
}

// Each way a manifest can disagree with its model is refused at load
// with the manifest field named, and all of them at once.
func TestManifestThatDisagreesWithItsModelIsRefusedNamingTheField(t *testing.T) {
	needRuntime(t)
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, body string) *Manifest {
		t.Helper()
		p := filepath.Join(t.TempDir(), "m.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		man, err := LoadManifest(p)
		if err != nil {
			t.Fatal(err)
		}
		return man
	}
	v8 := "file: " + filepath.Join(abs, "golden_yolov8.onnx") + "\n"
	meta := "file: " + filepath.Join(abs, "golden_ultralytics.onnx") + "\n"
	for _, c := range []struct {
		name, body string
		want       []string
	}{
		{"class names disagree with the metadata", meta + "input: {width: 320, height: 192}\nclasses: [person, car, garbage_bag]\ndefault_threshold: 0.5\n",
			[]string{"classes: the manifest lists [person car garbage_bag] but the model's metadata names [person vehicle garbage_bag]"}},
		{"no classes anywhere", v8 + "input: {width: 320, height: 192}\ndefault_threshold: 0.5\n",
			[]string{"classes: required: the model file names no classes"}},
		{"wrong class count", v8 + "input: {width: 320, height: 192}\nclasses: [a, b]\ndefault_threshold: 0.5\n",
			[]string{`classes: output "output0" has shape [1 7 5], which fits no known layout for 2 classes`}},
		{"threshold missing, of a class from the metadata", meta + "input: {width: 320, height: 192}\nthresholds: {person: 0.5, lorry: 0.5}\n",
			[]string{"thresholds.vehicle: missing", "thresholds.garbage_bag: missing", "thresholds.lorry: not one of the model's classes"}},
		{"output shape", meta + "input: {width: 320, height: 192}\noutput: {shape: [-1, 84, 8400]}\ndefault_threshold: 0.5\n",
			[]string{`output.shape: the manifest says [-1 84 8400], the model's output "output0" is [1 7 5]`}},
		{"input size and tensor names, together", v8 + "input: {name: image, width: 640, height: 640}\noutput: {name: out}\nclasses: [a, b, c]\ndefault_threshold: 0.5\n",
			[]string{`input.name: the model's input tensor is "images", the manifest says "image"`, "input.height: ", "input.width: ", `output.name: the model has no output tensor "out"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			man := write(t, "name: x\n"+c.body)
			m, err := LoadModel(man, SessionOptions{}, nil)
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}
