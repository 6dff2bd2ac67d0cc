package evidence

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/streetwatch/streetwatch/media"
)

// What goes into a clip and when each picture shows: StreetWatch's policy,
// independent of how the boxes are written (mp4.go, mp4_moov.go).

// paramSets are the parameter sets of one run of access units.
type paramSets struct {
	codec         media.Codec
	vps, sps, pps []byte
}

func (p paramSets) equal(q paramSets) bool {
	return p.codec == q.codec && bytes.Equal(p.vps, q.vps) && bytes.Equal(p.sps, q.sps) && bytes.Equal(p.pps, q.pps)
}

// keyParams returns the first VPS, SPS and PPS of a keyframe; ok is false
// when one the codec needs is missing.
func keyParams(au *media.AccessUnit) (p paramSets, ok bool) {
	p.codec = au.Codec
	for _, nalu := range au.NALUs {
		if len(nalu) == 0 {
			continue
		}
		var slot *[]byte
		switch naluClass(au.Codec, nalu) {
		case classVPS:
			slot = &p.vps
		case classSPS:
			slot = &p.sps
		case classPPS:
			slot = &p.pps
		}
		if slot != nil && *slot == nil {
			*slot = nalu
		}
	}
	switch p.codec {
	case media.CodecH264:
		return p, p.sps != nil && p.pps != nil
	case media.CodecH265:
		return p, p.vps != nil && p.sps != nil && p.pps != nil
	}
	return p, false
}

// lastRun returns the access units after the last change of parameter
// sets (starting at a keyframe that carries them), and how many came before.
func lastRun(aus []*media.AccessUnit) (run []*media.AccessUnit, ps paramSets, before int) {
	start := -1
	for i, au := range aus {
		if !au.Key {
			continue
		}
		p, ok := keyParams(au)
		if !ok {
			continue // a keyframe without parameter sets continues the run
		}
		if start < 0 || !p.equal(ps) {
			start, ps = i, p
		}
	}
	if start < 0 {
		return nil, ps, len(aus)
	}
	return aus[start:], ps, start
}

// decodable leaves out what a decoder starting at run[0] cannot decode:
// non-key units after a gap or reconnect until the next keyframe, and the
// RASL pictures of an H.265 CRA where decoding (re)starts.
func decodable(run []*media.AccessUnit, codec media.Codec) []*media.AccessUnit {
	if len(run) == 0 {
		return nil
	}
	out := make([]*media.AccessUnit, 0, len(run))
	waitKey, skipRASL := false, false
	for i, au := range run {
		entry := i == 0 || au.Gap || au.Session != run[i-1].Session
		if entry && !au.Key {
			waitKey = true
		}
		if au.Key {
			waitKey = false
		}
		if waitKey || au.Codec != codec {
			continue
		}
		if codec == media.CodecH265 {
			typ := h265VCLType(au.NALUs)
			switch {
			case entry && au.Key:
				skipRASL = typ >= int(h265.NALUType_BLA_W_LP) && typ <= int(h265.NALUType_CRA_NUT) &&
					typ != int(h265.NALUType_IDR_W_RADL) && typ != int(h265.NALUType_IDR_N_LP)
			case typ == int(h265.NALUType_RASL_N) || typ == int(h265.NALUType_RASL_R):
				if skipRASL {
					continue
				}
			case typ >= 0:
				skipRASL = false // trailing pictures follow all leading ones
			}
		}
		out = append(out, au)
	}
	return out
}

// h265VCLType is the type of the first slice NAL unit (-1: none).
func h265VCLType(nalus [][]byte) int {
	for _, nalu := range nalus {
		if len(nalu) == 0 {
			continue
		}
		if t := int((nalu[0] >> 1) & 0x3f); t < 32 {
			return t
		}
	}
	return -1
}

// lastDuration is the last picture's duration: the median of the last few
// frame intervals, so one pause before it does not stretch it.
func lastDuration(dts []int64) int64 {
	const defaultFrame = media.ClockRate / 25
	n := len(dts)
	if n < 2 {
		return defaultFrame
	}
	k := min(n-1, 9)
	d := make([]int64, k)
	for i := range k {
		d[i] = dts[n-1-i] - dts[n-2-i]
	}
	slices.Sort(d)
	return d[k/2]
}

type naluClassT int

const (
	classOther naluClassT = iota
	classVPS
	classSPS
	classPPS
	classDrop // access unit delimiters and filler data
)

func naluClass(codec media.Codec, nalu []byte) naluClassT {
	switch codec {
	case media.CodecH264:
		switch h264.NALUType(nalu[0] & 0x1f) {
		case h264.NALUTypeSPS:
			return classSPS
		case h264.NALUTypePPS:
			return classPPS
		case h264.NALUTypeAccessUnitDelimiter, h264.NALUTypeFillerData:
			return classDrop
		}
	case media.CodecH265:
		switch h265.NALUType((nalu[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			return classVPS
		case h265.NALUType_SPS_NUT:
			return classSPS
		case h265.NALUType_PPS_NUT:
			return classPPS
		case h265.NALUType_AUD_NUT, h265.NALUType_FD_NUT:
			return classDrop
		}
	}
	return classOther
}

// keepNALU tells whether a NAL unit goes into the sample: parameter sets
// equal to the sample entry's are redundant; others (a second PPS) stay.
func keepNALU(codec media.Codec, nalu []byte, ps paramSets) bool {
	if len(nalu) == 0 {
		return false
	}
	switch naluClass(codec, nalu) {
	case classDrop:
		return false
	case classVPS:
		return !bytes.Equal(nalu, ps.vps)
	case classSPS:
		return !bytes.Equal(nalu, ps.sps)
	case classPPS:
		return !bytes.Equal(nalu, ps.pps)
	}
	return true
}

func avccSize(au *media.AccessUnit, ps paramSets) int {
	n := 0
	for _, nalu := range au.NALUs {
		if keepNALU(au.Codec, nalu, ps) {
			n += 4 + len(nalu)
		}
	}
	return n
}

// appendAVCC appends the sample: NAL units with 4-byte length prefixes.
func appendAVCC(dst []byte, au *media.AccessUnit, ps paramSets) []byte {
	for _, nalu := range au.NALUs {
		if keepNALU(au.Codec, nalu, ps) {
			l := len(nalu)
			dst = append(dst, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
			dst = append(dst, nalu...)
		}
	}
	return dst
}

// timing is the sample table's clock: per-sample durations and composition
// offsets in 1/90000 s, the reorder delay the edit list skips, the total,
// and which samples show first and last.
type timing struct {
	dur, off     []uint32
	shift, total int64
	first, last  int
}

// sampleTiming derives decode times from the sorted PTS: the i-th sample
// decodes at the i-th smallest PTS, shifted by the reorder delay. That
// needs no slice parsing and gives the smallest delay that keeps every
// composition offset non-negative.
func sampleTiming(kept []*media.AccessUnit) (timing, error) {
	n := len(kept)
	t := timing{dur: make([]uint32, n), off: make([]uint32, n)}
	dts := make([]int64, n)
	for i, au := range kept {
		dts[i] = au.PTS
	}
	slices.Sort(dts)
	for i := 1; i < n; i++ {
		dts[i] = max(dts[i], dts[i-1]+1) // duplicate PTS: keep DTS strictly increasing
	}
	for i, au := range kept {
		t.shift = max(t.shift, dts[i]-au.PTS)
		if au.PTS < kept[t.first].PTS {
			t.first = i
		}
		if au.PTS > kept[t.last].PTS {
			t.last = i
		}
	}
	for i, au := range kept {
		d := lastDuration(dts)
		if i+1 < n {
			d = dts[i+1] - dts[i]
		}
		// ctts is written as version 1 (signed): offsets stay below 2^31.
		off := au.PTS - dts[i] + t.shift
		if d > math.MaxUint32 || off > math.MaxInt32 {
			return t, fmt.Errorf("mp4: timestamps out of range at picture %d (PTS %d)", i, au.PTS)
		}
		t.dur[i], t.off[i] = uint32(d), uint32(off)
		t.total += d
	}
	if t.total > math.MaxUint32 || t.shift > math.MaxInt32 {
		return t, fmt.Errorf("mp4: clip of %s is too long", media.TicksToDuration(t.total))
	}
	return t, nil
}
