package evidence

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

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
// Decode timestamps come from the sorted PTS (the i-th sample decodes at
// the i-th smallest PTS, shifted by the reorder delay), which needs no
// slice parsing and gives the smallest delay that keeps every composition
// offset non-negative; an edit list skips that delay, so the presentation
// starts at the first picture and every duration field agrees.
func WriteMP4(w io.Writer, aus []*media.AccessUnit) (ClipInfo, error) {
	var info ClipInfo
	run, ps, dropped := lastRun(aus)
	kept := decodable(run, ps.codec)
	info.Dropped = dropped + len(run) - len(kept)
	if len(kept) == 0 {
		return info, ErrEmptyClip
	}
	info.Codec = ps.codec
	entry, err := sampleEntry(ps, &info)
	if err != nil {
		return info, err
	}

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
	first, last := 0, 0
	for i, au := range kept {
		t.shift = max(t.shift, dts[i]-au.PTS)
		if au.PTS < kept[first].PTS {
			first = i
		}
		if au.PTS > kept[last].PTS {
			last = i
		}
	}
	for i, au := range kept {
		d := lastDuration(dts)
		if i+1 < n {
			d = dts[i+1] - dts[i]
		}
		off := au.PTS - dts[i] + t.shift
		if d > math.MaxUint32 || off > math.MaxUint32 {
			return info, fmt.Errorf("mp4: timestamps out of range at picture %d (PTS %d)", i, au.PTS)
		}
		t.dur[i], t.off[i] = uint32(d), uint32(off)
		t.total += d
		if au.Key {
			info.Keyframes++
		}
	}
	if t.total > math.MaxUint32 || t.shift > math.MaxInt32 {
		return info, fmt.Errorf("mp4: clip of %s is too long", media.TicksToDuration(t.total))
	}
	info.Frames = n
	info.Duration = media.TicksToDuration(t.total)
	info.Start, info.End = kept[first].Time, kept[last].Time

	sizes := make([]uint32, n)
	var data int64
	for i, au := range kept {
		s := avccSize(au, ps)
		sizes[i] = uint32(s)
		data += int64(s)
	}
	mdatHeader := int64(8)
	if data+mdatHeader > math.MaxUint32 {
		mdatHeader = 16
	}
	var b boxes
	writeFtyp(&b, ps.codec)
	offPos := writeMoov(&b, kept, &info, entry, t, sizes, data)
	// The one chunk starts right after the moov and the mdat header.
	chunk := uint64(len(b.b)) + uint64(mdatHeader)
	if offPos.wide {
		binary.BigEndian.PutUint64(b.b[offPos.at:], chunk)
	} else {
		binary.BigEndian.PutUint32(b.b[offPos.at:], uint32(chunk))
	}
	if mdatHeader == 8 {
		b.u32(uint32(data + 8))
		b.b = append(b.b, "mdat"...)
	} else {
		b.u32(1)
		b.b = append(b.b, "mdat"...)
		b.u64(uint64(data + 16))
	}
	cw := &countingWriter{w: w}
	if _, err := cw.Write(b.b); err != nil {
		return info, fmt.Errorf("mp4: %w", err)
	}
	buf := b.b[:0]
	for _, au := range kept {
		buf = appendAVCC(buf[:0], au, ps)
		if _, err := cw.Write(buf); err != nil {
			return info, fmt.Errorf("mp4: %w", err)
		}
	}
	info.Bytes = cw.n
	return info, nil
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
// offsets in 1/90000 s, the reorder delay the edit list skips, the total.
type timing struct {
	dur, off     []uint32
	shift, total int64
}

// boxes builds ISO BMFF boxes in memory; start and end nest them.
type boxes struct {
	b     []byte
	stack []int
}

func (w *boxes) start(typ string) {
	w.stack = append(w.stack, len(w.b))
	w.b = append(w.b, 0, 0, 0, 0)
	w.b = append(w.b, typ...)
}

func (w *boxes) startFull(typ string, version byte, flags uint32) {
	w.start(typ)
	w.u32(uint32(version)<<24 | flags)
}

func (w *boxes) end() {
	at := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	binary.BigEndian.PutUint32(w.b[at:], uint32(len(w.b)-at))
}

func (w *boxes) u8(v byte)    { w.b = append(w.b, v) }
func (w *boxes) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *boxes) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *boxes) u64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *boxes) zeros(n int)  { w.b = append(w.b, make([]byte, n)...) }

// matrix is the identity transformation of mvhd and tkhd.
func (w *boxes) matrix() {
	for _, v := range [9]uint32{0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000} {
		w.u32(v)
	}
}

func writeFtyp(b *boxes, codec media.Codec) {
	b.start("ftyp")
	b.b = append(b.b, "isom"...)
	b.u32(0x200)
	b.b = append(b.b, "isomiso2mp41"...)
	if codec == media.CodecH264 {
		b.b = append(b.b, "avc1"...)
	}
	b.end()
}

// chunkOffset is where the moov's one chunk offset is to be patched in.
type chunkOffset struct {
	at   int
	wide bool // co64
}

// writeMoov writes the movie header: one video track, all samples in one
// chunk right after it.
func writeMoov(b *boxes, aus []*media.AccessUnit, info *ClipInfo, entry []byte, t timing, sizes []uint32, data int64) chunkOffset {
	// Seconds since 1904: players show the picture time of the first frame
	// as the file's creation time.
	created := uint32(max(info.Start.Unix()+2082844800, 0))
	dur := uint32(t.total)
	b.start("moov")
	b.startFull("mvhd", 0, 0)
	b.u32(created)
	b.u32(created)
	b.u32(media.ClockRate)
	b.u32(dur)
	b.u32(0x10000) // rate 1.0
	b.u16(0x100)   // volume 1.0
	b.zeros(10)
	b.matrix()
	b.zeros(24)
	b.u32(2) // next track ID
	b.end()

	b.start("trak")
	b.startFull("tkhd", 0, 3) // enabled, in movie
	b.u32(created)
	b.u32(created)
	b.u32(1) // track ID
	b.u32(0)
	b.u32(dur)
	b.zeros(8 + 2 + 2 + 2 + 2) // reserved, layer, alternate group, volume, reserved
	b.matrix()
	b.u32(uint32(info.Width) << 16)
	b.u32(uint32(info.Height) << 16)
	b.end()
	b.start("edts")
	b.startFull("elst", 0, 0)
	b.u32(1)
	b.u32(dur)
	b.u32(uint32(t.shift)) // media time of the first picture shown
	b.u32(0x10000)         // rate 1.0
	b.end()
	b.end()

	b.start("mdia")
	b.startFull("mdhd", 0, 0)
	b.u32(created)
	b.u32(created)
	b.u32(media.ClockRate)
	b.u32(dur)
	b.u16(0x55c4) // "und"
	b.u16(0)
	b.end()
	b.startFull("hdlr", 0, 0)
	b.u32(0)
	b.b = append(b.b, "vide"...)
	b.zeros(12)
	b.b = append(b.b, "VideoHandler\x00"...)
	b.end()
	b.start("minf")
	b.startFull("vmhd", 0, 1)
	b.zeros(8)
	b.end()
	b.start("dinf")
	b.startFull("dref", 0, 0)
	b.u32(1)
	b.startFull("url ", 0, 1) // media in this file
	b.end()
	b.end()
	b.end()

	b.start("stbl")
	b.startFull("stsd", 0, 0)
	b.u32(1)
	b.b = append(b.b, entry...)
	b.end()
	writeRuns(b, "stts", 0, t.dur)
	if info.Keyframes < len(aus) {
		b.startFull("stss", 0, 0)
		b.u32(uint32(info.Keyframes))
		for i, au := range aus {
			if au.Key {
				b.u32(uint32(i + 1))
			}
		}
		b.end()
	}
	if slices.ContainsFunc(t.off, func(o uint32) bool { return o != 0 }) {
		writeRuns(b, "ctts", 0, t.off)
	}
	b.startFull("stsc", 0, 0)
	b.u32(1)
	b.u32(1)
	b.u32(uint32(len(aus)))
	b.u32(1)
	b.end()
	b.startFull("stsz", 0, 0)
	b.u32(0)
	b.u32(uint32(len(sizes)))
	for _, s := range sizes {
		b.u32(s)
	}
	b.end()
	var off chunkOffset
	if data+(64<<20) > math.MaxUint32 {
		b.startFull("co64", 0, 0)
		b.u32(1)
		off = chunkOffset{at: len(b.b), wide: true}
		b.u64(0)
	} else {
		b.startFull("stco", 0, 0)
		b.u32(1)
		off = chunkOffset{at: len(b.b)}
		b.u32(0)
	}
	b.end()
	b.end() // stbl
	b.end() // minf
	b.end() // mdia
	b.end() // trak
	b.end() // moov
	return off
}

// writeRuns writes a run-length table (stts, ctts) of per-sample values.
func writeRuns(b *boxes, typ string, version byte, v []uint32) {
	b.startFull(typ, version, 0)
	countAt := len(b.b)
	b.u32(0)
	runs := uint32(0)
	for i := 0; i < len(v); {
		j := i + 1
		for j < len(v) && v[j] == v[i] {
			j++
		}
		b.u32(uint32(j - i))
		b.u32(v[i])
		runs++
		i = j
	}
	binary.BigEndian.PutUint32(b.b[countAt:], runs)
	b.end()
}

// sampleEntry builds the avc1 or hvc1 sample entry and reads the picture
// size from the SPS.
func sampleEntry(ps paramSets, info *ClipInfo) ([]byte, error) {
	var b boxes
	var cfg func()
	switch ps.codec {
	case media.CodecH264:
		var sps h264.SPS
		if err := sps.Unmarshal(ps.sps); err != nil {
			return nil, fmt.Errorf("mp4: parse H264 SPS: %w", err)
		}
		if len(ps.sps) < 4 {
			return nil, fmt.Errorf("mp4: H264 SPS too short")
		}
		info.Width, info.Height = sps.Width(), sps.Height()
		b.start("avc1")
		cfg = func() { writeAvcC(&b, ps, &sps) }
	case media.CodecH265:
		var sps h265.SPS
		if err := sps.Unmarshal(ps.sps); err != nil {
			return nil, fmt.Errorf("mp4: parse H265 SPS: %w", err)
		}
		// profile_tier_level's general part, as coded: 12 bytes after the
		// NAL header and the byte of VPS id and sub-layer count.
		rbsp := h264.EmulationPreventionRemove(ps.sps)
		if len(rbsp) < 15 {
			return nil, fmt.Errorf("mp4: H265 SPS too short")
		}
		info.Width, info.Height = sps.Width(), sps.Height()
		b.start("hvc1")
		cfg = func() { writeHvcC(&b, ps, &sps, rbsp[3:15]) }
	default:
		return nil, fmt.Errorf("mp4: unsupported codec %v", ps.codec)
	}
	if info.Width <= 0 || info.Height <= 0 || info.Width > 0xffff || info.Height > 0xffff {
		return nil, fmt.Errorf("mp4: picture size %dx%d from the SPS", info.Width, info.Height)
	}
	b.zeros(6)
	b.u16(1) // data reference index
	b.zeros(16)
	b.u16(uint16(info.Width))
	b.u16(uint16(info.Height))
	b.u32(0x480000) // 72 dpi
	b.u32(0x480000)
	b.u32(0)
	b.u16(1)      // frames per sample
	b.zeros(32)   // compressor name
	b.u16(0x18)   // depth
	b.u16(0xffff) // pre-defined -1
	cfg()
	b.end()
	return b.b, nil
}

// writeAvcC writes the AVCDecoderConfigurationRecord (ISO 14496-15 5.3.3).
func writeAvcC(b *boxes, ps paramSets, sps *h264.SPS) {
	b.start("avcC")
	b.u8(1)
	b.b = append(b.b, ps.sps[1], ps.sps[2], ps.sps[3]) // profile, compatibility, level
	b.u8(0xfc | 3)                                     // 4-byte NAL unit lengths
	b.u8(0xe0 | 1)
	b.u16(uint16(len(ps.sps)))
	b.b = append(b.b, ps.sps...)
	b.u8(1)
	b.u16(uint16(len(ps.pps)))
	b.b = append(b.b, ps.pps...)
	switch sps.ProfileIdc {
	case 100, 110, 122, 144:
		b.u8(0xfc | byte(sps.ChromaFormatIdc))
		b.u8(0xf8 | byte(sps.BitDepthLumaMinus8))
		b.u8(0xf8 | byte(sps.BitDepthChromaMinus8))
		b.u8(0)
	}
	b.end()
}

// writeHvcC writes the HEVCDecoderConfigurationRecord (ISO 14496-15 8.3.3).
func writeHvcC(b *boxes, ps paramSets, sps *h265.SPS, ptl []byte) {
	b.start("hvcC")
	b.u8(1)
	b.b = append(b.b, ptl...)
	b.u16(0xf000) // min_spatial_segmentation_idc 0
	b.u8(0xfc)    // parallelism unknown
	b.u8(0xfc | byte(sps.ChromaFormatIdc))
	b.u8(0xf8 | byte(sps.BitDepthLumaMinus8))
	b.u8(0xf8 | byte(sps.BitDepthChromaMinus8))
	b.u16(0) // average frame rate unknown
	nested := byte(0)
	if sps.TemporalIDNestingFlag {
		nested = 1
	}
	b.u8((sps.MaxSubLayersMinus1+1)&7<<3 | nested<<2 | 3)
	b.u8(3)
	for _, p := range []struct {
		typ  h265.NALUType
		nalu []byte
	}{{h265.NALUType_VPS_NUT, ps.vps}, {h265.NALUType_SPS_NUT, ps.sps}, {h265.NALUType_PPS_NUT, ps.pps}} {
		b.u8(0x80 | byte(p.typ)) // complete: hvc1 keeps parameter sets here
		b.u16(1)
		b.u16(uint16(len(p.nalu)))
		b.b = append(b.b, p.nalu...)
	}
	b.end()
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
