package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/internal/streamtest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/decode"
	"github.com/streetwatch/streetwatch/pipeline/framequeue"
	"github.com/streetwatch/streetwatch/pipeline/ingest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A stream the decoder cannot be opened for fails on every unit: each is
// counted, but the error is logged once, not once per unit.
func TestDecoderThatCannotBeOpenedIsLoggedOnceAndEveryUnitCounted(t *testing.T) {
	var logs lockedBuffer
	m := newMetrics(nil)
	q := framequeue.NewQueue(4)
	defer q.Close()
	c := newCamera(config.Camera{ID: "cam", Decoder: config.Decoder{Threads: 1}}, 16, q, frame.NewPool(4), m, ingest.NewMetrics(nil),
		slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.decodeLoop(ctx)
	}()
	const units = 20
	for i := range units {
		c.units <- &media.AccessUnit{Codec: media.CodecUnknown, Key: true, PTS: int64(i) * 3000}
	}
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(c.decodeErrors) < units && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if n := testutil.ToFloat64(c.decodeErrors); n != units {
		t.Errorf("decode errors = %v, want every one of the %d units", n, units)
	}
	if n := strings.Count(logs.String(), "cannot decode stream"); n != 1 {
		t.Errorf("%d error lines for %d units, want 1:\n%s", n, units, logs.String())
	}
	if st := c.Status(); !strings.Contains(st.LastError, "unsupported codec") {
		t.Errorf("status error %q, want the decoder's", st.LastError)
	}
}

// A keyframe-sampled camera queues its keyframes still encoded: a backlog
// holds no pictures, a keyframe the queue drops is never decoded, and the
// consumer's Load makes the picture the camera's decoder would have made,
// counted as the camera's. A keyframe that does not decode is counted and
// shown as the camera's error.
func TestKeyframesWaitForDetectionEncodedAndDroppedOnesAreNeverDecoded(t *testing.T) {
	var keys []*media.AccessUnit
	for _, au := range streamtest.Load(t, "h264_640x360.mp4").AUs {
		if au.Key {
			keys = append(keys, au)
		}
	}
	if len(keys) < 5 {
		t.Fatalf("%d keyframes in the test file, want 5", len(keys))
	}
	keys = keys[:5]
	m := newMetrics(nil)
	q := framequeue.NewQueue(2)
	defer q.Close()
	dropped := 0
	q.OnDrop = func(string) { dropped++ }
	c := newCamera(config.Camera{ID: "cam", Decoder: config.Decoder{Threads: 1}, Sampling: config.Sampling{Mode: config.SampleKeyframes}},
		16, q, frame.NewPool(4), m, ingest.NewMetrics(nil), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.decodeLoop(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	junk := &media.AccessUnit{Codec: media.CodecH264, Key: true, PTS: keys[4].PTS + 90000, Time: keys[4].Time.Add(time.Second),
		NALUs: [][]byte{{0x65, 0xff, 0x00, 0x13}}}
	for _, au := range keys {
		c.units <- au
	}
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(c.sampled) < float64(len(keys)) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if q.Len() != 2 || dropped != 3 {
		t.Fatalf("queue holds %d frames after %d dropped, want 2 and 3", q.Len(), dropped)
	}
	if n := testutil.ToFloat64(c.decoded); n != 0 {
		t.Fatalf("%v pictures decoded before detection took any", n)
	}
	for _, want := range keys[3:] {
		f, err := q.TryPop()
		if err != nil || f == nil {
			t.Fatalf("pop: %v %v", f, err)
		}
		if !f.Pending() || f.Mat.Ptr() != nil {
			t.Fatal("a queued keyframe holds a decoded picture")
		}
		if err := f.Load(); err != nil {
			t.Fatal(err)
		}
		if f.Width() != 640 || f.Height() != 360 || f.PTS != want.PTS || !f.Time.Equal(want.Time) || !f.Key || f.Camera != "cam" {
			t.Fatalf("loaded frame %dx%d pts %d time %v key %v, want 640x360 pts %d time %v", f.Width(), f.Height(), f.PTS, f.Time, f.Key, want.PTS, want.Time)
		}
		f.Release()
	}
	if n := testutil.ToFloat64(c.decoded); n != 2 {
		t.Fatalf("%v pictures decoded, want the 2 detection took (the 3 dropped never)", n)
	}
	if st := c.Status(); st.LastError != "" || st.DecodeErrors != 0 {
		t.Fatalf("status before the junk: %+v", st)
	}

	c.units <- junk
	deadline = time.Now().Add(10 * time.Second)
	for q.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	f, _ := q.TryPop()
	if f == nil {
		t.Fatal("the junk keyframe was not queued")
	}
	if err := f.Load(); err == nil {
		t.Fatal("a keyframe of junk loaded")
	}
	f.Release()
	if st := c.Status(); st.DecodeErrors != 1 || st.LastError == "" || st.FramesDecoded != 2 {
		t.Fatalf("after the junk keyframe: %d decode errors, error %q, %d decoded; want 1, the decoder's, 2", st.DecodeErrors, st.LastError, st.FramesDecoded)
	}
}

// A keyframe-sampled camera decodes its keyframes for detection without
// the loop filter unless cameras[].decoder.deblock says otherwise: the
// picture a queued keyframe loads is the one decode.Keyframe makes with
// the camera's setting, and the two settings give different pictures of
// a street as a camera encodes it. So does a camera asking for a hardware
// decoder (its own decoder, not the shared pool) that decodes on the CPU
// because no device is there.
func TestDetectionKeyframesSkipTheLoopFilterUnlessDeblock(t *testing.T) {
	var key *media.AccessUnit
	for _, au := range streamtest.Demux(t, filepath.Join(mediatest.Root(), "testdata", "scenarios", "dumping.mp4")) {
		if au.Key {
			key = au
			break
		}
	}
	picture := func(cfg decode.Config) [32]byte {
		f := &frame.Frame{}
		defer f.Release()
		if _, err := decode.Keyframe(cfg, key, f); err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(f.Mat.ToBytes())
	}
	want := map[bool][32]byte{
		false: picture(decode.Config{Codec: key.Codec, SkipLoopFilter: true}),
		true:  picture(decode.Config{Codec: key.Codec}),
	}
	if want[false] == want[true] {
		t.Fatal("the pictures with and without the loop filter are the same: nothing to tell apart")
	}
	for _, tc := range []struct {
		deblock bool
		hwaccel string
	}{{false, ""}, {true, ""}, {false, "cuda"}, {true, "cuda"}} {
		deblock := tc.deblock
		q := framequeue.NewQueue(2)
		c := newCamera(config.Camera{ID: "cam", Decoder: config.Decoder{Threads: 1, Deblock: deblock, HWAccel: tc.hwaccel}, Sampling: config.Sampling{Mode: config.SampleKeyframes}},
			16, q, frame.NewPool(4), newMetrics(nil), ingest.NewMetrics(nil), slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.decodeLoop(ctx)
		}()
		c.units <- key
		deadline := time.Now().Add(10 * time.Second)
		for q.Len() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		f, _ := q.TryPop()
		if f == nil {
			t.Fatal("the keyframe was not queued")
		}
		if err := f.Load(); err != nil {
			t.Fatal(err)
		}
		switch {
		case testutil.ToFloat64(c.hardware) == 1:
			t.Logf("hwaccel %s: decoded on the device, whose pictures are its own", tc.hwaccel)
		case sha256.Sum256(f.Mat.ToBytes()) != want[deblock]:
			t.Errorf("deblock %v, hwaccel %q: the camera's detection picture is not decode.Keyframe's with the loop filter %s",
				deblock, tc.hwaccel, map[bool]string{false: "skipped", true: "on"}[deblock])
		}
		f.Release()
		cancel()
		<-done
		q.Close()
	}
}
