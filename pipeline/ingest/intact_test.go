package ingest_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/internal/streamtest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/pipeline/ingest"
	"github.com/streetwatch/streetwatch/simulate"
)

// unitBytes is an access unit's coded slices (NAL unit types 1-5; the
// parameter sets ingest puts before keyframes are its own copies), each
// behind its length.
func unitBytes(au *media.AccessUnit) string {
	var b bytes.Buffer
	for _, n := range au.NALUs {
		if len(n) == 0 || n[0]&0x1F < 1 || n[0]&0x1F > 5 {
			continue
		}
		b.Write([]byte{byte(len(n) >> 24), byte(len(n) >> 16), byte(len(n) >> 8), byte(len(n))})
		b.Write(n)
	}
	return b.String()
}

// Access units are kept (by the history) long after gortsplib handed over
// their packets, and ingest keeps most NAL units in the buffers gortsplib
// gave it, without a copy. Held for a whole loop of a 32-slice 720p
// stream while later packets keep arriving, every unit received over TCP
// and UDP must still be byte for byte one of the file's: a library that
// reused its read buffers would change them under the history.
func TestUnitsHeldWhilePacketsArriveStayIntact(t *testing.T) {
	const file = "h264_slices32_1280x720.mp4"
	var want []string // the file's units, in order
	at := map[string]int{}
	for i, au := range streamtest.Demux(t, mediatest.File(t, file)) {
		want = append(want, unitBytes(au))
		at[want[i]] = i
	}
	if len(at) != len(want) {
		t.Fatalf("%s: %d distinct units of %d", file, len(at), len(want))
	}
	for _, transport := range []string{ingest.TransportTCP, ingest.TransportUDP} {
		t.Run(transport, func(t *testing.T) {
			sim := &simulate.Server{Addr: mediatest.FreeAddr(t), Speed: 2, UDPRTPAddress: mediatest.FreeUDPPair(t)}
			if err := sim.Add("cam", mediatest.File(t, file)); err != nil {
				t.Fatal(err)
			}
			if err := sim.Start(); err != nil {
				t.Fatal(err)
			}
			defer sim.Close()
			r := startSource(t, sim.URL("cam"), transport)
			var held []*media.AccessUnit
			deadline := time.After(20 * time.Second)
			for len(held) < 2*len(want) { // two loops: the first one's units held through the second
				select {
				case au := <-r.units:
					held = append(held, au)
				case <-deadline:
					t.Fatalf("%d access units in 20 s, want %d", len(held), 2*len(want))
				}
			}
			// The units follow the file's, looping, from wherever the
			// camera was when ingest joined.
			first, ok := at[unitBytes(held[0])]
			if !ok {
				t.Fatal("the first unit received is none of the file's")
			}
			wrap := func(k int) int { return (k%len(want) + len(want)) % len(want) }
			damagedGOP, bad := false, 0
			for i, au := range held {
				if au.Key {
					damagedGOP = false
					// Whole units lost (a gap) shift the rest: a keyframe
					// that is one of the file's says where the stream is.
					if j, ok := at[unitBytes(au)]; ok {
						first = j - i
					}
				}
				// A datagram lost on loopback damages its GOP (flagged): not
				// what this test is about.
				damagedGOP = damagedGOP || au.Gap
				if !damagedGOP && unitBytes(au) != want[wrap(first+i)] {
					bad++
					t.Errorf("access unit %d (key %v, %d NAL units) is not the file's unit %d", i, au.Key, len(au.NALUs), wrap(first+i))
				}
				if bad > 5 {
					t.FailNow()
				}
			}
		})
	}
}
