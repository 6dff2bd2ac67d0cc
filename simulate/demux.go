package simulate

// #cgo pkg-config: libavformat libavcodec libavutil
// #include <libavformat/avformat.h>
// #include <libavcodec/bsf.h>
//
// static int sim_eagain(int err) { return err == AVERROR(EAGAIN); }
// static AVStream *sim_stream(AVFormatContext *f, int i) { return f->streams[i]; }
import "C"

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/streetwatch/streetwatch/internal/avlog"
	"github.com/streetwatch/streetwatch/media"
)

// clip is a video file read into memory: its access units in decode order,
// with timestamps in 1/90000 s.
type clip struct {
	codec    media.Codec
	params   media.ParamSets
	units    []clipUnit
	duration int64 // of one pass, so that loops continue seamlessly
}

type clipUnit struct {
	nalus    [][]byte
	pts, dts int64
	key      bool
}

// readClip demuxes the first video stream of an MP4 or MPEG-TS file with
// libavformat; the mp4toannexb bitstream filter gives Annex-B for both, with
// parameter sets in front of keyframes.
func readClip(path string) (*clip, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))

	var fmtCtx *C.AVFormatContext
	if res := C.avformat_open_input(&fmtCtx, cpath, nil, nil); res < 0 {
		return nil, fmt.Errorf("open %s: %s", path, averr(res))
	}
	defer C.avformat_close_input(&fmtCtx)
	if res := C.avformat_find_stream_info(fmtCtx, nil); res < 0 {
		return nil, fmt.Errorf("%s: find stream info: %s", path, averr(res))
	}
	idx := C.av_find_best_stream(fmtCtx, C.AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
	if idx < 0 {
		return nil, fmt.Errorf("%s: no video stream", path)
	}
	st := C.sim_stream(fmtCtx, idx)
	c := &clip{}
	var bsfName string
	switch st.codecpar.codec_id {
	case C.AV_CODEC_ID_H264:
		c.codec, bsfName = media.CodecH264, "h264_mp4toannexb"
	case C.AV_CODEC_ID_HEVC:
		c.codec, bsfName = media.CodecH265, "hevc_mp4toannexb"
	default:
		return nil, fmt.Errorf("%s: video codec is not H.264 or H.265", path)
	}
	c.params.Codec = c.codec

	cname := C.CString(bsfName)
	defer C.free(unsafe.Pointer(cname))
	var bsf *C.AVBSFContext
	if res := C.av_bsf_alloc(C.av_bsf_get_by_name(cname), &bsf); res < 0 {
		return nil, fmt.Errorf("%s: %s: %s", path, bsfName, averr(res))
	}
	defer C.av_bsf_free(&bsf)
	C.avcodec_parameters_copy(bsf.par_in, st.codecpar)
	bsf.time_base_in = st.time_base
	if res := C.av_bsf_init(bsf); res < 0 {
		return nil, fmt.Errorf("%s: %s init: %s", path, bsfName, averr(res))
	}

	pkt := C.av_packet_alloc()
	defer C.av_packet_free(&pkt)
	tb := st.time_base
	rescale := func(ts C.int64_t) int64 {
		return int64(C.av_rescale_q(ts, tb, C.AVRational{num: 1, den: media.ClockRate}))
	}
	drain := func() error {
		for {
			res := C.av_bsf_receive_packet(bsf, pkt)
			if C.sim_eagain(res) != 0 || res == C.AVERROR_EOF {
				return nil
			}
			if res < 0 {
				return fmt.Errorf("%s: %s: %s", path, bsfName, averr(res))
			}
			data := C.GoBytes(unsafe.Pointer(pkt.data), pkt.size)
			pts, dts := int64(pkt.pts), int64(pkt.dts)
			if pkt.pts != C.AV_NOPTS_VALUE {
				pts = rescale(pkt.pts)
			}
			if pkt.dts != C.AV_NOPTS_VALUE {
				dts = rescale(pkt.dts)
			} else {
				dts = pts
			}
			C.av_packet_unref(pkt)
			nalus, err := media.SplitAnnexB(data)
			if err != nil {
				continue // a broken packet in the file: a real camera would skip it too
			}
			if _, err := c.params.Update(nalus); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			c.units = append(c.units, clipUnit{nalus: nalus, pts: pts, dts: dts, key: media.IsKey(c.codec, nalus)})
		}
	}
	for {
		res := C.av_read_frame(fmtCtx, pkt)
		if res < 0 {
			break
		}
		if pkt.stream_index != idx {
			C.av_packet_unref(pkt)
			continue
		}
		if res := C.av_bsf_send_packet(bsf, pkt); res < 0 {
			C.av_packet_unref(pkt)
			return nil, fmt.Errorf("%s: %s: %s", path, bsfName, averr(res))
		}
		if err := drain(); err != nil {
			return nil, err
		}
	}
	C.av_bsf_send_packet(bsf, nil)
	if err := drain(); err != nil {
		return nil, err
	}
	if err := c.finish(path); err != nil {
		return nil, err
	}
	return c, nil
}

// finish drops anything before the first keyframe and computes the loop
// duration: the last picture lasts as long as the average picture.
func (c *clip) finish(path string) error {
	for len(c.units) > 0 && !c.units[0].key {
		c.units = c.units[1:]
	}
	if len(c.units) == 0 {
		return fmt.Errorf("%s: no keyframe", path)
	}
	if !c.params.Complete() {
		return fmt.Errorf("%s: missing parameter sets", path)
	}
	frameDur := c.smooth()
	first, last := c.units[0].dts, c.units[len(c.units)-1].dts
	c.duration = last - first + frameDur
	// Re-base timestamps so the first DTS is 0.
	for i := range c.units {
		c.units[i].pts -= first
		c.units[i].dts -= first
	}
	return nil
}

// smooth makes decode timestamps continuous across discontinuities in the
// file (two recordings concatenated, an encoder restart): a step backwards,
// or forwards by more than maxStep, becomes one picture's duration, and
// every later timestamp moves with it. A camera never jumps back, and the
// README promises continuous, monotonic RTP timestamps. It returns the
// picture duration: the median step, 1/25 s when there is none.
func (c *clip) smooth() int64 {
	var steps []int64
	for i := 1; i < len(c.units); i++ {
		if d := c.units[i].dts - c.units[i-1].dts; d > 0 {
			steps = append(steps, d)
		}
	}
	frameDur := int64(media.ClockRate / 25)
	if len(steps) > 0 {
		slices.Sort(steps)
		frameDur = steps[len(steps)/2]
	}
	maxStep := max(2*media.ClockRate, 10*frameDur)
	var offset int64
	for i := 1; i < len(c.units); i++ {
		u := &c.units[i]
		if d := u.dts + offset - c.units[i-1].dts; d <= 0 || d > maxStep {
			offset += frameDur - d
		}
		u.dts += offset
		u.pts += offset
	}
	return frameDur
}

func averr(code C.int) string {
	var buf [C.AV_ERROR_MAX_STRING_SIZE]C.char
	C.av_strerror(code, &buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}

func init() { avlog.Install(nil) }
