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
// #include <stdlib.h>
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
// static void streetwatch_av_log_str(int level, const char *s) { av_log(NULL, level, "%s", s); }
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
	"unsafe"

	"github.com/streetwatch/streetwatch/internal/lograte"
)

var (
	logger atomic.Pointer[slog.Logger]
	once   sync.Once
	// FFmpeg may log at most five lines a second per level; the rest are
	// counted and reported with the next line that gets through. Fatal
	// reports have their own budget, so per-slice noise cannot hide them.
	limitDebug = lograte.Limiter{Every: 200 * time.Millisecond}
	limitError = lograte.Limiter{Every: 200 * time.Millisecond}
)

// Install routes FFmpeg's log to log (nil: slog.Default at the time of
// each line). Safe to call more than once; the last logger wins.
func Install(log *slog.Logger) {
	if log != nil {
		logger.Store(log)
	}
	once.Do(func() { C.streetwatch_av_log_install() })
}

//export goAVLog
func goAVLog(level C.int, line *C.char) { logLine(int(level), C.GoString(line)) }

// Levels of FFmpeg's log (libavutil/log.h).
const (
	avLogFatal = int(C.AV_LOG_FATAL)
	avLogError = int(C.AV_LOG_ERROR)
)

func logLine(level int, line string) {
	msg := strings.TrimSpace(line)
	if msg == "" {
		return
	}
	lvl, limit := slog.LevelDebug, &limitDebug
	if level <= avLogFatal {
		lvl, limit = slog.LevelError, &limitError
	}
	log := logger.Load()
	if log == nil {
		log = slog.Default()
	}
	if !log.Enabled(context.Background(), lvl) {
		return
	}
	ok, held := limit.Allow(time.Now())
	if !ok {
		return
	}
	args := []any{"component", "ffmpeg"}
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	log.Log(context.Background(), lvl, "ffmpeg: "+msg, args...)
}

// avLog logs through FFmpeg's own av_log (tests).
func avLog(level int, msg string) {
	cs := C.CString(msg)
	defer C.free(unsafe.Pointer(cs))
	C.streetwatch_av_log_str(C.int(level), cs)
}
