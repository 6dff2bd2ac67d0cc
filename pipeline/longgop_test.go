package pipeline_test

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/pipeline"
	"github.com/streetwatch/streetwatch/simulate"
)

// Joining a live camera with a 10 s GOP, the first keyframe is seconds
// away while media flows: camera_up used to stay 0 that long. The camera is
// up from its first packet, its state says it is starting (nothing to
// decode yet), and it turns to decoding at the keyframe.
func TestLongGOPCameraIsUpBeforeItsFirstKeyframe(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gop10s.ts")
	out, err := exec.Command(mediatest.Tool(t, "ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi",
		"-i", "testsrc2=size=320x240:rate=25:duration=20", "-c:v", "libx264", "-preset", "veryfast",
		"-pix_fmt", "yuv420p", "-bf", "0", "-g", "250", "-keyint_min", "250", "-sc_threshold", "0",
		"-threads", "1", "-f", "mpegts", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	sim := startSim(t, &simulate.Server{}, "cam", file)
	time.Sleep(3 * time.Second) // join about 3 s into the first GOP
	r := runPipeline(t, config.Camera{ID: "cam", URL: sim.URL("cam"), Transport: "tcp",
		Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 5}})
	joined := time.Now()
	waitFor(t, 5*time.Second, "camera_up 1", func() bool { // the keyframe is 7 s away
		return metric(t, r.reg, "streetwatch_camera_up", "camera", "cam") == 1
	})
	st := r.p.Cameras()[0].Status()
	if st.State != pipeline.StateStarting || st.FramesDecoded != 0 {
		t.Errorf("%v after joining: state %q, %d pictures decoded; want %q before the keyframe",
			time.Since(joined).Round(time.Millisecond), st.State, st.FramesDecoded, pipeline.StateStarting)
	}
	waitFor(t, 15*time.Second, "decoding at the keyframe", func() bool {
		return metric(t, r.reg, "streetwatch_camera_decoding", "camera", "cam") == 1
	})
	if st := r.p.Cameras()[0].Status(); st.State != pipeline.StateDecoding || !st.Ingest.Up {
		t.Errorf("after the keyframe: state %q, up %t", st.State, st.Ingest.Up)
	}
	if d := time.Since(joined); d < 4*time.Second {
		t.Errorf("decoding %v after joining: the test did not join mid-GOP", d)
	}
}
