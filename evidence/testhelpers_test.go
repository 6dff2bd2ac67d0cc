package evidence

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/internal/streamtest"
	"github.com/streetwatch/streetwatch/media"
)

// The test streams and clip checks live in internal/streamtest, shared with
// pipeline/history's tests; these are the names evidence's tests know them by.
var (
	clipTestEpoch     = streamtest.Epoch
	demuxFile         = streamtest.Demux
	restamp           = streamtest.Restamp
	looped            = streamtest.Looped
	runTool           = streamtest.RunTool
	probeClip         = streamtest.ProbeClip
	decodeErrors      = streamtest.DecodeErrors
	frameHashes       = streamtest.FrameHashes
	presentationIndex = streamtest.PresentationIndex
	checkSamePictures = streamtest.CheckSamePictures
	checkTimestamps   = streamtest.CheckTimestamps
	mp4Box            = streamtest.MP4Box
	mp4Path           = streamtest.MP4Path
)

type clipProbe = streamtest.ClipProbe

// testStream is a test video demuxed as ingest hands it on (see
// streamtest.Stream).
type testStream struct {
	path string
	aus  []*media.AccessUnit
}

func loadStream(t testing.TB, name string) *testStream {
	t.Helper()
	s := streamtest.Load(t, name)
	return &testStream{path: s.Path, aus: s.AUs}
}

// writeClip muxes aus into a file in dir and returns its path and info.
func writeClip(t testing.TB, dir, name string, aus []*media.AccessUnit) (string, ClipInfo) {
	t.Helper()
	p := filepath.Join(dir, name)
	info, err := WriteMP4File(p, aus)
	if err != nil {
		t.Fatalf("WriteMP4File %s: %v", name, err)
	}
	return p, info
}

// checkPlayable asserts what every clip must be (streamtest.CheckPlayable)
// and that it holds what info says.
func checkPlayable(t testing.TB, path string, info ClipInfo) clipProbe {
	t.Helper()
	return streamtest.CheckPlayable(t, path, streamtest.Want{Frames: info.Frames, Keyframes: info.Keyframes, Duration: info.Duration})
}

// unitHistory is a camera's history as the recorder sees it (ClipSource),
// over the access units a test adds. The real one, pipeline/history,
// imports evidence, so evidence's tests cannot use it; its own tests cover
// the keyframe alignment, bounds and spilling this one leaves out.
type unitHistory struct {
	mu     sync.Mutex
	aus    []*media.AccessUnit // decode order, starting with a keyframe
	closed bool
}

// Close makes later clips fail as a closed history's do.
func (h *unitHistory) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
}

func (h *unitHistory) add(aus ...*media.AccessUnit) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.aus = append(h.aus, aus...)
}

func (h *unitHistory) Newest() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.aus) == 0 {
		return time.Time{}
	}
	return h.aus[len(h.aus)-1].Time
}

// Clip returns the units from the last keyframe at or before from through
// the last one at or before to.
func (h *unitHistory) Clip(from, to time.Time) ([]*media.AccessUnit, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHistoryClosed
	}
	start, end := 0, 0
	for i, au := range h.aus {
		if au.Key && !au.Time.After(from) {
			start = i
		}
		if !au.Time.After(to) {
			end = i + 1
		}
	}
	if end <= start {
		return nil, errors.New("no history for the clip range")
	}
	clip := h.aus[start:end:end]
	if clip[0].Time.After(from) {
		return clip, ErrShortHistory
	}
	return clip, nil
}
