package detectors

import (
	"path/filepath"
	"testing"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/internal/streamtest"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/decode"
)

// Keyframes decoded for detection skip the codec's loop filter
// (cameras[].decoder.deblock off): the demo model finds the same objects
// in them. On every keyframe of four scenario videos, decoded with the
// filter and without, each detection clear of its class's threshold
// (by 0.05 or more) in one picture is in the other: same class, IoU ≥ 0.7,
// score within 0.08. Only detections at the threshold's edge may come
// and go, as they do between two keyframes of a still scene.
func TestTheModelFindsTheSameWithoutTheLoopFilter(t *testing.T) {
	m := loadTestModel(t, demoManifest(), SessionOptions{})
	models := map[string]*Model{"demo": m}
	const margin, maxScoreDiff, minIoU = 0.05, 0.08, 0.7
	for _, name := range []string{"dumping", "garbage_pile", "vending", "walkers"} {
		var filtered, plain []*frame.Frame
		for _, au := range streamtest.Demux(t, filepath.Join(mediatest.Root(), "testdata", "scenarios", name+".mp4")) {
			if !au.Key {
				continue
			}
			seq := uint64(len(filtered))
			for _, skip := range []bool{false, true} {
				f := &frame.Frame{Camera: name, Seq: seq}
				if _, err := decode.Keyframe(decode.Config{Codec: au.Codec, SkipLoopFilter: skip}, au, f); err != nil {
					t.Fatalf("%s keyframe %d: %v", name, seq, err)
				}
				if skip {
					plain = append(plain, f)
				} else {
					filtered = append(filtered, f)
				}
			}
		}
		with, without := detectAll(t, models, nil, 4, filtered), detectAll(t, models, nil, 4, plain)
		clear, worst := 0, float32(0)
		for i := range with {
			for _, pair := range [2][2][]Detection{{with[i], without[i]}, {without[i], with[i]}} {
				for _, x := range pair[0] {
					if x.Score < m.Manifest.Threshold(x.Class)+margin {
						continue
					}
					clear++
					best := float32(1)
					for _, y := range pair[1] {
						if y.Class == x.Class && x.Box.IoU(y.Box) >= minIoU {
							best = min(best, abs(x.Score-y.Score))
						}
					}
					worst = max(worst, best)
					if best > maxScoreDiff {
						t.Errorf("%s keyframe %d: %s %.3f at %v has no match within %.2f in the other picture", name, i, x.Class, x.Score, x.Box, maxScoreDiff)
					}
				}
			}
		}
		t.Logf("%s: %d keyframes, %d detections clear of the threshold, largest score difference %.3f", name, len(with), clear, worst)
		if clear == 0 {
			t.Errorf("%s: no detection to compare", name)
		}
		for _, f := range append(filtered, plain...) {
			f.Release()
		}
	}
}
