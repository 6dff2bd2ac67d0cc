// Package avlog routes FFmpeg's log (libavcodec, libavformat) into
// StreetWatch's structured logger instead of the process's stderr.
//
// FFmpeg's log level and callback are global to the process, so they are
// set in one place: here. A corrupt stream makes libavcodec report every
// broken slice; those reports are already counted per camera in metrics
// (streetwatch_decode_errors_total), so they go to the Debug level, rate
// limited, and only FFmpeg's fatal reports are logged as errors.
package avlog

// #cgo pkg-config: libavutil
// #include <stdarg.h>
// #include <libavutil/log.h>
//
// extern void goAVLog(int level, char *line);
//
// static void streetwatch_av_log(void *avcl, int level, const char *fmt, va_list vl) {
//     if (level > av_log_get_level()) return;
//     char line[512];
//     int prefix = 1;
//     av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &prefix);
//     goAVLog(level, line);
// }
//
// static void streetwatch_av_log_install(void) {
//     av_log_set_level(AV_LOG_ERROR);
//     av_log_set_callback(streetwatch_av_log);
// }
import "C"

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	logger atomic.Pointer[slog.Logger]
	once   sync.Once

	limitMu    sync.Mutex
	windowFrom time.Time
	inWindow   int
	suppressed int
)

// perSecond bounds the lines FFmpeg may log in one second; the rest are
// counted and reported in the next line that gets through.
const perSecond = 5

// Install routes FFmpeg's log to log (nil: slog.Default at the time of
// each line). Safe to call more than once; the last logger wins.
func Install(log *slog.Logger) {
	if log != nil {
		logger.Store(log)
	}
	once.Do(func() { C.streetwatch_av_log_install() })
}

//export goAVLog
func goAVLog(level C.int, line *C.char) {
	msg := strings.TrimSpace(C.GoString(line))
	if msg == "" {
		return
	}
	var lvl slog.Level
	switch {
	case level <= C.AV_LOG_FATAL:
		lvl = slog.LevelError
	default:
		lvl = slog.LevelDebug
	}
	log := logger.Load()
	if log == nil {
		log = slog.Default()
	}
	if !log.Enabled(context.Background(), lvl) {
		return
	}
	now := time.Now()
	limitMu.Lock()
	if now.Sub(windowFrom) >= time.Second {
		windowFrom, inWindow = now, 0
	}
	inWindow++
	if inWindow > perSecond {
		suppressed++
		limitMu.Unlock()
		return
	}
	dropped := suppressed
	suppressed = 0
	limitMu.Unlock()
	if dropped > 0 {
		log.Log(context.Background(), lvl, "ffmpeg: "+msg, "component", "ffmpeg", "suppressed_before", dropped)
		return
	}
	log.Log(context.Background(), lvl, "ffmpeg: "+msg, "component", "ffmpeg")
}
