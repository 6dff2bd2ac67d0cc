package pipeline_test

import (
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/simulate"
)

// Camera.Status carries the counts pages show, equal to what /metrics
// says, so no page has to read them back out of the registry.
func TestCameraStatusCountsWhatMetricsCount(t *testing.T) {
	file := mediatest.File(t, "h264_640x360.mp4")
	want := mediatest.Probe(t, file)
	sim := startSim(t, &simulate.Server{Speed: 5, NoLoop: true, WaitForReader: true}, "cam", file)
	r := runPipeline(t, config.Camera{ID: "cam", URL: sim.URL("cam"), Transport: "tcp",
		Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 25}})
	waitFor(t, 60*time.Second, "every picture", func() bool { return len(r.rec.get("cam")) >= want.Packets })
	time.Sleep(200 * time.Millisecond)
	r.stop()
	st := r.p.Cameras()[0].Status()
	if st.FramesDecoded != uint64(want.Packets) || st.FramesSampled != uint64(len(r.rec.get("cam"))) {
		t.Errorf("status counts decoded %d sampled %d, want %d and %d", st.FramesDecoded, st.FramesSampled, want.Packets, len(r.rec.get("cam")))
	}
	for name, got := range map[string]uint64{
		"streetwatch_frames_decoded_total": st.FramesDecoded,
		"streetwatch_frames_sampled_total": st.FramesSampled,
		"streetwatch_decode_errors_total":  st.DecodeErrors,
	} {
		if m := metric(t, r.reg, name, "camera", "cam"); float64(got) != m {
			t.Errorf("status says %d, %s says %v", got, name, m)
		}
	}
}
