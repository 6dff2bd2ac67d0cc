package models

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/streetwatch/streetwatch/internal/mediatest"
)

// The real-scene evaluation material (train/heldout.py) must never reach
// training: no training script may name a held-out file or use the
// evaluation generator, and one that lists opencv-doc's data folder must
// filter it with heldout.usable.
func TestTrainingNeverReadsTheHeldOutRealScenes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("train", "*.py"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no training scripts: %v", err)
	}
	heldOut := regexp.MustCompile(`vtest|leuven|tree\.avi|realscenes`)
	listing := regexp.MustCompile(`listdir|glob|scandir|os\.walk|iterdir`)
	for _, f := range files {
		switch filepath.Base(f) {
		case "realscenes.py", "heldout.py": // the evaluation set itself
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if m := heldOut.FindString(line); m != "" {
				t.Errorf("%s:%d names held-out evaluation material (%q): %s", f, i+1, m, strings.TrimSpace(line))
			}
		}
		if s := string(src); strings.Contains(s, "opencv-doc") && listing.MatchString(s) && !strings.Contains(s, "usable(") {
			t.Errorf("%s lists opencv-doc's files without heldout.usable: the held-out evaluation material would be trained on", f)
		}
	}
}

type realScene struct {
	Video      string  `json:"video"`
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	FPS        float64 `json:"fps"`
	DurationS  float64 `json:"duration_s"`
	Background string  `json:"background"`
	Violations []struct {
		Type   string     `json:"type"`
		Box    [4]float64 `json:"box"`
		StartS float64    `json:"start_s"`
		EndS   float64    `json:"end_s"`
		Actor  *struct {
			Track []struct {
				T   float64    `json:"t"`
				Box [4]float64 `json:"box"`
			} `json:"track"`
		} `json:"actor"`
	} `json:"violations"`
}

func realScenes(t *testing.T, args ...string) (string, map[string]realScene) {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = mediatest.Tool(t, "python3")
	}
	for _, f := range []string{"vtest.avi", "leuvenA.jpg", "leuvenB.jpg", "tree.avi"} {
		p := filepath.Join("/usr/share/doc/opencv-doc/examples/data", f)
		if _, err := os.Stat(p); err != nil {
			if _, err := os.Stat(p + ".gz"); err != nil {
				mediatest.Missing(t, "%s (Debian package opencv-doc)", p)
			}
		}
	}
	if err := exec.Command(py, "-c", "import cv2, numpy").Run(); err != nil {
		mediatest.Missing(t, "python3-opencv and python3-numpy: %v", err)
	}
	out := t.TempDir()
	cmd := exec.Command(py, append([]string{filepath.Join("train", "realscenes.py"), "--out", out}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("realscenes.py: %v\n%s", err, b)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.json"))
	scenes := map[string]realScene{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s realScene
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		scenes[strings.TrimSuffix(filepath.Base(f), ".json")] = s
	}
	return out, scenes
}

// The generator's ground truth is what models/README.md claims, for the
// set the rules were developed on (a) and the later ones (b to l): twelve
// violations, four of each type, on real backgrounds, with boxes in the
// picture; every dumper leaves; the violation-free footage is opencv-doc's
// real footage, whole and unlooped.
// Each set's events are other events: none lies where one of an earlier
// set's lies on the same background.
func TestRealScenesGroundTruthIsWhatTheREADMEClaims(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
	sets := map[string]map[string]realScene{}
	for _, set := range names {
		t.Run("set "+set, func(t *testing.T) {
			_, sets[set] = realScenes(t, "--json-only", "--set", set)
			realScenesTruth(t, sets[set])
		})
	}
	for i, later := range names {
		for _, earlier := range names[:i] {
			for nl, l := range sets[later] {
				for ne, e := range sets[earlier] {
					if e.Background != l.Background || len(e.Violations) == 0 || len(l.Violations) == 0 {
						continue
					}
					if iou := boxIoU(f32(e.Violations[0].Box), f32(l.Violations[0].Box)); iou > 0.3 {
						t.Errorf("set %s's %s lies where set %s's %s does (IoU %.2f)", later, nl, earlier, ne, iou)
					}
				}
			}
		}
	}
}

func f32(b [4]float64) [4]float32 {
	return [4]float32{float32(b[0]), float32(b[1]), float32(b[2]), float32(b[3])}
}

func realScenesTruth(t *testing.T, scenes map[string]realScene) {
	perType := map[string]int{}
	clean := 0.0
	for name, s := range scenes {
		if s.Background == "" || s.Width <= 0 || s.Height <= 0 || s.Width%2 != 0 || s.Height%2 != 0 {
			t.Errorf("%s: background %q, %dx%d", name, s.Background, s.Width, s.Height)
		}
		if len(s.Violations) == 0 {
			clean += s.DurationS
			continue
		}
		for _, v := range s.Violations {
			perType[v.Type]++
			b := v.Box
			if b[0] < 0 || b[1] < 0 || b[2] > float64(s.Width) || b[3] > float64(s.Height) || b[2]-b[0] < 10 || b[3]-b[1] < 10 {
				t.Errorf("%s: %s box %v outside the %dx%d picture or too small", name, v.Type, b, s.Width, s.Height)
			}
			if v.StartS < 0 || v.EndS != s.DurationS || v.EndS-v.StartS < 40 {
				t.Errorf("%s: %s from %.1f to %.1f s in %.0f s: too short to confirm", name, v.Type, v.StartS, v.EndS, s.DurationS)
			}
			if v.Type != "illegal_dumping" {
				continue
			}
			if v.Actor == nil || len(v.Actor.Track) == 0 {
				t.Errorf("%s: a dumping without its actor", name)
				continue
			}
			if last := v.Actor.Track[len(v.Actor.Track)-1].T; last > v.StartS+15 {
				t.Errorf("%s: the dumper is still in the picture at %.1f s, the bag was left at %.1f s", name, last, v.StartS)
			}
		}
	}
	want := map[string]int{"illegal_dumping": 4, "garbage_pile": 4, "street_vending": 4}
	for k, n := range want {
		if perType[k] != n {
			t.Errorf("%d %s violations, want %d (all: %v)", perType[k], k, n, perType)
		}
	}
	// vtest.avi (79.5 s) and tree.avi (29.6 s): all the real violation-free
	// footage there is, short of the 5 minutes the evaluation wants.
	if math.Abs(clean-109.1) > 0.5 {
		t.Errorf("%.1f s of violation-free real footage, want vtest.avi and tree.avi whole (109.1 s)", clean)
	}
}

// One generated video holds its ground truth: its size and length are the
// JSON's, and the left object is where its box says: inside the box the
// picture changes between before and after, elsewhere it barely does.
func TestRealSceneVideoHasTheObjectInItsBox(t *testing.T) {
	if testing.Short() {
		t.Skip("renders a video (about 10 s)")
	}
	const name = "leuvenA_dumping"
	out, scenes := realScenes(t, "--only", name, "--jobs", "1")
	s := scenes[name]
	video := filepath.Join(out, s.Video)
	probe, err := exec.Command(mediatest.Tool(t, "ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream=width,height:format=duration", "-of", "default=nw=1:nk=1", video).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", video, err)
	}
	f := strings.Fields(string(probe))
	if len(f) != 3 || f[0] != strconv.Itoa(s.Width) || f[1] != strconv.Itoa(s.Height) {
		t.Fatalf("video is %v, the ground truth says %dx%d", f, s.Width, s.Height)
	}
	if d, _ := strconv.ParseFloat(f[2], 64); math.Abs(d-s.DurationS) > 0.2 {
		t.Errorf("video lasts %.2f s, the ground truth says %.0f s", d, s.DurationS)
	}
	v := s.Violations[0]
	gray := func(at float64) []byte {
		b, err := exec.Command(mediatest.Tool(t, "ffmpeg"), "-v", "error", "-ss", strconv.FormatFloat(at, 'f', 2, 64), "-i", video,
			"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-").Output()
		if err != nil || len(b) != s.Width*s.Height {
			t.Fatalf("frame at %.1f s: %v (%d bytes)", at, err, len(b))
		}
		return b
	}
	// Compared in 8x8 blocks, less the median change: the still's
	// one-pixel shake and slow light drift are not the object.
	before, after := gray(v.StartS-3), gray(v.EndS-1)
	const k = 8
	bw, bh := s.Width/k, s.Height/k
	diff := make([]float64, bw*bh)
	for y := 0; y < bh*k; y++ {
		for x := 0; x < bw*k; x++ {
			diff[(y/k)*bw+x/k] += (float64(after[y*s.Width+x]) - float64(before[y*s.Width+x])) / (k * k)
		}
	}
	sorted := append([]float64(nil), diff...)
	sort.Float64s(sorted)
	median := sorted[len(sorted)/2]
	var in, outside float64
	var nIn, nOut int
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			d := math.Abs(diff[by*bw+bx] - median)
			cx, cy := float64(bx*k+k/2), float64(by*k+k/2)
			if cx >= v.Box[0] && cx < v.Box[2] && cy >= v.Box[1] && cy < v.Box[3] {
				in += d
				nIn++
			} else {
				outside += d
				nOut++
			}
		}
	}
	in, outside = in/float64(nIn), outside/float64(nOut)
	t.Logf("mean change inside the box %.1f, outside %.1f", in, outside)
	if in < 15 || in < 4*outside {
		t.Errorf("the bag is not in its box: mean change %.1f inside, %.1f outside", in, outside)
	}
}
