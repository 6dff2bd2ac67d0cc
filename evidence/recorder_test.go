package evidence

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"image"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/internal/miniotest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/violation"
)

type storedLog struct {
	mu  sync.Mutex
	got []Stored
}

func (l *storedLog) add(s Stored) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, s)
	return nil
}

func (l *storedLog) wait(t *testing.T, n int) []Stored {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l.mu.Lock()
		got := append([]Stored(nil), l.got...)
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d violations stored", len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verifyStored checks a stored bundle against its manifest, signed by key;
// open reads the bundle's files from the store.
func verifyStored(t *testing.T, store Store, prefix string, key ed25519.PrivateKey) (open func(string) (io.ReadCloser, error), res *VerifyResult, err error) {
	t.Helper()
	open = func(name string) (io.ReadCloser, error) { return store.Get(context.Background(), prefix+name) }
	rc, err := open(ManifestName)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	res, err = Verify(data, open, []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, true)
	return open, res, err
}

// testEvent is a dumping at 12 s confirmed at 20 s, with gray frames.
func testEvent(id string) *Event {
	frame := func() gocv.Mat {
		m := gocv.NewMatWithSize(360, 640, gocv.MatTypeCV8UC3)
		m.SetTo(gocv.NewScalar(90, 120, 150, 0))
		return m
	}
	return &Event{
		Violation: ViolationRecord{Record: violation.Record{ID: id, Type: violation.IllegalDumping, Camera: "cam", Zone: "pavement",
			Class: "garbage_bag", FirstSeen: clipTestEpoch.Add(12 * time.Second), ConfirmedAt: clipTestEpoch.Add(20 * time.Second),
			Confidence: 0.8, Box: geom.Box{X1: 300, Y1: 200, X2: 360, Y2: 260}, ActorClass: "person"}},
		Camera:      CameraRecord{ID: "cam", Name: "Station 7"},
		Zone:        []image.Point{{0, 180}, {640, 180}, {640, 360}, {0, 360}},
		TimeZone:    "Asia/Shanghai",
		BestFrame:   frame(),
		BestMarks:   []Mark{{Rect: image.Rect(300, 200, 360, 260), Label: "garbage_bag 0.80", Color: ColorObject}},
		AppearFrame: frame(),
		AppearMarks: []Mark{{Rect: image.Rect(250, 100, 300, 260), Label: "actor: person", Color: ColorActor}},
	}
}

// startSignedRecording runs a recorder (3 s pre- and post-roll, signing
// with key) over 40 s of history, into a local store, until the test ends.
func startSignedRecording(t *testing.T) (context.Context, *Recorder, *Uploader, *LocalStore, ed25519.PrivateKey, *storedLog) {
	t.Helper()
	h := &unitHistory{}
	h.add(looped(loadStream(t, "h264_640x360.mp4").aus, 4)...) // 40 s
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	store := &LocalStore{Dir: t.TempDir()}
	up := newUploader(t, UploaderConfig{Dir: t.TempDir()}, UploaderDeps{Store: store})
	log := &storedLog{}
	rec := newRecorder(t, RecorderConfig{PreRoll: 3 * time.Second, PostRoll: 3 * time.Second, JPEGQuality: 85, SignKey: key,
		Version: "test", PendingDir: t.TempDir()},
		RecorderDeps{Uploader: up, History: func(string) ClipSource { return h }, OnStored: log.add})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go up.Run(ctx)
	go rec.Run(ctx)
	return ctx, rec, up, store, key, log
}

func TestRecorderStoresASignedBundleWithTheClip(t *testing.T) {
	ctx, rec, up, store, key, log := startSignedRecording(t)
	if err := rec.Record(testEvent("01TESTA")); err != nil {
		t.Fatal(err)
	}
	st := log.wait(t, 1)[0]
	if err := up.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	open, res, err := verifyStored(t, store, st.Prefix, key)
	if err != nil || !res.OK() || !res.Signed || res.Files != 5 {
		t.Fatalf("verify: %v %+v", err, res)
	}
	if !strings.HasPrefix(st.Prefix, "2025/03/14/cam/01TESTA/") {
		t.Errorf("prefix %q", st.Prefix)
	}
	c := st.Manifest.Clip
	if c == nil || c.Start.After(clipTestEpoch.Add(9*time.Second)) || c.End.Before(clipTestEpoch.Add(21*time.Second)) || c.Truncated {
		t.Fatalf("clip %+v, want from <= 9 s through >= 21 s", c)
	}
	// The clip plays and holds what the manifest says.
	tmp := filepath.Join(t.TempDir(), "clip.mp4")
	rc, _ := open("clip.mp4")
	f, _ := os.Create(tmp)
	_, _ = io.Copy(f, rc)
	rc.Close()
	f.Close()
	if p := probeClip(t, tmp); len(p.Packets) != c.Frames {
		t.Errorf("clip has %d frames, manifest %d", len(p.Packets), c.Frames)
	}
	if errs := decodeErrors(t, tmp); errs != "" {
		t.Errorf("ffmpeg: %s", errs)
	}
}

func TestRecorderFinishesAViolationConfirmedBeforeACrash(t *testing.T) {
	pending := t.TempDir()
	h := &unitHistory{}
	aus := looped(loadStream(t, "h264_640x360.mp4").aus, 4)
	// The camera got only as far as the confirmation: the post-roll never
	// comes, and the process dies while waiting for it.
	var upTo []*media.AccessUnit
	for _, au := range aus {
		if au.Time.After(clipTestEpoch.Add(20 * time.Second)) {
			break
		}
		upTo = append(upTo, au)
	}
	h.add(upTo...)
	crashed := newRecorder(t, RecorderConfig{PostRoll: time.Hour, JPEGQuality: 85, PendingDir: pending},
		RecorderDeps{Uploader: newUploader(t, UploaderConfig{Dir: t.TempDir()}, UploaderDeps{Store: &LocalStore{Dir: t.TempDir()}}),
			History: func(string) ClipSource { return h }})
	// The crashed process's recorder waits for a post-roll that never
	// comes; it is stopped only when the test ends (no goroutine leaks).
	crashCtx, crashStop := context.WithCancel(context.Background())
	crashDone := make(chan struct{})
	go func() { crashed.Run(crashCtx); close(crashDone) }()
	t.Cleanup(func() { crashStop(); <-crashDone })
	if err := crashed.Record(testEvent("01TESTB")); err != nil {
		t.Fatal(err)
	}
	// Restart: a new recorder on the same pending folder, a fresh (empty)
	// history. The violation is finished with its snapshots and a note.
	store := &LocalStore{Dir: t.TempDir()}
	up := newUploader(t, UploaderConfig{Dir: t.TempDir()}, UploaderDeps{Store: store})
	var log storedLog
	fresh := &unitHistory{}
	restarted := newRecorder(t, RecorderConfig{PreRoll: 3 * time.Second, PostRoll: 3 * time.Second, JPEGQuality: 85, PendingDir: pending},
		RecorderDeps{Uploader: up, History: func(string) ClipSource { return fresh }, OnStored: log.add})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go up.Run(ctx)
	go restarted.Run(ctx)
	st := log.wait(t, 1)[0]
	if st.Violation.ID != "01TESTB" || st.Manifest.Clip != nil || len(st.Manifest.Notes) == 0 {
		t.Fatalf("stored %+v, want 01TESTB without a clip and with a note", st.Manifest)
	}
	names := map[string]bool{}
	for _, f := range st.Manifest.Files {
		names[f.Name] = true
	}
	for _, n := range []string{"snapshot.jpg", "snapshot_annotated.jpg", "actor.jpg", "actor_annotated.jpg"} {
		if !names[n] {
			t.Errorf("missing %s after the restart", n)
		}
	}
	if err := up.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(pending, "01TESTB")); !os.IsNotExist(err) {
		t.Errorf("pending folder left behind: %v", err)
	}
}

// A violation recorded while MinIO is down arrives once it is back: clip,
// snapshots and manifest downloaded from MinIO verify against the signed
// manifest, and the presigned link serves the clip.
func TestRecorderToMinIOThroughAnOutage(t *testing.T) {
	srv := miniotest.Start(t)
	store := newS3Store(t, srv, "city/")
	h := &unitHistory{}
	h.add(looped(loadStream(t, "h265_640x360.mp4").aus, 4)...)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	m := NewMetrics(nil)
	up := newUploader(t, UploaderConfig{Dir: t.TempDir(), BackoffMin: 100 * time.Millisecond, BackoffMax: 500 * time.Millisecond},
		UploaderDeps{Store: store, Metrics: m})
	var log storedLog
	rec := newRecorder(t, RecorderConfig{PreRoll: 3 * time.Second, PostRoll: 3 * time.Second, JPEGQuality: 85, SignKey: key,
		PendingDir: t.TempDir()},
		RecorderDeps{Uploader: up, History: func(string) ClipSource { return h }, OnStored: log.add, Metrics: m})
	srv.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go up.Run(ctx)
	go rec.Run(ctx)
	if err := rec.Record(testEvent("01TESTC")); err != nil {
		t.Fatal(err)
	}
	st := log.wait(t, 1)[0]
	deadline := time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(m.UploadFailures) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no failed upload attempts counted while MinIO was down")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, b := up.Pending(); n != 1 || b == 0 || testutil.ToFloat64(m.SpoolBytes) == 0 {
		t.Fatalf("spool during the outage: %d bundles, %d bytes", n, b)
	}
	srv.Restart()
	fctx, fcancel := context.WithTimeout(ctx, time.Minute)
	defer fcancel()
	if err := up.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	_, res, err := verifyStored(t, store, st.Prefix, key)
	if err != nil || !res.OK() || res.Files != 5 {
		t.Fatalf("verify from MinIO: %v %+v", err, res)
	}
	if st.Manifest.Clip == nil || st.Manifest.Clip.Codec != "H265" {
		t.Fatalf("clip %+v", st.Manifest.Clip)
	}
	u, err := store.URL(ctx, st.Prefix+"clip.mp4", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" || int64(len(body)) != st.Manifest.Files[0].Size {
		t.Fatalf("presigned clip: %s %q %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
}

// The hand-off (ticket creation) fails: the violation stays pending and is
// handed off again, after a restart too, with the very same manifest.
func TestRecorderRetriesTheHandOffWithTheSameManifest(t *testing.T) {
	pending := t.TempDir()
	h := &unitHistory{}
	h.add(looped(loadStream(t, "h264_640x360.mp4").aus, 4)...)
	var mu sync.Mutex
	var hashes []string
	handOff := func(fail bool) func(Stored) error {
		return func(s Stored) error {
			mu.Lock()
			defer mu.Unlock()
			hashes = append(hashes, s.ManifestSHA256)
			if fail {
				return errors.New("ticket store unavailable")
			}
			return nil
		}
	}
	up := newUploader(t, UploaderConfig{Dir: t.TempDir()}, UploaderDeps{Store: &LocalStore{Dir: t.TempDir()}})
	cfg := RecorderConfig{PreRoll: 3 * time.Second, PostRoll: 3 * time.Second, JPEGQuality: 85, PendingDir: pending}
	first := newRecorder(t, cfg, RecorderDeps{Uploader: up, History: func(string) ClipSource { return h }, OnStored: handOff(true)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { first.Run(ctx); close(done) }()
	if err := first.Record(testEvent("01TESTD")); err != nil {
		t.Fatal(err)
	}
	for {
		mu.Lock()
		n := len(hashes)
		mu.Unlock()
		if n >= 2 { // failed, retried, failed again
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel() // stop (a crash would do the same to the pending folder)
	<-done
	if _, err := os.Stat(filepath.Join(pending, "01TESTD", ManifestName)); err != nil {
		t.Fatalf("the violation is no longer pending: %v", err)
	}
	bundles, _ := up.Pending()
	second := newRecorder(t, cfg, RecorderDeps{Uploader: up, History: func(string) ClipSource { return nil }, OnStored: handOff(false)})
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go second.Run(ctx2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(pending, "01TESTD")); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still pending after the restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range hashes {
		if h != hashes[0] || h == "" {
			t.Fatalf("hand-offs with different manifests: %v", hashes)
		}
	}
	if again, _ := up.Pending(); again != bundles {
		t.Fatalf("the bundle was spooled again after the restart: %d bundles, before %d", again, bundles)
	}
}

// The camera drops during the post-roll: once the post-roll (plus grace)
// has passed, the clip holds what was received and says it is truncated.
func TestRecorderCutsWhatArrivedWhenTheCameraDropsDuringPostRoll(t *testing.T) {
	h := &unitHistory{}
	var upTo []*media.AccessUnit
	for _, au := range looped(loadStream(t, "h264_640x360.mp4").aus, 4) {
		if au.Time.After(clipTestEpoch.Add(21 * time.Second)) { // 1 s of the 3 s post-roll
			break
		}
		upTo = append(upTo, au)
	}
	h.add(upTo...)
	up := newUploader(t, UploaderConfig{Dir: t.TempDir()}, UploaderDeps{Store: &LocalStore{Dir: t.TempDir()}})
	var log storedLog
	rec := newRecorder(t, RecorderConfig{PreRoll: 3 * time.Second, PostRoll: 3 * time.Second, JPEGQuality: 85, PendingDir: t.TempDir()},
		RecorderDeps{Uploader: up, History: func(string) ClipSource { return h }, OnStored: log.add})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rec.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := rec.Record(testEvent("01TESTE")); err != nil {
		t.Fatal(err)
	}
	c := log.wait(t, 1)[0].Manifest.Clip
	if c == nil || !c.Truncated || c.End.After(clipTestEpoch.Add(21*time.Second)) || c.End.Before(clipTestEpoch.Add(20*time.Second)) {
		t.Fatalf("clip %+v, want one ending at the drop (20-21 s), marked truncated", c)
	}
}

// The spool cannot be written (its folder's path is blocked, as by a full
// or missing disk): the violation stays pending and is spooled and handed
// off once the spool works again, without a restart.
func TestRecorderRetriesASpoolThatCannotBeWritten(t *testing.T) {
	var log storedLog
	rec, unblock := recorderWithBlockedSpool(t, log.add)
	up := rec.uploader
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rec.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := rec.Record(testEvent("01TESTF")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the first attempt fails
	log.mu.Lock()
	early := len(log.got)
	log.mu.Unlock()
	if early != 0 {
		t.Fatal("handed off although the spool cannot be written")
	}
	unblock() // the disk is back
	if st := log.wait(t, 1)[0]; st.Violation.ID != "01TESTF" || st.Manifest.Clip == nil {
		t.Fatalf("stored %+v", st)
	}
	if n, _ := up.Pending(); n != 1 {
		t.Fatalf("%d bundles in the spool, want 1", n)
	}
}

func newRecorder(t testing.TB, cfg RecorderConfig, deps RecorderDeps) *Recorder {
	t.Helper()
	if deps.Log == nil {
		deps.Log = testLogger(t)
	}
	r, err := NewRecorder(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A violation recorded after the recorder stopped (the pipeline shutting
// down) starts nothing nobody waits for: it stays pending, whole, and the
// next start finishes it.
func TestRecorderKeepsAViolationRecordedAfterStopPending(t *testing.T) {
	h := &unitHistory{}
	h.add(looped(loadStream(t, "h264_640x360.mp4").aus, 4)...)
	pending := t.TempDir()
	up := newUploader(t, UploaderConfig{Dir: t.TempDir()}, UploaderDeps{Store: &LocalStore{Dir: t.TempDir()}})
	cfg := RecorderConfig{PreRoll: 3 * time.Second, PostRoll: 3 * time.Second, JPEGQuality: 85, PendingDir: pending}
	var log storedLog
	rec := newRecorder(t, cfg, RecorderDeps{Uploader: up, History: func(string) ClipSource { return h }, OnStored: log.add})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rec.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rec.Record(testEvent("01TESTG")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // what an unwaited goroutine would need to spool it
	if _, err := os.Stat(filepath.Join(pending, "01TESTG", pendingEvent)); err != nil {
		t.Fatalf("the violation is not pending: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pending, "01TESTG", ManifestName)); !os.IsNotExist(err) {
		t.Fatalf("a manifest was made after the recorder stopped: %v", err)
	}
	if n, _ := up.Pending(); n != 0 || len(log.got) != 0 {
		t.Fatalf("spooled (%d) or handed off (%d) after the recorder stopped", n, len(log.got))
	}
	// The next start finishes it.
	next := newRecorder(t, cfg, RecorderDeps{Uploader: up, OnStored: log.add})
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { next.Run(ctx2); close(done) }()
	defer func() { cancel2(); <-done }()
	if st := log.wait(t, 1)[0]; st.Violation.ID != "01TESTG" {
		t.Fatalf("stored %+v", st)
	}
}

// A history closed under a violation (the recorder outlived it) must not
// make a final bundle without the clip: the violation stays pending, with
// no manifest, for the next start.
func TestRecorderDoesNotFinishAViolationFromAClosedHistory(t *testing.T) {
	h := &unitHistory{}
	h.add(looped(loadStream(t, "h264_640x360.mp4").aus, 4)...)
	h.Close()
	pending := t.TempDir()
	up := newUploader(t, UploaderConfig{Dir: t.TempDir()}, UploaderDeps{Store: &LocalStore{Dir: t.TempDir()}})
	var log storedLog
	rec := newRecorder(t, RecorderConfig{PreRoll: 3 * time.Second, PostRoll: 3 * time.Second, JPEGQuality: 85, PendingDir: pending},
		RecorderDeps{Uploader: up, History: func(string) ClipSource { return h }, OnStored: log.add})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rec.Run(ctx); close(done) }()
	if err := rec.Record(testEvent("01TESTH")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the first attempt
	cancel()
	<-done
	if _, err := os.Stat(filepath.Join(pending, "01TESTH", ManifestName)); !os.IsNotExist(err) {
		t.Fatalf("a manifest without the clip was made final: %v", err)
	}
	if n, _ := up.Pending(); n != 0 || len(log.got) != 0 {
		t.Fatalf("spooled (%d) or handed off (%d) without the clip", n, len(log.got))
	}
}

// A station visit is recorded like a violation (its own type, no actor
// picture), and what it adds (its station, its stop) is in the signed
// manifest's "extra".
func TestRecorderWritesAStationVisitWithItsExtraInTheSignedManifest(t *testing.T) {
	ctx, rec, up, store, key, log := startSignedRecording(t)
	ev := testEvent("01VISIT")
	ev.Violation.Type, ev.Violation.Zone, ev.Violation.Class, ev.Violation.ActorClass = violation.StationVisit, "bay", "vehicle", ""
	ev.AppearFrame.Close()
	ev.AppearFrame, ev.AppearMarks = gocv.Mat{}, nil
	stop := clipTestEpoch.Add(14 * time.Second).Format(time.RFC3339Nano)
	ev.Extra = map[string]any{"station": "baiyun-07", "stop": stop}
	if err := rec.Record(ev); err != nil {
		t.Fatal(err)
	}
	st := log.wait(t, 1)[0]
	if err := up.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	open, res, err := verifyStored(t, store, st.Prefix, key)
	if err != nil || !res.OK() || !res.Signed || res.Files != 3 {
		t.Fatalf("verify: %v %+v", err, res)
	}
	rc, _ := open(ManifestName)
	data, _ := io.ReadAll(rc)
	rc.Close()
	m, err := DecodeManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []*Manifest{m, st.Manifest} {
		if got.Violation.Type != violation.StationVisit || got.Extra["station"] != "baiyun-07" || got.Extra["stop"] != stop {
			t.Errorf("manifest type %s extra %v", got.Violation.Type, got.Extra)
		}
	}
	if c := m.Clip; c == nil || c.Start.After(clipTestEpoch.Add(9*time.Second)) || c.End.Before(clipTestEpoch.Add(21*time.Second)) {
		t.Errorf("clip %+v, want from <= 9 s (arrival - pre-roll) through >= 21 s", c)
	}
}
