package ingest

import (
	"log/slog"
	"testing"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/internal/streamtest"
	"github.com/streetwatch/streetwatch/media"
)

// Ingest that joins a camera while a keyframe's packets are on the wire
// receives that keyframe's last slices as the first unit. Handing them on
// gave the decoder (and the first evidence clip) a picture without its top;
// the stream starts at the next whole keyframe instead. This is what made
// TestUnitsHeldWhilePacketsArriveStayIntact fail now and then in CI: its
// first unit was "none of the file's".
func TestStreamStartsAtAWholeKeyframe(t *testing.T) {
	aus := streamtest.Demux(t, mediatest.File(t, "h264_slices32_1280x720.mp4"))
	next := -1
	for i, au := range aus[1:] {
		if au.Key {
			next = i + 1
			break
		}
	}
	if !aus[0].Key || next < 0 {
		t.Fatal("the test needs a file with two keyframes, the first at the start")
	}
	var got []*media.AccessUnit
	st := &stream{src: &Source{Camera: "join", OnAccessUnit: func(au *media.AccessUnit) { got = append(got, au) }},
		m: (*Metrics)(nil).forCamera("join"), log: slog.New(slog.DiscardHandler), params: media.ParamSets{Codec: media.CodecH264}}

	// The first keyframe's parameter sets and its second half of slices.
	var tail [][]byte
	slices := 0
	for _, n := range aus[0].NALUs {
		if n[0]&0x1F == 5 {
			if slices++; slices <= 16 {
				continue
			}
		}
		tail = append(tail, n)
	}
	st.handle(tail, aus[0].PTS)
	for _, au := range aus[1 : next+1] {
		st.handle(au.NALUs, au.PTS)
	}
	if len(got) != 1 {
		t.Fatalf("%d units handed on, want 1 (the second keyframe, nothing before it)", len(got))
	}
	if !got[0].Key || got[0].PTS != 0 || unitSlices(got[0]) != unitSlices(aus[next]) {
		t.Fatalf("the first unit handed on is not the whole second keyframe (key %v, %d NAL units)", got[0].Key, len(got[0].NALUs))
	}
}

func unitSlices(au *media.AccessUnit) string {
	var s []byte
	for _, n := range au.NALUs {
		if t := n[0] & 0x1F; t >= 1 && t <= 5 {
			s = append(s, n...)
		}
	}
	return string(s)
}
