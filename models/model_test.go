package models

import (
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
	"gopkg.in/yaml.v3"

	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/internal/mediatest"
)

const (
	demoModel    = "streetwatch-demo.onnx"
	demoManifest = "streetwatch-demo.yaml"
	groundTruth  = "../testdata/models/objects.json"
)

// manifest is the part of a model manifest these tests check (format: README.md).
type manifest struct {
	Name   string `yaml:"name"`
	File   string `yaml:"file"`
	Layout string `yaml:"layout"`
	Input  struct {
		Name   string `yaml:"name"`
		Width  int    `yaml:"width"`
		Height int    `yaml:"height"`
		Format string `yaml:"format"`
	} `yaml:"input"`
	Output struct {
		Name  string  `yaml:"name"`
		Shape []int64 `yaml:"shape"`
	} `yaml:"output"`
	Classes    []string           `yaml:"classes"`
	Thresholds map[string]float32 `yaml:"thresholds"`
	NMSIoU     float32            `yaml:"nms_iou"`
	License    string             `yaml:"license"`
	Evaluation struct {
		PerClass map[string]struct {
			AP50      float64 `yaml:"ap50"`
			Precision float64 `yaml:"precision"`
			Recall    float64 `yaml:"recall"`
		} `yaml:"per_class"`
	} `yaml:"evaluation"`
}

type detection struct {
	class int
	score float32
	box   [4]float32 // x1, y1, x2, y2
}

// requireORT loads ONNX Runtime from where the runtime itself looks
// (detectors.FindLibrary: $STREETWATCH_ORT_LIB, setup's cache honouring
// $STREETWATCH_CACHE and $XDG_CACHE_HOME, system folders), skipping or
// failing in CI when it is absent.
func requireORT(tb testing.TB) {
	tb.Helper()
	if _, err := detectors.FindLibrary(""); err != nil {
		mediatest.Missing(tb, "%v", err)
	}
	if _, err := detectors.InitRuntime(""); err != nil {
		tb.Fatal(err)
	}
}

func loadManifest(tb testing.TB) manifest {
	tb.Helper()
	raw, err := os.ReadFile(demoManifest)
	if err != nil {
		tb.Fatal(err)
	}
	var m manifest
	dec := yaml.Unmarshal(raw, &m)
	if dec != nil {
		tb.Fatalf("parse %s: %v", demoManifest, dec)
	}
	return m
}

// detector is a batch-1 session with its input and output tensors.
type detector struct {
	session *ort.AdvancedSession
	input   *ort.Tensor[float32]
	output  *ort.Tensor[float32]
	m       manifest
}

func newDetector(tb testing.TB, m manifest, threads int) *detector {
	tb.Helper()
	requireORT(tb)
	in, err := ort.NewEmptyTensor[float32](ort.NewShape(1, 3, int64(m.Input.Height), int64(m.Input.Width)))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(1, m.Output.Shape[1], m.Output.Shape[2]))
	if err != nil {
		tb.Fatal(err)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		tb.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		tb.Fatal(err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		tb.Fatal(err)
	}
	s, err := ort.NewAdvancedSession(m.File, []string{m.Input.Name}, []string{m.Output.Name},
		[]ort.Value{in}, []ort.Value{out}, opts)
	if err != nil {
		tb.Fatalf("open %s: %v", m.File, err)
	}
	d := &detector{session: s, input: in, output: out, m: m}
	tb.Cleanup(func() {
		s.Destroy()
		in.Destroy()
		out.Destroy()
	})
	return d
}

// detect letterboxes img, runs the model and returns detections above the manifest's
// per-class thresholds, in the image's own pixels, after per-class NMS.
func (d *detector) detect(tb testing.TB, img image.Image) []detection {
	tb.Helper()
	size := d.m.Input.Width
	scale, padX, padY := letterbox(img, size, d.input.GetData())
	if err := d.session.Run(); err != nil {
		tb.Fatal(err)
	}
	dets := decodeYOLOv8(d.output.GetData(), int(d.m.Output.Shape[2]), d.m.Classes, d.m.Thresholds)
	dets = nms(dets, d.m.NMSIoU)
	for i := range dets {
		b := &dets[i].box
		b[0], b[2] = (b[0]-float32(padX))/scale, (b[2]-float32(padX))/scale
		b[1], b[3] = (b[1]-float32(padY))/scale, (b[3]-float32(padY))/scale
	}
	return dets
}

// letterbox resizes img (bilinear) into a size x size RGB planar float tensor in [0,1],
// centred on gray 114, and returns the scale and padding it used.
func letterbox(img image.Image, size int, dst []float32) (scale float32, padX, padY int) {
	bounds := img.Bounds()
	w, h := bounds.Dx(), bounds.Dy()
	s := math.Min(float64(size)/float64(w), float64(size)/float64(h))
	nw, nh := int(math.Round(float64(w)*s)), int(math.Round(float64(h)*s))
	padX, padY = (size-nw)/2, (size-nh)/2
	plane := size * size
	for i := range dst {
		dst[i] = 114.0 / 255.0
	}
	rgb := func(x, y int) [3]float32 {
		r, g, b, _ := img.At(bounds.Min.X+x, bounds.Min.Y+y).RGBA()
		return [3]float32{float32(r >> 8), float32(g >> 8), float32(b >> 8)}
	}
	for oy := 0; oy < nh; oy++ {
		sy := math.Max((float64(oy)+0.5)*float64(h)/float64(nh)-0.5, 0)
		y0 := int(sy)
		y1 := min(y0+1, h-1)
		fy := float32(sy - float64(y0))
		for ox := 0; ox < nw; ox++ {
			sx := math.Max((float64(ox)+0.5)*float64(w)/float64(nw)-0.5, 0)
			x0 := int(sx)
			x1 := min(x0+1, w-1)
			fx := float32(sx - float64(x0))
			a, b, c, e := rgb(x0, y0), rgb(x1, y0), rgb(x0, y1), rgb(x1, y1)
			at := (oy+padY)*size + ox + padX
			for ch := 0; ch < 3; ch++ {
				top := a[ch]*(1-fx) + b[ch]*fx
				bot := c[ch]*(1-fx) + e[ch]*fx
				dst[ch*plane+at] = (top*(1-fy) + bot*fy) / 255
			}
		}
	}
	return float32(s), padX, padY
}

// decodeYOLOv8 reads a [1, 4+nc, n] output (cx, cy, w, h, class scores) into detections whose
// best class score passes that class's threshold.
func decodeYOLOv8(out []float32, n int, classes []string, thresholds map[string]float32) []detection {
	var dets []detection
	for i := 0; i < n; i++ {
		best, score := -1, float32(0)
		for c := range classes {
			if s := out[(4+c)*n+i]; s > score {
				best, score = c, s
			}
		}
		if best < 0 || score < thresholds[classes[best]] {
			continue
		}
		cx, cy, w, h := out[i], out[n+i], out[2*n+i], out[3*n+i]
		dets = append(dets, detection{class: best, score: score, box: [4]float32{cx - w/2, cy - h/2, cx + w/2, cy + h/2}})
	}
	return dets
}

// nms keeps the best-scoring box among same-class boxes overlapping by more than iou.
func nms(dets []detection, iou float32) []detection {
	sort.Slice(dets, func(i, j int) bool { return dets[i].score > dets[j].score })
	var keep []detection
	for _, d := range dets {
		ok := true
		for _, k := range keep {
			if k.class == d.class && boxIoU(k.box, d.box) > iou {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, d)
		}
	}
	return keep
}

func boxIoU(a, b [4]float32) float32 {
	ix := max(0, min(a[2], b[2])-max(a[0], b[0]))
	iy := max(0, min(a[3], b[3])-max(a[1], b[1]))
	inter := ix * iy
	union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

type labelledImage struct {
	File    string `json:"file"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	Objects []struct {
		Class string     `json:"class"`
		Box   [4]float32 `json:"box"`
	} `json:"objects"`
}

func loadImage(tb testing.TB, path string) image.Image {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		tb.Fatalf("decode %s: %v", path, err)
	}
	return img
}

func TestDemoModelFindsEveryRenderedObjectAndNothingOnEmptyStreets(t *testing.T) {
	m := loadManifest(t)
	d := newDetector(t, m, 2)
	raw, err := os.ReadFile(groundTruth)
	if err != nil {
		t.Fatal(err)
	}
	var gt struct {
		Images []labelledImage `json:"images"`
	}
	if err := json.Unmarshal(raw, &gt); err != nil {
		t.Fatalf("parse %s: %v", groundTruth, err)
	}
	if len(gt.Images) == 0 {
		t.Fatalf("%s lists no images", groundTruth)
	}
	classIndex := map[string]int{}
	for i, c := range m.Classes {
		classIndex[c] = i
	}
	for _, li := range gt.Images {
		t.Run(li.File, func(t *testing.T) {
			img := loadImage(t, filepath.Join(filepath.Dir(groundTruth), li.File))
			if img.Bounds().Dx() != li.Width || img.Bounds().Dy() != li.Height {
				t.Fatalf("image is %v, ground truth says %dx%d", img.Bounds().Size(), li.Width, li.Height)
			}
			dets := d.detect(t, img)
			if len(li.Objects) == 0 {
				for _, det := range dets {
					t.Errorf("empty street: unexpected %s %.2f at %.0f", m.Classes[det.class], det.score, det.box)
				}
				return
			}
			for _, obj := range li.Objects {
				want, ok := classIndex[obj.Class]
				if !ok {
					t.Fatalf("ground truth class %q is not in the manifest", obj.Class)
				}
				best := float32(0)
				for _, det := range dets {
					if det.class == want {
						best = max(best, boxIoU(det.box, obj.Box))
					}
				}
				if best < 0.5 {
					t.Errorf("%s at %.0f not found (best same-class IoU %.2f); detections: %s",
						obj.Class, obj.Box, best, describe(m, dets))
				}
			}
		})
	}
}

func describe(m manifest, dets []detection) string {
	s := ""
	for _, d := range dets {
		s += fmt.Sprintf("[%s %.2f %.0f] ", m.Classes[d.class], d.score, d.box)
	}
	return s
}

func TestManifestMatchesModelInputsAndOutputs(t *testing.T) {
	m := loadManifest(t)
	if m.Layout != "yolov8" {
		t.Errorf("layout %q, want yolov8", m.Layout)
	}
	if m.File != demoModel {
		t.Errorf("file %q, want %q", m.File, demoModel)
	}
	if m.License == "" {
		t.Error("manifest has no license")
	}
	if len(m.Classes) == 0 {
		t.Fatal("manifest lists no classes")
	}
	for _, c := range m.Classes {
		thr, ok := m.Thresholds[c]
		if !ok || thr <= 0 || thr >= 1 {
			t.Errorf("class %q: threshold %v missing or outside (0,1)", c, thr)
		}
		if _, ok := m.Evaluation.PerClass[c]; !ok {
			t.Errorf("class %q: no evaluation numbers", c)
		}
	}
	if len(m.Output.Shape) != 3 || m.Output.Shape[1] != int64(4+len(m.Classes)) {
		t.Fatalf("output shape %v, want [batch, 4+%d, N]", m.Output.Shape, len(m.Classes))
	}

	requireORT(t)
	ins, outs, err := ort.GetInputOutputInfo(m.File)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || len(outs) != 1 {
		t.Fatalf("model has %d inputs and %d outputs, want 1 and 1", len(ins), len(outs))
	}
	in, out := ins[0], outs[0]
	if in.Name != m.Input.Name || out.Name != m.Output.Name {
		t.Errorf("model names %q -> %q, manifest says %q -> %q", in.Name, out.Name, m.Input.Name, m.Output.Name)
	}
	if in.DataType != ort.TensorElementDataTypeFloat || out.DataType != ort.TensorElementDataTypeFloat {
		t.Errorf("input/output types %v/%v, want float", in.DataType, out.DataType)
	}
	wantIn := ort.NewShape(-1, 3, int64(m.Input.Height), int64(m.Input.Width))
	if len(in.Dimensions) != 4 || in.Dimensions[0] > 0 || !in.Dimensions[1:].Equals(wantIn[1:]) {
		t.Errorf("input shape %v, manifest implies %v (dynamic batch)", in.Dimensions, wantIn)
	}
	if len(out.Dimensions) != 3 || out.Dimensions[0] > 0 || out.Dimensions[1] != m.Output.Shape[1] ||
		out.Dimensions[2] != m.Output.Shape[2] {
		t.Errorf("output shape %v, manifest says %v", out.Dimensions, m.Output.Shape)
	}
}

// BenchmarkDemoModel measures one 320x320 inference on a single intra-op thread (batch 1).
func BenchmarkDemoModel(b *testing.B) {
	m := loadManifest(b)
	d := newDetector(b, m, 1)
	for i := range d.input.GetData() {
		d.input.GetData()[i] = float32(i%255) / 255
	}
	if err := d.session.Run(); err != nil { // warm-up
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.session.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/inference")
}
