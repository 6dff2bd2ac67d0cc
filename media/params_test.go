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

// bitWriter writes the Exp-Golomb fields of a hand-made SPS.
type bitWriter struct {
	buf  []byte
	bits int
}

func (w *bitWriter) bit(b uint) {
	if w.bits%8 == 0 {
		w.buf = append(w.buf, 0)
	}
	if b != 0 {
		w.buf[len(w.buf)-1] |= 0x80 >> (w.bits % 8)
	}
	w.bits++
}

func (w *bitWriter) u(n int, v uint) {
	for i := n - 1; i >= 0; i-- {
		w.bit((v >> i) & 1)
	}
}

func (w *bitWriter) ue(v uint) {
	v++
	n := 0
	for x := v; x > 1; x >>= 1 {
		n++
	}
	w.u(n, 0)
	w.u(n+1, v)
}

// h264SPS is a baseline SPS of (widthMBs x heightMBs) macroblocks with the
// given right-edge cropping (in 2-pixel units).
func h264SPS(widthMBs, heightMBs, cropRight uint) []byte {
	w := &bitWriter{}
	w.u(8, 0x67)         // NAL header: SPS
	w.u(8, 66)           // profile_idc: baseline
	w.u(8, 0)            // constraint flags
	w.u(8, 30)           // level_idc
	w.ue(0)              // seq_parameter_set_id
	w.ue(0)              // log2_max_frame_num_minus4
	w.ue(2)              // pic_order_cnt_type
	w.ue(1)              // max_num_ref_frames
	w.u(1, 0)            // gaps_in_frame_num_value_allowed_flag
	w.ue(widthMBs - 1)   // pic_width_in_mbs_minus1
	w.ue(heightMBs - 1)  // pic_height_in_map_units_minus1
	w.u(1, 1)            // frame_mbs_only_flag
	w.u(1, 1)            // direct_8x8_inference_flag
	w.u(1, b(cropRight)) // frame_cropping_flag
	if cropRight > 0 {
		w.ue(0)
		w.ue(cropRight)
		w.ue(0)
		w.ue(0)
	}
	w.u(1, 0) // vui_parameters_present_flag
	w.u(1, 1) // rbsp_stop_one_bit
	return w.buf
}

func b(v uint) uint {
	if v > 0 {
		return 1
	}
	return 0
}

func TestParamSetsRefuseImplausiblePictureSizes(t *testing.T) {
	good := h264SPS(40, 30, 0) // 640x480
	for _, tc := range []struct {
		name string
		sps  []byte
	}{
		{"cropped below zero (seen as 4294967280 wide)", h264SPS(1, 13, 16)},
		{"100000 pixels wide", h264SPS(6250, 13, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ParamSets{Codec: CodecH264}
			if changed, err := p.Update([][]byte{good}); err != nil || !changed || p.Width != 640 || p.Height != 480 {
				t.Fatalf("good SPS: changed=%v err=%v size %dx%d", changed, err, p.Width, p.Height)
			}
			changed, err := p.Update([][]byte{tc.sps})
			if err == nil || changed {
				t.Fatalf("garbage SPS: changed=%v err=%v, want refused", changed, err)
			}
			if p.Width != 640 || p.Height != 480 || string(p.SPS) != string(good) {
				t.Fatalf("after garbage: %dx%d, SPS kept=%v; want the good SPS kept", p.Width, p.Height, string(p.SPS) == string(good))
			}
		})
	}
}
