package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/media/frame"
)

// Picture is a camera's current picture: the next frame it sampled after
// the request, decoded from its stream and encoded as JPEG, with what
// detection found in that very frame. The zone editor draws on it.
type Picture struct {
	Camera        string
	JPEG          []byte
	Width, Height int
	// Time is when the frame was taken (the stream's clock mapped to wall time).
	Time       time.Time
	Detections []detectors.Detection
}

// ErrNoCamera is returned for a camera id not in the config.
var ErrNoCamera = errors.New("no such camera")

// pictureQuality is the JPEG quality of pictures for people to draw on.
const pictureQuality = 85

// pictures hands the next processed frame of a camera to whoever asked
// for it. Nothing is kept or encoded while nobody waits: a processed
// frame costs one atomic load.
type pictures struct {
	waiting atomic.Int32
	mu      sync.Mutex
	want    map[string][]chan Picture
}

// take serves the waiting requests for f's camera from f (before f is
// released). Called on the goroutine that processed the frame.
func (ps *pictures) take(f *frame.Frame, dets []detectors.Detection) {
	if ps.waiting.Load() == 0 {
		return
	}
	ps.mu.Lock()
	chans := ps.want[f.Camera]
	delete(ps.want, f.Camera)
	ps.waiting.Add(-int32(len(chans)))
	ps.mu.Unlock()
	if len(chans) == 0 {
		return
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, f.Mat, []int{gocv.IMWriteJpegQuality, pictureQuality})
	if err != nil {
		for _, ch := range chans {
			close(ch)
		}
		return
	}
	pic := Picture{Camera: f.Camera, JPEG: slices.Clone(buf.GetBytes()), Width: f.Width(), Height: f.Height(),
		Time: f.Time, Detections: slices.Clone(dets)}
	buf.Close()
	for _, ch := range chans {
		ch <- pic // buffered: the asker may have gone
	}
}

// Picture waits for the camera's next processed frame (a keyframe every
// GOP in keyframe sampling) and returns it; ctx bounds the wait.
func (p *Pipeline) Picture(ctx context.Context, camera string) (Picture, error) {
	if !slices.ContainsFunc(p.Cameras(), func(c *Camera) bool { return c.ID() == camera }) {
		return Picture{}, ErrNoCamera
	}
	ch := make(chan Picture, 1)
	ps := &p.pictures
	ps.mu.Lock()
	if ps.want == nil {
		ps.want = map[string][]chan Picture{}
	}
	ps.want[camera] = append(ps.want[camera], ch)
	ps.waiting.Add(1)
	ps.mu.Unlock()
	select {
	case pic, ok := <-ch:
		if !ok {
			return Picture{}, fmt.Errorf("camera %s: the frame could not be encoded", camera)
		}
		return pic, nil
	case <-ctx.Done():
		ps.mu.Lock()
		if i := slices.Index(ps.want[camera], ch); i >= 0 {
			ps.want[camera] = slices.Delete(ps.want[camera], i, i+1)
			ps.waiting.Add(-1)
		}
		ps.mu.Unlock()
		return Picture{}, fmt.Errorf("camera %s: no frame within the wait: %w", camera, ctx.Err())
	}
}
