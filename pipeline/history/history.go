// Package history keeps each camera's recent encoded video for evidence
// clips: whole GOPs of access units, the newest in bounded memory, older
// ones spilled to disk segments, nothing older than a set span. The ingest
// goroutine feeds it and must never wait for it; the evidence recorder
// cuts clips from it through evidence.ClipSource.
//
// The files follow its parts: ring.go is the in-memory ring (GOPs, the
// memory bound, expiry), segment.go the disk segments the spill goroutine
// writes and removes, clip.go the range reads that cut a clip from both.
//
// It must never decode, re-encode or modify a unit, nor block Add on the
// disk.
package history

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/evidence"
)

// Defaults of Config.
const (
	DefaultMaxMemory = 16 << 20
	DefaultKeep      = 10 * time.Minute
)

// Config sizes one camera's history.
type Config struct {
	// MaxMemory bounds the bytes of access units kept in RAM, the GOP being
	// received excepted; a GOP larger than MaxMemory by itself is dropped
	// (default DefaultMaxMemory).
	MaxMemory int64
	// Keep is how far back, from the newest picture, history reaches. The
	// caller sets the longest min_dwell plus pre-roll plus a margin
	// (default DefaultKeep).
	Keep time.Duration
	// SpillDir is this camera's directory for disk segments. Empty: nothing
	// is spilled, and the oldest GOPs are dropped when RAM is full.
	SpillDir string
}

// Errors of History.Clip; a clip that starts later than asked comes with
// a *ShortHistoryError.
var (
	// ErrNoHistory: history holds nothing of the requested range.
	ErrNoHistory = errors.New("history: no history for the clip range")
	// ErrClosed: Clip after Close.
	ErrClosed = fmt.Errorf("history: %w", evidence.ErrHistoryClosed)
)

// ShortHistoryError says that a clip starts at the oldest keyframe in
// history because history does not reach back to From. Clip returns it
// together with the clip, which is valid: log it and use the clip. It
// wraps evidence.ErrShortHistory, which the recorder looks for.
type ShortHistoryError struct {
	Camera       string
	From, Oldest time.Time
}

func (e *ShortHistoryError) Error() string {
	return fmt.Sprintf("camera %q: history starts at %s, %s after the clip start %s",
		e.Camera, e.Oldest.Format(time.RFC3339Nano), e.Oldest.Sub(e.From), e.From.Format(time.RFC3339Nano))
}

// Unwrap makes errors.Is(err, evidence.ErrShortHistory) true.
func (e *ShortHistoryError) Unwrap() error { return evidence.ErrShortHistory }

// History keeps one camera's recent access units for evidence clips,
// GOP-aligned: the newest GOPs in RAM, older ones in disk segments, nothing
// older than Keep.
//
// Add is called from the ingest goroutine and never touches the disk: GOPs
// that leave RAM are handed to a spill goroutine, because a write to a slow
// or full disk can block for seconds, and ingest must never wait. Spilling
// starts below MaxMemory (at MaxMemory minus a quarter of it or two GOPs),
// leaving the writer room to lag, so RAM stays within MaxMemory plus the GOP
// being received (with a MaxMemory below two GOPs: two GOPs plus the one
// being received). If the disk falls further behind, the oldest GOPs
// waiting for it are dropped (and logged) rather than letting RAM grow; a
// clip across such a hole shows a pause.
//
// Access units passed to Add and returned by Clip are shared, never copied:
// nobody may modify them.
//
// History implements evidence.ClipSource.
type History struct {
	camera   string
	cfg      Config
	log      *slog.Logger
	memGauge prometheus.Gauge
	dskGauge prometheus.Gauge

	mu        sync.Mutex
	gops      []*gop // complete GOPs, oldest first
	cur       *gop   // the GOP being received
	queue     []*gop // GOPs waiting for the spill writer, oldest first
	segs      []*segment
	waitKey   bool // a gap or reconnect broke the stream: drop until a keyframe
	session   uint64
	newest    time.Time
	memBytes  int64 // everything in RAM, the current GOP included
	pendBytes int64 // queued or being written
	dskBytes  int64
	bigGOP    int64 // decaying maximum GOP size, sizes the spill headroom
	writing   bool
	stalled   bool // dropping GOPs because the writer is behind; logged once
	dropped   int  // GOPs lost because the disk fell behind or failed
	letGo     bool // some video was let go (by Keep, the bounds or a failure)
	lastLen   int
	closed    bool

	// Owned by the spill goroutine.
	wseg  *segment
	wseq  int
	wake  chan struct{}
	quit  chan struct{}
	wg    sync.WaitGroup
	wfail bool
}

var _ evidence.ClipSource = (*History)(nil)

// New creates a camera's history; it logs to log (nil: slog.Default) with
// the camera as a field. With a SpillDir it deletes segments left there by
// an earlier process and starts the spill goroutine; Close stops it.
func New(camera string, cfg Config, m *Metrics, log *slog.Logger) (*History, error) {
	if cfg.MaxMemory < 0 || cfg.Keep < 0 {
		return nil, fmt.Errorf("camera %q: history: max memory and keep must not be negative", camera)
	}
	if cfg.MaxMemory == 0 {
		cfg.MaxMemory = DefaultMaxMemory
	}
	if cfg.Keep == 0 {
		cfg.Keep = DefaultKeep
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.Default()
	}
	h := &History{
		camera:   camera,
		cfg:      cfg,
		log:      log.With("component", "history", "camera", camera),
		memGauge: m.Bytes.WithLabelValues(camera, "memory"),
		dskGauge: m.Bytes.WithLabelValues(camera, "disk"),
	}
	h.memGauge.Set(0)
	h.dskGauge.Set(0)
	if cfg.SpillDir == "" {
		return h, nil
	}
	if err := h.startSpill(); err != nil {
		return nil, fmt.Errorf("camera %q: %w", camera, err)
	}
	return h, nil
}

// Close stops the spill goroutine and removes the spill files. Clips still
// reading finish first with their own segments.
func (h *History) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.mu.Unlock()
	if h.quit != nil {
		close(h.quit)
		h.wg.Wait()
	}
	h.mu.Lock()
	var rm []*segment
	for _, s := range h.segs {
		s.live, s.active = 0, false
		if s.deletable() {
			s.removed = true
			rm = append(rm, s)
		}
	}
	h.segs = nil
	h.gops, h.cur, h.queue = nil, nil, nil
	h.memBytes, h.pendBytes, h.dskBytes = 0, 0, 0
	h.mu.Unlock()
	for _, s := range rm {
		s.close()
	}
	h.memGauge.Set(0)
	h.dskGauge.Set(0)
}
