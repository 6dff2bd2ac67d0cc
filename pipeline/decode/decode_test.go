package decode

import (
	"bytes"
	"os"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
)

// accessUnits splits a raw Annex-B stream into access units: parameter sets
// and SEI go with the picture that follows them.
func accessUnits(codec media.Codec, stream []byte) []*media.AccessUnit {
	nalus := splitStream(stream)
	var aus []*media.AccessUnit
	var cur [][]byte
	pts := int64(0)
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		cur = append(cur, n)
		if isVCL(codec, n) {
			aus = append(aus, &media.AccessUnit{Codec: codec, NALUs: cur, PTS: pts, Key: media.IsKey(codec, cur)})
			cur = nil
			pts += 9000
		}
	}
	return aus
}

func isVCL(codec media.Codec, n []byte) bool {
	if codec == media.CodecH264 {
		t := h264.NALUType(n[0] & 0x1f)
		return t >= 1 && t <= 5
	}
	return h265.NALUType((n[0]>>1)&0x3f) < 32
}

func readStream(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(mediatest.File(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// decodeAll sends every unit and converts every picture; it returns the
// PTS of the pictures that came out.
func decodeAll(t testing.TB, d Decoder, aus []*media.AccessUnit) []int64 {
	t.Helper()
	f := &frame.Frame{}
	defer f.Release()
	return decodeInto(t, d, aus, f)
}

// decodeInto is decodeAll converting into f, which holds the last picture.
func decodeInto(t testing.TB, d Decoder, aus []*media.AccessUnit, f *frame.Frame) []int64 {
	t.Helper()
	var out []int64
	for _, au := range aus {
		_ = d.Send(au)
		for {
			pts, ok, err := d.Receive()
			if err != nil || !ok {
				break
			}
			if err := d.Convert(f); err != nil {
				t.Fatalf("convert: %v", err)
			}
			out = append(out, pts)
		}
	}
	return out
}

func TestDecodesEveryPictureToBGR(t *testing.T) {
	for _, tc := range []struct {
		file  string
		codec media.Codec
	}{{"tiny.h264", media.CodecH264}, {"tiny.h265", media.CodecH265}} {
		t.Run(tc.file, func(t *testing.T) {
			aus := accessUnits(tc.codec, readStream(t, tc.file))
			if len(aus) != 10 {
				t.Fatalf("test stream has %d pictures, want 10", len(aus))
			}
			d, err := New(Config{Codec: tc.codec})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			f := &frame.Frame{}
			defer f.Release()
			n := 0
			for _, au := range aus {
				if err := d.Send(au); err != nil {
					t.Fatal(err)
				}
				for {
					pts, ok, err := d.Receive()
					if err != nil {
						t.Fatal(err)
					}
					if !ok {
						break
					}
					if pts != int64(n)*9000 {
						t.Fatalf("picture %d has PTS %d", n, pts)
					}
					if err := d.Convert(f); err != nil {
						t.Fatal(err)
					}
					n++
				}
			}
			if n != 10 {
				t.Fatalf("decoded %d pictures, want 10", n)
			}
			if f.Width() != 64 || f.Height() != 48 || f.Mat.Channels() != 3 {
				t.Fatalf("frame %dx%d with %d channels, want 64x48 BGR", f.Width(), f.Height(), f.Mat.Channels())
			}
			// testsrc2 is colourful: a grey or black frame means a broken conversion.
			mean := f.Mat.Mean()
			if mean.Val1 < 10 && mean.Val2 < 10 && mean.Val3 < 10 {
				t.Fatalf("frame is black: mean %v", mean)
			}
		})
	}
}

func TestMissingPicturesSkipToTheNextKeyframe(t *testing.T) {
	aus := accessUnits(media.CodecH264, readStream(t, "tiny.h264")) // keyframes at 0 and 5
	if !aus[0].Key || !aus[5].Key || aus[3].Key {
		t.Fatal("test stream does not have keyframes at 0 and 5 only")
	}
	// Picture 2 is lost on the way: ingest marks the next unit with Gap.
	lossy := append(append([]*media.AccessUnit{}, aus[:2]...), aus[3:]...)
	lossy[2].Gap = true
	d, err := New(Config{Codec: media.CodecH264})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := decodeAll(t, d, lossy)
	want := []int64{0, 9000, 45000, 54000, 63000, 72000, 81000}
	if len(got) != len(want) {
		t.Fatalf("pictures out: %v, want %v (3 and 4 skipped until keyframe 5)", got, want)
	}
	if s := d.Stats(); s.SkippedForKey != 2 {
		t.Fatalf("skipped %d units, want 2", s.SkippedForKey)
	}
}

func TestAKeyframeAfterLostPacketsIsSkippedToo(t *testing.T) {
	aus := accessUnits(media.CodecH264, readStream(t, "tiny.h264")) // keyframes at 0 and 5
	// Packets were lost inside keyframe 0: it may be missing slices.
	aus[0].Gap = true
	d, err := New(Config{Codec: media.CodecH264})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := decodeAll(t, d, aus)
	if len(got) != 5 || got[0] != 45000 {
		t.Fatalf("pictures out %v, want only the 5 from the next keyframe on", got)
	}
}

func TestGarbageIsRejectedAndDecodingResumesAtTheNextKeyframe(t *testing.T) {
	aus := accessUnits(media.CodecH264, readStream(t, "tiny.h264"))
	// Picture 2's slice data is replaced by garbage of the same length.
	broken := &media.AccessUnit{Codec: media.CodecH264, PTS: aus[2].PTS}
	for _, n := range aus[2].NALUs {
		g := bytes.Repeat([]byte{0xff}, len(n))
		g[0] = n[0] // keep the NAL header: a plausible but broken slice
		broken.NALUs = append(broken.NALUs, g)
	}
	stream := append(append(append([]*media.AccessUnit{}, aus[:2]...), broken), aus[3:]...)
	d, err := New(Config{Codec: media.CodecH264})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := decodeAll(t, d, stream)
	s := d.Stats()
	if s.Errors+s.Corrupt == 0 {
		t.Fatalf("garbage slice neither rejected nor flagged corrupt: %+v", s)
	}
	// Everything from the keyframe at 5 on decodes cleanly.
	tail := 0
	for _, pts := range got {
		if pts >= 45000 {
			tail++
		}
	}
	if tail != 5 {
		t.Fatalf("pictures from keyframe 5 on: %d, want 5 (out: %v, stats %+v)", tail, got, s)
	}
}

func TestNewSessionWaitsForAKeyframe(t *testing.T) {
	aus := accessUnits(media.CodecH264, readStream(t, "tiny.h264"))
	d, err := New(Config{Codec: media.CodecH264})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	decodeAll(t, d, aus[:3])
	// Reconnected: the next units are of a new session, starting mid-GOP.
	for _, au := range aus[3:] {
		au.Session = 1
	}
	if err := d.Send(aus[3]); err != ErrNeedKeyframe {
		t.Fatalf("non-key unit of a new session: %v, want ErrNeedKeyframe", err)
	}
}

func TestUnsupportedCodec(t *testing.T) {
	if _, err := New(Config{Codec: media.CodecUnknown}); err == nil {
		t.Fatal("unknown codec accepted")
	}
}

// splitStream splits a whole Annex-B stream at its start codes (the media
// package's splitter is for one access unit and caps the NAL unit count).
func splitStream(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				for end > start && b[end-1] == 0 {
					end--
				}
				out = append(out, b[start:end])
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}
