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

	gap      atomic.Bool  // packets were lost since the last unit
	flowing  atomic.Bool  // a packet arrived on this connection (read by Run)
	lastUnit atomic.Int64 // unix nanos, read by the watchdog
}

// handle is called from gortsplib's reader goroutine, one access unit at a
// time, after packet.
func (st *stream) handle(nalus [][]byte, pts int64) {
	changed, err := st.params.Update(nalus)
	if err != nil {
		logLimited(st.log, &st.src.logs.badSPS, slog.LevelWarn, "cannot read the stream's SPS; decoding anyway, size from decoded pictures", "err", err)
	}
	key := media.IsKey(st.params.Codec, nalus)
	if !st.started {
		// A decoder can only start at a keyframe with its parameter sets,
		// and a whole one: joined while a keyframe's packets were on the
		// wire, the first unit is its last slices only.
		if !key || !st.params.Complete() || !media.StartsPicture(st.params.Codec, nalus) {
			return
		}
		st.begin(pts)
	}
	if changed {
		logLimited(st.log, &st.src.logs.resolution, slog.LevelInfo, "stream resolution", "width", st.params.Width, "height", st.params.Height)
	}
	if key {
		nalus = st.params.Prepend(nalus)
	}

	nalus = own(nalus)
	au := &media.AccessUnit{
		Codec:   st.params.Codec,
		NALUs:   nalus,
		PTS:     pts + st.ptsOffset,
		Time:    st.anchorTime.Add(media.TicksToDuration(pts - st.anchorPTS)),
		Key:     key,
		Width:   st.params.Width,
		Height:  st.params.Height,
		Session: st.session,
		Gap:     st.gap.Swap(false),
	}
	st.m.units.Inc()

	src := st.src
	src.mu.Lock()
	src.lastPTS, src.lastTime = au.PTS, au.Time
	src.status.LastUnit = time.Now()
	src.status.Width, src.status.Height = st.params.Width, st.params.Height
	src.mu.Unlock()
	if src.OnAccessUnit != nil {
		src.OnAccessUnit(au)
	}
}

// spareBytes is how much unused capacity a NAL unit's buffer may have
// for the unit to keep it as it is.
const spareBytes = 64

// own returns NAL units the access unit can keep for as long as the
// history holds it. gortsplib (v4) hands over buffers it never reuses: a
// new one per TCP interleaved frame and per UDP datagram, and a new one
// for each NAL unit joined from fragments (the most bytes of a stream).
// Those already fit their NAL unit and are kept without a copy. A NAL
// unit that is a small part of a larger buffer (an aggregation packet's,
// a UDP datagram buffer of 1.5 KB holding a 20-byte SEI) would keep the
// whole buffer alive in the history: such units are copied, together,
// into one buffer of their exact size.
func own(nalus [][]byte) [][]byte {
	for _, n := range nalus {
		if cap(n)-len(n) > spareBytes {
			return media.CopyNALUs(nalus)
		}
	}
	return nalus
}

// packet notes an RTP packet, whatever it holds. Media flows even before
// the first keyframe (gortsplib gives no timestamp before it, so no access
// unit reaches handle): the watchdog must not fire, and the camera is up.
// A camera with a 10 s GOP used to show as down for up to 10 s, and one
// with a GOP longer than the stall timeout was never connected at all.
func (st *stream) packet() {
	now := time.Now()
	st.lastUnit.Store(now.UnixNano())
	if st.flowing.Load() {
		return
	}
	st.flowing.Store(true)
	st.m.up.Set(1)
	src := st.src
	src.mu.Lock()
	defer src.mu.Unlock()
	src.status.Up = true
	src.status.MediaSince, src.status.LastUnit = now, now
	src.status.Codec = st.params.Codec.String()
	src.status.Width, src.status.Height = st.params.Width, st.params.Height // the SDP's, until a keyframe's
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
	src.mu.Unlock()
	st.started = true
	st.anchorPTS, st.anchorTime = pts, now
}
