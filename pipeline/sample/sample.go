// Package sample decides which of a camera's pictures are decoded and which
// decoded pictures go on to detection. It is pure logic on stream time: it
// never sees pixels and never looks at the wall clock.
package sample

import "github.com/streetwatch/streetwatch/media"

// Sampler is one camera's sampling policy.
type Sampler struct {
	keyframesOnly bool
	interval      int64 // in 1/90000 s; 0 keeps every picture
	next          int64
	started       bool
}

// Keyframes returns a sampler that decodes keyframes only: nothing else is
// ever sent to the decoder, the cheap mode for many cameras.
func Keyframes() *Sampler { return &Sampler{keyframesOnly: true} }

// FPS returns a sampler that decodes every picture (P-frames need their
// references) and keeps fps pictures per second of stream time, evenly
// spaced. fps <= 0 keeps every picture.
func FPS(fps float64) *Sampler {
	s := &Sampler{}
	if fps > 0 {
		s.interval = int64(float64(media.ClockRate)/fps + 0.5)
	}
	return s
}

// Decode tells whether an access unit must be sent to the decoder.
func (s *Sampler) Decode(au *media.AccessUnit) bool {
	return !s.keyframesOnly || au.Key
}

// Keep tells whether a decoded picture with this PTS goes to detection.
// Pictures are kept on a grid of the interval in stream time, so the rate
// does not drift with jitter; a jump back (a new connection with an older
// timeline, which ingest prevents, or a file restarted) restarts the grid.
func (s *Sampler) Keep(pts int64) bool {
	if s.keyframesOnly || s.interval == 0 {
		return true
	}
	if !s.started || pts < s.next-s.interval {
		s.started = true
		s.next = pts + s.interval
		return true
	}
	if pts < s.next {
		return false
	}
	// Next grid point after pts; skipping several points after a gap.
	s.next += s.interval * ((pts-s.next)/s.interval + 1)
	return true
}
