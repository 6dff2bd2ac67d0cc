package media

import (
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Codec is the video codec of a stream.
type Codec int

// Supported codecs.
const (
	CodecUnknown Codec = iota
	CodecH264
	CodecH265
)

func (c Codec) String() string {
	switch c {
	case CodecH264:
		return "H264"
	case CodecH265:
		return "H265"
	}
	return "unknown"
}

// ClockRate is the RTP clock rate of video streams, and the unit of PTS.
const ClockRate = 90000

// TicksToDuration converts 1/90000 s ticks to a Duration without
// overflowing (a plain ticks*time.Second overflows after 28 hours).
func TicksToDuration(ticks int64) time.Duration {
	return time.Duration(ticks/ClockRate)*time.Second + time.Duration(ticks%ClockRate)*time.Second/ClockRate
}

// DurationToTicks converts a Duration to 1/90000 s ticks without overflowing.
func DurationToTicks(d time.Duration) int64 {
	return int64(d/time.Second)*ClockRate + int64(d%time.Second)*ClockRate/int64(time.Second)
}

// AccessUnit is one encoded picture of a camera's stream: the NAL units
// without start codes, as the camera sent them.
type AccessUnit struct {
	Codec Codec
	NALUs [][]byte
	// PTS is the presentation time in 1/90000 s on the camera's stream
	// timeline. It is monotonic for the life of an ingest source, also
	// across reconnects.
	PTS int64
	// Time is the wall-clock time of the picture: the receive time of the
	// first picture of the connection plus the stream time elapsed since.
	Time time.Time
	// Key is true for pictures a decoder can start from (IDR / IRAP). Key
	// access units carry the current parameter sets in front.
	Key bool
	// Width and Height come from the current SPS (0 when unknown).
	Width, Height int
	// Gap is set when pictures were lost just before this one (RTP packets
	// missing): pictures that reference the lost ones are broken until the
	// next keyframe.
	Gap bool
	// Session counts connections: it changes after a reconnect, when
	// decoders must be flushed and wait for the next keyframe.
	Session uint64
}

// Size is the number of payload bytes.
func (au *AccessUnit) Size() int {
	n := 0
	for _, nalu := range au.NALUs {
		n += len(nalu)
	}
	return n
}

// AnnexB appends the access unit in Annex-B form (4-byte start codes) to dst.
func (au *AccessUnit) AnnexB(dst []byte) []byte {
	for _, nalu := range au.NALUs {
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, nalu...)
	}
	return dst
}

// CopyNALUs copies NAL units into one buffer of their exact size, each
// capped to its own bytes: what an access unit keeps for as long as the
// history holds it.
func CopyNALUs(nalus [][]byte) [][]byte {
	size := 0
	for _, n := range nalus {
		size += len(n)
	}
	buf := make([]byte, 0, size)
	owned := make([][]byte, len(nalus))
	for i, n := range nalus {
		start := len(buf)
		buf = append(buf, n...)
		owned[i] = buf[start:len(buf):len(buf)]
	}
	return owned
}

// IsKey tells whether the NAL units start a picture a decoder can begin with.
func IsKey(codec Codec, nalus [][]byte) bool {
	switch codec {
	case CodecH264:
		return h264.IsRandomAccess(nalus)
	case CodecH265:
		return h265.IsRandomAccess(nalus)
	}
	return false
}

// StartsPicture tells whether the NAL units hold their picture's first
// slice (H.264: first_mb_in_slice is 0; H.265:
// first_slice_segment_in_pic_flag). A receiver that joins a stream while a
// picture is on the wire gets only its last slices; a keyframe without its
// first ones decodes to a picture missing its top, and is no place to start.
func StartsPicture(codec Codec, nalus [][]byte) bool {
	for _, n := range nalus {
		switch codec {
		case CodecH264:
			if len(n) < 2 {
				continue
			}
			switch n[0] & 0x1F {
			case 1, 2, 5: // slice, partition A, IDR slice: the slice header follows
				return n[1]&0x80 != 0 // first_mb_in_slice, ue(v): 0 is the single bit 1
			}
		case CodecH265:
			if len(n) < 3 {
				continue
			}
			if (n[0]>>1)&0x3F < 32 { // a slice segment
				return n[2]&0x80 != 0
			}
		}
	}
	return false
}

// SplitAnnexB splits an Annex-B byte stream into NAL units (sharing buf).
func SplitAnnexB(buf []byte) ([][]byte, error) {
	var a h264.AnnexB
	if err := a.Unmarshal(buf); err != nil {
		return nil, err
	}
	return a, nil
}
