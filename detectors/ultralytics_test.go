package detectors

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/media/frame"
)

// ultralyticsDir holds genuine Ultralytics exports and Ultralytics' own
// predictions on one frame (models/ultralytics/make_fixtures.py; its
// README says how they were made).
var ultralyticsDir = filepath.Join("..", "testdata", "ultralytics")

type ultralyticsFixtures struct {
	Frame  string `json:"frame"`
	Models map[string]struct {
		File        string     `json:"file"`
		Imgsz       [2]int     `json:"imgsz"` // height, width
		Conf        float32    `json:"conf"`
		IoU         float32    `json:"iou"`
		Predictions []ulPredic `json:"predictions"`
	} `json:"models"`
}

type ulPredic struct {
	Cls  int        `json:"cls"`
	Name string     `json:"name"`
	Conf float32    `json:"conf"`
	XYXY [4]float32 `json:"xyxy"`
}

// Every genuine Ultralytics export (YOLOv8 and YOLO26; fixed batch 1 and
// 4, dynamic, NMS in the graph for 1 and for 8 images; 320 and 640) loads
// from a manifest that names no classes, and finds the boxes Ultralytics
// itself predicts on the same frame (same letterbox) — alone, and with
// a second camera's frames sharing its batches.
func TestGenuineUltralyticsExportsMatchUltralyticsPredictions(t *testing.T) {
	needRuntime(t)
	raw, err := os.ReadFile(filepath.Join(ultralyticsDir, "predictions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx ultralyticsFixtures
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Models) < 6 {
		t.Fatalf("%d fixtures, want the export forms of testdata/ultralytics/README.md", len(fx.Models))
	}
	framePath := filepath.Join(ultralyticsDir, fx.Frame)
	demoClasses := []string{"person", "vehicle", "garbage_bag", "garbage_pile", "vending_stall"}
	for _, name := range slices.Sorted(maps.Keys(fx.Models)) {
		fm := fx.Models[name]
		t.Run(name, func(t *testing.T) {
			if len(fm.Predictions) < 3 {
				t.Fatalf("only %d stored predictions: the fixture proves too little", len(fm.Predictions))
			}
			file, err := filepath.Abs(filepath.Join(ultralyticsDir, fm.File))
			if err != nil {
				t.Fatal(err)
			}
			manifest := filepath.Join(t.TempDir(), "m.yaml")
			body := fmt.Sprintf("name: %s\nfile: %s\ninput: {width: %d, height: %d}\ndefault_threshold: %g\nnms_iou: %g\n",
				name, file, fm.Imgsz[1], fm.Imgsz[0], fm.Conf, fm.IoU)
			if err := os.WriteFile(manifest, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			m := loadTestModel(t, manifest, SessionOptions{IntraOpThreads: 1})
			if !slices.Equal(m.Manifest.Classes, demoClasses) {
				t.Fatalf("classes %v from the metadata, want %v", m.Manifest.Classes, demoClasses)
			}
			t.Logf("layout %s, fixed batch %d, run limit %d", m.Layout(), m.FixedBatch(), m.RunLimit())

			// One camera, one frame.
			alone := detectAll(t, map[string]*Model{name: m}, nil, 8, []*frame.Frame{imageFrame(t, framePath, "a", 0)})[0]
			if err := matchPredictions(alone, fm.Predictions); err != nil {
				t.Fatalf("one camera: %v", err)
			}

			// Two cameras in turn, batches of up to 8: camera a sends the
			// frame, camera b its mirror image. Every frame of a must give
			// Ultralytics' boxes, every frame of b what it gives alone.
			mirror := func(seq uint64) *frame.Frame {
				f := imageFrame(t, framePath, "b", seq)
				gocv.Flip(f.Mat, &f.Mat, 1)
				return f
			}
			bAlone := detectAll(t, map[string]*Model{name: m}, nil, 8, []*frame.Frame{mirror(0)})[0]
			var frames []*frame.Frame
			for i := range uint64(6) {
				if i%2 == 0 {
					frames = append(frames, imageFrame(t, framePath, "a", i))
				} else {
					frames = append(frames, mirror(i))
				}
			}
			got := detectAll(t, map[string]*Model{name: m}, nil, 8, frames)
			for i, dets := range got {
				if i%2 == 0 {
					if err := matchPredictions(dets, fm.Predictions); err != nil {
						t.Errorf("two cameras, frame %d (camera a): %v", i, err)
					}
				} else if err := sameDetections(sortedByScore(dets), sortedByScore(bAlone), 0.01); err != nil {
					t.Errorf("two cameras, frame %d (camera b): %v", i, err)
				}
			}
		})
	}
}

func sortedByScore(d []Detection) []Detection {
	d = slices.Clone(d)
	sort.Slice(d, func(i, j int) bool { return d[i].Score > d[j].Score })
	return d
}

// matchPredictions pairs each of Ultralytics' boxes with a detection of
// the same class and checks corners and score; nothing may be left over.
func matchPredictions(dets []Detection, preds []ulPredic) error {
	const maxPx, maxScore = 0.5, 0.005
	used := make([]bool, len(dets))
	var errs []string
	for _, p := range preds {
		want := geom.Box{X1: p.XYXY[0], Y1: p.XYXY[1], X2: p.XYXY[2], Y2: p.XYXY[3]}
		best, bestErr := -1, float32(1e9)
		for i, d := range dets {
			if used[i] || d.Class != p.Name || d.ClassID != p.Cls {
				continue
			}
			e := max(abs(d.Box.X1-want.X1), abs(d.Box.Y1-want.Y1), abs(d.Box.X2-want.X2), abs(d.Box.Y2-want.Y2))
			if e < bestErr {
				best, bestErr = i, e
			}
		}
		switch {
		case best < 0:
			errs = append(errs, fmt.Sprintf("missing %s %.3f %v", p.Name, p.Conf, want))
		case bestErr > maxPx || abs(dets[best].Score-p.Conf) > maxScore:
			errs = append(errs, fmt.Sprintf("%s %.4f %v, Ultralytics %.4f %v (corner error %.3f px)",
				p.Name, dets[best].Score, dets[best].Box, p.Conf, want, bestErr))
		}
		if best >= 0 {
			used[best] = true
		}
	}
	for i, d := range dets {
		if !used[i] {
			errs = append(errs, fmt.Sprintf("extra %s %.3f %v", d.Class, d.Score, d.Box))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d detections vs %d predictions:\n  %s", len(dets), len(preds), strings.Join(errs, "\n  "))
	}
	return nil
}
