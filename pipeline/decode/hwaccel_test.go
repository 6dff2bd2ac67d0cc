package decode

import (
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
)

// decodeLast decodes the stream and returns its pictures' PTS and the last
// picture (the caller releases it).
func decodeLast(t *testing.T, d Decoder, aus []*media.AccessUnit) ([]int64, *frame.Frame) {
	t.Helper()
	f := &frame.Frame{}
	return decodeInto(t, d, aus, f), f
}

// A camera may ask for hardware decoding (NVDEC: hwaccel cuda). Where the
// device works, pictures are decoded on it and copied back; where it does
// not (no GPU, no driver: this machine and CI), the decoder decodes in
// software and says why. Either way every picture comes out, the same as
// the software decoder's.
func TestHardwareDecodingFallsBackToSoftwareAndDecodesTheSame(t *testing.T) {
	aus := accessUnits(media.CodecH264, readStream(t, "tiny.h264"))
	sw, err := New(Config{Codec: media.CodecH264})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	wantPTS, want := decodeLast(t, sw, aus)
	defer want.Release()

	for _, accel := range []string{"cuda", "no-such-device-type"} {
		t.Run(accel, func(t *testing.T) {
			d, err := New(Config{Codec: media.CodecH264, HWAccel: accel})
			if err != nil {
				t.Fatalf("no decoder at all: %v", err)
			}
			defer d.Close()
			a := d.(Accelerated)
			switch {
			case a.Accel() == accel && a.HWError() == nil:
				t.Logf("decoding on %s", accel)
			case a.Accel() == "" && a.HWError() != nil && strings.Contains(a.HWError().Error(), accel):
				t.Logf("software fallback: %v", a.HWError())
			default:
				t.Fatalf("Accel %q, HWError %v: want the device, or software with a reason naming %q", a.Accel(), a.HWError(), accel)
			}
			if accel == "no-such-device-type" && a.Accel() != "" {
				t.Fatal("an unknown device type was accepted")
			}
			pts, got := decodeLast(t, d, aus)
			defer got.Release()
			if len(pts) != len(wantPTS) {
				t.Fatalf("%d pictures, want %d", len(pts), len(wantPTS))
			}
			diff := gocv.NewMat()
			defer diff.Close()
			gocv.AbsDiff(got.Mat, want.Mat, &diff)
			if m := diff.Mean(); m.Val1 > 2 || m.Val2 > 2 || m.Val3 > 2 {
				t.Errorf("the last picture differs from software decoding by %v on average", m)
			}
		})
	}
}
