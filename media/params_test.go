package media

import (
	"os"
	"testing"

	"github.com/streetwatch/streetwatch/internal/mediatest"
)

func firstNALUs(t *testing.T, file string, n int) [][]byte {
	t.Helper()
	data, err := os.ReadFile(mediatest.File(t, file))
	if err != nil {
		t.Fatal(err)
	}
	// The tiny streams start with their parameter sets; cut well before the
	// splitter's limit on NAL units per access unit.
	nalus, err := SplitAnnexB(data[:300])
	if err != nil {
		t.Fatal(err)
	}
	return nalus[:n]
}

func TestParamSetsTrackSizeAndPrependToKeyframes(t *testing.T) {
	for _, tc := range []struct {
		file  string
		codec Codec
		sets  int
	}{{"tiny.h264", CodecH264, 2}, {"tiny.h265", CodecH265, 3}} {
		t.Run(tc.file, func(t *testing.T) {
			nalus := firstNALUs(t, tc.file, tc.sets)
			p := ParamSets{Codec: tc.codec}
			changed, err := p.Update(nalus)
			if err != nil || !changed {
				t.Fatalf("Update: changed=%v err=%v", changed, err)
			}
			if !p.Complete() || p.Width != 64 || p.Height != 48 {
				t.Fatalf("after update: complete=%v size %dx%d, want 64x48", p.Complete(), p.Width, p.Height)
			}
			if changed, _ := p.Update(nalus); changed {
				t.Fatal("the same SPS again reported a change")
			}
			slice := []byte{0x65, 0x88}
			if tc.codec == CodecH265 {
				slice = []byte{0x26, 0x01}
			}
			out := p.Prepend([][]byte{slice})
			if len(out) != tc.sets+1 {
				t.Fatalf("Prepend gave %d NAL units, want the %d parameter sets and the slice", len(out), tc.sets)
			}
			if again := p.Prepend(out); len(again) != len(out) {
				t.Fatal("Prepend added parameter sets to a unit that has them")
			}
		})
	}
}

func TestParamSetsKeepAnSPSTheParserCannotRead(t *testing.T) {
	p := ParamSets{Codec: CodecH264}
	if _, err := p.Update([][]byte{{0x67, 0xff}}); err == nil {
		t.Fatal("unreadable SPS reported no error")
	}
	if p.SPS == nil || p.Width != 0 {
		t.Fatal("an unreadable SPS must be kept for the decoder, with an unknown size")
	}
}
