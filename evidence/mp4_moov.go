package evidence

// The hand-written rest of WriteMP4. pmp4 (mediacommon v2.4.1) writes
// ftyp and moov; this file corrects, in place and without changing any
// box's size (so no offset moves), the fields it writes in a way
// StreetWatch cannot use. Tests in mp4_test.go check each against ffmpeg's
// own files or against the clip; drop a fix only when they show that the
// pmp4 in go.mod writes the field right.
//
//   - Durations. For a track whose first picture shows after its first
//     decode (TimeOffset < 0: B-frames), pmp4 v2.4.1 writes the edit list's
//     segment as samples + delay and mvhd, tkhd and mdhd as samples - delay,
//     so players report a clip length off by the reorder delay. All four
//     become the samples' total, with the movie timescale (mvhd, which tkhd
//     and elst count in) set to the media's 90 kHz instead of pmp4's 1 kHz,
//     so nothing rounds. The edit list's media time (the delay) is pmp4's.
//   - Creation and modification times: pmp4 writes 0; players show them as
//     the file's date, so they become the first picture's time.
//   - H.265: pmp4 writes an hev1 sample entry, which Safari does not play;
//     it becomes hvc1, whose hvcC arrays are marked complete (the samples
//     carry no copy of the entry's parameter sets, see keepNALU). pmp4's
//     hvcC takes the constraint flags from the wrong bytes of the escaped
//     SPS, drops profile space and tier, codes the temporal layers in a
//     2-bit field and writes reserved bits as 0, so its bytes 1 to 21 are
//     rewritten: profile, tier and level as coded in the SPS, then the
//     fields after them as ffmpeg writes them.
//   - H.264: pmp4's avcC writes the reserved bits in front of
//     lengthSizeMinusOne and numOfSequenceParameterSets as 0; they become 1.
//
// Not fixed: pmp4's avcC has no High-profile extension (chroma format, bit
// depths), which ISO 14496-15 asks for profiles 100 and up; adding it
// would change sizes, and decoders take those values from the SPS. pmp4's
// ftyp is isom with isom, iso2, mp41, mp42 (ours had no mp42, and avc1 for
// H.264).

import (
	"encoding/binary"
	"fmt"
	"io"
)

// moovFix is what WriteMP4 corrects in pmp4's moov.
type moovFix struct {
	created      uint32 // seconds since 1904
	total, shift uint32 // 1/90000 s
	// hvcCHead is the HEVCDecoderConfigurationRecord's bytes 1 to 21
	// (nil: H.264).
	hvcCHead []byte
}

// movieTimescale is the mvhd timescale WriteMP4 writes: the media's.
const movieTimescale = 90000

func (f moovFix) apply(moov []byte) error {
	be := binary.BigEndian
	mvhd, err := fullBox(moov, "mvhd", 20)
	if err != nil {
		return err
	}
	be.PutUint32(mvhd[4:], f.created)
	be.PutUint32(mvhd[8:], f.created)
	be.PutUint32(mvhd[12:], movieTimescale)
	be.PutUint32(mvhd[16:], f.total)

	trak := childBox(moov, "trak")
	tkhd, err := fullBox(trak, "tkhd", 24)
	if err != nil {
		return err
	}
	be.PutUint32(tkhd[4:], f.created)
	be.PutUint32(tkhd[8:], f.created)
	be.PutUint32(tkhd[20:], f.total)

	elst, err := fullBox(childBox(trak, "edts"), "elst", 20)
	if err != nil {
		return err
	}
	if n, at := be.Uint32(elst[4:]), be.Uint32(elst[12:]); n != 1 || at != f.shift {
		return fmt.Errorf("pmp4 wrote an edit list of %d entries starting at %d, want 1 at %d", n, at, f.shift)
	}
	be.PutUint32(elst[8:], f.total)

	mdia := childBox(trak, "mdia")
	mdhd, err := fullBox(mdia, "mdhd", 20)
	if err != nil {
		return err
	}
	be.PutUint32(mdhd[4:], f.created)
	be.PutUint32(mdhd[8:], f.created)
	be.PutUint32(mdhd[16:], f.total)

	stsd := childBox(childBox(childBox(mdia, "minf"), "stbl"), "stsd")
	if f.hvcCHead == nil {
		avcC, err := sampleEntryConfig(stsd, "avc1", "avcC")
		if err != nil {
			return err
		}
		if len(avcC) < 6 {
			return fmt.Errorf("pmp4 wrote an avcC of %d bytes", len(avcC))
		}
		avcC[4] |= 0xfc // reserved bits before lengthSizeMinusOne
		avcC[5] |= 0xe0 // and before numOfSequenceParameterSets
		return nil
	}
	return f.fixHvcC(stsd)
}

// sampleEntryConfig returns the configuration box (avcC, hvcC) of the
// stsd's one sample entry, which must be of type typ.
func sampleEntryConfig(stsd []byte, typ, cfg string) ([]byte, error) {
	const visualEntry = 8 + 78 // box header and VisualSampleEntry fields
	if len(stsd) < 8+visualEntry || string(stsd[8+4:8+8]) != typ {
		return nil, fmt.Errorf("pmp4 wrote no %s sample entry", typ)
	}
	entry := stsd[8:]
	size := int(binary.BigEndian.Uint32(entry))
	if size < visualEntry || size > len(entry) {
		return nil, fmt.Errorf("pmp4 wrote a %s box of %d bytes", typ, size)
	}
	b := childBox(entry[visualEntry:size], cfg)
	if len(b) == 0 || b[0] != 1 {
		return nil, fmt.Errorf("pmp4 wrote no %s of version 1", cfg)
	}
	return b, nil
}

// fixHvcC turns the stsd's hev1 entry into hvc1 and corrects its hvcC.
func (f moovFix) fixHvcC(stsd []byte) error {
	hvcC, err := sampleEntryConfig(stsd, "hev1", "hvcC")
	if err != nil {
		return err
	}
	if len(hvcC) < 23 || len(f.hvcCHead) != 21 {
		return fmt.Errorf("pmp4 wrote an hvcC of %d bytes", len(hvcC))
	}
	copy(stsd[8+4:], "hvc1")
	copy(hvcC[1:22], f.hvcCHead)
	arrays, p := int(hvcC[22]), hvcC[23:]
	for range arrays {
		if len(p) < 3 {
			return fmt.Errorf("pmp4 wrote a short hvcC")
		}
		p[0] |= 0x80 // array_completeness
		count := int(binary.BigEndian.Uint16(p[1:]))
		p = p[3:]
		for range count {
			if len(p) < 2 || len(p) < 2+int(binary.BigEndian.Uint16(p)) {
				return fmt.Errorf("pmp4 wrote a short hvcC")
			}
			p = p[2+int(binary.BigEndian.Uint16(p)):]
		}
	}
	return nil
}

// childBox returns the payload of the first box of type typ among the boxes
// in data (nil: none); it shares data's memory, so writes to it patch data.
func childBox(data []byte, typ string) []byte {
	for len(data) >= 8 {
		size := int(binary.BigEndian.Uint32(data))
		if size < 8 || size > len(data) {
			return nil // pmp4 writes 32-bit sizes only
		}
		if string(data[4:8]) == typ {
			return data[8:size]
		}
		data = data[size:]
	}
	return nil
}

// fullBox returns the payload of a version 0 full box of at least n bytes.
func fullBox(parent []byte, typ string, n int) ([]byte, error) {
	b := childBox(parent, typ)
	if len(b) < n || b[0] != 0 {
		return nil, fmt.Errorf("pmp4 wrote no version 0 %s of %d bytes", typ, n)
	}
	return b, nil
}

// moovFixer passes on what pmp4 writes, holding it back until the ftyp
// and moov are complete, so fix sees (and may change) the whole moov
// before a byte of it leaves.
type moovFixer struct {
	w    io.Writer
	fix  func(moov []byte) error
	head []byte
	done bool
}

func (m *moovFixer) Write(p []byte) (int, error) {
	if m.done {
		return m.w.Write(p)
	}
	m.head = append(m.head, p...)
	var moov []byte
	rest := m.head
	for i, want := range []string{"ftyp", "moov"} {
		if len(rest) < 8 {
			return len(p), nil
		}
		size := int(binary.BigEndian.Uint32(rest))
		if string(rest[4:8]) != want || size < 8 {
			return 0, fmt.Errorf("pmp4 wrote box %q of %d bytes where %s belongs", rest[4:8], size, want)
		}
		if len(rest) < size {
			return len(p), nil
		}
		if i == 1 {
			moov = rest[8:size]
		}
		rest = rest[size:]
	}
	if err := m.fix(moov); err != nil {
		return 0, err
	}
	m.done = true
	if _, err := m.w.Write(m.head); err != nil {
		return 0, err
	}
	m.head = nil
	return len(p), nil
}
