package pipeline_test

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
)

// startGStreamer runs GStreamer's rtsp-server (a third-party peer, the kind a
// camera or NVR runs) serving file at rtsp://127.0.0.1:PORT/cam.
func startGStreamer(t *testing.T, file string) string {
	t.Helper()
	py := mediatest.Python(t)
	if err := exec.Command(py, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer").Run(); err != nil {
		mediatest.Missing(t, "GStreamer rtsp-server Python bindings (gir1.2-gst-rtsp-server-1.0, python3-gi): %v", err)
	}
	_, port, _ := net.SplitHostPort(mediatest.FreeAddr(t))
	cmd := exec.Command(py, filepath.Join(mediatest.Root(), "testdata", "peers", "gst_rtsp_server.py"), port, "cam", file)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("gst rtsp server did not start: %s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("gst rtsp server did not start in 30 s: %s", stderr.String())
	}
	return "rtsp://127.0.0.1:" + port + "/cam"
}

func TestPipelineAgainstGStreamerRTSPServer(t *testing.T) {
	for _, name := range []string{"h264_640x360.mp4", "h265_640x360.mp4"} {
		t.Run(name, func(t *testing.T) {
			url := startGStreamer(t, mediatest.File(t, name))
			r := runPipeline(t, config.Camera{ID: "nvr", URL: url, Transport: "tcp",
				Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 25}})
			// GStreamer plays in real time: 2 s of video.
			waitFor(t, 30*time.Second, "50 frames", func() bool { return len(r.rec.get("nvr")) >= 50 })
			r.stop()
			frames := r.rec.get("nvr")
			for i, f := range frames {
				if f.width != 640 || f.height != 360 {
					t.Fatalf("frame %d is %dx%d", i, f.width, f.height)
				}
			}
			checkMonotonic(t, frames)
			if got := metric(t, r.reg, "streetwatch_decode_errors_total", "camera", "nvr"); got != 0 {
				t.Fatalf("decode errors: %v", got)
			}
		})
	}
}
