// Package framequeue holds the sampled frames waiting for detection.
//
// The queue is bounded and never blocks its producers (the decoders): when
// it is full, the oldest frame of the camera with the most frames waiting is
// dropped and counted, so one busy camera cannot crowd out the others, and
// frames are handed out round-robin across cameras for the same reason.
package framequeue

import (
	"context"
	"errors"
	"sync"

	"github.com/streetwatch/streetwatch/media/frame"
)

// ErrClosed is returned by Pop after Close.
var ErrClosed = errors.New("queue closed")

// Queue is a bounded, fair, drop-oldest frame queue.
type Queue struct {
	// OnDrop is told about every frame the queue drops, before the frame is
	// released. Optional; called with the queue's lock held: keep it short.
	OnDrop func(camera string)

	mu     sync.Mutex
	cap    int
	n      int
	cams   map[string]*fifo
	order  []string // round-robin order of cameras seen
	next   int
	ready  chan struct{}
	closed bool
}

type fifo struct{ frames []*frame.Frame }

// NewQueue returns a queue holding at most capacity frames.
func NewQueue(capacity int) *Queue {
	return &Queue{cap: max(capacity, 1), cams: map[string]*fifo{}, ready: make(chan struct{}, 1)}
}

// Push adds a frame; it never blocks. After Close the frame is released.
func (q *Queue) Push(f *frame.Frame) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		f.Release()
		return
	}
	if q.n >= q.cap {
		q.dropOldestOfBusiest()
	}
	c, ok := q.cams[f.Camera]
	if !ok {
		c = &fifo{}
		q.cams[f.Camera] = c
		q.order = append(q.order, f.Camera)
	}
	c.frames = append(c.frames, f)
	q.n++
	q.signal()
	q.mu.Unlock()
}

// signal wakes a waiting Pop. It must be called with the lock held: Close
// closes ready under the same lock, so a signal can never be sent on a
// closed channel, whatever the order of Push and Close.
func (q *Queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *Queue) dropOldestOfBusiest() {
	var busiest *fifo
	var name string
	for _, cam := range q.order {
		c := q.cams[cam]
		if busiest == nil || len(c.frames) > len(busiest.frames) {
			busiest, name = c, cam
		}
	}
	f := busiest.frames[0]
	busiest.frames[0] = nil
	busiest.frames = busiest.frames[1:]
	q.n--
	if q.OnDrop != nil {
		q.OnDrop(name)
	}
	f.Release()
}

// Pop waits for the next frame, taking cameras in turn. The caller owns the
// frame and must Release it.
func (q *Queue) Pop(ctx context.Context) (*frame.Frame, error) {
	for {
		if f, err := q.TryPop(); f != nil || err != nil {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.ready:
		}
	}
}

// TryPop returns the next frame, or nil when the queue is empty.
func (q *Queue) TryPop() (*frame.Frame, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	if q.n == 0 {
		return nil, nil
	}
	for range q.order {
		cam := q.order[q.next%len(q.order)]
		q.next++
		c := q.cams[cam]
		if len(c.frames) == 0 {
			continue
		}
		f := c.frames[0]
		c.frames[0] = nil
		c.frames = c.frames[1:]
		q.n--
		if q.n > 0 {
			q.signal()
		}
		return f, nil
	}
	return nil, nil
}

// Ready is signalled when frames may be waiting (use with TryPop).
func (q *Queue) Ready() <-chan struct{} { return q.ready }

// Len is the number of frames waiting.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// Close releases every waiting frame; Pop returns ErrClosed from now on.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	for _, c := range q.cams {
		for _, f := range c.frames {
			f.Release()
		}
		c.frames = nil
	}
	q.n = 0
	close(q.ready)
}
