package ingest

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// A camera's connection is read in bursts: one read from the socket takes
// what has arrived (up to connReadBuffer), however little the client asks
// for at a time, and the client then reads the rest from memory.
func TestACamerasConnectionIsReadAWholeBurstAtATime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	burst := bytes.Repeat([]byte("rtp-packet-"), 1000) // 11 000 bytes, a picture's packets
	sent, done := make(chan error, 1), make(chan struct{})
	defer close(done)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		_, err = c.Write(burst)
		sent <- err
		<-done // open until the client has read
	}()
	g := &credentialGuard{host: "127.0.0.1", plain: true}
	conn, err := g.dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the whole burst is in the socket
	bc, ok := conn.(*readBufferedConn)
	if !ok {
		t.Fatalf("a camera's connection is a %T, not read through a buffer", conn)
	}
	first := make([]byte, 1500) // less than the burst, as the client reads
	if _, err := io.ReadFull(conn, first); err != nil {
		t.Fatal(err)
	}
	if got := bc.r.Buffered(); got != len(burst)-len(first) {
		t.Fatalf("after reading %d bytes, %d more are buffered: want the rest of the %d-byte burst", len(first), got, len(burst))
	}
	rest := make([]byte, len(burst)-len(first))
	if _, err := io.ReadFull(conn, rest); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(first, rest...), burst) {
		t.Fatal("the bytes read are not the bytes sent")
	}
}
