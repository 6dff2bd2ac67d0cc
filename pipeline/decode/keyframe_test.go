package decode

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/streetwatch/streetwatch/internal/streamtest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
)

// Keyframes of two cameras of different sizes, decoded by Keyframe on
// several goroutines at once in any order, give each the picture (and
// PTS) the camera's own decoder gives, with no decoder kept per camera:
// what lets keyframes wait for detection still encoded.
func TestKeyframeDecodesAnyCamerasKeyframesOnAnyGoroutine(t *testing.T) {
	streams := [][]*media.AccessUnit{keyframes(t, "bench_720p.h264", 3), keyframes(t, "tiny.h264", 1)}
	type job struct {
		au   *media.AccessUnit
		want [32]byte
	}
	var jobs []job
	for _, keys := range streams {
		d, err := New(Config{Codec: media.CodecH264, KeyframesOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			jobs = append(jobs, job{k, pictureHash(t, d, k)})
		}
		d.Close()
	}
	const workers = 4
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := &frame.Frame{}
			defer f.Release()
			for i := range 3 * len(jobs) {
				j := jobs[(w+i)%len(jobs)]
				res, err := Keyframe(Config{Codec: media.CodecH264}, j.au, f)
				if err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
					return
				}
				if res.PTS != j.au.PTS || res.Corrupt != 0 {
					errs <- fmt.Errorf("worker %d: pts %d corrupt %d, want pts %d", w, res.PTS, res.Corrupt, j.au.PTS)
					return
				}
				if sha256.Sum256(f.Mat.ToBytes()) != j.want {
					errs <- fmt.Errorf("worker %d, job %d: another picture than the camera's own decoder makes", w, (w+i)%len(jobs))
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
	keyframeDecoders.mu.Lock()
	idle := 0
	for _, free := range keyframeDecoders.free {
		idle += len(free)
	}
	keyframeDecoders.mu.Unlock()
	if idle == 0 || idle > workers {
		t.Errorf("%d idle keyframe decoders after %d goroutines decoded, want 1 to %d", idle, workers, workers)
	}
}

// Keyframe decodes only what decodes by itself: a unit that is no
// keyframe, or a keyframe after lost pictures (it may be missing slices),
// is refused undecoded; a unit that is no picture at all is an error, and
// the decoder it borrowed still decodes the next keyframe.
func TestKeyframeRefusesWhatDoesNotDecodeByItself(t *testing.T) {
	key := keyframes(t, "tiny.h264", 1)[0]
	f := &frame.Frame{}
	defer f.Release()
	notKey := *key
	notKey.Key = false
	gap := *key
	gap.Gap = true
	for name, au := range map[string]*media.AccessUnit{"not a keyframe": &notKey, "after a gap": &gap} {
		if _, err := Keyframe(Config{Codec: media.CodecH264}, au, f); !errors.Is(err, ErrNeedKeyframe) {
			t.Errorf("%s: err %v, want ErrNeedKeyframe", name, err)
		}
	}
	junk := &media.AccessUnit{Codec: media.CodecH264, Key: true, PTS: 9000, NALUs: [][]byte{{0x65, 0xff, 0x00, 0x13}}}
	if _, err := Keyframe(Config{Codec: media.CodecH264}, junk, f); err == nil {
		t.Error("a keyframe of junk decoded without error")
	}
	if _, err := Keyframe(Config{Codec: media.CodecH264}, key, f); err != nil {
		t.Fatalf("the keyframe after the junk: %v", err)
	}
	if f.Width() == 0 {
		t.Fatal("no picture")
	}
}

// A keyframe missing half of its slices decodes to a concealed picture
// the codec flags corrupt: Keyframe reports it in Corrupt (the camera
// counts it as a decode error) and gives no picture.
func TestKeyframeReportsACorruptPicture(t *testing.T) {
	var key *media.AccessUnit
	for _, au := range streamtest.Load(t, "h264_slices32_1280x720.mp4").AUs {
		if au.Key {
			key = au
			break
		}
	}
	if key == nil {
		t.Fatal("no keyframe")
	}
	half := *key
	half.NALUs = nil
	slices := 0
	for _, n := range key.NALUs {
		if typ := n[0] & 0x1f; typ == 5 {
			slices++
			if slices%2 == 0 {
				continue // every other slice lost
			}
		}
		half.NALUs = append(half.NALUs, n)
	}
	if slices < 8 {
		t.Fatalf("the keyframe has %d slices, want many", slices)
	}
	f := &frame.Frame{}
	defer f.Release()
	res, err := Keyframe(Config{Codec: media.CodecH264}, &half, f)
	if res.Corrupt != 1 || !errors.Is(err, ErrNoPicture) {
		t.Fatalf("a keyframe missing half its slices: corrupt %d, err %v; want 1 and ErrNoPicture", res.Corrupt, err)
	}
	if res, err := Keyframe(Config{Codec: media.CodecH264}, key, f); err != nil || res.Corrupt != 0 {
		t.Fatalf("the whole keyframe after it: corrupt %d, err %v", res.Corrupt, err)
	}
}

// Detection keyframes may skip the loop filter: the picture is another
// (the deblocking filter's smoothing of block edges is gone) but close to
// the filtered one, and the contexts the pool shares between both kinds
// of decoder decode each keyframe as its own decoder asks: a filtered
// picture after an unfiltered one on the same context is the filtered
// picture the camera's own decoder makes. Only keyframes-only decoders
// may skip it.
func TestKeyframesWithoutTheLoopFilter(t *testing.T) {
	if _, err := New(Config{Codec: media.CodecH264, SkipLoopFilter: true}); err == nil {
		t.Error("New made a decoder of every frame that skips the loop filter; its pictures would drift")
	}
	keys := streetKeyframes(t)
	d, err := New(Config{Codec: media.CodecH264, KeyframesOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	filtered := pictureHash(t, d, keys[1])
	d.Close()

	plain, fast := &frame.Frame{}, &frame.Frame{}
	defer plain.Release()
	defer fast.Release()
	for range 2 { // each kind after the other on the pool's one context
		if _, err := Keyframe(Config{Codec: media.CodecH264, SkipLoopFilter: true}, keys[1], fast); err != nil {
			t.Fatal(err)
		}
		if _, err := Keyframe(Config{Codec: media.CodecH264}, keys[1], plain); err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(plain.Mat.ToBytes()) != filtered {
			t.Fatal("a keyframe decoded with the loop filter after one without it is not the filtered picture")
		}
	}
	a, b := plain.Mat.ToBytes(), fast.Mat.ToBytes()
	diff, changed := 0, 0
	for i := range a {
		if x := int(a[i]) - int(b[i]); x != 0 {
			changed++
			diff += max(x, -x)
		}
	}
	mean := float64(diff) / float64(len(a))
	t.Logf("without the loop filter: %.1f%% of the bytes differ, mean difference %.3f grey levels", 100*float64(changed)/float64(len(a)), mean)
	if changed == 0 {
		t.Fatal("the picture without the loop filter is the filtered one: the setting did nothing")
	}
	if mean > 1 {
		t.Errorf("mean difference %.2f grey levels from the filtered picture, want at most 1", mean)
	}
}
