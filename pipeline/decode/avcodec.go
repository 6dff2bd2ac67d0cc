package decode

// #cgo pkg-config: libavcodec libavutil libswscale
// #include <libavcodec/avcodec.h>
// #include <libavutil/hwcontext.h>
// #include <libavutil/imgutils.h>
// #include <libavutil/log.h>
// #include <libswscale/swscale.h>
//
// // sw_hw_format picks the device's picture format when the codec offers
// // it (the decoder's opaque holds the wanted format), else the first
// // software one: libavcodec then decodes on the CPU for that stream.
// static enum AVPixelFormat sw_hw_format(AVCodecContext *ctx, const enum AVPixelFormat *fmts) {
//     enum AVPixelFormat want = (enum AVPixelFormat)(intptr_t)ctx->opaque;
//     for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++) {
//         if (*p == want) return *p;
//     }
//     return fmts[0];
// }
// static void sw_use_hw(AVCodecContext *ctx, AVBufferRef *dev, enum AVPixelFormat want) {
//     ctx->hw_device_ctx = av_buffer_ref(dev);
//     ctx->opaque = (void *)(intptr_t)want;
//     ctx->get_format = sw_hw_format;
// }
//
// static int sw_corrupt(const AVFrame *f) {
//     return (f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags;
// }
// static int sw_eagain(int err) { return err == AVERROR(EAGAIN); }
// static int sw_eof(int err) { return err == AVERROR_EOF; }
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
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
	av     *C.AVCodec // the libavcodec decoder
	cfg    Config
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
	// hwDevice is the hardware device (nil: software decoding); a picture
	// decoded there is copied into swFrame, and out is the picture
	// Convert reads (frame or swFrame).
	hwDevice *C.AVBufferRef
	hwFormat C.enum_AVPixelFormat
	swFrame  *C.AVFrame
	out      *C.AVFrame
	hwErr    error // why the requested device is not used
	inSize   C.uint
	session  uint64
	started  bool
	needKey  bool
	drain    bool // KeyframesOnly: drain after every unit
	draining bool
	// shared: the codec context is borrowed from keyframeContexts for
	// each keyframe and given back once it is drained (KeyframesOnly in
	// software).
	shared bool
	ctxKey contextKey
	stats  Stats
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
	d := &avDecoder{codec: cfg.Codec, av: codec, cfg: cfg, needKey: true, drain: cfg.KeyframesOnly}
	if cfg.HWAccel != "" {
		if err := d.openDevice(codec, cfg.HWAccel, cfg.Device); err != nil {
			d.Close()
			return nil, err
		}
	}
	if d.drain && d.hwDevice == nil {
		d.shared, d.ctxKey = true, contextKey{codec: uint32(codec.id), threads: d.cfg.Threads}
	}
	// A context now, so that a codec that cannot open fails New; a shared
	// one goes back to the pool at once.
	if err := d.takeContext(); err != nil {
		d.Close()
		return nil, err
	}
	d.giveContext()
	d.pkt = C.av_packet_alloc()
	d.frame = C.av_frame_alloc()
	d.swFrame = C.av_frame_alloc()
	if d.pkt == nil || d.frame == nil || d.swFrame == nil {
		d.Close()
		return nil, fmt.Errorf("decode: out of memory")
	}
	return d, nil
}

func (d *avDecoder) Send(au *media.AccessUnit) error {
	if d.started && au.Session != d.session {
		// A new connection: whatever was in flight belongs to the old one.
		if d.ctx != nil {
			C.avcodec_flush_buffers(d.ctx)
		}
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
	if d.ctx == nil { // a shared decoder's turn, or opening after a failed drain
		if err := d.takeContext(); err != nil {
			return err
		}
	}
	d.setLoopFilter() // at every unit: the pool's shared contexts serve decoders of both kinds
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
		d.giveContext() // nothing in flight: another camera may use it
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
			// Drained: the next keyframe is decodable by itself (ingest puts
			// the parameter sets in front of it), so an idle keyframe-
			// sampled camera needs no codec context of its own: a software
			// decoder gives it back to keyframeContexts, for whichever
			// camera decodes next; a hardware one frees it and opens a
			// fresh one. Either way it holds none of the codec's picture
			// buffers between keyframes.
			d.draining = false
			C.av_frame_unref(d.frame)
			C.av_frame_unref(d.swFrame)
			d.out = nil
			if d.shared {
				d.giveContext()
				return 0, false, nil
			}
			C.avcodec_free_context(&d.ctx)
			if err := d.openContext(); err != nil {
				return 0, false, err
			}
			return 0, false, nil
		}
		if C.sw_eagain(res) != 0 || C.sw_eof(res) != 0 {
			return 0, false, nil
		}
		if res < 0 {
			d.stats.Errors++
			d.needKey = true
			d.draining = false
			d.giveContext()
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
		d.out = d.frame
		if d.hwDevice != nil && d.frame.format == C.int(d.hwFormat) {
			// The picture is in device memory: Convert needs it here.
			C.av_frame_unref(d.swFrame)
			if res := C.av_hwframe_transfer_data(d.swFrame, d.frame, 0); res < 0 {
				d.stats.Errors++
				return 0, false, fmt.Errorf("decode: copy from the %s device: %s", d.accel(), averr(res))
			}
			d.out = d.swFrame
		}
		return int64(d.frame.best_effort_timestamp), true, nil
	}
}

func (d *avDecoder) Convert(dst *frame.Frame) error {
	f := d.out
	if f == nil || f.width <= 0 || f.height <= 0 || f.data[0] == nil {
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
	if d.swFrame != nil {
		C.av_frame_free(&d.swFrame)
	}
	if d.hwDevice != nil {
		C.av_buffer_unref(&d.hwDevice)
	}
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
	if d.ctx != nil && d.shared {
		keyframeContexts.discard(d.ctxKey, d.ctx)
		d.ctx = nil
	}
	if d.ctx != nil {
		C.avcodec_free_context(&d.ctx)
	}
}

// takeContext gets the decoder a codec context: a shared decoder's from
// keyframeContexts (waiting while as many as it keeps are decoding),
// another's newly opened.
func (d *avDecoder) takeContext() error {
	if !d.shared {
		return d.openContext()
	}
	ctx, err := keyframeContexts.take(d.ctxKey, func() (*C.AVCodecContext, error) {
		if err := d.openContext(); err != nil {
			return nil, err
		}
		ctx := d.ctx
		d.ctx = nil
		return ctx, nil
	})
	d.ctx = ctx
	return err
}

// giveContext gives a shared decoder's context back (a no-op otherwise,
// and without one).
func (d *avDecoder) giveContext() {
	if d.shared && d.ctx != nil {
		keyframeContexts.give(d.ctxKey, d.ctx)
		d.ctx = nil
	}
}

// openContext opens a codec context with the decoder's settings (and
// hardware device).
func (d *avDecoder) openContext() error {
	contextsOpened.Add(1)
	d.ctx = C.avcodec_alloc_context3(d.av)
	if d.ctx == nil {
		return fmt.Errorf("decode: avcodec_alloc_context3 failed")
	}
	d.ctx.thread_count = C.int(d.cfg.Threads)
	if d.cfg.Threads > 1 {
		d.ctx.thread_type = C.FF_THREAD_SLICE
	}
	if d.hwDevice != nil {
		C.sw_use_hw(d.ctx, d.hwDevice, d.hwFormat)
	}
	if res := C.avcodec_open2(d.ctx, d.av, nil); res < 0 {
		C.avcodec_free_context(&d.ctx)
		return fmt.Errorf("decode: avcodec_open2: %s", averr(res))
	}
	return nil
}

// setLoopFilter sets the context's loop filter to the decoder's setting
// (libavcodec reads it at every slice).
func (d *avDecoder) setLoopFilter() {
	d.ctx.skip_loop_filter = C.AVDISCARD_DEFAULT
	if d.cfg.SkipLoopFilter {
		d.ctx.skip_loop_filter = C.AVDISCARD_ALL
	}
}

// openDevice makes the decoder decode on a hardware device (accel: an
// FFmpeg device type such as cuda; device: its index or name, "" the
// default). It fails when FFmpeg, the driver or the device cannot: the
// caller then decodes in software.
func (d *avDecoder) openDevice(codec *C.AVCodec, accel, device string) error {
	name := C.CString(accel)
	defer C.free(unsafe.Pointer(name))
	typ := C.av_hwdevice_find_type_by_name(name)
	if typ == C.AV_HWDEVICE_TYPE_NONE {
		return fmt.Errorf("decode: this FFmpeg has no %q hardware device type", accel)
	}
	d.hwFormat = C.AV_PIX_FMT_NONE
	for i := 0; ; i++ {
		hc := C.avcodec_get_hw_config(codec, C.int(i))
		if hc == nil {
			break
		}
		if hc.methods&C.AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX != 0 && hc.device_type == typ {
			d.hwFormat = hc.pix_fmt
			break
		}
	}
	if d.hwFormat == C.AV_PIX_FMT_NONE {
		return fmt.Errorf("decode: libavcodec cannot decode %v on %s", d.codec, accel)
	}
	var dev *C.char
	if device != "" {
		dev = C.CString(device)
		defer C.free(unsafe.Pointer(dev))
	}
	if res := C.av_hwdevice_ctx_create(&d.hwDevice, typ, dev, nil, 0); res < 0 {
		d.hwDevice = nil
		if device == "" {
			device = "the first"
		}
		return fmt.Errorf("decode: no %s device (%s): %s", accel, device, averr(res))
	}
	return nil
}

// Accel implements Accelerated.
func (d *avDecoder) Accel() string { return d.accel() }

// HWError implements Accelerated.
func (d *avDecoder) HWError() error { return d.hwErr }

// accel is the hardware device type in use ("" in software).
func (d *avDecoder) accel() string {
	if d.hwDevice == nil {
		return ""
	}
	return C.GoString(C.av_hwdevice_get_type_name((*C.AVHWDeviceContext)(unsafe.Pointer(d.hwDevice.data))._type))
}

var startCode = []byte{0, 0, 0, 1}

func averr(code C.int) string {
	var buf [C.AV_ERROR_MAX_STRING_SIZE]C.char
	C.av_strerror(code, &buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}

// contextKey tells codec contexts apart that can stand in for each other.
type contextKey struct {
	codec   uint32 // AVCodecID
	threads int
}

// contextPool keeps the codec contexts of keyframe-only decoders. A
// keyframe-sampled camera decodes one keyframe every second or two and
// needs a context only while it does: opening a fresh context for each
// keyframe cost about a fifth of such a camera's CPU (its picture buffers
// allocated and faulted in each time), keeping one per camera costs 4-5
// MiB of picture buffers per camera. The pool opens at most max contexts
// per codec, as many as can decode at once on this machine's cores; a
// camera whose keyframe arrives while all are decoding waits for one
// (cameras that come up in phase, NTP-aligned GOPs, all decode at the
// same moment, and the cores decode one after the other anyway).
//
// A drained and flushed context decodes any keyframe that carries its
// parameter sets (ingest puts them in front of every keyframe), whatever
// camera it comes from: a different size reinitialises the decoder.
type contextPool struct {
	mu    sync.Mutex
	freed *sync.Cond
	free  map[contextKey][]*C.AVCodecContext
	open  map[contextKey]int // free or taken
	max   int
}

// contextsOpened counts the codec contexts opened (tests).
var contextsOpened atomic.Int64

var keyframeContexts = newContextPool(runtime.NumCPU() + 1)

func newContextPool(max int) *contextPool {
	p := &contextPool{free: map[contextKey][]*C.AVCodecContext{}, open: map[contextKey]int{}, max: max}
	p.freed = sync.NewCond(&p.mu)
	return p
}

// take returns a free context, or one opened with open while fewer than
// max are, or waits for one to be given back.
func (p *contextPool) take(k contextKey, open func() (*C.AVCodecContext, error)) (*C.AVCodecContext, error) {
	p.mu.Lock()
	for {
		if free := p.free[k]; len(free) > 0 {
			ctx := free[len(free)-1]
			p.free[k] = free[:len(free)-1]
			p.mu.Unlock()
			return ctx, nil
		}
		if p.open[k] < p.max {
			break
		}
		p.freed.Wait()
	}
	p.open[k]++
	p.mu.Unlock()
	ctx, err := open()
	if err != nil {
		p.discard(k, nil)
	}
	return ctx, err
}

// give returns a context, drained, ready for its next keyframe.
func (p *contextPool) give(k contextKey, ctx *C.AVCodecContext) {
	C.avcodec_flush_buffers(ctx)
	p.mu.Lock()
	p.free[k] = append(p.free[k], ctx)
	p.mu.Unlock()
	p.freed.Signal()
}

// discard frees a taken context (a decoder closed while decoding), or
// only counts it gone when ctx is nil (it failed to open).
func (p *contextPool) discard(k contextKey, ctx *C.AVCodecContext) {
	if ctx != nil {
		C.avcodec_free_context(&ctx)
	}
	p.mu.Lock()
	p.open[k]--
	p.mu.Unlock()
	p.freed.Signal()
}

// idle counts the contexts kept (tests).
func (p *contextPool) idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, free := range p.free {
		n += len(free)
	}
	return n
}
