package pipeline_test

import (
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/simulate"
)

// Encoders that cut each picture into many slices send more NAL units per
// access unit than gortsplib's depacketizers accept (25 for H.264, 21 for
// H.265); every picture used to be thrown away while the camera showed as
// up. Each picture must now reach the decoder whole.
func TestManySlicesPerPictureAreDecoded(t *testing.T) {
	for _, tc := range []struct{ codec, file string }{
		{"h264 32 slices", "h264_slices32_1280x720.mp4"},
		{"h265 12 slices + 16 SEI", "h265_slices_1280x720.ts"},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			sim := startSim(t, &simulate.Server{Speed: 2}, "cam", mediatest.File(t, tc.file))
			r := runPipeline(t, config.Camera{ID: "cam", URL: sim.URL("cam"), Transport: "tcp",
				Sampling: config.Sampling{Mode: config.SampleFPS, FPS: 25}})
			decoded := func() float64 { return metric(t, r.reg, "streetwatch_frames_decoded_total", "camera", "cam") }
			// 50 pictures: a whole GOP, so more than the keyframes got through.
			waitFor(t, 30*time.Second, "50 decoded pictures", func() bool { return decoded() >= 50 })
			if n := metric(t, r.reg, "streetwatch_rtp_errors_total", "camera", "cam"); n != 0 {
				t.Errorf("rtp_errors_total = %v, want 0", n)
			}
			if n := metric(t, r.reg, "streetwatch_decode_errors_total", "camera", "cam"); n != 0 {
				t.Errorf("decode_errors_total = %v, want 0", n)
			}
			// Every access unit reaches the decoder: the pictures decoded
			// catch up with the units received (within the two that may
			// be in flight). Compared while the stream plays, not once at
			// stop: a loaded machine leaves a few units queued then.
			units := func() float64 { return metric(t, r.reg, "streetwatch_access_units_total", "camera", "cam") }
			waitFor(t, 15*time.Second, "every access unit decoded", func() bool { return decoded() >= units()-2 })
		})
	}
}
