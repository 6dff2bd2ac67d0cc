package history

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/streetwatch/streetwatch/media"
)

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
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// spillBufs are the write buffers of the spill goroutines, shared by every
// camera's history (see writeGOP).
var spillBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, spillBufSize) }}

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

func (s *segment) close() {
	s.f.Close()
	os.Remove(s.path)
}

// startSpill deletes the segments an earlier process left in the spill
// directory (nothing indexes them) and starts the spill goroutine.
func (h *History) startSpill() error {
	dir := h.cfg.SpillDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("history spill dir: %w", err)
	}
	stale, err := filepath.Glob(filepath.Join(dir, "history-*"+segExt))
	if err != nil {
		return fmt.Errorf("history spill dir: %w", err)
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("remove stale history segment: %w", err)
		}
	}
	if len(stale) > 0 {
		h.log.Info("removed history segments of an earlier run", "files", len(stale), "dir", dir)
	}
	h.wake = make(chan struct{}, 1)
	h.quit = make(chan struct{})
	h.wg.Add(1)
	go h.spillLoop()
	return nil
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
	// The buffer is borrowed for the GOP: most cameras never spill (their
	// history fits in RAM), and one that does writes a GOP every second
	// or two, so a buffer each would be idle memory (256 KiB × cameras).
	wbuf := spillBufs.Get().(*bufio.Writer)
	wbuf.Reset(seg.f)
	defer func() {
		wbuf.Reset(nil)
		spillBufs.Put(wbuf)
	}()
	for _, au := range aus {
		w, err := writeRecord(wbuf, &hdr, au)
		n += w
		if err != nil {
			h.finishSegment()
			return nil, 0, 0, fmt.Errorf("write %s: %w", seg.path, err)
		}
	}
	if err := wbuf.Flush(); err != nil {
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
