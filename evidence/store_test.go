package evidence

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// testObjects are one violation's files, as the stores' contract test
// puts them.
var testObjects = []struct{ key, contentType, data string }{
	{"2026/03/10/cam-1/v-001/clip.mp4", "video/mp4", strings.Repeat("mp4 bytes ", 100)},
	{"2026/03/10/cam-1/v-001/snapshot.jpg", "image/jpeg", "\xff\xd8jpeg\xff\xd9"},
	{"2026/03/10/cam-1/v-001/manifest.json", "application/json", `{"version":1}`},
	{"2026/03/10/cam-2/v-002/clip.mp4", "video/mp4", "other camera"},
}

// testStoreContract checks what every Store promises, over its real
// backend: round trip, listing, links, deletion and key validation.
func testStoreContract(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	for _, o := range testObjects {
		if err := s.Put(ctx, o.key, strings.NewReader(o.data), int64(len(o.data)), o.contentType); err != nil {
			t.Fatalf("Put %s: %v", o.key, err)
		}
	}
	for _, o := range testObjects {
		if got := getString(t, s, o.key); got != o.data {
			t.Fatalf("Get %s = %q, want %q", o.key, got, o.data)
		}
	}

	list, err := s.List(ctx, "2026/03/10/cam-1/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{testObjects[0].key, testObjects[2].key, testObjects[1].key} // key order
	if keys := objectKeys(list); strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Fatalf("List(cam-1/) = %v, want %v", keys, want)
	}
	if list[0].Size != int64(len(testObjects[0].data)) || list[0].Modified.IsZero() {
		t.Fatalf("List info %+v", list[0])
	}
	for prefix, n := range map[string]int{"": 4, "2026/03/10/cam-": 4, "2026/03/10/cam-2/v-002/": 1, "2026/03/11/": 0, "2027/": 0} {
		if list, err := s.List(ctx, prefix); err != nil || len(list) != n {
			t.Fatalf("List(%q) = %v, %v; want %d objects", prefix, objectKeys(list), err, n)
		}
	}

	// A link fetched like a browser or the work-order system would.
	u, err := s.URL(ctx, testObjects[0].key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != testObjects[0].data {
		t.Fatalf("GET %s: %s, %d bytes", u, resp.Status, len(body))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "video/mp4" {
		t.Fatalf("GET %s: Content-Type %q, want video/mp4", u, ct)
	}
	// Browsers seek in clips with Range requests.
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Range", "bytes=4-12")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(body) != testObjects[0].data[4:13] {
		t.Fatalf("Range GET: %s, %q", resp.Status, body)
	}

	// Overwrite, delete, missing.
	if err := s.Put(ctx, testObjects[3].key, strings.NewReader("new"), 3, "video/mp4"); err != nil {
		t.Fatal(err)
	}
	if got := getString(t, s, testObjects[3].key); got != "new" {
		t.Fatalf("after overwrite: %q", got)
	}
	if err := s.Delete(ctx, testObjects[3].key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, testObjects[3].key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, testObjects[3].key); err != nil {
		t.Fatalf("Delete of a missing object: %v", err)
	}
	if _, err := s.Get(ctx, "2026/01/01/cam-9/none/clip.mp4"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound", err)
	}

	for _, key := range []string{"../etc/passwd", "/abs/key", "a/../../b", "a//b", "a/./b", `a\b`, "", ".tmp/x"} {
		if err := s.Put(ctx, key, strings.NewReader("x"), 1, ""); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.URL(ctx, key, time.Minute); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("URL(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if _, err := s.List(ctx, "../"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("List(../) = %v, want ErrInvalidKey", err)
	}
}

func TestCheckKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"2026/03/10/cam-1/v-1/clip.mp4": true,
		"a":                             true,
		"a/b..c/d":                      true,
		"a/.tmp/b":                      true,
		"":                              false,
		"/a":                            false,
		"a/":                            false,
		"..":                            false,
		"a/../b":                        false,
		"a/./b":                         false,
		"a\\..\\b":                      false,
		"a\x00b":                        false,
		".tmp/x":                        false,
	} {
		err := CheckKey(key)
		if (err == nil) != ok {
			t.Errorf("CheckKey(%q) = %v, want ok=%v", key, err, ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "invalid key")) {
			t.Errorf("CheckKey(%q) error %q is not a clear ErrInvalidKey", key, err)
		}
	}
}

// testLogger sends a component's logs to the test's own output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func getString(t *testing.T, s Store, key string) string {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(b)
}

func objectKeys(list []ObjectInfo) []string {
	var keys []string
	for _, o := range list {
		keys = append(keys, o.Key)
	}
	return keys
}

// recordingStore is a real Store that remembers the order of the puts and
// deletes that succeeded, and can be told to fail puts (a store that
// rejects one object while accepting others).
type recordingStore struct {
	Store
	mu      sync.Mutex
	puts    []string
	deletes []string
	failPut func(key string) bool
}

func (r *recordingStore) Put(ctx context.Context, key string, rd io.Reader, size int64, ct string) error {
	r.mu.Lock()
	fail := r.failPut != nil && r.failPut(key)
	r.mu.Unlock()
	if fail {
		return errors.New("put refused by test")
	}
	if err := r.Store.Put(ctx, key, rd, size, ct); err != nil {
		return err
	}
	r.mu.Lock()
	r.puts = append(r.puts, key)
	r.mu.Unlock()
	return nil
}

func (r *recordingStore) Delete(ctx context.Context, key string) error {
	if err := r.Store.Delete(ctx, key); err != nil {
		return err
	}
	r.mu.Lock()
	r.deletes = append(r.deletes, key)
	r.mu.Unlock()
	return nil
}

func (r *recordingStore) putKeys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.puts...)
}
