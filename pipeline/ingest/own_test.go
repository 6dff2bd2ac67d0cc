package ingest

import (
	"bytes"
	"testing"
	"unsafe"
)

// NAL units in buffers of their own size (what gortsplib hands over for
// TCP frames and joined fragments) are kept as they are; a unit that is a
// small part of a larger buffer (a UDP datagram's, an aggregation
// packet's) is copied, with the unit's other NAL units, into one buffer of
// their exact size, so the history does not keep the large buffer alive.
func TestOwnCopiesOnlyUnitsThatWouldPinALargerBuffer(t *testing.T) {
	exact := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + n)
		}
		return b
	}
	slice := exact(1200)
	fitted := [][]byte{exact(30), slice}
	if got := own(fitted); &got[0][0] != &fitted[0][0] || &got[1][0] != &fitted[1][0] {
		t.Fatal("NAL units in buffers of their own size were copied")
	}

	datagram := exact(1473)
	sei := datagram[12:40] // 28 bytes of a 1473-byte buffer
	loose := [][]byte{sei, slice}
	got := own(loose)
	if &got[0][0] == &sei[0] {
		t.Fatal("a 28-byte NAL unit keeps its 1473-byte datagram buffer alive")
	}
	for i := range loose {
		if !bytes.Equal(got[i], loose[i]) {
			t.Fatalf("NAL unit %d changed in the copy", i)
		}
		if cap(got[i]) != len(got[i]) {
			t.Fatalf("NAL unit %d: cap %d for %d bytes (appending to it would write into the next)", i, cap(got[i]), len(got[i]))
		}
	}
	// One buffer for the whole unit, of its exact size.
	if unsafe.Add(unsafe.Pointer(&got[0][0]), len(got[0])) != unsafe.Pointer(&got[1][0]) {
		t.Fatal("the copied NAL units are not in one buffer")
	}
}
