package detectors

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media/frame"
)

func testImages(t testing.TB) []string {
	t.Helper()
	imgs, _ := filepath.Glob(filepath.Join(mediatest.Root(), "testdata", "models", "*.jpg"))
	if len(imgs) == 0 {
		t.Fatal("no rendered test images in testdata/models")
	}
	return imgs
}

func TestBatchInvariance(t *testing.T) {
	m := loadTestModel(t, demoManifest(), SessionOptions{IntraOpThreads: 1})
	imgs := testImages(t)
	var frames1, frames8 []*frame.Frame
	for i := 0; i < 8; i++ {
		p := imgs[i%len(imgs)]
		frames1 = append(frames1, imageFrame(t, p, "cam", uint64(i)))
		frames8 = append(frames8, imageFrame(t, p, "cam", uint64(i)))
	}
	models := map[string]*Model{"demo": m}
	one := detectAll(t, models, nil, 1, frames1)
	eight := detectAll(t, models, nil, 8, frames8)
	total := 0
	for i := range one {
		total += len(one[i])
		if err := sameDetections(one[i], eight[i], 0.5); err != nil {
			t.Errorf("frame %d, batch 1 vs batch 8: %v", i, err)
		}
	}
	if total == 0 {
		t.Fatal("the demo model found nothing in the rendered test images: the comparison proves nothing")
	}
}

// TestCUDAIsUsedWhenTheRuntimeHasItAndFallsBackToCPUWhenNot asks the loaded
// ONNX Runtime itself, outside LoadModel, whether it takes the CUDA provider,
// and holds LoadModel to that answer: on a CPU build (what setup installs)
// cuda falls back to cpu with a warning; on a GPU build with a usable GPU
// the model runs on cuda, without a warning, and finds what the CPU finds.
// The same suite thus passes on both kinds of host.
func TestCUDAIsUsedWhenTheRuntimeHasItAndFallsBackToCPUWhenNot(t *testing.T) {
	needRuntime(t)
	man, err := LoadManifest(golden("yolov8"))
	if err != nil {
		t.Fatal(err)
	}
	gpu := runtimeTakesCUDA(t)
	t.Logf("the loaded ONNX Runtime takes the CUDA provider: %v", gpu)
	var logs bytes.Buffer
	m, err := LoadModel(man, SessionOptions{Provider: "cuda"}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("provider cuda must load (on cuda or falling back to cpu), got %v", err)
	}
	defer m.Close()
	fellBack := strings.Contains(logs.String(), "falling back to CPU") && strings.Contains(logs.String(), "requested=cuda")
	if !gpu {
		if m.Provider != "cpu" || !fellBack {
			t.Fatalf("CPU build: provider %q, logs %q; want the cpu fallback with a warning", m.Provider, logs.String())
		}
		return
	}
	if m.Provider != "cuda" || fellBack {
		t.Fatalf("GPU build: provider %q, logs %q; want cuda in use and no fallback", m.Provider, logs.String())
	}
	onGPU := loadTestModel(t, demoManifest(), SessionOptions{Provider: "cuda"})
	onCPU := loadTestModel(t, demoManifest(), SessionOptions{Provider: "cpu"})
	defer onGPU.Close()
	defer onCPU.Close()
	if onGPU.Provider != "cuda" {
		t.Fatalf("demo model on provider %q, want cuda", onGPU.Provider)
	}
	img := testImages(t)[0]
	g := detectAll(t, map[string]*Model{"demo": onGPU}, nil, 1, []*frame.Frame{imageFrame(t, img, "cam", 0)})
	c := detectAll(t, map[string]*Model{"demo": onCPU}, nil, 1, []*frame.Frame{imageFrame(t, img, "cam", 0)})
	if len(c[0]) == 0 {
		t.Fatalf("the demo model found nothing in %s on the CPU: the comparison proves nothing", img)
	}
	if err := sameDetections(g[0], c[0], 0.5); err != nil {
		t.Fatalf("%s, cuda vs cpu: %v", img, err)
	}
}

// runtimeTakesCUDA appends the CUDA provider to session options of its own,
// through onnxruntime_go and not through appendProvider: the CPU build of
// ONNX Runtime refuses it, a GPU build with CUDA at hand takes it.
// (onnxruntime_go does not expose OrtApi::GetAvailableProviders.)
func runtimeTakesCUDA(t *testing.T) bool {
	t.Helper()
	so, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer so.Destroy()
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return false
	}
	defer co.Destroy()
	return so.AppendExecutionProviderCUDA(co) == nil
}

// Every SessionOptions made while loading is destroyed exactly once, also
// on the CPU fallback, which makes a second one after the provider failed.
func TestLoadingFreesEverySessionOptionsAlsoOnTheCPUFallback(t *testing.T) {
	needRuntime(t)
	man, err := LoadManifest(golden("yolov8"))
	if err != nil {
		t.Fatal(err)
	}
	// "no-such-provider" falls back on every build, cuda only on a CPU one.
	for _, provider := range []string{"cpu", "cuda", "no-such-provider"} {
		before := liveOptions.Load()
		m, err := LoadModel(man, SessionOptions{Provider: provider}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		if n := liveOptions.Load() - before; n != 0 {
			t.Errorf("provider %s: %d session options never destroyed", provider, n)
		}
	}
}

// The demo model finds every rendered object of the committed test images
// through the whole stage (letterbox, inference, decoding, NMS, mapping back
// to native pixels), and nothing on the empty street.
func TestDemoModelFindsRenderedObjects(t *testing.T) {
	m := loadTestModel(t, demoManifest(), SessionOptions{})
	raw, err := os.ReadFile(filepath.Join(mediatest.Root(), "testdata", "models", "objects.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gt struct {
		Images []struct {
			File    string `json:"file"`
			Objects []struct {
				Class string     `json:"class"`
				Box   [4]float32 `json:"box"`
			} `json:"objects"`
		} `json:"images"`
	}
	if err := json.Unmarshal(raw, &gt); err != nil {
		t.Fatal(err)
	}
	var frames []*frame.Frame
	for i, img := range gt.Images {
		frames = append(frames, imageFrame(t, filepath.Join(mediatest.Root(), "testdata", "models", img.File), "cam", uint64(i)))
	}
	got := detectAll(t, map[string]*Model{"demo": m}, nil, 4, frames)
	for i, img := range gt.Images {
		if len(img.Objects) == 0 && len(got[i]) > 0 {
			t.Errorf("%s: empty scene, yet %d detections: %v", img.File, len(got[i]), got[i])
		}
		for _, o := range img.Objects {
			want := geom.Box{X1: o.Box[0], Y1: o.Box[1], X2: o.Box[2], Y2: o.Box[3]}
			var best float32
			for _, d := range got[i] {
				if d.Class == o.Class {
					best = max(best, d.Box.IoU(want))
				}
			}
			if best < 0.5 {
				t.Errorf("%s: %s at %v not found (best IoU %.2f); detections %v", img.File, o.Class, want, best, got[i])
			}
		}
	}
}

// Run applies its defaults to copies of its own: the caller's Batcher is
// left as it was set (the stage shape pipeline/doc.go describes).
func TestBatcherRunLeavesItsFieldsAsSet(t *testing.T) {
	m := loadTestModel(t, demoManifest(), SessionOptions{IntraOpThreads: 1})
	b := &Batcher{Models: map[string]*Model{"demo": m}}
	detect(t, b, []*frame.Frame{imageFrame(t, testImages(t)[0], "cam", 0)})
	if b.MaxBatch != 0 || b.Workers != 0 || b.Metrics != nil || b.Log != nil {
		t.Fatalf("Run wrote defaults into the fields: max batch %d, workers %d, metrics %v, log %v", b.MaxBatch, b.Workers, b.Metrics, b.Log)
	}
}
