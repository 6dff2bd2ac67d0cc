package decode

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/internal/streamtest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
)

// keyframes are the first n keyframes of a raw test stream.
func keyframes(t *testing.T, name string, n int) []*media.AccessUnit {
	t.Helper()
	var keys []*media.AccessUnit
	for _, au := range accessUnits(media.CodecH264, readStream(t, name)) {
		if au.Key && len(keys) < n {
			keys = append(keys, au)
		}
	}
	if len(keys) < n {
		t.Fatalf("%s: %d keyframes, want %d", name, len(keys), n)
	}
	return keys
}

// streetKeyframes returns the keyframes of the dumping scenario (720p25,
// about 4 Mbit/s): a street as a camera encodes it, where the loop filter
// has block edges to smooth (the synthetic bench_720p.h264 has almost none).
func streetKeyframes(t testing.TB) []*media.AccessUnit {
	t.Helper()
	var keys []*media.AccessUnit
	for _, au := range streamtest.Demux(t, filepath.Join(mediatest.Root(), "testdata", "scenarios", "dumping.mp4")) {
		if au.Key {
			keys = append(keys, au)
		}
	}
	return keys
}

// pictureHash decodes one keyframe and hashes the BGR picture.
func pictureHash(t *testing.T, d Decoder, key *media.AccessUnit) [32]byte {
	t.Helper()
	f := &frame.Frame{}
	defer f.Release()
	if got := decodeInto(t, d, []*media.AccessUnit{key}, f); len(got) != 1 {
		t.Fatalf("%d pictures from one keyframe", len(got))
	}
	return sha256.Sum256(f.Mat.ToBytes())
}

// Keyframe-only decoders of two cameras of different sizes take turns
// with the codec contexts keyframeContexts keeps: each picture is the one
// the camera's decoder makes alone, and between keyframes neither decoder
// holds a context (one context serves both).
func TestKeyframeDecodersShareContextsAndDecodeTheSame(t *testing.T) {
	streams := [][]*media.AccessUnit{keyframes(t, "bench_720p.h264", 3), keyframes(t, "tiny.h264", 1)}
	streams[1] = append(streams[1], streams[1][0], streams[1][0]) // tiny has one keyframe: sent three times
	alone := make([][][32]byte, len(streams))
	for i, keys := range streams {
		d, err := New(Config{Codec: media.CodecH264, KeyframesOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			alone[i] = append(alone[i], pictureHash(t, d, k))
		}
		d.Close()
	}

	decs := make([]Decoder, len(streams))
	for i := range decs {
		d, err := New(Config{Codec: media.CodecH264, KeyframesOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		decs[i] = d
	}
	kept, opened := keyframeContexts.idle(), contextsOpened.Load()
	for k := range 3 {
		for i, d := range decs {
			if got := pictureHash(t, d, streams[i][k]); got != alone[i][k] {
				t.Fatalf("camera %d keyframe %d: another picture than its decoder makes alone", i, k)
			}
			if d.(*avDecoder).ctx != nil {
				t.Fatalf("camera %d holds a codec context between keyframes", i)
			}
		}
	}
	if n := contextsOpened.Load() - opened; n != 0 {
		t.Fatalf("%d codec contexts opened for 6 keyframes of two cameras, want none (the one they share was open)", n)
	}
	if now := keyframeContexts.idle(); now != kept || now > keyframeContexts.max {
		t.Fatalf("contexts kept: %d before, %d after (at most %d): the cameras did not share one", kept, now, keyframeContexts.max)
	}
}

// Cameras that come up in phase decode their keyframes at the same
// moment: more of them than the pool opens contexts for wait their turn
// (none is refused, none opens a context past the bound), and every
// picture is the right one.
func TestCamerasInPhaseWaitForAContextAndOpenNoMore(t *testing.T) {
	keys := keyframes(t, "bench_720p.h264", 2)
	d, err := New(Config{Codec: media.CodecH264, KeyframesOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	want := [][32]byte{pictureHash(t, d, keys[0]), pictureHash(t, d, keys[1])}
	d.Close()

	k := contextKey{codec: d.(*avDecoder).ctxKey.codec, threads: 1}
	cameras := 4 * keyframeContexts.max
	errs := make(chan error, cameras)
	var wg sync.WaitGroup
	for c := range cameras {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := New(Config{Codec: media.CodecH264, KeyframesOnly: true})
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			f := &frame.Frame{}
			defer f.Release()
			for i := range 3 {
				key := keys[(c+i)%2]
				if got := decodeInto(t, d, []*media.AccessUnit{key}, f); len(got) != 1 {
					errs <- fmt.Errorf("camera %d: %d pictures from a keyframe", c, len(got))
					return
				}
				if sha256.Sum256(f.Mat.ToBytes()) != want[(c+i)%2] {
					errs <- fmt.Errorf("camera %d keyframe %d: another picture", c, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	keyframeContexts.mu.Lock()
	open := keyframeContexts.open[k]
	keyframeContexts.mu.Unlock()
	if open > keyframeContexts.max {
		t.Fatalf("%d contexts open for %d cameras, at most %d", open, cameras, keyframeContexts.max)
	}
}
