package avlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestFFmpegLogGoesToTheLoggerRateLimited(t *testing.T) {
	var buf bytes.Buffer
	Install(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer logger.Store(nil)
	for range 100 {
		avLog(avLogError, "error while decoding MB 3 4\n")
	}
	avLog(avLogFatal, "out of memory\n")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) == 0 || !strings.Contains(lines[0], "level=DEBUG") || !strings.Contains(lines[0], `msg="ffmpeg: error while decoding MB 3 4"`) || !strings.Contains(lines[0], "component=ffmpeg") {
		t.Fatalf("first line %q, want the decoding error at DEBUG from component ffmpeg", lines[0])
	}
	// A burst of 100 lines within far less than a second: the first only;
	// the fatal line is not hidden by them.
	if len(lines) != 2 || !strings.Contains(lines[1], "level=ERROR") {
		t.Fatalf("%d lines for a burst of 100 and a fatal one, want 2 (the first, the fatal):\n%s", len(lines), buf.String())
	}
}

func TestFFmpegFatalIsAnError(t *testing.T) {
	var buf bytes.Buffer
	Install(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError})))
	defer logger.Store(nil)
	limitDebug.Recover()
	limitError.Recover()
	avLog(avLogError, "a per-slice error\n")
	avLog(avLogFatal, "cannot allocate\n")
	if got := buf.String(); strings.Contains(got, "per-slice") || !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "cannot allocate") {
		t.Fatalf("at level ERROR got %q, want only the fatal line", got)
	}
}
