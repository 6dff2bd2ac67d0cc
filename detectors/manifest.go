package detectors

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/streetwatch/streetwatch/config"
)

// Output layouts of YOLO-family exports.
const (
	LayoutYOLOv8  = "yolov8"  // [B, 4+nc, N]: cx, cy, w, h, class scores (also YOLO11)
	LayoutYOLOv5  = "yolov5"  // [B, N, 5+nc]: cx, cy, w, h, objectness, class scores
	LayoutEnd2End = "end2end" // [B, N, 6]: x1, y1, x2, y2, score, class (NMS-free exports)
)

// Manifest describes a model file: what goes in, what comes out, what the
// classes are and how well it did. The format is documented in
// models/README.md.
type Manifest struct {
	Name    string `yaml:"name"`
	Version string `yaml:"version"`
	// File is the .onnx path, relative to the manifest.
	File string `yaml:"file"`
	// Layout is yolov8, yolov5 or end2end; empty: detected from the output shape.
	Layout string         `yaml:"layout"`
	Input  ManifestInput  `yaml:"input"`
	Output ManifestOutput `yaml:"output"`
	// Classes in the model's order. Empty: the names an Ultralytics export
	// carries in its metadata; when both are given they must agree.
	Classes []string `yaml:"classes"`
	// Thresholds are default per-class minimum scores. Every class needs
	// one, unless DefaultThreshold is set.
	Thresholds map[string]float32 `yaml:"thresholds"`
	// DefaultThreshold, when set, is the threshold of every class that
	// Thresholds does not name.
	DefaultThreshold *float32 `yaml:"default_threshold"`
	// NMSIoU is the IoU above which NMS suppresses a same-class box (default 0.45).
	NMSIoU       float32 `yaml:"nms_iou"`
	License      string  `yaml:"license"`
	TrainingData string  `yaml:"training_data"`
	Evaluation   any     `yaml:"evaluation"`
	Notes        string  `yaml:"notes"`

	path string
}

// ManifestInput is the input tensor.
type ManifestInput struct {
	Name      string `yaml:"name"`
	Width     int    `yaml:"width"`
	Height    int    `yaml:"height"`
	Format    string `yaml:"format"` // rgb_float01_nchw (the only one so far)
	Letterbox struct {
		PadValue int  `yaml:"pad_value"`
		Centered bool `yaml:"centered"`
	} `yaml:"letterbox"`
}

// ManifestOutput is the output tensor; Shape uses -1 for dynamic axes.
type ManifestOutput struct {
	Name  string  `yaml:"name"`
	Shape []int64 `yaml:"shape"`
}

// LoadManifest reads and validates a manifest.
func LoadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model manifest: %w", err)
	}
	var m Manifest
	// Centered letterboxing with Ultralytics' grey is the default.
	m.Input.Letterbox.PadValue = 114
	m.Input.Letterbox.Centered = true
	if err := config.DecodeStrict(data, &m); err != nil {
		return nil, fmt.Errorf("model manifest %s: %w", path, err)
	}
	m.path = path
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("model manifest %s: %w", path, err)
	}
	return &m, nil
}

// ModelPath is the absolute path of the .onnx file.
func (m *Manifest) ModelPath() string {
	if filepath.IsAbs(m.File) {
		return m.File
	}
	return filepath.Join(filepath.Dir(m.path), m.File)
}

func (m *Manifest) validate() error {
	var errs config.Errors
	bad := func(path, format string, args ...any) {
		errs = append(errs, config.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if m.Name == "" {
		bad("name", "required")
	}
	if m.File == "" {
		bad("file", "required")
	}
	switch m.Layout {
	case "", LayoutYOLOv8, LayoutYOLOv5, LayoutEnd2End:
	default:
		bad("layout", "must be yolov8, yolov5 or end2end (got %q)", m.Layout)
	}
	if m.Input.Name == "" {
		m.Input.Name = "images"
	}
	if m.Input.Width < 32 || m.Input.Height < 32 || m.Input.Width > 4096 || m.Input.Height > 4096 {
		bad("input", "width and height must be between 32 and 4096 (got %dx%d)", m.Input.Width, m.Input.Height)
	}
	switch m.Input.Format {
	case "", "rgb_float01_nchw":
		m.Input.Format = "rgb_float01_nchw"
	default:
		bad("input.format", "only rgb_float01_nchw is supported (got %q)", m.Input.Format)
	}
	if m.Input.Letterbox.PadValue < 0 || m.Input.Letterbox.PadValue > 255 {
		bad("input.letterbox.pad_value", "must be 0..255")
	}
	seen := map[string]bool{}
	for i, c := range m.Classes {
		if c == "" || seen[c] {
			bad(fmt.Sprintf("classes[%d]", i), "empty or repeated class name %q", c)
		}
		seen[c] = true
	}
	for _, c := range slices.Sorted(maps.Keys(m.Thresholds)) {
		if th := m.Thresholds[c]; th < 0 || th > 1 {
			bad("thresholds."+c, "must be between 0 and 1 (got %g)", th)
		}
	}
	if th := m.DefaultThreshold; th != nil && (*th < 0 || *th > 1) {
		bad("default_threshold", "must be between 0 and 1 (got %g)", *th)
	}
	if len(m.Classes) > 0 {
		errs = append(errs, m.checkThresholds()...)
	}
	if m.NMSIoU == 0 {
		m.NMSIoU = 0.45
	}
	if m.NMSIoU < 0 || m.NMSIoU > 1 {
		bad("nms_iou", "must be between 0 and 1 (got %g)", m.NMSIoU)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// checkThresholds checks the thresholds against the classes: each names a
// class, and each class has one (or the default).
func (m *Manifest) checkThresholds() config.Errors {
	var errs config.Errors
	known := map[string]bool{}
	for _, c := range m.Classes {
		known[c] = true
	}
	for _, c := range slices.Sorted(maps.Keys(m.Thresholds)) {
		if !known[c] {
			errs = append(errs, config.FieldError{Path: "thresholds." + c, Msg: fmt.Sprintf("not one of the model's classes %v", m.Classes)})
		}
	}
	if m.DefaultThreshold == nil {
		for _, c := range m.Classes {
			if _, ok := m.Thresholds[c]; !ok {
				errs = append(errs, config.FieldError{Path: "thresholds." + c, Msg: "missing: every class needs a threshold (or set default_threshold)"})
			}
		}
	}
	return errs
}

// resolveClasses settles the class list against what the model file says
// (names in an Ultralytics export's metadata) and then checks the
// thresholds against it.
func (m *Manifest) resolveClasses(em ExportMeta) config.Errors {
	switch {
	case len(m.Classes) == 0 && len(em.Names) == 0:
		return config.Errors{{Path: "classes", Msg: "required: the model file names no classes in its metadata"}}
	case len(m.Classes) == 0:
		m.Classes = append([]string(nil), em.Names...)
		return m.checkThresholds()
	case len(em.Names) > 0 && !slices.Equal(m.Classes, em.Names):
		return config.Errors{{Path: "classes", Msg: fmt.Sprintf("the manifest lists %v but the model's metadata names %v (in class-index order)", m.Classes, em.Names)}}
	}
	return nil // checked by validate
}

// Threshold is the manifest's minimum score for a class: its own, or
// default_threshold. Manifests that lack both are refused at load.
func (m *Manifest) Threshold(class string) float32 {
	if th, ok := m.Thresholds[class]; ok {
		return th
	}
	if m.DefaultThreshold != nil {
		return *m.DefaultThreshold
	}
	return 1 // unreachable for a loaded model; nothing passes
}
