package evidence

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// The plain snapshot is the picture as the camera saw it, although the
// annotated one is drawn on the same memory: the recorder encodes it
// before drawing. The annotated one has the object's box where it was.
func TestThePlainSnapshotHasNoMarksAndTheAnnotatedOneHas(t *testing.T) {
	pending := t.TempDir()
	rec := newRecorder(t, RecorderConfig{PostRoll: time.Hour, JPEGQuality: 95, PendingDir: pending},
		RecorderDeps{Uploader: newUploader(t, UploaderConfig{Dir: t.TempDir()}, UploaderDeps{Store: &LocalStore{Dir: t.TempDir()}}),
			History: func(string) ClipSource { return &unitHistory{} }})
	ev := testEvent("01PLAIN")
	// The pictures go back to where they came from once recorded.
	lent := map[any]bool{ev.BestFrame.Ptr(): true, ev.AppearFrame.Ptr(): true}
	ev.Recycle = func(m gocv.Mat) {
		if !lent[m.Ptr()] {
			t.Errorf("recycled a picture that was not the event's")
		}
		delete(lent, m.Ptr())
		m.Close()
	}
	if err := rec.Record(ev); err != nil {
		t.Fatal(err)
	}
	if len(lent) != 0 {
		t.Errorf("%d of the event's pictures were not given back", len(lent))
	}
	read := func(name string) gocv.Mat {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(pending, "01PLAIN", name))
		if err != nil {
			t.Fatal(err)
		}
		m, err := gocv.IMDecode(data, gocv.IMReadColor)
		if err != nil || m.Empty() {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	// testEvent's pictures are one colour, BGR (90, 120, 150); the
	// object's box runs from (300, 200) to (360, 260), drawn in red.
	far := func(m gocv.Mat, x, y int) int {
		v := m.GetVecbAt(y, x)
		return max(absInt(int(v[0])-90), absInt(int(v[1])-120), absInt(int(v[2])-150))
	}
	for _, name := range []string{"snapshot.jpg", "actor.jpg"} {
		plain := read(name)
		worst := 0
		for y := 0; y < plain.Rows(); y += 4 {
			for x := 0; x < plain.Cols(); x += 4 {
				worst = max(worst, far(plain, x, y))
			}
		}
		if worst > 4 {
			t.Errorf("%s differs from the camera's picture by %d somewhere: it has marks on it", name, worst)
		}
	}
	ann := read("snapshot_annotated.jpg")
	if v := ann.GetVecbAt(230, 300); far(ann, 300, 230) < 60 || v[2] < 180 {
		t.Errorf("annotated snapshot at the box's left edge is %v, want the object's red", v)
	}
}

func absInt(v int) int { return max(v, -v) }
