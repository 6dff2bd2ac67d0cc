package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/framequeue"
	"github.com/streetwatch/streetwatch/pipeline/ingest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A stream the decoder cannot be opened for fails on every unit: each is
// counted, but the error is logged once, not once per unit.
func TestDecoderThatCannotBeOpenedIsLoggedOnceAndEveryUnitCounted(t *testing.T) {
	var logs lockedBuffer
	m := newMetrics(nil)
	q := framequeue.NewQueue(4)
	defer q.Close()
	c := newCamera(config.Camera{ID: "cam", Decoder: config.Decoder{Threads: 1}}, 16, q, frame.NewPool(4), m, ingest.NewMetrics(nil),
		slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.decodeLoop(ctx)
	}()
	const units = 20
	for i := range units {
		c.units <- &media.AccessUnit{Codec: media.CodecUnknown, Key: true, PTS: int64(i) * 3000}
	}
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(c.decodeErrors) < units && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if n := testutil.ToFloat64(c.decodeErrors); n != units {
		t.Errorf("decode errors = %v, want every one of the %d units", n, units)
	}
	if n := strings.Count(logs.String(), "cannot decode stream"); n != 1 {
		t.Errorf("%d error lines for %d units, want 1:\n%s", n, units, logs.String())
	}
	if st := c.Status(); !strings.Contains(st.LastError, "unsupported codec") {
		t.Errorf("status error %q, want the decoder's", st.LastError)
	}
}
