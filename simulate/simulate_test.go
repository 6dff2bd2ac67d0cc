package simulate_test

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/simulate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, s *simulate.Server, cams ...string) *simulate.Server {
	t.Helper()
	s.Addr = "127.0.0.1:0"
	s.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for i := 0; i+1 < len(cams); i += 2 {
		if err := s.Add(cams[i], cams[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestFFprobeReadsTheSimulatedCamera(t *testing.T) {
	for _, tc := range []struct{ file, codec string }{
		{"h264_640x360.mp4", "h264"},
		{"h265_640x360.mp4", "hevc"},
		{"h264_640x360.ts", "h264"},
		{"h265_640x360.ts", "hevc"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s := start(t, &simulate.Server{}, "cam", mediatest.File(t, tc.file))
			got := mediatest.ProbeStream(t, s.URL("cam"), "-rtsp_transport", "tcp")
			if got.Codec != tc.codec || got.Width != 640 || got.Height != 360 {
				t.Fatalf("ffprobe sees %+v, want %s 640x360", got, tc.codec)
			}
		})
	}
}

func TestFFmpegDecodesTheSimulatedCameraWithoutErrors(t *testing.T) {
	// The camera waits for ffmpeg's PLAY, so ffmpeg starts at the file's first
	// keyframe. A reader joining a live camera mid-GOP is told of the missing
	// references for the pictures before the next keyframe, which is right
	// but is not what this test is about (it failed CI once that way).
	s := start(t, &simulate.Server{Speed: 4, WaitForReader: true}, "cam", mediatest.File(t, "h264_640x360.mp4"))
	out, err := exec.Command(mediatest.Tool(t, "ffmpeg"), "-v", "error", "-rtsp_transport", "tcp",
		"-i", s.URL("cam"), "-frames:v", "60", "-f", "null", "-").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}

// rtpTimestamps reads a camera for a while and returns the RTP timestamp of
// each access unit (the marker packet), its arrival time, and when PLAY was
// sent: the camera cannot pace its pictures from any earlier.
func rtpTimestamps(t *testing.T, url string, n int) (ts []uint32, arrivals []time.Time, played time.Time) {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	tcp := gortsplib.TransportTCP
	c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &tcp}
	if err := c.Start2(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Setup(desc.BaseURL, desc.Medias[0], 0, 0); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	done := make(chan struct{})
	c.OnPacketRTP(desc.Medias[0], desc.Medias[0].Formats[0], func(pkt *rtp.Packet) {
		if !pkt.Marker {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if len(ts) == n {
			return
		}
		ts = append(ts, pkt.Timestamp)
		arrivals = append(arrivals, time.Now())
		if len(ts) == n {
			close(done)
		}
	})
	played = time.Now()
	if _, err := c.Play(nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d access units in 60 s", len(ts))
	}
	mu.Lock()
	defer mu.Unlock()
	return ts, arrivals, played
}

func TestLoopsKeepRTPTimestampsContinuousAtAnySpeed(t *testing.T) {
	file := mediatest.File(t, "h264_640x360.mp4") // 10 s, 250 pictures at 25 fps
	s := start(t, &simulate.Server{Speed: 8, WaitForReader: true}, "cam", file)
	ts, arrivals, played := rtpTimestamps(t, s.URL("cam"), 300) // crosses the loop at 250
	for i := 1; i < len(ts); i++ {
		if d := ts[i] - ts[i-1]; d != 3600 {
			t.Fatalf("access unit %d: RTP timestamp step %d, want 3600 (25 fps) — loop at 250", i, d)
		}
	}
	// The 300th picture is 11.96 s into the stream: at speed 8 it is due
	// 1.495 s after PLAY, not sooner (a loaded machine may send it later).
	if el := arrivals[len(arrivals)-1].Sub(played); el < 1490*time.Millisecond || el > 10*time.Second {
		t.Fatalf("300 pictures at speed 8 took %v after PLAY, want about 1.5 s", el)
	}
}

func TestTimestampsThatRestartInTheFileStayContinuous(t *testing.T) {
	// Two 4 s recordings concatenated, both starting at 0: 200 pictures.
	file := mediatest.File(t, "h264_restart.ts")
	s := start(t, &simulate.Server{Speed: 8, WaitForReader: true}, "cam", file)
	ts, arrivals, played := rtpTimestamps(t, s.URL("cam"), 250) // crosses the restart at 100 and the loop at 200
	for i := 1; i < len(ts); i++ {
		if d := ts[i] - ts[i-1]; d != 3600 {
			t.Fatalf("access unit %d: RTP timestamp step %d, want 3600 (25 fps)", i, d)
		}
	}
	// The 250th picture is 9.96 s into the stream, due 1.245 s after PLAY at
	// speed 8: the second half is paced, not sent in one burst.
	if el := arrivals[len(arrivals)-1].Sub(played); el < 1240*time.Millisecond {
		t.Fatalf("250 pictures at speed 8 took %v after PLAY, want about 1.25 s", el)
	}
}

func TestNoLoopEndsTheStream(t *testing.T) {
	file := mediatest.File(t, "h264_640x360.mp4")
	s := start(t, &simulate.Server{Speed: 20, NoLoop: true}, "cam", file)
	done := make(chan struct{})
	go func() { s.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("stream did not end")
	}
	u, _ := base.ParseURL(s.URL("cam"))
	c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
	if err := c.Start2(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _, err := c.Describe(u)
	var bad liberrors.ErrClientBadStatusCode
	if !errors.As(err, &bad) || bad.Code != base.StatusNotFound {
		t.Fatalf("DESCRIBE after the end: %v, want 404", err)
	}
}

func TestAddRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	notVideo := filepath.Join(dir, "notes.mp4")
	if err := os.WriteFile(notVideo, []byte("this is not a video"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := mediatest.File(t, "h264_640x360.mp4")
	var s simulate.Server
	for _, tc := range []struct{ name, file, want string }{
		{"cam", filepath.Join(dir, "missing.mp4"), "missing.mp4"},
		{"cam", notVideo, "notes.mp4"},
		{"bad/name", good, `camera name "bad/name"`},
	} {
		err := s.Add(tc.name, tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%q, %q) = %v, want an error mentioning %q", tc.name, tc.file, err, tc.want)
		}
	}
	if err := s.Add("cam", good); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("cam", good); err == nil {
		t.Error("the same name twice was accepted")
	}
}
