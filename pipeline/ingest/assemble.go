package ingest

import (
	"fmt"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// Limits of one access unit. gortsplib's depacketizers refuse more than 25
// (H.264) or 21 (H.265) NAL units per access unit, fixed constants that
// real cameras exceed: an encoder that cuts each picture into 32 slices (a
// common IP-camera setting, for error resilience) sends 33+ NAL units per
// picture, and every picture was thrown away. Real encoders stay in the
// hundreds; the cap only bounds memory against a hostile peer.
const (
	maxNALUsPerUnit = 1024
	maxUnitSize     = 8 << 20 // as gortsplib: 8 MiB, above a 50 Mbit/s 4K keyframe
)

// assembler turns RTP packets into access units. gortsplib's depacketizer
// still does the RTP payload formats (single NAL unit, STAP-A/AP,
// FU-A/FU, Annex-B wrapped payloads) packet by packet; the assembler groups
// the NAL units into access units itself, by RTP timestamp and marker bit,
// with its own limits.
type assembler struct {
	depacketize func(*rtp.Packet) ([][]byte, error)
	hevc        bool

	nalus [][]byte
	size  int
	ts    uint32
	pts   int64
	open  bool
}

func newAssembler(forma format.Format) (*assembler, error) {
	var dec func(*rtp.Packet) ([][]byte, error)
	switch f := forma.(type) {
	case *format.H264:
		d, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		dec = d.Decode
	case *format.H265:
		d, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		return &assembler{depacketize: d.Decode, hevc: true}, nil
	default:
		return nil, fmt.Errorf("unsupported format %T", forma)
	}
	return &assembler{depacketize: dec}, nil
}

// push adds one packet with its presentation time; emit receives each
// completed access unit (at most two per packet: the previous one when the
// timestamp moved on without a marker, and this one when it has the
// marker). An error means NAL units were thrown away: what follows until
// the next keyframe is damaged. Incomplete fragments are not errors
// (isIncomplete tells them apart).
func (a *assembler) push(pkt *rtp.Packet, pts int64, emit func(nalus [][]byte, pts int64)) error {
	// Marked as the end of an access unit, gortsplib hands back the
	// packet's NAL units at once (its own per-unit limits then apply to one
	// packet, which never reaches them).
	nalus, err := a.aggregated(pkt.Payload)
	if nalus == nil && err == nil {
		one := *pkt
		one.Marker = true
		nalus, err = a.depacketize(&one)
	}
	if err != nil {
		if !isIncomplete(err) {
			a.reset()
		}
		return err
	}
	// Cameras that never set the marker are split by timestamp.
	if a.open && pkt.Timestamp != a.ts {
		a.flush(emit)
	}
	size := 0
	for _, n := range nalus {
		size += len(n)
	}
	if len(a.nalus)+len(nalus) > maxNALUsPerUnit || a.size+size > maxUnitSize {
		n, s := len(a.nalus)+len(nalus), a.size+size
		a.reset()
		return fmt.Errorf("access unit too large (%d NAL units, %d bytes; at most %d and %d)", n, s, maxNALUsPerUnit, maxUnitSize)
	}
	if !a.open {
		a.open, a.ts, a.pts = true, pkt.Timestamp, pts
	}
	a.nalus = append(a.nalus, nalus...)
	a.size += size
	if pkt.Marker {
		a.flush(emit)
	}
	return nil
}

// aggregated splits an aggregation packet (H.264 STAP-A, H.265 AP) into its
// NAL units; nil, nil for any other packet. gortsplib applies its per-unit
// NAL unit limit to a single aggregation packet too, and an encoder that
// aggregates a picture's small slices and SEI messages exceeds it.
func (a *assembler) aggregated(payload []byte) ([][]byte, error) {
	hdr := 1
	if a.hevc {
		if len(payload) < 2 || (payload[0]>>1)&0x3F != 48 {
			return nil, nil
		}
		hdr = 2
	} else if len(payload) < 1 || payload[0]&0x1F != 24 {
		return nil, nil
	}
	var nalus [][]byte
	for p := payload[hdr:]; len(p) > 0; {
		if len(p) < 2 {
			return nil, fmt.Errorf("invalid aggregation packet (truncated size)")
		}
		size := int(p[0])<<8 | int(p[1])
		p = p[2:]
		if size == 0 && allZero(p) { // padding
			break
		}
		if size == 0 || size > len(p) {
			return nil, fmt.Errorf("invalid aggregation packet (NAL unit size %d, %d bytes left)", size, len(p))
		}
		nalus = append(nalus, p[:size:size]) // capped: the unit keeps the packet's buffer (see own)
		p = p[size:]
	}
	if len(nalus) == 0 {
		return nil, fmt.Errorf("aggregation packet without NAL units")
	}
	return nalus, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (a *assembler) flush(emit func([][]byte, int64)) {
	nalus, pts := a.nalus, a.pts
	a.reset()
	if len(nalus) > 0 {
		emit(nalus, pts)
	}
}

// reset forgets the unit being assembled. The slice is not reused: the
// emitted unit's NAL units belong to the receiver.
func (a *assembler) reset() {
	a.nalus, a.size, a.open = nil, 0, false
}
