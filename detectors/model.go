package detectors

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/streetwatch/streetwatch/config"
)

// SessionOptions are ONNX Runtime session settings.
type SessionOptions struct {
	// Provider is cpu (default), cuda or tensorrt.
	Provider string
	DeviceID int
	// IntraOpThreads and InterOpThreads: 0 lets ONNX Runtime choose.
	IntraOpThreads, InterOpThreads int
	// GraphOptimization: disabled, basic, extended or all (default).
	GraphOptimization string
	// Spinning lets ONNX Runtime's worker threads busy-wait between runs.
	// Off by default: on a box that also decodes and letterboxes, spinning
	// threads take the cores those stages need.
	Spinning bool
}

// Model is a loaded model: its session and what is needed to decode it.
type Model struct {
	Manifest *Manifest
	// Provider is the execution provider in use (after any fallback).
	Provider string
	// Meta is what the model file says about itself (Ultralytics exports).
	Meta ExportMeta

	session    *ort.DynamicAdvancedSession
	layout     string
	nc         int
	d1, d2     int // output dimensions per image
	thresholds []float32
	// fixedBatch is the input's batch axis when the file fixes it (every
	// run pads to it); 0 when it is dynamic.
	fixedBatch int
	// runLimit is the most frames one run may hold; 0: no limit.
	runLimit int
}

// Layout is the output layout in use.
func (m *Model) Layout() string { return m.layout }

// OutputSize is the number of floats the model outputs per image.
func (m *Model) OutputSize() int { return m.d1 * m.d2 }

// InputSize is the number of floats the model takes per image.
func (m *Model) InputSize() int { return 3 * m.Manifest.Input.Width * m.Manifest.Input.Height }

// RunLimit is the most frames one inference of this model holds (0: as
// many as the batcher collects). FixedBatch is the batch every inference
// is padded to (0: the input's batch axis is dynamic).
func (m *Model) RunLimit() int   { return m.runLimit }
func (m *Model) FixedBatch() int { return m.fixedBatch }

// LoadModel opens a model from its manifest and checks the two against
// each other: input and output shapes, layout, class names (Ultralytics
// metadata), thresholds, task. Every mismatch found before the session is
// made is reported, each with its manifest field. The runtime must be
// initialised. A provider that is unavailable falls back to CPU with a
// warning.
func LoadModel(man *Manifest, opts SessionOptions, log *slog.Logger) (*Model, error) {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("model", man.Name)
	path := man.ModelPath()
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, fmt.Errorf("model %q: file: read %s: %w", man.Name, path, err)
	}
	if len(ins) != 1 || len(outs) < 1 {
		return nil, fmt.Errorf("model %q: want 1 input and at least 1 output, file has %d and %d", man.Name, len(ins), len(outs))
	}
	em, err := ReadExportMeta(path)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", man.Name, err)
	}
	m := &Model{Manifest: man, Meta: em}
	var errs config.Errors
	bad := func(field, format string, args ...any) {
		errs = append(errs, config.FieldError{Path: field, Msg: fmt.Sprintf(format, args...)})
	}
	in := ins[0]
	if in.Name != man.Input.Name {
		bad("input.name", "the model's input tensor is %q, the manifest says %q", in.Name, man.Input.Name)
	}
	d := in.Dimensions
	if len(d) != 4 || d[1] != 3 {
		bad("input", "the model's input %q has shape %v; want [B, 3, H, W]", in.Name, d)
	} else {
		if d[2] > 0 && d[2] != int64(man.Input.Height) {
			bad("input.height", "the model's input %q has shape %v: height %d, the manifest says %d", in.Name, d, d[2], man.Input.Height)
		}
		if d[3] > 0 && d[3] != int64(man.Input.Width) {
			bad("input.width", "the model's input %q has shape %v: width %d, the manifest says %d", in.Name, d, d[3], man.Input.Width)
		}
		if d[0] > 0 {
			m.fixedBatch = int(d[0])
		}
	}
	if em.Task != "" && em.Task != "detect" {
		bad("file", "the model is an Ultralytics %q model; StreetWatch runs detect models", em.Task)
	}
	errs = append(errs, man.resolveClasses(em)...)
	m.nc = len(man.Classes)
	out := outs[0]
	if man.Output.Name != "" {
		found := false
		for _, o := range outs {
			if o.Name == man.Output.Name {
				out, found = o, true
			}
		}
		if !found {
			bad("output.name", "the model has no output tensor %q", man.Output.Name)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("model %q: %w", man.Name, errs)
	}
	if em.ImgH > 0 && (em.ImgH != man.Input.Height || em.ImgW != man.Input.Width) {
		log.Warn("the manifest's input size differs from the size the model was exported at",
			"input", fmt.Sprintf("%dx%d", man.Input.Width, man.Input.Height), "exported", fmt.Sprintf("%dx%d", em.ImgW, em.ImgH))
	}
	m.runLimit = m.fixedBatch
	if m.fixedBatch == 0 && em.NMS {
		// Ultralytics unrolls the graph's NMS loop to the export's batch:
		// a larger batch runs, but images past it get no boxes.
		m.runLimit = max(em.Batch, 1)
	}

	m.session, m.Provider, err = newSession(path, in.Name, out.Name, opts, log)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", man.Name, err)
	}
	// Dynamic output axes (e.g. N of an end2end export) are only known
	// after a run: the warm-up inference settles the shape.
	shape, err := m.probe()
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("model %q: warm-up inference: %w", man.Name, err)
	}
	layout := man.Layout
	if layout == "" && em.Ultralytics {
		// The metadata settles what the shape may leave open (a
		// one-class model's [B, N, 6] fits two layouts).
		layout = LayoutYOLOv8
		if em.End2End || em.NMS {
			layout = LayoutEnd2End
		}
	}
	if m.layout, err = detectLayout(man.Name, out.Name, layout, shape, m.nc); err != nil {
		m.Close()
		return nil, err
	}
	if want := man.Output.Shape; len(want) > 0 && !shapeFits(want, shape) {
		m.Close()
		return nil, fmt.Errorf("model %q: %w", man.Name, config.FieldError{Path: "output.shape",
			Msg: fmt.Sprintf("the manifest says %v, the model's output %q is %v (-1 matches any size)", want, out.Name, shape)})
	}
	m.d1, m.d2 = int(shape[1]), int(shape[2])
	m.thresholds = make([]float32, m.nc)
	for i, c := range man.Classes {
		m.thresholds[i] = man.Threshold(c)
	}
	switch {
	case m.fixedBatch == 1:
		log.Info("the model's input has a fixed batch of 1: frames run one at a time (export with dynamic=True to batch them)")
	case m.fixedBatch > 1:
		log.Info("the model's input has a fixed batch: every run is padded to it", "batch", m.fixedBatch)
	case m.runLimit > 0:
		log.Info("the model was exported with NMS in the graph for at most this many images: larger batches are split",
			"batch", m.runLimit)
	}
	return m, nil
}

// shapeFits: same rank, and every axis that want fixes (>= 0) matches.
func shapeFits(want, got []int64) bool {
	if len(want) != len(got) {
		return false
	}
	for i, w := range want {
		if w >= 0 && w != got[i] {
			return false
		}
	}
	return true
}

func newSession(path, input, output string, opts SessionOptions, log *slog.Logger) (*ort.DynamicAdvancedSession, string, error) {
	so, provider, err := providerOptions(opts, log)
	if err != nil {
		return nil, "", err
	}
	defer destroyOptions(so)
	s, err := ort.NewDynamicAdvancedSession(path, []string{input}, []string{output}, so)
	if err != nil {
		return nil, "", fmt.Errorf("create session: %w", err)
	}
	return s, provider, nil
}

// providerOptions returns session options for the requested execution
// provider, or fresh CPU options when that provider is unavailable (the
// failed ones are destroyed). The caller destroys what it gets.
func providerOptions(opts SessionOptions, log *slog.Logger) (*ort.SessionOptions, string, error) {
	so, err := sessionOptions(opts)
	if err != nil {
		return nil, "", err
	}
	provider := opts.Provider
	if provider == "" || provider == "cpu" {
		return so, "cpu", nil
	}
	err = appendProvider(so, provider, opts.DeviceID)
	if err == nil {
		return so, provider, nil
	}
	log.Warn("execution provider unavailable, falling back to CPU", "requested", provider, "err", err)
	destroyOptions(so)
	if so, err = sessionOptions(opts); err != nil {
		return nil, "", err
	}
	return so, "cpu", nil
}

// liveOptions counts session options created and not yet destroyed: each
// holds C memory that only Destroy frees.
var liveOptions atomic.Int64

func destroyOptions(so *ort.SessionOptions) {
	if so.Destroy() == nil {
		liveOptions.Add(-1)
	}
}

func sessionOptions(opts SessionOptions) (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	liveOptions.Add(1)
	fail := func(err error) (*ort.SessionOptions, error) {
		destroyOptions(so)
		return nil, err
	}
	if opts.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(opts.IntraOpThreads); err != nil {
			return fail(err)
		}
	}
	if opts.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(opts.InterOpThreads); err != nil {
			return fail(err)
		}
	}
	var level ort.GraphOptimizationLevel = ort.GraphOptimizationLevelEnableAll
	switch opts.GraphOptimization {
	case "disabled":
		level = ort.GraphOptimizationLevelDisableAll
	case "basic":
		level = ort.GraphOptimizationLevelEnableBasic
	case "extended":
		level = ort.GraphOptimizationLevelEnableExtended
	}
	if err := so.SetGraphOptimizationLevel(level); err != nil {
		return fail(err)
	}
	spin := "0"
	if opts.Spinning {
		spin = "1"
	}
	for _, key := range []string{"session.intra_op.allow_spinning", "session.inter_op.allow_spinning"} {
		if err := so.AddSessionConfigEntry(key, spin); err != nil {
			return fail(err)
		}
	}
	return so, nil
}

func appendProvider(so *ort.SessionOptions, provider string, device int) error {
	switch provider {
	case "cuda":
		co, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return errors.Join(ErrProviderUnavailable, err)
		}
		defer co.Destroy()
		if err := co.Update(map[string]string{"device_id": fmt.Sprint(device)}); err != nil {
			return errors.Join(ErrProviderUnavailable, err)
		}
		if err := so.AppendExecutionProviderCUDA(co); err != nil {
			return errors.Join(ErrProviderUnavailable, err)
		}
	case "tensorrt":
		to, err := ort.NewTensorRTProviderOptions()
		if err != nil {
			return errors.Join(ErrProviderUnavailable, err)
		}
		defer to.Destroy()
		if err := to.Update(map[string]string{"device_id": fmt.Sprint(device)}); err != nil {
			return errors.Join(ErrProviderUnavailable, err)
		}
		if err := so.AppendExecutionProviderTensorRT(to); err != nil {
			return errors.Join(ErrProviderUnavailable, err)
		}
	default:
		return fmt.Errorf("%w: unknown provider %q", ErrProviderUnavailable, provider)
	}
	return nil
}

// probe runs one grey image (padded to a fixed batch) and returns the
// output shape.
func (m *Model) probe() ([]int64, error) {
	in := make([]float32, m.InputSize())
	for i := range in {
		in[i] = float32(m.Manifest.Input.Letterbox.PadValue) / 255
	}
	b := int64(max(m.fixedBatch, 1))
	in = slices.Repeat(in, int(b))
	t, err := ort.NewTensor(ort.NewShape(b, 3, int64(m.Manifest.Input.Height), int64(m.Manifest.Input.Width)), in)
	if err != nil {
		return nil, err
	}
	defer t.Destroy()
	outs := []ort.Value{nil}
	if err := m.session.Run([]ort.Value{t}, outs); err != nil {
		return nil, err
	}
	defer outs[0].Destroy()
	if _, ok := outs[0].(*ort.Tensor[float32]); !ok {
		return nil, fmt.Errorf("output is %T, want a float32 tensor", outs[0])
	}
	return outs[0].GetShape(), nil
}

// Close frees the session.
func (m *Model) Close() {
	if m.session != nil {
		_ = m.session.Destroy()
		m.session = nil
	}
}
