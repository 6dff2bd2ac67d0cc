package pipeline

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/rtsptest"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/framequeue"
	"github.com/streetwatch/streetwatch/pipeline/ingest"
)

// healthCamera runs a Camera (its real ingest, sampler and decoder) on
// the stream at url until the test ends, and collects the stream times of
// its frames.
type healthCamera struct {
	*Camera
	times chan time.Time
}

func runHealthCamera(t *testing.T, url string, noDecodeAfter time.Duration) *healthCamera {
	t.Helper()
	q := framequeue.NewQueue(64)
	cfg := config.Camera{ID: "cam", URL: url, Transport: ingest.TransportTCP, Decoder: config.Decoder{Threads: 1},
		Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 25}, StallTimeout: config.Duration(5 * time.Second)}
	c := &healthCamera{
		Camera: newCamera(cfg, 16, q, frame.NewPool(4), newMetrics(nil), ingest.NewMetrics(nil), slog.New(slog.DiscardHandler)),
		times:  make(chan time.Time, 1000),
	}
	c.noDecodeAfter = noDecodeAfter
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		c.Run(ctx)
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		for {
			f, err := q.Pop(ctx)
			if err != nil {
				return
			}
			select {
			case c.times <- f.Time:
			default:
			}
			f.Release()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		q.Close()
	})
	return c
}

func (c *healthCamera) waitState(t *testing.T, want string) CameraStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := c.Status()
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %q, want %q: %+v", st.State, want, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A camera whose timestamps leap hours ahead on every picture (garbage
// after a valid SDP) made /healthz and the cameras page show a last frame
// months in the future. Liveness is this machine's clock; the frames keep
// the stream's time for evidence.
func TestLastFrameIsOurClockWhenTheCameraTimestampsLeapAhead(t *testing.T) {
	sps, pps, units := rtsptest.H264(t)
	cam := rtsptest.Start(t, &rtsptest.Camera{SPS: sps, PPS: pps,
		Unit: func(i int) ([][]byte, uint32) {
			return units[i%len(units)], uint32(i) << 30 // about 3 h 19 min ahead per picture
		}})
	c := runHealthCamera(t, cam.URL(), defaultNoDecodeAfter)
	var last time.Time
	for n := 0; n < 10; n++ {
		select {
		case last = <-c.times:
		case <-time.After(20 * time.Second):
			t.Fatalf("%d frames in 20 s", n)
		}
	}
	if ahead := time.Until(last); ahead < 10*time.Hour {
		t.Fatalf("the 10th frame's stream time is %v ahead: the camera's timestamps did not leap", ahead)
	}
	st := c.Status()
	if d := time.Since(st.LastFrame); d < -time.Second || d > 5*time.Second {
		t.Errorf("status LastFrame %v is %v from now, want within seconds", st.LastFrame, -d)
	}
	if st.State != StateDecoding {
		t.Errorf("state %q, want %q", st.State, StateDecoding)
	}
}

// A stream that arrives but never decodes (valid parameter sets, then
// slices of garbage) used to show as up and nothing else. The camera is
// still up (media flows), its state says no_decode, and
// streetwatch_camera_decoding is 0; a good stream says decoding and 1.
func TestMediaThatNeverDecodesIsReportedAsNotDecoding(t *testing.T) {
	sps, pps, units := rtsptest.H264(t)
	rnd := rand.New(rand.NewPCG(14, 7))
	garbage := make([][][]byte, 25)
	for i := range garbage {
		slice := make([]byte, 600)
		for j := range slice {
			slice[j] = byte(rnd.UintN(256))
		}
		slice[0] = 0x65 // an IDR slice, as far as its header says
		garbage[i] = [][]byte{slice}
	}
	for _, tc := range []struct {
		name      string
		units     [][][]byte
		state     string
		decoding  float64
		anyFrames bool
	}{
		{"garbage slices", garbage, StateNoDecode, 0, false},
		{"good stream", units, StateDecoding, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cam := rtsptest.Start(t, &rtsptest.Camera{SPS: sps, PPS: pps,
				Unit: func(i int) ([][]byte, uint32) { return tc.units[i%len(tc.units)], uint32(i * 3600) }})
			c := runHealthCamera(t, cam.URL(), time.Second)
			if tc.state == StateNoDecode {
				c.waitState(t, StateStarting) // up, nothing decoded yet, for noDecodeAfter
			}
			st := c.waitState(t, tc.state)
			if !st.Ingest.Up {
				t.Errorf("ingest down while media flows: %+v", st.Ingest)
			}
			if (st.FramesDecoded > 0) != tc.anyFrames {
				t.Errorf("%d pictures decoded", st.FramesDecoded)
			}
			deadline := time.Now().Add(5 * time.Second)
			for testutil.ToFloat64(c.decoding) != tc.decoding && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if v := testutil.ToFloat64(c.decoding); v != tc.decoding {
				t.Errorf("streetwatch_camera_decoding = %v, want %v", v, tc.decoding)
			}
		})
	}
}

// The state from ingest's status, the last decoded picture and the GOP:
// in keyframes mode one picture a GOP is decoded, so a GOP longer than
// the 20 s floor must not read as not decoding.
func TestCameraStateAllowsTwoGOPsWithoutAPicture(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tc := range []struct {
		name        string
		up          bool
		mediaSince  time.Duration // ago
		lastDecoded time.Duration // ago; 0: never
		gop         time.Duration
		want        string
	}{
		{"down", false, 0, time.Second, 0, StateConnecting},
		{"just joined", true, 5 * time.Second, 0, 0, StateStarting},
		{"joined a while ago, nothing decoded", true, 21 * time.Second, 0, 0, StateNoDecode},
		{"decoding", true, time.Hour, 40 * time.Millisecond, 2 * time.Second, StateDecoding},
		{"stopped decoding", true, time.Hour, 25 * time.Second, 2 * time.Second, StateNoDecode},
		{"keyframes mode, 30 s GOP, between keyframes", true, time.Hour, 45 * time.Second, 30 * time.Second, StateDecoding},
		{"keyframes mode, 30 s GOP, two missed", true, time.Hour, 61 * time.Second, 30 * time.Second, StateNoDecode},
		{"reconnected, nothing decoded since", true, 3 * time.Second, time.Minute, 0, StateStarting},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Camera{noDecodeAfter: defaultNoDecodeAfter}
			c.keyInterval.Store(int64(tc.gop))
			if tc.lastDecoded != 0 {
				c.lastDecoded.Store(ago(tc.lastDecoded).UnixNano())
			}
			ing := ingest.Status{Up: tc.up}
			if tc.up {
				ing.MediaSince = ago(tc.mediaSince)
			}
			if got := c.state(now, ing); got != tc.want {
				t.Errorf("state = %q, want %q", got, tc.want)
			}
		})
	}
}
