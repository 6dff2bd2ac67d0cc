package ingest

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/internal/logtest"
)

// A camera that refuses connections is retried after min, 2·min, 4·min…
// up to max, each wait with equal jitter (between half and all of it).
func TestReconnectBackoffDoublesFromMinToMaxWithJitter(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // connections are refused at once

	const minWait, maxWait = 20 * time.Millisecond, 80 * time.Millisecond
	var logs logtest.Capture
	s := &Source{Camera: "cam-1", URL: "rtsp://" + addr + "/stream", Transport: TransportTCP,
		BackoffMin: minWait, BackoffMax: maxWait, Log: logs.Logger()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	want := []time.Duration{minWait, 2 * minWait, 4 * minWait, maxWait, maxWait}
	lines := logs.Wait(t, "camera disconnected, reconnecting", len(want), 5*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, top := range want {
		if w := lines[i].Attrs["retry_in"].Duration(); w < top/2 || w > top {
			t.Errorf("wait after failure %d = %v, want in [%v, %v]", i+1, w, top/2, top)
		}
	}
	// A camera that keeps failing is one warning a minute, not one per
	// attempt: the others are at debug.
	warned := 0
	for _, l := range lines {
		if l.Level >= slog.LevelWarn {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("%d of %d reconnect lines at WARN, want the first only", warned, len(lines))
	}
	if n := s.Status().Reconnects; n < uint64(len(want)-1) {
		t.Errorf("Reconnects = %d, want at least %d", n, len(want)-1)
	}
}
