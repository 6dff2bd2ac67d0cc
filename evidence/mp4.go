package evidence

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"

	"github.com/streetwatch/streetwatch/internal/atomicfile"
	"github.com/streetwatch/streetwatch/media"
)

// ClipInfo describes a muxed clip.
type ClipInfo struct {
	Codec         media.Codec
	Width, Height int
	// Start and End are the picture times (AccessUnit.Time) of the first
	// and the last picture shown.
	Start, End time.Time
	// Duration is the presentation duration: End - Start plus one frame.
	Duration          time.Duration
	Frames, Keyframes int
	// Bytes is the size of the MP4 file.
	Bytes int64
	// Dropped counts access units given to WriteMP4 that are not in the
	// file: before the last change of parameter sets, before the first
	// keyframe, or undecodable after a gap.
	Dropped int
}

// ErrEmptyClip: nothing to mux.
var ErrEmptyClip = errors.New("evidence: no decodable access units for the clip")

// WriteMP4 muxes H.264 or H.265 access units, in decode order, into a
// faststart MP4 (ftyp, moov, mdat) that browsers play, without re-encoding.
//
// The sample entry (avc1/avcC, hvc1/hvcC) takes the parameter sets of the
// first keyframe; in-band copies equal to them, access unit delimiters and
// filler data are left out of the samples. One sample entry describes one
// set of parameter sets, so when they change inside the range (the camera's
// resolution or profile was changed) the file holds the part after the last
// change, the part that reaches the clip's end; ClipInfo.Start then lies
// later than asked and ClipInfo.Dropped counts what was left out. A
// reconnect (a new Session) with unchanged parameter sets is muxed straight
// through: the timeline keeps the outage as a pause, so picture times stay
// true.
//
// Non-key access units after a gap (Gap, or a new Session) until the next
// keyframe are left out, as are, for H.265, the RASL pictures of a CRA
// where decoding starts: their reference pictures are not in the stream.
//
// Decode timestamps come from the sorted PTS (see sampleTiming); an edit
// list skips the reorder delay, so the presentation starts at the first
// picture and every duration field agrees.
//
// The boxes are written by mediacommon's pmp4 (one track, one chunk, moov
// before mdat); mp4_moov.go fixes in place the few fields it writes in a
// way StreetWatch cannot use. pmp4 writes 32-bit offsets only (stco, no
// co64; a 32-bit mdat size), so a clip of about 4 GiB or more is an error.
func WriteMP4(w io.Writer, aus []*media.AccessUnit) (ClipInfo, error) {
	var info ClipInfo
	run, ps, dropped := lastRun(aus)
	kept := decodable(run, ps.codec)
	info.Dropped = dropped + len(run) - len(kept)
	if len(kept) == 0 {
		return info, ErrEmptyClip
	}
	info.Codec = ps.codec
	codec, fix, err := trackCodec(ps, &info)
	if err != nil {
		return info, err
	}
	t, err := sampleTiming(kept)
	if err != nil {
		return info, err
	}
	n := len(kept)
	info.Frames = n
	info.Duration = media.TicksToDuration(t.total)
	info.Start, info.End = kept[t.first].Time, kept[t.last].Time

	track := &pmp4.Track{
		ID:        1,
		TimeScale: media.ClockRate,
		// Negative: the first picture shows shift after the first decode;
		// pmp4 turns this into the edit list's media time.
		TimeOffset: -int32(t.shift),
		Codec:      codec,
		Samples:    make([]*pmp4.Sample, n),
	}
	samples := make([]pmp4.Sample, n)
	var data int64
	var largest int
	var buf []byte // one sample at a time: pmp4 writes each payload before asking for the next
	for i, au := range kept {
		size := avccSize(au, ps)
		data += int64(size)
		largest = max(largest, size)
		samples[i] = pmp4.Sample{
			Duration:        t.dur[i],
			PTSOffset:       int32(t.off[i]),
			IsNonSyncSample: !au.Key,
			PayloadSize:     uint32(size),
			GetPayload: func() ([]byte, error) {
				buf = appendAVCC(buf[:0], au, ps)
				return buf, nil
			},
		}
		track.Samples[i] = &samples[i]
		if au.Key {
			info.Keyframes++
		}
	}
	// The moov takes well under 64 KiB plus 16 bytes a sample.
	if data+8+(64<<10)+16*int64(n) > math.MaxUint32 {
		return info, fmt.Errorf("mp4: %d MiB of samples: pmp4 writes 32-bit offsets only", data>>20)
	}
	buf = make([]byte, 0, largest)

	fix.created = uint32(max(info.Start.Unix()+2082844800, 0)) // seconds since 1904
	fix.total, fix.shift = uint32(t.total), uint32(t.shift)
	cw := &countingWriter{w: w}
	mw := &moovFixer{w: cw, fix: fix.apply}
	if err := (&pmp4.Presentation{Tracks: []*pmp4.Track{track}}).Marshal(mw); err != nil {
		return info, fmt.Errorf("mp4: %w", err)
	}
	if !mw.done {
		return info, errors.New("mp4: pmp4 wrote no ftyp and moov")
	}
	info.Bytes = cw.n
	return info, nil
}

// trackCodec checks the parameter sets, reads the picture size from the
// SPS and returns pmp4's codec with what the moov fix needs. It rejects
// what would make pmp4 index out of range (short SPS).
func trackCodec(ps paramSets, info *ClipInfo) (mp4.Codec, moovFix, error) {
	var codec mp4.Codec
	var fix moovFix
	switch ps.codec {
	case media.CodecH264:
		var sps h264.SPS
		if err := sps.Unmarshal(ps.sps); err != nil {
			return nil, fix, fmt.Errorf("mp4: parse H264 SPS: %w", err)
		}
		if len(ps.sps) < 4 {
			return nil, fix, fmt.Errorf("mp4: H264 SPS too short")
		}
		info.Width, info.Height = sps.Width(), sps.Height()
		codec = &mp4.CodecH264{SPS: ps.sps, PPS: ps.pps}
	case media.CodecH265:
		var sps h265.SPS
		if err := sps.Unmarshal(ps.sps); err != nil {
			return nil, fix, fmt.Errorf("mp4: parse H265 SPS: %w", err)
		}
		// profile_tier_level's general part, as coded: 12 bytes after the
		// NAL header and the byte of VPS id and sub-layer count.
		rbsp := h264.EmulationPreventionRemove(ps.sps)
		if len(rbsp) < 15 || len(ps.sps) < 15 {
			return nil, fix, fmt.Errorf("mp4: H265 SPS too short")
		}
		info.Width, info.Height = sps.Width(), sps.Height()
		nested := byte(0)
		if sps.TemporalIDNestingFlag {
			nested = 1
		}
		// HEVCDecoderConfigurationRecord after configurationVersion, up to
		// numOfArrays (ISO 14496-15 8.3.3.1).
		head := append(slices.Clone(rbsp[3:15]),
			0xf0, 0, // min_spatial_segmentation_idc 0
			0xfc, // parallelism unknown
			0xfc|byte(sps.ChromaFormatIdc),
			0xf8|byte(sps.BitDepthLumaMinus8),
			0xf8|byte(sps.BitDepthChromaMinus8),
			0, 0, // average frame rate unknown
			(sps.MaxSubLayersMinus1+1)&7<<3|nested<<2|3)
		fix.hvcCHead = head
		codec = &mp4.CodecH265{VPS: ps.vps, SPS: ps.sps, PPS: ps.pps}
	default:
		return nil, fix, fmt.Errorf("mp4: unsupported codec %v", ps.codec)
	}
	if info.Width <= 0 || info.Height <= 0 || info.Width > 0xffff || info.Height > 0xffff {
		return nil, fix, fmt.Errorf("mp4: picture size %dx%d from the SPS", info.Width, info.Height)
	}
	return codec, fix, nil
}

// WriteMP4File writes the clip to path atomically (see atomicfile): a
// crash leaves no clip or a whole one.
func WriteMP4File(path string, aus []*media.AccessUnit) (ClipInfo, error) {
	f, err := atomicfile.Create(path, 0o600)
	if err != nil {
		return ClipInfo{}, fmt.Errorf("write clip: %w", err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	info, err := WriteMP4(bw, aus)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Commit()
	}
	if err != nil {
		return ClipInfo{}, fmt.Errorf("write clip %s: %w", path, err)
	}
	return info, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
