package decode

import (
	"errors"
	"runtime"
	"sync"

	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
)

// ErrNoPicture is returned by Keyframe when the codec gave no usable
// picture for the unit (a corrupt one is counted, not returned).
var ErrNoPicture = errors.New("decode: no picture")

// KeyframeResult is what Keyframe decoded.
type KeyframeResult struct {
	PTS     int64  // of the picture written into the frame
	Corrupt uint64 // pictures dropped because the codec flagged them corrupt
}

// Keyframe decodes one keyframe by itself into dst (BGR) on a software
// decoder of cfg's codec, threads and loop filter (cfg.KeyframesOnly is
// implied; cfg.HWAccel is not used) borrowed from a pool that every
// keyframe-sampled camera shares,
// so it may run on any goroutine, for any camera, in any order: a
// keyframe-sampled camera's frames can wait in the detection queue still
// encoded (tens of KiB instead of a 2.7 MiB 720p picture) and be decoded
// by the worker that takes them. au must carry its parameter sets (ingest
// puts them in front of every keyframe). A unit marked Gap (pictures lost
// just before it) returns ErrNeedKeyframe undecoded, as a camera's own
// decoder would skip it.
func Keyframe(cfg Config, au *media.AccessUnit, dst *frame.Frame) (res KeyframeResult, err error) {
	if !au.Key || au.Gap {
		return res, ErrNeedKeyframe
	}
	k := Config{Codec: cfg.Codec, Threads: max(cfg.Threads, 1), KeyframesOnly: true, SkipLoopFilter: cfg.SkipLoopFilter}
	d, err := keyframeDecoders.take(k)
	if err != nil {
		return res, err
	}
	defer keyframeDecoders.give(k, d)
	before := d.Stats().Corrupt
	defer func() { res.Corrupt = d.Stats().Corrupt - before }() // named results: the caller gets it
	if err := d.Send(au); err != nil {
		return res, err
	}
	got := false
	var convErr error
	for {
		// The decoder drains after the unit: Receive ends once it has,
		// its codec context given back for the next keyframe.
		pts, ok, err := d.Receive()
		if err != nil {
			return res, err
		}
		if !ok {
			break
		}
		if got || convErr != nil {
			continue // one picture per keyframe; a second would be the codec's surprise
		}
		if convErr = d.Convert(dst); convErr == nil {
			got, res.PTS = true, pts
		}
	}
	if convErr != nil {
		return res, convErr
	}
	if !got {
		return res, ErrNoPicture
	}
	return res, nil
}

// decoderPool keeps idle keyframe-only decoders (each holds its packet,
// frames and colour converter, not a codec context: that comes from
// keyframeContexts for each keyframe). Decoders in use are bounded by the
// goroutines decoding at once; idle ones by maxIdle per key.
type decoderPool struct {
	mu      sync.Mutex
	free    map[Config][]Decoder
	maxIdle int
}

var keyframeDecoders = &decoderPool{free: map[Config][]Decoder{}, maxIdle: runtime.NumCPU() + 1}

func (p *decoderPool) take(k Config) (Decoder, error) {
	p.mu.Lock()
	if free := p.free[k]; len(free) > 0 {
		d := free[len(free)-1]
		p.free[k] = free[:len(free)-1]
		p.mu.Unlock()
		return d, nil
	}
	p.mu.Unlock()
	return New(k)
}

func (p *decoderPool) give(k Config, d Decoder) {
	p.mu.Lock()
	if len(p.free[k]) < p.maxIdle {
		p.free[k] = append(p.free[k], d)
		d = nil
	}
	p.mu.Unlock()
	if d != nil {
		d.Close()
	}
}
