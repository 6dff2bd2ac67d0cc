package evidence

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/internal/logtest"
)

// Violations that failed together must not retry together: both retry
// loops (a pending violation that cannot be spooled, a hand-off the ticket
// store refuses) wait with jitter, between half and all of their
// schedule's first second.
func TestRecorderRetriesWaitWithJitter(t *testing.T) {
	var mu sync.Mutex
	handOffs := 0
	rec, unblock := recorderWithBlockedSpool(t, func(Stored) error {
		mu.Lock()
		defer mu.Unlock()
		if handOffs++; handOffs == 1 {
			return errors.New("ticket store unavailable")
		}
		return nil
	})
	var logs logtest.Capture
	rec.log = logs.Logger()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rec.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := rec.Record(testEvent("01TESTJ")); err != nil {
		t.Fatal(err)
	}
	notSpooled := logs.Wait(t, "evidence not spooled; kept pending, retrying", 1, 10*time.Second)
	unblock() // the disk is back
	notHanded := logs.Wait(t, "violation hand-off failed; retrying", 1, 10*time.Second)
	for _, l := range []logtest.Line{notSpooled[0], notHanded[0]} {
		// Exactly one second is what the loops waited before jitter (and
		// a one-in-a-billion draw).
		if w := l.Attrs["retry_in"].Duration(); w < time.Second/2 || w >= time.Second {
			t.Errorf("%s: first retry in %v, want a jittered wait in [0.5s, 1s)", l.Msg, w)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := handOffs
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hand-off was not retried")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recorderWithBlockedSpool returns a recorder of a camera with history
// whose spool cannot be written (its folder's path is blocked, as by a full
// or missing disk), and unblock, which gives the disk back.
func recorderWithBlockedSpool(t *testing.T, onStored func(Stored) error) (rec *Recorder, unblock func()) {
	t.Helper()
	h := &unitHistory{}
	h.add(looped(loadStream(t, "h264_640x360.mp4").aus, 4)...)
	blocked := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(blocked, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := newUploader(t, UploaderConfig{Dir: filepath.Join(blocked, "spool")}, UploaderDeps{Store: &LocalStore{Dir: t.TempDir()}})
	rec = newRecorder(t, RecorderConfig{PreRoll: 3 * time.Second, PostRoll: 3 * time.Second, JPEGQuality: 85, PendingDir: t.TempDir()},
		RecorderDeps{Uploader: up, History: func(string) ClipSource { return h }, OnStored: onStored})
	return rec, func() {
		t.Helper()
		if err := os.Remove(blocked); err != nil {
			t.Fatal(err)
		}
	}
}
