package decode

// #cgo pkg-config: libavcodec libavutil libswscale
// #include <libavcodec/avcodec.h>
// #include <libavutil/imgutils.h>
// #include <libavutil/log.h>
// #include <libswscale/swscale.h>
//
// static int sw_corrupt(const AVFrame *f) {
//     return (f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags;
// }
// static int sw_eagain(int err) { return err == AVERROR(EAGAIN); }
// static int sw_eof(int err) { return err == AVERROR_EOF; }
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/streetwatch/streetwatch/internal/avlog"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
)

// Corrupt streams make libavcodec report every broken slice: its log goes
// to the structured logger, rate limited, at Debug (errors are counted in
// metrics instead).
func init() { avlog.Install(nil) }

// avDecoder is libavcodec's software decoder. Every C object has one owner:
// this struct, and Close frees them all.
type avDecoder struct {
	codec  media.Codec
	ctx    *C.AVCodecContext
	pkt    *C.AVPacket
	frame  *C.AVFrame
	sws    *C.struct_SwsContext
	swsW   C.int
	swsH   C.int
	swsFmt C.int
	// sws_scale's destination planes, kept here so they are not allocated per picture.
	dstData   [4]*C.uint8_t
	dstStride [4]C.int
	in        *C.uint8_t // Annex-B input staging buffer (av_malloc'd, reused)
	inSize    C.uint
	session   uint64
	started   bool
	needKey   bool
	drain     bool // KeyframesOnly: drain after every unit
	draining  bool
	stats     Stats
}

func newAVDecoder(cfg Config) (*avDecoder, error) {
	id := uint32(C.AV_CODEC_ID_H264)
	if cfg.Codec == media.CodecH265 {
		id = C.AV_CODEC_ID_HEVC
	}
	codec := C.avcodec_find_decoder(id)
	if codec == nil {
		return nil, fmt.Errorf("decode: libavcodec has no %v decoder", cfg.Codec)
	}
	d := &avDecoder{codec: cfg.Codec, needKey: true, drain: cfg.KeyframesOnly}
	d.ctx = C.avcodec_alloc_context3(codec)
	if d.ctx == nil {
		return nil, fmt.Errorf("decode: avcodec_alloc_context3 failed")
	}
	d.ctx.thread_count = C.int(cfg.Threads)
	if cfg.Threads > 1 {
		d.ctx.thread_type = C.FF_THREAD_SLICE
	}
	if res := C.avcodec_open2(d.ctx, codec, nil); res < 0 {
		C.avcodec_free_context(&d.ctx)
		return nil, fmt.Errorf("decode: avcodec_open2: %s", averr(res))
	}
	d.pkt = C.av_packet_alloc()
	d.frame = C.av_frame_alloc()
	if d.pkt == nil || d.frame == nil {
		d.Close()
		return nil, fmt.Errorf("decode: out of memory")
	}
	return d, nil
}

func (d *avDecoder) Send(au *media.AccessUnit) error {
	if d.started && au.Session != d.session {
		// A new connection: whatever was in flight belongs to the old one.
		C.avcodec_flush_buffers(d.ctx)
		d.needKey = true
	}
	d.session, d.started = au.Session, true
	if au.Gap {
		// Pictures were lost just before this one: it may be damaged itself
		// (a keyframe missing a slice decodes to a smear). Wait for the next
		// keyframe that arrives whole.
		d.needKey = true
		d.stats.SkippedForKey++
		return ErrNeedKeyframe
	}
	if d.needKey {
		if !au.Key {
			d.stats.SkippedForKey++
			return ErrNeedKeyframe
		}
		d.needKey = false
	}
	// The input goes into a C buffer the decoder owns (with the zeroed
	// padding libavcodec reads past the end), so no Go memory crosses.
	n := 0
	for _, nalu := range au.NALUs {
		n += 4 + len(nalu)
	}
	if n == 0 {
		return nil
	}
	C.av_fast_padded_malloc(unsafe.Pointer(&d.in), &d.inSize, C.size_t(n))
	if d.in == nil {
		return fmt.Errorf("decode: out of memory for a %d-byte access unit", n)
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(d.in)), n)
	pos := 0
	for _, nalu := range au.NALUs {
		pos += copy(buf[pos:], startCode)
		pos += copy(buf[pos:], nalu)
	}
	d.pkt.data = d.in
	d.pkt.size = C.int(n)
	d.pkt.pts = C.int64_t(au.PTS)
	d.pkt.dts = C.AV_NOPTS_VALUE
	d.pkt.flags = 0
	if au.Key {
		d.pkt.flags = C.AV_PKT_FLAG_KEY
	}
	res := C.avcodec_send_packet(d.ctx, d.pkt)
	d.pkt.data, d.pkt.size = nil, 0
	if res < 0 && C.sw_eagain(res) == 0 {
		d.stats.Errors++
		d.needKey = true
		return fmt.Errorf("decode: %v access unit at pts %d: %s", d.codec, au.PTS, averr(res))
	}
	if d.drain {
		C.avcodec_send_packet(d.ctx, nil)
		d.draining = true
	}
	return nil
}

func (d *avDecoder) Receive() (int64, bool, error) {
	for {
		res := C.avcodec_receive_frame(d.ctx, d.frame)
		if C.sw_eof(res) != 0 && d.draining {
			// Drained: reset for the next keyframe.
			C.avcodec_flush_buffers(d.ctx)
			d.draining = false
			return 0, false, nil
		}
		if C.sw_eagain(res) != 0 || C.sw_eof(res) != 0 {
			return 0, false, nil
		}
		if res < 0 {
			d.stats.Errors++
			d.needKey = true
			return 0, false, fmt.Errorf("decode: receive: %s", averr(res))
		}
		d.stats.Decoded++
		if C.sw_corrupt(d.frame) != 0 {
			// Concealed pictures are grey smears: useless for detection and
			// misleading as evidence. Skip until the stream heals.
			d.stats.Corrupt++
			C.av_frame_unref(d.frame)
			continue
		}
		return int64(d.frame.best_effort_timestamp), true, nil
	}
}

func (d *avDecoder) Convert(dst *frame.Frame) error {
	f := d.frame
	if f.width <= 0 || f.height <= 0 || f.data[0] == nil {
		return fmt.Errorf("decode: no picture to convert")
	}
	if d.sws == nil || d.swsW != f.width || d.swsH != f.height || d.swsFmt != f.format {
		if d.sws != nil {
			C.sws_freeContext(d.sws)
		}
		// SWS_POINT: no scaling happens, only the colour conversion, so the
		// cheapest filter gives the same picture.
		d.sws = C.sws_getContext(f.width, f.height, int32(f.format), f.width, f.height,
			C.AV_PIX_FMT_BGR24, C.SWS_POINT, nil, nil, nil)
		if d.sws == nil {
			return fmt.Errorf("decode: sws_getContext %dx%d failed", f.width, f.height)
		}
		d.swsW, d.swsH, d.swsFmt = f.width, f.height, f.format
	}
	dst.Ensure(int(f.width), int(f.height))
	data, err := dst.Mat.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("decode: frame buffer: %w", err)
	}
	// The Mat's memory belongs to OpenCV (C memory): no Go pointer crosses.
	d.dstData[0] = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	d.dstStride[0] = C.int(dst.Mat.Step())
	res := C.sws_scale(d.sws, (**C.uint8_t)(unsafe.Pointer(&f.data[0])), (*C.int)(unsafe.Pointer(&f.linesize[0])),
		0, f.height, &d.dstData[0], &d.dstStride[0])
	if res < 0 {
		return fmt.Errorf("decode: sws_scale: %s", averr(res))
	}
	return nil
}

func (d *avDecoder) Stats() Stats { return d.stats }

func (d *avDecoder) Close() {
	if d.sws != nil {
		C.sws_freeContext(d.sws)
		d.sws = nil
	}
	if d.frame != nil {
		C.av_frame_free(&d.frame)
	}
	if d.in != nil {
		C.av_freep(unsafe.Pointer(&d.in))
	}
	if d.pkt != nil {
		C.av_packet_free(&d.pkt)
	}
	if d.ctx != nil {
		C.avcodec_free_context(&d.ctx)
	}
}

var startCode = []byte{0, 0, 0, 1}

func averr(code C.int) string {
	var buf [C.AV_ERROR_MAX_STRING_SIZE]C.char
	C.av_strerror(code, &buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}
