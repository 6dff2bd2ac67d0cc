package framequeue

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/media/frame"
)

func newFrame(cam string, seq uint64) *frame.Frame {
	return &frame.Frame{Camera: cam, Seq: seq}
}

func TestQueueDropsOldestOfTheBusiestCameraWhenFull(t *testing.T) {
	q := NewQueue(4)
	drops := map[string]int{}
	q.OnDrop = func(cam string) { drops[cam]++ }
	q.Push(newFrame("quiet", 1))
	for i := uint64(1); i <= 6; i++ {
		q.Push(newFrame("busy", i))
	}
	if q.Len() != 4 {
		t.Fatalf("len %d, want the capacity 4", q.Len())
	}
	if drops["busy"] != 3 || drops["quiet"] != 0 {
		t.Fatalf("drops %v, want 3 from busy and none from quiet", drops)
	}
	var got []string
	for q.Len() > 0 {
		f, _ := q.TryPop()
		got = append(got, f.Camera+":"+string(rune('0'+f.Seq)))
	}
	want := []string{"quiet:1", "busy:4", "busy:5", "busy:6"}
	if len(got) != len(want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("popped %v, want %v (oldest busy frames dropped, quiet kept)", got, want)
		}
	}
}

func TestQueuePopsCamerasInTurn(t *testing.T) {
	q := NewQueue(100)
	for i := uint64(1); i <= 3; i++ {
		q.Push(newFrame("a", i))
	}
	q.Push(newFrame("b", 1))
	q.Push(newFrame("c", 1))
	var order string
	for q.Len() > 0 {
		f, _ := q.TryPop()
		order += f.Camera
	}
	if order != "abcaa" {
		t.Fatalf("pop order %q, want round-robin %q", order, "abcaa")
	}
}

func TestQueuePopWaitsForAPushAndStopsOnClose(t *testing.T) {
	q := NewQueue(2)
	got := make(chan *frame.Frame)
	go func() {
		f, _ := q.Pop(context.Background())
		got <- f
	}()
	time.Sleep(10 * time.Millisecond)
	q.Push(newFrame("a", 7))
	select {
	case f := <-got:
		if f.Seq != 7 {
			t.Fatalf("got seq %d", f.Seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Pop did not return after Push")
	}
	q.Close()
	if _, err := q.Pop(context.Background()); err != ErrClosed {
		t.Fatalf("Pop after Close: %v, want ErrClosed", err)
	}
}

// Push and Close race in the pipeline's shutdown (decoders still pushing
// while the queue closes): neither order may panic, and every frame is
// released exactly once (dropped, closed away or refused after Close).
func TestConcurrentPushAndCloseNeverPanicAndReleaseEveryFrame(t *testing.T) {
	const pushers, each = 4, 50
	for range 200 {
		q := NewQueue(4)
		pool := frame.NewPool(pushers * each)
		made := map[*frame.Frame]bool{}
		var frames [pushers][]*frame.Frame
		for p := range pushers {
			for i := range each {
				f := pool.Get()
				f.Camera, f.Seq = string(rune('a'+p)), uint64(i)
				frames[p] = append(frames[p], f)
				made[f] = true
			}
		}
		var wg sync.WaitGroup
		for p := range pushers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, f := range frames[p] {
					q.Push(f)
				}
			}()
		}
		q.Close()
		wg.Wait()
		// The pool hands back released frames before making new ones.
		for range pushers * each {
			f := pool.Get()
			if !made[f] {
				t.Fatal("a frame was never released (or released twice)")
			}
			delete(made, f)
		}
	}
}
