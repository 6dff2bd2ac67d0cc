package media

import (
	"bytes"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// ParamSets tracks a stream's parameter sets (VPS for H.265, SPS, PPS), as
// announced in the SDP and updated in-band, so that every keyframe handed on
// is decodable by itself and resolution changes are noticed.
type ParamSets struct {
	Codec         Codec
	VPS, SPS, PPS []byte
	Width, Height int
}

// Update records the parameter sets found in nalus. It reports whether the
// SPS changed (a new resolution or profile).
func (p *ParamSets) Update(nalus [][]byte) (spsChanged bool, err error) {
	for _, nalu := range nalus {
		if len(nalu) == 0 {
			continue
		}
		switch p.kind(nalu) {
		case kindVPS:
			p.VPS = cloneIfDifferent(p.VPS, nalu)
		case kindSPS:
			if !bytes.Equal(p.SPS, nalu) {
				// An SPS the parser cannot read (some cameras use features
				// it lacks) is still kept: the decoder reads it fine, and
				// the size then comes from the decoded pictures.
				w, h, perr := spsSize(p.Codec, nalu)
				if perr == nil && !plausibleSize(w, h) {
					// Garbage that happens to parse (a broken camera, an
					// attacker after a valid SDP): not believed, not kept.
					err = fmt.Errorf("SPS says %dx%d: not a plausible picture size, ignored", w, h)
					continue
				}
				if perr != nil {
					err = perr
				}
				p.SPS = append([]byte(nil), nalu...)
				p.Width, p.Height = w, h
				spsChanged = true
			}
		case kindPPS:
			p.PPS = cloneIfDifferent(p.PPS, nalu)
		}
	}
	return spsChanged, err
}

// Complete reports whether every parameter set the codec needs is known.
func (p *ParamSets) Complete() bool {
	if p.SPS == nil || p.PPS == nil {
		return false
	}
	return p.Codec != CodecH265 || p.VPS != nil
}

// Prepend returns nalus with the known parameter sets in front, unless nalus
// already carries an SPS.
func (p *ParamSets) Prepend(nalus [][]byte) [][]byte {
	for _, nalu := range nalus {
		if len(nalu) > 0 && p.kind(nalu) == kindSPS {
			return nalus
		}
	}
	out := make([][]byte, 0, len(nalus)+3)
	if p.Codec == CodecH265 && p.VPS != nil {
		out = append(out, p.VPS)
	}
	if p.SPS != nil {
		out = append(out, p.SPS)
	}
	if p.PPS != nil {
		out = append(out, p.PPS)
	}
	return append(out, nalus...)
}

type naluKind int

const (
	kindOther naluKind = iota
	kindVPS
	kindSPS
	kindPPS
)

func (p *ParamSets) kind(nalu []byte) naluKind {
	switch p.Codec {
	case CodecH264:
		switch h264.NALUType(nalu[0] & 0x1f) {
		case h264.NALUTypeSPS:
			return kindSPS
		case h264.NALUTypePPS:
			return kindPPS
		}
	case CodecH265:
		switch h265.NALUType((nalu[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			return kindVPS
		case h265.NALUType_SPS_NUT:
			return kindSPS
		case h265.NALUType_PPS_NUT:
			return kindPPS
		}
	}
	return kindOther
}

func spsSize(codec Codec, nalu []byte) (w, h int, err error) {
	switch codec {
	case CodecH264:
		var sps h264.SPS
		if err := sps.Unmarshal(nalu); err != nil {
			return 0, 0, fmt.Errorf("parse H264 SPS: %w", err)
		}
		return sps.Width(), sps.Height(), nil
	case CodecH265:
		var sps h265.SPS
		if err := sps.Unmarshal(nalu); err != nil {
			return 0, 0, fmt.Errorf("parse H265 SPS: %w", err)
		}
		return sps.Width(), sps.Height(), nil
	}
	return 0, 0, fmt.Errorf("unsupported codec %v", codec)
}

// Picture sizes a camera can send: at least 16 pixels a side (one
// macroblock), at most 8K UHD (8192x4320) either way up.
const (
	minSide = 16
	maxSide = 8192
)

func plausibleSize(w, h int) bool {
	return w >= minSide && h >= minSide && w <= maxSide && h <= maxSide
}

func cloneIfDifferent(old, nalu []byte) []byte {
	if bytes.Equal(old, nalu) {
		return old
	}
	return append([]byte(nil), nalu...)
}
