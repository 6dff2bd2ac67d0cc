// Package logtest captures a component's log lines in tests, so that a test
// can check what was logged by message and field (a retry's wait, say)
// instead of matching formatted text. It is for tests only.
package logtest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// Line is one captured log line with its attributes (those added by With
// included), by key.
type Line struct {
	Level slog.Level
	Msg   string
	Attrs map[string]slog.Value
}

// Capture collects log lines; its Logger may be used from any goroutine.
type Capture struct {
	mu    sync.Mutex
	lines []Line
}

// Logger returns a logger (all levels) whose lines c keeps.
func (c *Capture) Logger() *slog.Logger { return slog.New(&handler{c: c}) }

// Lines returns the lines with message msg so far.
func (c *Capture) Lines(msg string) []Line {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Line
	for _, l := range c.lines {
		if l.Msg == msg {
			out = append(out, l)
		}
	}
	return out
}

// Wait returns the first n lines with message msg, failing the test if they
// do not come within timeout.
func (c *Capture) Wait(t testing.TB, msg string, n int, timeout time.Duration) []Line {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if got := c.Lines(msg); len(got) >= n {
			return got[:n]
		} else if time.Now().After(deadline) {
			t.Fatalf("%d of %d log lines %q within %v", len(got), n, msg, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type handler struct {
	c     *Capture
	attrs []slog.Attr
}

func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{c: h.c, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

// WithGroup is not needed by our components: group names are dropped.
func (h *handler) WithGroup(string) slog.Handler { return h }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	l := Line{Level: r.Level, Msg: r.Message, Attrs: map[string]slog.Value{}}
	for _, a := range h.attrs {
		l.Attrs[a.Key] = a.Value.Resolve()
	}
	r.Attrs(func(a slog.Attr) bool {
		l.Attrs[a.Key] = a.Value.Resolve()
		return true
	})
	h.c.mu.Lock()
	h.c.lines = append(h.c.lines, l)
	h.c.mu.Unlock()
	return nil
}
