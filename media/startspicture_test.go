package media_test

import (
	"os"
	"testing"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/internal/streamtest"
	"github.com/streetwatch/streetwatch/media"
)

// A picture cut into 32 slices: every access unit of the file starts its
// picture; the same unit without its first slice (what a receiver that
// joined while the picture was on the wire gets) does not.
func TestStartsPictureKnowsAPictureMissingItsFirstSlices(t *testing.T) {
	aus := streamtest.Demux(t, mediatest.File(t, "h264_slices32_1280x720.mp4"))
	for i, au := range aus {
		if !media.StartsPicture(au.Codec, au.NALUs) {
			t.Fatalf("unit %d (key %v): whole, but StartsPicture says it is not", i, au.Key)
		}
		var tail [][]byte
		slices := 0
		for _, n := range au.NALUs {
			if t := n[0] & 0x1F; t == 1 || t == 5 {
				slices++
				if slices == 1 {
					continue // the first slice was lost
				}
			}
			tail = append(tail, n)
		}
		if slices < 2 {
			t.Fatalf("unit %d has %d slices; the test needs a sliced stream", i, slices)
		}
		if media.StartsPicture(au.Codec, tail) {
			t.Fatalf("unit %d without its first slice: StartsPicture says it starts its picture", i)
		}
	}
	if media.StartsPicture(media.CodecH264, nil) {
		t.Fatal("no NAL units start a picture")
	}
}

// H.265 says it with first_slice_segment_in_pic_flag, the first bit after
// the two-byte NAL unit header.
func TestStartsPictureReadsH265SliceSegments(t *testing.T) {
	data, err := os.ReadFile(mediatest.File(t, "tiny.h265"))
	if err != nil {
		t.Fatal(err)
	}
	nalus, err := media.SplitAnnexB(data)
	if err != nil {
		t.Fatal(err)
	}
	vcl := 0
	for _, n := range nalus {
		if (n[0]>>1)&0x3F >= 32 {
			if media.StartsPicture(media.CodecH265, [][]byte{n}) {
				t.Fatalf("a parameter set or SEI (type %d) alone starts a picture", (n[0]>>1)&0x3F)
			}
			continue
		}
		vcl++
		if !media.StartsPicture(media.CodecH265, [][]byte{n}) {
			t.Fatalf("slice %d (one per picture) does not start its picture", vcl)
		}
		later := append([]byte(nil), n...)
		later[2] &^= 0x80 // a later slice segment of the same picture
		if media.StartsPicture(media.CodecH265, [][]byte{later}) {
			t.Fatalf("slice %d with first_slice_segment_in_pic_flag 0 starts its picture", vcl)
		}
	}
	if vcl == 0 {
		t.Fatal("tiny.h265 has no slices")
	}
}
