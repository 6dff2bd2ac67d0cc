package dispatch

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// WatchStore keeps when cameras were watching: spans of heartbeats. The
// SQL stores implement it.
type WatchStore interface {
	// StartWatch begins a span [at, at] for camera and returns its id.
	StartWatch(ctx context.Context, camera string, at time.Time) (int64, error)
	// ExtendWatch moves span id's end to at (never backwards).
	ExtendWatch(ctx context.Context, id int64, at time.Time) error
	// Watched reports whether one span of camera covers [from, to].
	Watched(ctx context.Context, camera string, from, to time.Time) (bool, error)
}

// Heartbeats of a watching camera.
const (
	// WatchBeat is how often a camera that is up and decoding says so.
	WatchBeat = 10 * time.Second
	// MaxWatchGap is the longest silence a span bridges: a camera quiet
	// for longer (down, stalled, StreetWatch stopped) starts a new span.
	MaxWatchGap = 2 * WatchBeat
)

// watchSpans is the Service's current span of each camera. It is not
// persisted: a restart starts new spans, so the time StreetWatch was not
// running is a gap, never watched.
type watchSpans struct {
	mu   sync.Mutex
	open map[string]watchSpan
}

type watchSpan struct {
	id   int64
	last time.Time
}

// Watching records that camera was up and decoding at at (a frame's
// time): it extends the camera's span, or starts one after a gap longer
// than MaxWatchGap. Call it about every WatchBeat; calls from one camera
// must come in time order.
func (s *Service) Watching(ctx context.Context, camera string, at time.Time) error {
	ws, ok := s.store.(WatchStore)
	if !ok {
		return nil
	}
	at = at.UTC().Truncate(time.Microsecond)
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	if s.watch.open == nil {
		s.watch.open = map[string]watchSpan{}
	}
	span, ok := s.watch.open[camera]
	if ok && !at.Before(span.last) && at.Sub(span.last) <= MaxWatchGap {
		if err := ws.ExtendWatch(ctx, span.id, at); err != nil {
			return fmt.Errorf("camera %q: watch: %w", camera, err)
		}
		s.watch.open[camera] = watchSpan{id: span.id, last: at}
		return nil
	}
	id, err := ws.StartWatch(ctx, camera, at)
	if err != nil {
		return fmt.Errorf("camera %q: watch: %w", camera, err)
	}
	s.watch.open[camera] = watchSpan{id: id, last: at}
	if ok {
		s.log.Info("camera watching again", "camera", camera, "gap", at.Sub(span.last))
	}
	return nil
}

// Watched reports whether every camera in cameras watched the whole of
// [from, to] without a gap (false when there are none, or the store keeps
// no watch record).
func (s *Service) Watched(ctx context.Context, cameras []string, from, to time.Time) (bool, error) {
	ws, ok := s.store.(WatchStore)
	if !ok || len(cameras) == 0 {
		return false, nil
	}
	for _, c := range cameras {
		ok, err := ws.Watched(ctx, c, from, to)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

var _ WatchStore = (*sqlStore)(nil)

// StartWatch implements WatchStore.
func (s *sqlStore) StartWatch(ctx context.Context, camera string, at time.Time) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO camera_watch (camera, started, until) VALUES (?, ?, ?) RETURNING id`,
		camera, micros(at), micros(at)).Scan(&id)
	return id, err
}

// ExtendWatch implements WatchStore.
func (s *sqlStore) ExtendWatch(ctx context.Context, id int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE camera_watch SET until = ? WHERE id = ? AND until < ?`, micros(at), id, micros(at))
	return err
}

// Watched implements WatchStore.
func (s *sqlStore) Watched(ctx context.Context, camera string, from, to time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM camera_watch WHERE camera = ? AND until >= ? AND started <= ?`,
		camera, micros(to), micros(from)).Scan(&n)
	return n > 0, err
}
