// Package decode turns a camera's access units into BGR frames.
//
// Decoding is the expensive part of the media path, so the package decodes
// only what it is given and converts to BGR only the pictures the caller
// keeps. It must never block on anything but the codec, and never crash on
// corrupt input: after an error it skips to the next keyframe.
//
// The Decoder interface leaves room for hardware decoders (NVDEC): a new
// implementation only needs Send, Receive, Convert and Close.
package decode

import (
	"errors"
	"fmt"

	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
)

// ErrNeedKeyframe is returned by Send when an access unit was skipped because
// the decoder waits for a keyframe (at start, after a reconnect or an error).
var ErrNeedKeyframe = errors.New("waiting for a keyframe")

// Decoder decodes one camera's stream.
type Decoder interface {
	// Send feeds one access unit. A corrupt unit returns an error and makes
	// the decoder skip to the next keyframe; the decoder stays usable.
	Send(au *media.AccessUnit) error
	// Receive returns the PTS of the next decoded picture, or ok=false when
	// the decoder needs more input. Corrupt pictures are not returned: they
	// are counted in Stats.
	Receive() (pts int64, ok bool, err error)
	// Convert writes the last received picture into dst as BGR.
	Convert(dst *frame.Frame) error
	// Stats reports counters since creation.
	Stats() Stats
	Close()
}

// Stats are a decoder's counters.
type Stats struct {
	Decoded       uint64 // pictures out of the codec
	Errors        uint64 // access units the codec rejected
	Corrupt       uint64 // pictures dropped because the codec flagged them corrupt
	SkippedForKey uint64 // access units skipped while waiting for a keyframe
}

// Config selects and tunes a decoder.
type Config struct {
	Codec media.Codec
	// Threads is the codec's thread count; 1 (the default) scales best with
	// many cameras, each decoder on one core at most.
	Threads int
	// KeyframesOnly: only keyframes will be sent. The decoder then drains
	// after each one, or a stream with B-frames would hold every picture
	// back by its reorder depth (two GOPs late).
	KeyframesOnly bool
	// SkipLoopFilter decodes without the in-loop deblocking filter
	// (libavcodec's skip_loop_filter=all): about a fifth less CPU per 720p
	// H.264 keyframe of a street, for pictures that differ from the
	// filtered ones only along block edges, by a few grey levels that the
	// shrink to the model's input averages away. KeyframesOnly decoders only: a decoder
	// of every frame would predict from unfiltered pictures and drift
	// until the next keyframe, so New refuses the pair.
	SkipLoopFilter bool
	// HWAccel decodes on a hardware device of this FFmpeg type ("cuda":
	// NVDEC), Device naming which ("" the first). When it cannot be used,
	// New decodes in software and says why (see Accelerated).
	HWAccel, Device string
}

// Accelerated is implemented by decoders: Accel is the hardware device
// type decoding runs on ("" in software) and HWError why a requested one
// is not used (nil when none was requested or it works).
type Accelerated interface {
	Accel() string
	HWError() error
}

// New returns a software (libavcodec) decoder.
func New(cfg Config) (Decoder, error) {
	if cfg.Codec != media.CodecH264 && cfg.Codec != media.CodecH265 {
		return nil, fmt.Errorf("decode: unsupported codec %v", cfg.Codec)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if cfg.SkipLoopFilter && !cfg.KeyframesOnly {
		return nil, fmt.Errorf("decode: skipping the loop filter needs a keyframes-only decoder (the other pictures would drift)")
	}
	if cfg.HWAccel == "" {
		return newAVDecoder(cfg)
	}
	d, err := newAVDecoder(cfg)
	if err == nil {
		return d, nil
	}
	// The software decoder, with the reason.
	sw := cfg
	sw.HWAccel, sw.Device = "", ""
	d, swErr := newAVDecoder(sw)
	if swErr != nil {
		return nil, swErr
	}
	d.hwErr = err
	return d, nil
}
