package pipeline

import (
	"sync"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/media/frame"
)

// Confirmation runs on a few workers: each camera's frames are confirmed
// in order, a camera whose confirmation is slow (recording evidence)
// holds back only the cameras of its own worker, and stop returns once
// everything submitted is confirmed.
func TestConfirmWorkersKeepEachCamerasOrderAndDoNotWaitForOtherWorkers(t *testing.T) {
	cams := []string{"a", "b", "c", "d"} // two workers: a, c on one; b, d on the other
	release := make(chan struct{})
	var mu sync.Mutex
	seen := map[string][]uint64{}
	w := newConfirmWorkers(cams, 2, func(r detectors.Result) {
		if r.Frame.Camera == "a" && r.Frame.Seq == 1 {
			<-release // a slow confirmation
		}
		mu.Lock()
		seen[r.Frame.Camera] = append(seen[r.Frame.Camera], r.Frame.Seq)
		mu.Unlock()
	})
	if a, _ := w.shardOf("a"); a != must(w.shardOf("c")) || a == must(w.shardOf("b")) {
		t.Fatalf("shards %v", *w.shard.Load())
	}
	submitted := make(chan struct{})
	go func() {
		defer close(submitted)
		for seq := uint64(1); seq <= 5; seq++ {
			for _, c := range cams {
				w.submit(detectors.Result{Frame: &frame.Frame{Camera: c, Seq: seq}})
			}
		}
	}()
	// b and d are confirmed while a's first frame is still being.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		nb, nd, na := len(seen["b"]), len(seen["d"]), len(seen["a"])
		mu.Unlock()
		if nb == 5 && nd == 5 {
			if na != 0 {
				t.Fatalf("a confirmed %d frames while its first was held", na)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b and d wait for a: b %d, d %d frames confirmed", nb, nd)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	<-submitted
	w.stop()
	for _, c := range cams {
		if got := seen[c]; len(got) != 5 || got[0] != 1 || got[4] != 5 || got[2] != 3 {
			t.Errorf("camera %s confirmed %v, want 1..5 in order", c, got)
		}
	}
}

func must(i int, ok bool) int {
	if !ok {
		panic("no shard")
	}
	return i
}
