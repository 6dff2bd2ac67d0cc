package detectors

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

func TestUnavailableProviderFallsBackToCPUWithAWarning(t *testing.T) {
	needRuntime(t)
	man, err := LoadManifest(golden("yolov8"))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	m, err := LoadModel(man, SessionOptions{Provider: "cuda"}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("cuda on a CPU-only runtime must fall back, got %v", err)
	}
	defer m.Close()
	if m.Provider != "cpu" {
		t.Fatalf("provider %q, want the cpu fallback", m.Provider)
	}
	if !strings.Contains(logs.String(), "falling back to CPU") || !strings.Contains(logs.String(), "requested=cuda") {
		t.Fatalf("no fallback warning in %q", logs.String())
	}
}

// Every SessionOptions made while loading is destroyed exactly once, also
// on the CPU fallback, which makes a second one after the provider failed.
func TestLoadingFreesEverySessionOptionsAlsoOnTheCPUFallback(t *testing.T) {
	needRuntime(t)
	man, err := LoadManifest(golden("yolov8"))
	if err != nil {
		t.Fatal(err)
	}
	for _, provider := range []string{"cpu", "cuda"} {
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
