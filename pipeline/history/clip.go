package history

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/streetwatch/streetwatch/media"
)

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
// (errors.Is evidence.ErrShortHistory) returned with the clip. A to beyond Newest
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
		return nil, time.Time{}, fmt.Errorf("camera %q: %w", h.camera, ErrClosed)
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
