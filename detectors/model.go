package detectors

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	ort "github.com/yalue/onnxruntime_go"
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

	session    *ort.DynamicAdvancedSession
	layout     string
	nc         int
	d1, d2     int // output dimensions per image
	thresholds []float32
}

// Layout is the output layout in use.
func (m *Model) Layout() string { return m.layout }

// OutputSize is the number of floats the model outputs per image.
func (m *Model) OutputSize() int { return m.d1 * m.d2 }

// InputSize is the number of floats the model takes per image.
func (m *Model) InputSize() int { return 3 * m.Manifest.Input.Width * m.Manifest.Input.Height }

// LoadModel opens a model from its manifest. The runtime must be initialised.
// A provider that is unavailable falls back to CPU with a warning.
func LoadModel(man *Manifest, opts SessionOptions, log *slog.Logger) (*Model, error) {
	if log == nil {
		log = slog.Default()
	}
	path := man.ModelPath()
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, fmt.Errorf("model %q: read %s: %w", man.Name, path, err)
	}
	if len(ins) != 1 || len(outs) < 1 {
		return nil, fmt.Errorf("model %q: want 1 input and at least 1 output, file has %d and %d", man.Name, len(ins), len(outs))
	}
	in := ins[0]
	if in.Name != man.Input.Name {
		return nil, fmt.Errorf("model %q: input tensor is %q, manifest says %q", man.Name, in.Name, man.Input.Name)
	}
	if d := in.Dimensions; len(d) != 4 || d[1] != 3 || (d[2] > 0 && d[2] != int64(man.Input.Height)) || (d[3] > 0 && d[3] != int64(man.Input.Width)) {
		return nil, fmt.Errorf("model %q: input %q has shape %v; manifest says [B, 3, %d, %d]",
			man.Name, in.Name, in.Dimensions, man.Input.Height, man.Input.Width)
	}
	out := outs[0]
	if man.Output.Name != "" {
		found := false
		for _, o := range outs {
			if o.Name == man.Output.Name {
				out, found = o, true
			}
		}
		if !found {
			return nil, fmt.Errorf("model %q: no output tensor %q", man.Name, man.Output.Name)
		}
	}
	m := &Model{Manifest: man, nc: len(man.Classes)}
	m.session, m.Provider, err = newSession(path, in.Name, out.Name, opts, log.With("model", man.Name))
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
	if m.layout, err = detectLayout(man.Name, out.Name, man.Layout, shape, m.nc); err != nil {
		m.Close()
		return nil, err
	}
	m.d1, m.d2 = int(shape[1]), int(shape[2])
	m.thresholds = make([]float32, m.nc)
	for i, c := range man.Classes {
		m.thresholds[i] = man.Threshold(c)
	}
	return m, nil
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

// probe runs one grey image and returns the output shape.
func (m *Model) probe() ([]int64, error) {
	in := make([]float32, m.InputSize())
	for i := range in {
		in[i] = float32(m.Manifest.Input.Letterbox.PadValue) / 255
	}
	t, err := ort.NewTensor(ort.NewShape(1, 3, int64(m.Manifest.Input.Height), int64(m.Manifest.Input.Width)), in)
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
