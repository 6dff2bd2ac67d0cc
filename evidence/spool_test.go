package evidence

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/internal/miniotest"
)

// testBundles makes n bundles whose files have distinct bytes; the clip is
// given as a file path (as the Recorder does), the rest as data, and the
// manifest comes first so that the Uploader has to reorder it.
func testBundles(t *testing.T, n int) []*Bundle {
	t.Helper()
	at := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	var out []*Bundle
	for i := range n {
		id := fmt.Sprintf("v-%03d", i)
		clip := filepath.Join(t.TempDir(), "clip.mp4")
		if err := os.WriteFile(clip, []byte(strings.Repeat(fmt.Sprintf("clip %d ", i), 5000)), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, &Bundle{
			ViolationID: id,
			Prefix:      Prefix(at, "cam-1", id),
			Files: []File{
				{Name: ManifestName, ContentType: "application/json", Data: []byte(fmt.Sprintf(`{"id":%q}`, id))},
				{Name: "clip.mp4", ContentType: "video/mp4", Path: clip},
				{Name: "snapshot.jpg", ContentType: "image/jpeg", Data: []byte(fmt.Sprintf("jpeg %d", i))},
			},
		})
	}
	return out
}

// fileBytes is what a bundle file holds, read from where the caller gave it.
func fileBytes(t *testing.T, f File) string {
	t.Helper()
	if f.Data != nil {
		return string(f.Data)
	}
	b, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// snapshotBundles keeps the bytes of every file before the test deletes
// the caller's copies.
func snapshotBundles(t *testing.T, bundles []*Bundle) map[string]string {
	want := map[string]string{}
	for _, b := range bundles {
		for _, f := range b.Files {
			want[b.Prefix+f.Name] = fileBytes(t, f)
		}
	}
	return want
}

func checkStored(t *testing.T, s Store, want map[string]string) {
	t.Helper()
	for key, data := range want {
		if got := getString(t, s, key); got != data {
			t.Errorf("%s: stored %d bytes differ from the %d submitted", key, len(got), len(data))
		}
	}
	all, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Errorf("store holds %d objects, want %d: %v", len(all), len(want), objectKeys(all))
	}
}

// runUploader runs u until the test ends or the returned stop is called.
func runUploader(t *testing.T, u *Uploader) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func flush(t *testing.T, u *Uploader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond (a metric, something outside the Uploader's own
// signals) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func spoolEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func newTestUploader(t *testing.T, s Store, dir string, m *Metrics) *Uploader {
	return newUploader(t, UploaderConfig{Dir: dir, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond},
		UploaderDeps{Store: s, Metrics: m, Log: testLogger(t)})
}

func TestUploaderLosesNothingWhileStoreIsDown(t *testing.T) {
	srv := miniotest.Start(t)
	store := newS3Store(t, srv, "")
	srv.Stop()

	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	u := newTestUploader(t, store, t.TempDir(), m)
	runUploader(t, u)

	bundles := testBundles(t, 3)
	want := snapshotBundles(t, bundles)
	var total int64
	for _, b := range bundles {
		if err := u.Submit(b); err != nil {
			t.Fatal(err)
		}
		for _, f := range b.Files {
			total += int64(len(fileBytes(t, f)))
			if f.Path != "" {
				os.Remove(f.Path) // the spool has its own copy once Submit returns
			}
		}
	}
	waitFor(t, "two failed upload attempts", func() bool { return testutil.ToFloat64(m.UploadFailures) >= 2 })
	if n, bytes := u.Pending(); n != 3 || bytes != total {
		t.Fatalf("Pending during outage = %d bundles %d bytes, want 3, %d", n, bytes, total)
	}
	if g := testutil.ToFloat64(m.SpoolBundles); g != 3 {
		t.Fatalf("spool bundles gauge %v, want 3", g)
	}
	if g := testutil.ToFloat64(m.SpoolBytes); g != float64(total) {
		t.Fatalf("spool bytes gauge %v, want %d", g, total)
	}

	srv.Restart()
	flush(t, u)
	checkStored(t, store, want)
	if n, bytes := u.Pending(); n != 0 || bytes != 0 {
		t.Fatalf("Pending after flush = %d, %d", n, bytes)
	}
	if testutil.ToFloat64(m.SpoolBundles) != 0 || testutil.ToFloat64(m.SpoolBytes) != 0 {
		t.Fatal("spool gauges not back to 0")
	}
	if got := histogramCount(t, reg, "streetwatch_evidence_upload_seconds"); got != 3 {
		t.Fatalf("upload_seconds observed %d uploads, want 3", got)
	}
	if left := spoolEntries(t, u.dir); len(left) != 0 {
		t.Fatalf("spool not empty after upload: %v", left)
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestUploaderResumesAfterRestartStoringEachFileOnce(t *testing.T) {
	srv := miniotest.Start(t)
	rec := &recordingStore{Store: newS3Store(t, srv, "")}
	dir := t.TempDir()
	bundles := testBundles(t, 3)
	want := snapshotBundles(t, bundles)

	// First process: the store takes the files but refuses the first
	// bundle's manifest, then goes down; the process stops with everything
	// still spooled except those files.
	first := bundles[0].Prefix + ManifestName
	rec.failPut = func(key string) bool { return key == first }
	m1 := NewMetrics(nil)
	u1 := newTestUploader(t, rec, dir, m1)
	stop1 := runUploader(t, u1)
	for _, b := range bundles {
		if err := u1.Submit(b); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the manifest to be refused", func() bool { return testutil.ToFloat64(m1.UploadFailures) >= 1 })
	srv.Stop()
	stop1()
	if puts := rec.putKeys(); len(puts) != 2 || strings.HasSuffix(puts[0], ManifestName) || strings.HasSuffix(puts[1], ManifestName) {
		t.Fatalf("first run stored %v, want the first bundle's two non-manifest files", puts)
	}

	// Second process on the same spool, store back.
	srv.Restart()
	rec.mu.Lock()
	rec.failPut = nil
	rec.mu.Unlock()
	u2 := newTestUploader(t, rec, dir, NewMetrics(nil))
	if n, _ := u2.Pending(); n != 3 {
		t.Fatalf("restarted uploader found %d spooled bundles, want 3", n)
	}
	runUploader(t, u2)
	flush(t, u2)
	checkStored(t, rec, want)
	count := map[string]int{}
	for _, k := range rec.putKeys() {
		count[k]++
	}
	for key := range want {
		if count[key] != 1 {
			t.Errorf("%s stored %d times, want exactly once", key, count[key])
		}
	}
	if left := spoolEntries(t, dir); len(left) != 0 {
		t.Fatalf("spool not empty: %v", left)
	}
}

func TestUploaderStoresOldestFirstManifestLast(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rec := &recordingStore{Store: &LocalStore{Dir: t.TempDir()}}
	u := newTestUploader(t, rec, t.TempDir(), nil)
	bundles := testBundles(t, 4)
	for _, b := range bundles { // spooled before Run starts: all queued
		if err := u.Submit(b); err != nil {
			t.Fatal(err)
		}
	}
	stop := runUploader(t, u)
	flush(t, u)
	stop() // Run's goroutine ends with it (goleak above)
	var want []string
	for _, b := range bundles {
		want = append(want, b.Prefix+"clip.mp4", b.Prefix+"snapshot.jpg", b.Prefix+ManifestName)
	}
	if got := rec.putKeys(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("store order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUploaderIgnoresHalfWrittenBundle(t *testing.T) {
	dir := t.TempDir()
	// What a crash inside Submit leaves: data written, no descriptor (one
	// folder with only the descriptor's temp file).
	for name, files := range map[string][]string{
		"1773129600000000000": {"0.data", "1.data"},
		"1773129600000000001": {"0.data", descriptorName + ".tmp"},
	} {
		os.Mkdir(filepath.Join(dir, name), 0o755)
		for _, f := range files {
			os.WriteFile(filepath.Join(dir, name, f), []byte(`{"version":1,"violation_id":"x","prefix":"2026/03/10/c/x/","files":[{"name":"clip.mp4","size":4,"data":"0.data"}]}`), 0o644)
		}
	}
	rec := &recordingStore{Store: &LocalStore{Dir: t.TempDir()}}
	u := newTestUploader(t, rec, dir, nil)
	if n, _ := u.Pending(); n != 0 {
		t.Fatalf("half-written bundles counted as pending: %d", n)
	}
	runUploader(t, u)
	good := testBundles(t, 1)
	want := snapshotBundles(t, good)
	if err := u.Submit(good[0]); err != nil {
		t.Fatal(err)
	}
	flush(t, u)
	checkStored(t, rec, want)
	if puts := rec.putKeys(); len(puts) != 3 {
		t.Fatalf("stored %v, want only the complete bundle", puts)
	}
	if left := spoolEntries(t, dir); len(left) != 0 {
		t.Fatalf("half-written folders not cleaned: %v", left)
	}
}

func TestUploaderQuarantinesCorruptBundle(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "1773129600000000000")
	os.Mkdir(bad, 0o755)
	os.WriteFile(filepath.Join(bad, descriptorName), []byte("{not json"), 0o644)
	u := newTestUploader(t, &LocalStore{Dir: t.TempDir()}, dir, nil)
	if n, _ := u.Pending(); n != 0 {
		t.Fatalf("corrupt bundle pending: %d", n)
	}
	if _, err := os.Stat(bad + badSuffix); err != nil {
		t.Fatalf("corrupt bundle not quarantined: %v", err)
	}
}

func TestSubmitRejectsBadBundles(t *testing.T) {
	dir := t.TempDir()
	u := newTestUploader(t, &LocalStore{Dir: t.TempDir()}, dir, nil)
	ok := File{Name: "clip.mp4", Data: []byte("x")}
	for name, b := range map[string]*Bundle{
		"nil":              nil,
		"no id":            {Prefix: "2026/03/10/c/v/", Files: []File{ok}},
		"no files":         {ViolationID: "v", Prefix: "2026/03/10/c/v/"},
		"prefix without /": {ViolationID: "v", Prefix: "2026/03/10/c/v", Files: []File{ok}},
		"escaping key":     {ViolationID: "v", Prefix: "2026/03/10/c/v/", Files: []File{{Name: "../../x", Data: []byte("x")}}},
		"duplicate file":   {ViolationID: "v", Prefix: "2026/03/10/c/v/", Files: []File{ok, ok}},
		"no data":          {ViolationID: "v", Prefix: "2026/03/10/c/v/", Files: []File{{Name: "clip.mp4"}}},
		"missing path":     {ViolationID: "v", Prefix: "2026/03/10/c/v/", Files: []File{{Name: "clip.mp4", Path: filepath.Join(dir, "nope")}}},
	} {
		if err := u.Submit(b); err == nil {
			t.Errorf("%s: Submit succeeded", name)
		}
	}
	if n, _ := u.Pending(); n != 0 {
		t.Fatalf("rejected bundles pending: %d", n)
	}
	if left := spoolEntries(t, dir); len(left) != 0 {
		t.Fatalf("rejected bundles left files: %v", left)
	}
}

func TestFlushStopsWithContext(t *testing.T) {
	u := newTestUploader(t, &LocalStore{Dir: t.TempDir()}, t.TempDir(), nil)
	if err := u.Submit(testBundles(t, 1)[0]); err != nil { // never uploaded: Run is not running
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := u.Flush(ctx); err == nil || !strings.Contains(err.Error(), "1 bundles still spooled") {
		t.Fatalf("Flush = %v", err)
	}
}

func TestBackoffGrowsWithJitterUpToMax(t *testing.T) {
	u := &Uploader{backoffMin: 100 * time.Millisecond, backoffMax: time.Second}
	for n, top := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		for range 50 {
			if d := u.backoff(n); d < top/2 || d > top {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, top/2, top)
			}
		}
	}
}

func newUploader(t testing.TB, cfg UploaderConfig, deps UploaderDeps) *Uploader {
	t.Helper()
	u, err := NewUploader(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
