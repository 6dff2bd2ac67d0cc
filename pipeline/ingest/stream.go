package ingest

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/streetwatch/streetwatch/media"
)

// stream is the per-connection state that turns depacketized NAL units into
// access units on the source's continuous timeline.
type stream struct {
	src    *Source
	m      *cameraMetrics
	log    *slog.Logger
	params media.ParamSets

	started    bool
	ptsOffset  int64     // added to the connection's PTS to continue the source's timeline
	anchorPTS  int64     // connection PTS of the first unit
	anchorTime time.Time // wall clock of the first unit
	session    uint64

	depacketizeErrors uint64
	gap               atomic.Bool // packets were lost since the last unit
	warnedSPS         bool
	lastUnit          atomic.Int64 // unix nanos, read by the watchdog
	units             atomic.Uint64
}

// handle is called from gortsplib's reader goroutine, one packet at a time.
func (st *stream) handle(nalus [][]byte, pts int64) {
	// Media is flowing even before the first keyframe (cameras with long
	// GOPs): the watchdog must not fire.
	st.lastUnit.Store(time.Now().UnixNano())
	changed, err := st.params.Update(nalus)
	if err != nil && !st.warnedSPS {
		st.warnedSPS = true
		st.log.Warn("cannot read the stream's SPS; decoding anyway, size from decoded pictures", "err", err)
	}
	key := media.IsKey(st.params.Codec, nalus)
	if !st.started {
		if !key || !st.params.Complete() {
			return // a decoder can only start at a keyframe with its parameter sets
		}
		st.begin(pts)
	}
	if changed {
		st.log.Info("stream resolution", "width", st.params.Width, "height", st.params.Height)
	}
	if key {
		nalus = st.params.Prepend(nalus)
	}

	// Copy into one buffer the unit owns: gortsplib reuses its read buffers.
	size := 0
	for _, n := range nalus {
		size += len(n)
	}
	buf := make([]byte, 0, size)
	owned := make([][]byte, len(nalus))
	for i, n := range nalus {
		start := len(buf)
		buf = append(buf, n...)
		owned[i] = buf[start:len(buf):len(buf)]
	}
	au := &media.AccessUnit{
		Codec:   st.params.Codec,
		NALUs:   owned,
		PTS:     pts + st.ptsOffset,
		Time:    st.anchorTime.Add(media.TicksToDuration(pts - st.anchorPTS)),
		Key:     key,
		Width:   st.params.Width,
		Height:  st.params.Height,
		Session: st.session,
		Gap:     st.gap.Swap(false),
	}
	now := time.Now()
	if st.units.Add(1) == 1 {
		st.m.up.Set(1)
	}
	st.m.units.Inc()

	src := st.src
	src.mu.Lock()
	src.lastPTS, src.lastTime = au.PTS, au.Time
	src.status.LastUnit = now
	src.mu.Unlock()
	if src.onAccessUnit != nil {
		src.onAccessUnit(au)
	}
}

// begin starts the connection's timeline right after the previous
// connection's, leaving the wall-clock gap, so PTS never goes back.
func (st *stream) begin(pts int64) {
	src := st.src
	now := time.Now()
	src.mu.Lock()
	src.session++
	st.session = src.session
	if st.session == 1 {
		st.ptsOffset = -pts
	} else {
		gap := max(media.DurationToTicks(now.Sub(src.lastTime)), media.ClockRate/100)
		st.ptsOffset = src.lastPTS + gap - pts
	}
	src.status.Up = true
	src.status.Codec = st.params.Codec.String()
	src.status.Width, src.status.Height = st.params.Width, st.params.Height
	src.mu.Unlock()
	st.started = true
	st.anchorPTS, st.anchorTime = pts, now
}
