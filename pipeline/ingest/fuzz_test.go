package ingest

import (
	"log/slog"
	"os"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/decode"
)

// packetize turns a raw Annex-B stream into marshalled RTP packets, the
// seeds for the fuzzer.
func packetize(t testing.TB, codec media.Codec, stream []byte) [][]byte {
	t.Helper()
	nalus, err := media.SplitAnnexB(stream)
	if err != nil {
		t.Fatal(err)
	}
	var enc interface {
		Encode([][]byte) ([]*rtp.Packet, error)
	}
	if codec == media.CodecH264 {
		enc, err = (&format.H264{PayloadTyp: 96, PacketizationMode: 1}).CreateEncoder()
	} else {
		enc, err = (&format.H265{PayloadTyp: 96}).CreateEncoder()
	}
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i, n := range nalus {
		pkts, err := enc.Encode([][]byte{n})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			p.Timestamp = uint32(i * 9000)
			b, _ := p.Marshal()
			out = append(out, b)
		}
	}
	return out
}

func readStream(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(mediatest.File(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func join(pkts [][]byte) []byte {
	var out []byte
	for _, p := range pkts {
		out = append(out, byte(len(p)>>8), byte(len(p)))
		out = append(out, p...)
	}
	return out
}

// FuzzDepacketize feeds random and truncated RTP packets through the RTP
// depacketizer, ingest's access-unit assembly and the decoder: no crash, no
// hang, whatever a camera or an attacker on the network sends.
func FuzzDepacketize(f *testing.F) {
	h264 := packetize(f, media.CodecH264, readStream(f, "tiny.h264"))
	h265 := packetize(f, media.CodecH265, readStream(f, "tiny.h265"))
	f.Add(false, join(h264))
	f.Add(true, join(h265))
	f.Add(false, join(h264[:len(h264)/2]))
	f.Add(true, join(h265[1:]))
	f.Add(false, []byte{0, 3, 0x80, 0x60, 0})
	f.Fuzz(func(t *testing.T, hevc bool, data []byte) {
		feed(t, hevc, data)
	})
}

// feed runs length-prefixed RTP packets through depacketizing, ingest and
// decoding; it returns the number of pictures decoded.
func feed(t *testing.T, hevc bool, data []byte) int {
	pictures := 0
	codec := media.CodecH264
	if hevc {
		codec = media.CodecH265
	}
	dec, err := decode.New(decode.Config{Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	frame := &frame.Frame{}
	defer frame.Release()
	src := NewSource(SourceConfig{Camera: "fuzz"}, SourceDeps{OnAccessUnit: func(au *media.AccessUnit) {
		if dec.Send(au) != nil {
			return
		}
		for {
			_, ok, err := dec.Receive()
			if err != nil || !ok {
				return
			}
			if dec.Convert(frame) == nil {
				pictures++
			}
		}
	}})
	st := &stream{src: src, m: (*Metrics)(nil).forCamera("fuzz"), log: slog.New(slog.DiscardHandler),
		params: media.ParamSets{Codec: codec}}
	var depacketize func(*rtp.Packet) ([][]byte, error)
	if hevc {
		d, _ := (&format.H265{PayloadTyp: 96}).CreateDecoder()
		depacketize = d.Decode
	} else {
		d, _ := (&format.H264{PayloadTyp: 96, PacketizationMode: 1}).CreateDecoder()
		depacketize = d.Decode
	}
	for len(data) >= 2 {
		n := int(data[0])<<8 | int(data[1])
		data = data[2:]
		if n > len(data) {
			n = len(data)
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(data[:n]) == nil {
			if nalus, err := depacketize(&pkt); err == nil {
				st.handle(nalus, int64(pkt.Timestamp))
			}
		}
		data = data[n:]
	}
	return pictures
}

func TestDepacketizeSeedsDecodeEveryPicture(t *testing.T) {
	for _, hevc := range []bool{false, true} {
		codec, file := media.CodecH264, "tiny.h264"
		if hevc {
			codec, file = media.CodecH265, "tiny.h265"
		}
		if n := feed(t, hevc, join(packetize(t, codec, readStream(t, file)))); n != 10 {
			t.Errorf("%s: %d pictures through RTP, ingest and decode; want 10", file, n)
		}
	}
}
