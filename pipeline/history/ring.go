package history

import (
	"time"

	"github.com/streetwatch/streetwatch/media"
)

// gopState is where a GOP's units are.
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

// auOverhead approximates the Go memory of an AccessUnit besides its
// payload, so MaxMemory bounds what the process really holds.
const (
	auOverhead   = 128
	naluOverhead = 24
)

// auCost is what an access unit costs in RAM.
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
	h.letGo = true
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

// LetGoWithin is the time before which the history's video may be let go
// within d (zero when empty): video older than d less than Keep before the
// newest picture; once the history has let some go (RAM or disk bounds
// bite before Keep), video within d of its oldest keyframe. A history
// still filling up keeps everything it has for about Keep.
func (h *History) LetGoWithin(d time.Duration) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.newest.IsZero() {
		return time.Time{}
	}
	before := h.newest.Add(d - h.cfg.Keep)
	if h.letGo && len(h.gops) > 0 {
		if o := h.gops[0].key.Add(d); o.After(before) {
			before = o
		}
	}
	return before
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
