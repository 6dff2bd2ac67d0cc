package decode

import (
	"testing"

	"github.com/streetwatch/streetwatch/media"
)

// FuzzDecoder feeds random, truncated and mutated streams to the decoder.
// It must never crash, hang or leak; errors are expected. `make test` runs
// the seed corpus, `make fuzz` explores.
func FuzzDecoder(f *testing.F) {
	h264 := readStream(f, "tiny.h264")
	h265 := readStream(f, "tiny.h265")
	f.Add(false, h264)
	f.Add(true, h265)
	f.Add(false, h264[:len(h264)/2])
	f.Add(true, h265[:len(h265)/3])
	f.Add(false, []byte{0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x65, 0xff})
	f.Add(true, []byte{0, 0, 1, 0x26, 0x01, 0xaf, 0x00})
	f.Add(false, []byte{})
	f.Fuzz(func(t *testing.T, hevc bool, stream []byte) {
		codec := media.CodecH264
		if hevc {
			codec = media.CodecH265
		}
		d, err := New(Config{Codec: codec})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		aus := accessUnits(codec, stream)
		for _, au := range aus {
			au.Key = true // let garbage reach the codec instead of waiting for a keyframe
		}
		decodeAll(t, d, aus)
	})
}
