package evidence

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/media"
)

// History defaults.
const (
	DefaultHistoryMaxMemory = 32 << 20
	DefaultHistoryKeep      = 10 * time.Minute
)

// HistoryConfig sizes one camera's history.
type HistoryConfig struct {
	// MaxMemory bounds the bytes of access units kept in RAM, the GOP being
	// received excepted; a GOP larger than MaxMemory by itself is dropped
	// (default DefaultHistoryMaxMemory).
	MaxMemory int64
	// Keep is how far back, from the newest picture, history reaches. The
	// caller sets the longest min_dwell plus pre-roll plus a margin
	// (default DefaultHistoryKeep).
	Keep time.Duration
	// SpillDir is this camera's directory for disk segments. Empty: nothing
	// is spilled, and the oldest GOPs are dropped when RAM is full.
	SpillDir string
}

// Errors of History.Clip.
var (
	// ErrNoHistory: history holds nothing of the requested range.
	ErrNoHistory = errors.New("evidence: no history for the clip range")
	// ErrShortHistory is wrapped by *ShortHistoryError, returned together
	// with a usable clip that starts later than asked.
	ErrShortHistory = errors.New("evidence: history does not reach back to the clip start")
	// ErrHistoryClosed: Clip after Close.
	ErrHistoryClosed = errors.New("evidence: history closed")
)

// ShortHistoryError says that a clip starts at the oldest keyframe in
// history because history does not reach back to From. Clip returns it
// together with the clip, which is valid: log it and use the clip.
type ShortHistoryError struct {
	Camera       string
	From, Oldest time.Time
}

func (e *ShortHistoryError) Error() string {
	return fmt.Sprintf("camera %q: history starts at %s, %s after the clip start %s",
		e.Camera, e.Oldest.Format(time.RFC3339Nano), e.Oldest.Sub(e.From), e.From.Format(time.RFC3339Nano))
}

// Unwrap makes errors.Is(err, ErrShortHistory) true.
func (e *ShortHistoryError) Unwrap() error { return ErrShortHistory }

// Spill file layout. A segment file is segMagic followed by records, one per
// access unit, GOPs back to back:
//
//	u32 length of the rest of the record (CRC included)
//	i64 PTS | i64 Time (Unix ns) | u64 Session | u8 flags (1 key, 2 gap)
//	u8 codec | u16 NALU count | u32 width | u32 height
//	per NALU: u32 length, bytes
//	u32 CRC-32C of everything after the length field
//
// All integers big-endian. Files live only as long as the History: a
// restart deletes leftovers, since nothing indexes them.
const (
	segMagic     = "SWHIST01"
	segExt       = ".seg"
	recHeader    = 40
	segMaxBytes  = 16 << 20
	segMaxSpan   = 30 * time.Second
	spillBufSize = 256 << 10
	// auOverhead approximates the Go memory of an AccessUnit besides its
	// payload, so MaxMemory bounds what the process really holds.
	auOverhead   = 128
	naluOverhead = 24
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type gopState uint8

const (
	gopMemory  gopState = iota // in RAM only
	gopQueued                  // in RAM, waiting for the spill writer
	gopWriting                 // in RAM, the spill writer is writing it
	gopDisk                    // on disk only
	gopDropped                 // removed from the index
)

// gop is one keyframe and the access units that follow it.
type gop struct {
	key        time.Time // Time of the keyframe
	minT, maxT time.Time
	aus        []*media.AccessUnit // nil once on disk
	n          int
	bytes      int64 // RAM cost while in memory
	state      gopState
	// brk: pictures right before this GOP are missing from history (a gap,
	// or a GOP dropped because the disk fell behind).
	brk       bool
	seg       *segment
	off, size int64
}

// segment is one spill file. Counters are guarded by History.mu; the file is
// written only by the spill goroutine and read with ReadAt by clips.
type segment struct {
	path    string
	f       *os.File
	first   time.Time // keyframe Time of its first GOP
	size    int64     // bytes written and flushed
	live    int       // GOPs in the index stored here
	readers int       // clips reading it now
	active  bool      // the writer still appends to it
	removed bool
}

func (s *segment) deletable() bool { return s.live == 0 && !s.active && s.readers == 0 && !s.removed }

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
type History struct {
	camera   string
	cfg      HistoryConfig
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
	lastLen   int
	closed    bool

	// Owned by the spill goroutine.
	wseg  *segment
	wbuf  *bufio.Writer
	wseq  int
	wake  chan struct{}
	quit  chan struct{}
	wg    sync.WaitGroup
	wfail bool
}

// NewHistory creates a camera's history. With a SpillDir it deletes
// segments left there by an earlier process and starts the spill goroutine;
// Close stops it.
func NewHistory(camera string, cfg HistoryConfig, m *Metrics) (*History, error) {
	if cfg.MaxMemory < 0 || cfg.Keep < 0 {
		return nil, fmt.Errorf("camera %q: history: max memory and keep must not be negative", camera)
	}
	if cfg.MaxMemory == 0 {
		cfg.MaxMemory = DefaultHistoryMaxMemory
	}
	if cfg.Keep == 0 {
		cfg.Keep = DefaultHistoryKeep
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	h := &History{
		camera:   camera,
		cfg:      cfg,
		log:      slog.With("component", "history", "camera", camera),
		memGauge: m.HistoryBytes.WithLabelValues(camera, "memory"),
		dskGauge: m.HistoryBytes.WithLabelValues(camera, "disk"),
	}
	h.memGauge.Set(0)
	h.dskGauge.Set(0)
	if cfg.SpillDir == "" {
		return h, nil
	}
	if err := os.MkdirAll(cfg.SpillDir, 0o750); err != nil {
		return nil, fmt.Errorf("camera %q: history spill dir: %w", camera, err)
	}
	stale, err := filepath.Glob(filepath.Join(cfg.SpillDir, "history-*"+segExt))
	if err != nil {
		return nil, fmt.Errorf("camera %q: history spill dir: %w", camera, err)
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("camera %q: remove stale history segment: %w", camera, err)
		}
	}
	if len(stale) > 0 {
		h.log.Info("removed history segments of an earlier run", "files", len(stale), "dir", cfg.SpillDir)
	}
	h.wbuf = bufio.NewWriterSize(nil, spillBufSize)
	h.wake = make(chan struct{}, 1)
	h.quit = make(chan struct{})
	h.wg.Add(1)
	go h.spillLoop()
	return h, nil
}

func auCost(au *media.AccessUnit) int64 {
	return int64(au.Size() + auOverhead + naluOverhead*len(au.NALUs))
}

// Add appends an access unit in decode order. Units before the first
// keyframe are dropped; a gap (au.Gap) or a reconnect (a new Session) ends
// the current GOP, and non-key units until the next keyframe are dropped,
// since they could not be decoded.
func (h *History) Add(au *media.AccessUnit) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if au.Time.After(h.newest) {
		h.newest = au.Time
	}
	broken := au.Gap || (h.cur != nil && au.Session != h.session)
	h.session = au.Session
	if broken && !au.Key {
		h.finishGOP()
		h.waitKey = true
		return
	}
	if au.Key {
		h.finishGOP()
		h.cur = &gop{
			key: au.Time, minT: au.Time, maxT: au.Time,
			aus: make([]*media.AccessUnit, 0, h.lastLen+8),
			brk: h.waitKey,
		}
		h.waitKey = false
	} else if h.cur == nil {
		return // before the first keyframe, or after a gap
	}
	g := h.cur
	g.aus = append(g.aus, au)
	g.n++
	c := auCost(au)
	g.bytes += c
	h.memBytes += c
	if au.Time.Before(g.minT) {
		g.minT = au.Time
	}
	if au.Time.After(g.maxT) {
		g.maxT = au.Time
	}
	if g.bytes > h.cfg.MaxMemory {
		// A camera that sends no keyframes would grow the GOP without
		// bound; what cannot be kept whole is not kept.
		h.log.Warn("GOP larger than the history's memory: dropped", "gop", g.key, "bytes", g.bytes, "max_memory", h.cfg.MaxMemory)
		h.memBytes -= g.bytes
		h.cur = nil
		h.waitKey = true
	}
	h.memGauge.Set(float64(h.memBytes))
}

// finishGOP moves the current GOP into the index and enforces the bounds.
func (h *History) finishGOP() {
	g := h.cur
	if g == nil {
		return
	}
	h.cur = nil
	h.lastLen = g.n
	h.gops = append(h.gops, g)
	h.bigGOP = max(g.bytes, h.bigGOP-h.bigGOP/16)
	h.expire()
	h.bound()
	h.memGauge.Set(float64(h.memBytes))
	h.dskGauge.Set(float64(h.dskBytes))
}

// expire drops GOPs that ended more than Keep before the newest picture.
func (h *History) expire() {
	cutoff := h.newest.Add(-h.cfg.Keep)
	n := 0
	for n < len(h.gops) && h.gops[n].maxT.Before(cutoff) {
		h.drop(h.gops[n])
		n++
	}
	h.removeFront(n)
}

// bound keeps the complete GOPs in RAM within MaxMemory.
func (h *History) bound() {
	complete := func() int64 {
		if h.cur != nil {
			return h.memBytes - h.cur.bytes
		}
		return h.memBytes
	}
	if h.cfg.SpillDir == "" {
		n := 0
		for n < len(h.gops) && complete() > h.cfg.MaxMemory {
			h.drop(h.gops[n])
			n++
		}
		h.removeFront(n)
		return
	}
	// Spill early enough that the writer may lag by two large GOPs (or a
	// quarter of the budget) before the hard limit bites. A budget smaller
	// than that cannot be kept with a disk in between: the limit becomes
	// two GOPs, one being written and one waiting.
	headroom := max(h.cfg.MaxMemory/4, 2*h.bigGOP)
	spillAt := max(h.cfg.MaxMemory-headroom, 0)
	limit := max(h.cfg.MaxMemory, headroom)
	resident := complete() - h.pendBytes
	queued := false
	for _, g := range h.gops {
		if resident <= spillAt {
			break
		}
		if g.state == gopMemory {
			g.state = gopQueued
			h.queue = append(h.queue, g)
			h.pendBytes += g.bytes
			resident -= g.bytes
			queued = true
		}
	}
	if queued {
		h.signal()
	}
	// The disk is slower than the camera: drop the oldest waiting GOPs.
	for len(h.queue) > 0 && complete() > limit {
		g := h.queue[0]
		if !h.stalled {
			h.log.Warn("history disk slower than the camera: dropping GOPs waiting to be spilled", "gop", g.key)
			h.stalled = true
		}
		h.dropped++
		h.dropMiddle(g)
	}
}

// drop releases a GOP's resources; the caller removes it from h.gops.
func (h *History) drop(g *gop) {
	switch g.state {
	case gopMemory:
		h.memBytes -= g.bytes
	case gopQueued:
		for i, q := range h.queue {
			if q == g {
				h.queue = append(h.queue[:i], h.queue[i+1:]...)
				break
			}
		}
		h.pendBytes -= g.bytes
		h.memBytes -= g.bytes
	case gopWriting:
		// The spill writer releases its memory when done.
	case gopDisk:
		g.seg.live--
		if g.seg.deletable() {
			h.signal()
		}
	}
	g.state = gopDropped
	g.aus = nil
}

// dropMiddle drops a GOP anywhere in the index; the next one starts after a break.
func (h *History) dropMiddle(g *gop) {
	h.drop(g)
	for i, x := range h.gops {
		if x == g {
			h.gops = append(h.gops[:i], h.gops[i+1:]...)
			if i < len(h.gops) {
				h.gops[i].brk = true
			} else if h.cur != nil {
				h.cur.brk = true
			}
			return
		}
	}
}

func (h *History) removeFront(n int) {
	if n == 0 {
		return
	}
	k := copy(h.gops, h.gops[n:])
	clear(h.gops[k:])
	h.gops = h.gops[:k]
}

func (h *History) signal() {
	if h.wake == nil {
		return
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Newest is the Time of the newest picture added (zero when empty). A
// recorder waits until Newest reaches the end of the clip it wants.
func (h *History) Newest() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.newest
}

// Oldest is the Time of the oldest keyframe: the earliest a clip can start
// (zero when empty).
func (h *History) Oldest() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.gops) > 0 {
		return h.gops[0].key
	}
	if h.cur != nil {
		return h.cur.key
	}
	return time.Time{}
}

// clipPart is a GOP selected for a clip: its units, or where they are on disk.
type clipPart struct {
	aus       []*media.AccessUnit
	seg       *segment
	off, size int64
	n         int
	brk       bool
}

// Clip returns the access units, in decode order, from the last keyframe at
// or before from through the last unit with Time <= to, reading spilled
// GOPs back from disk. When history does not reach back to from, the clip
// starts at the oldest keyframe and the error is a *ShortHistoryError
// (errors.Is ErrShortHistory) returned with the clip. A to beyond Newest
// gives what there is so far. When the camera broke off (gap, reconnect)
// inside the range, the first unit after the break has Gap set.
func (h *History) Clip(from, to time.Time) ([]*media.AccessUnit, error) {
	if to.Before(from) {
		return nil, fmt.Errorf("camera %q: clip %s..%s: end before start", h.camera, from, to)
	}
	parts, oldest, err := h.selectParts(from, to)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, p := range parts {
		total += p.n
	}
	out := make([]*media.AccessUnit, 0, total)
	for i, p := range parts {
		aus := p.aus
		if p.seg != nil {
			aus, err = readGOP(p.seg, p.off, p.size, p.n)
			h.release(p.seg)
			if err != nil {
				for _, q := range parts[i+1:] {
					if q.seg != nil {
						h.release(q.seg)
					}
				}
				return nil, fmt.Errorf("camera %q: clip: %w", h.camera, err)
			}
		}
		start := len(out)
		out = append(out, aus...)
		if p.brk && i > 0 && start < len(out) && !out[start].Gap {
			c := *out[start]
			c.Gap = true
			out[start] = &c
		}
	}
	last := len(out) - 1
	for last >= 0 && out[last].Time.After(to) {
		last--
	}
	out = out[:last+1]
	if len(out) == 0 {
		return nil, fmt.Errorf("camera %q: clip %s..%s: %w", h.camera, from, to, ErrNoHistory)
	}
	if oldest.After(from) {
		return out, &ShortHistoryError{Camera: h.camera, From: from, Oldest: oldest}
	}
	return out, nil
}

// selectParts picks the GOPs of a clip under the lock and pins their segments.
func (h *History) selectParts(from, to time.Time) ([]clipPart, time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, time.Time{}, fmt.Errorf("camera %q: %w", h.camera, ErrHistoryClosed)
	}
	all := h.gops
	if h.cur != nil {
		all = append(all[:len(all):len(all)], h.cur)
	}
	if len(all) == 0 || all[0].minT.After(to) {
		return nil, time.Time{}, fmt.Errorf("camera %q: clip %s..%s: %w", h.camera, from, to, ErrNoHistory)
	}
	start := 0
	for i := len(all) - 1; i >= 0; i-- {
		if !all[i].key.After(from) {
			start = i
			break
		}
	}
	end := start
	for i := start; i < len(all); i++ {
		if !all[i].minT.After(to) {
			end = i
		}
	}
	parts := make([]clipPart, 0, end-start+1)
	for _, g := range all[start : end+1] {
		p := clipPart{n: g.n, brk: g.brk}
		if g.state == gopDisk {
			g.seg.readers++
			p.seg, p.off, p.size = g.seg, g.off, g.size
		} else {
			p.aus = g.aus[:len(g.aus):len(g.aus)]
		}
		parts = append(parts, p)
	}
	return parts, all[0].key, nil
}

// release unpins a segment a clip has read.
func (h *History) release(s *segment) {
	h.mu.Lock()
	s.readers--
	del := s.deletable()
	closed := h.closed
	if del && closed {
		s.removed = true
		h.dskBytes -= s.size
	}
	h.mu.Unlock()
	if del && closed {
		s.close()
	} else if del {
		h.signal()
	}
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

func (s *segment) close() {
	s.f.Close()
	os.Remove(s.path)
}

// spillLoop writes queued GOPs to disk and deletes expired segments.
func (h *History) spillLoop() {
	defer h.wg.Done()
	defer h.finishSegment()
	for {
		select {
		case <-h.quit:
			return
		case <-h.wake:
		}
		for h.spillOne() {
		}
		h.removeDead()
	}
}

// spillOne writes the oldest queued GOP; false when there is none.
func (h *History) spillOne() bool {
	h.mu.Lock()
	if h.closed || len(h.queue) == 0 {
		h.mu.Unlock()
		return false
	}
	g := h.queue[0]
	h.queue = h.queue[1:]
	if len(h.queue) == 0 {
		h.queue = nil // let the backing array go
	}
	g.state = gopWriting
	h.writing = true
	aus := g.aus
	h.mu.Unlock()

	seg, off, size, err := h.writeGOP(aus, g.key)

	h.mu.Lock()
	defer h.mu.Unlock()
	h.writing = false
	h.pendBytes -= g.bytes
	h.memBytes -= g.bytes
	switch {
	case err != nil:
		if !h.wfail {
			h.log.Error("history spill failed: dropping GOPs until it works again", "err", err, "gop", g.key)
		}
		h.wfail = true
		h.dropped++
		if g.state == gopWriting {
			h.dropMiddle(g) // its memory is accounted for above
		}
	case g.state == gopDropped:
		// Expired while being written: the bytes stay in the file until it goes.
	default:
		if h.wfail || h.stalled {
			h.log.Info("history spill keeps up again", "dropped_gops", h.dropped)
			h.wfail, h.stalled = false, false
		}
		g.state, g.aus = gopDisk, nil
		g.seg, g.off, g.size = seg, off, size
		seg.live++
	}
	h.memGauge.Set(float64(h.memBytes))
	h.dskGauge.Set(float64(h.dskBytes))
	return true
}

// writeGOP appends a GOP to the active segment, rolling to a new one when
// it is large or old. Only the spill goroutine calls it.
func (h *History) writeGOP(aus []*media.AccessUnit, key time.Time) (*segment, int64, int64, error) {
	if h.wseg != nil && (h.wseg.size >= segMaxBytes || key.Sub(h.wseg.first) >= min(segMaxSpan, h.cfg.Keep/4)) {
		h.finishSegment()
	}
	if h.wseg == nil {
		if err := h.newSegment(key); err != nil {
			return nil, 0, 0, err
		}
	}
	seg := h.wseg
	off := seg.size
	var n int64
	var hdr [recHeader]byte
	for _, au := range aus {
		w, err := writeRecord(h.wbuf, &hdr, au)
		n += w
		if err != nil {
			h.finishSegment()
			return nil, 0, 0, fmt.Errorf("write %s: %w", seg.path, err)
		}
	}
	if err := h.wbuf.Flush(); err != nil {
		h.finishSegment()
		return nil, 0, 0, fmt.Errorf("write %s: %w", seg.path, err)
	}
	h.mu.Lock()
	seg.size += n
	h.dskBytes += n
	h.mu.Unlock()
	return seg, off, n, nil
}

func (h *History) newSegment(first time.Time) error {
	h.wseq++
	p := filepath.Join(h.cfg.SpillDir, fmt.Sprintf("history-%06d%s", h.wseq, segExt))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create history segment: %w", err)
	}
	if _, err := f.WriteString(segMagic); err != nil {
		f.Close()
		os.Remove(p)
		return fmt.Errorf("write %s: %w", p, err)
	}
	h.wbuf.Reset(f)
	s := &segment{path: p, f: f, first: first, size: int64(len(segMagic)), active: true}
	h.mu.Lock()
	h.segs = append(h.segs, s)
	h.dskBytes += s.size
	h.mu.Unlock()
	h.wseg = s
	return nil
}

// finishSegment stops appending to the active segment.
func (h *History) finishSegment() {
	s := h.wseg
	if s == nil {
		return
	}
	h.wseg = nil
	h.wbuf.Reset(nil)
	h.mu.Lock()
	s.active = false
	h.mu.Unlock()
	h.signal()
}

// removeDead deletes segments no GOP in the index and no clip needs.
func (h *History) removeDead() {
	h.mu.Lock()
	var rm []*segment
	keep := h.segs[:0]
	for _, s := range h.segs {
		if s.deletable() {
			s.removed = true
			h.dskBytes -= s.size
			rm = append(rm, s)
		} else {
			keep = append(keep, s)
		}
	}
	clear(h.segs[len(keep):])
	h.segs = keep
	h.dskGauge.Set(float64(h.dskBytes))
	h.mu.Unlock()
	for _, s := range rm {
		s.close()
	}
}

// writeRecord writes one access unit record; it returns the bytes written.
func writeRecord(w *bufio.Writer, hdr *[recHeader]byte, au *media.AccessUnit) (int64, error) {
	if len(au.NALUs) > 0xffff {
		return 0, fmt.Errorf("access unit with %d NAL units", len(au.NALUs))
	}
	body := recHeader - 4 + 4*len(au.NALUs) + au.Size() + 4
	be := binary.BigEndian
	be.PutUint32(hdr[0:], uint32(body))
	be.PutUint64(hdr[4:], uint64(au.PTS))
	be.PutUint64(hdr[12:], uint64(au.Time.UnixNano()))
	be.PutUint64(hdr[20:], au.Session)
	var flags byte
	if au.Key {
		flags |= 1
	}
	if au.Gap {
		flags |= 2
	}
	hdr[28], hdr[29] = flags, byte(au.Codec)
	be.PutUint16(hdr[30:], uint16(len(au.NALUs)))
	be.PutUint32(hdr[32:], uint32(au.Width))
	be.PutUint32(hdr[36:], uint32(au.Height))
	w.Write(hdr[:])
	crc := crc32.Update(0, crcTable, hdr[4:])
	var l [4]byte
	for _, nalu := range au.NALUs {
		be.PutUint32(l[:], uint32(len(nalu)))
		w.Write(l[:])
		w.Write(nalu)
		crc = crc32.Update(crc, crcTable, l[:])
		crc = crc32.Update(crc, crcTable, nalu)
	}
	be.PutUint32(l[:], crc)
	_, err := w.Write(l[:]) // bufio keeps the first error
	return int64(4 + body), err
}

// readGOP reads a spilled GOP back. The units share one buffer.
func readGOP(s *segment, off, size int64, n int) ([]*media.AccessUnit, error) {
	buf := make([]byte, size)
	if _, err := s.f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	units := make([]media.AccessUnit, n)
	out := make([]*media.AccessUnit, n)
	be := binary.BigEndian
	for i := range n {
		bad := func(what string) error {
			return fmt.Errorf("%s at offset %d, unit %d: corrupt record: %s", s.path, off, i, what)
		}
		if len(buf) < recHeader+4 {
			return nil, bad("short")
		}
		body := int(be.Uint32(buf))
		if body < recHeader || body+4 > len(buf) {
			return nil, bad("length")
		}
		rec := buf[4 : 4+body]
		buf = buf[4+body:]
		data, sum := rec[:len(rec)-4], be.Uint32(rec[len(rec)-4:])
		if crc32.Checksum(data, crcTable) != sum {
			return nil, bad("checksum")
		}
		au := &units[i]
		au.PTS = int64(be.Uint64(data[0:]))
		au.Time = time.Unix(0, int64(be.Uint64(data[8:])))
		au.Session = be.Uint64(data[16:])
		au.Key, au.Gap = data[24]&1 != 0, data[24]&2 != 0
		au.Codec = media.Codec(data[25])
		au.NALUs = make([][]byte, be.Uint16(data[26:]))
		au.Width, au.Height = int(be.Uint32(data[28:])), int(be.Uint32(data[32:]))
		p := data[recHeader-4:]
		for j := range au.NALUs {
			if len(p) < 4 {
				return nil, bad("NAL unit length")
			}
			l := int(be.Uint32(p))
			if l > len(p)-4 {
				return nil, bad("NAL unit length")
			}
			au.NALUs[j] = p[4 : 4+l : 4+l]
			p = p[4+l:]
		}
		if len(p) != 0 {
			return nil, bad("trailing bytes")
		}
		out[i] = au
	}
	if len(buf) != 0 {
		return nil, fmt.Errorf("%s at offset %d: %d bytes after %d units", s.path, off, len(buf), n)
	}
	return out, nil
}
