package evidence

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newServedLocalStore is a LocalStore whose Handler is served over
// loopback at /evidence/, as StreetWatch's HTTP server would mount it.
func newServedLocalStore(t *testing.T) *LocalStore {
	t.Helper()
	s := &LocalStore{Dir: t.TempDir(), SignKey: NewSignKey()}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.BaseURL = srv.URL + "/evidence/"
	mux.Handle("/evidence/", s.Handler())
	return s
}

func TestLocalStoreContract(t *testing.T) {
	testStoreContract(t, newServedLocalStore(t))
}

func TestLocalStorePutIsAtomicAndLeavesNoTempFiles(t *testing.T) {
	s := &LocalStore{Dir: t.TempDir()}
	ctx := context.Background()
	key := "2026/03/10/cam-1/v-1/clip.mp4"
	// A short reader (size mismatch) must not leave a partial object.
	if err := s.Put(ctx, key, strings.NewReader("short"), 100, "video/mp4"); err == nil {
		t.Fatal("Put with fewer bytes than size succeeded")
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "2026/03/10/cam-1/v-1/clip.mp4")); !os.IsNotExist(err) {
		t.Fatalf("partial object exists: %v", err)
	}
	if err := s.Put(ctx, key, strings.NewReader("whole"), 5, "video/mp4"); err != nil {
		t.Fatal(err)
	}
	tmp, _ := os.ReadDir(filepath.Join(s.Dir, tmpDir))
	if len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
	if list, _ := s.List(ctx, ""); len(list) != 1 {
		t.Fatalf("List = %v, want only the object (no temp folder)", objectKeys(list))
	}
	// Deleting the last object removes its now-empty folders.
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "2026")); !os.IsNotExist(err) {
		t.Fatalf("empty folders left after Delete: %v", err)
	}
	if _, err := os.Stat(s.Dir); err != nil {
		t.Fatalf("store dir removed: %v", err)
	}
}

func TestLocalHandlerServesOnlyValidSignatures(t *testing.T) {
	s := newServedLocalStore(t)
	ctx := context.Background()
	objs := map[string]string{
		"2026/03/10/cam 1/v-1/clip.mp4":      "video/mp4",
		"2026/03/10/cam 1/v-1/snapshot.jpg":  "image/jpeg",
		"2026/03/10/cam 1/v-1/manifest.json": "application/json",
	}
	for key := range objs {
		if err := s.Put(ctx, key, strings.NewReader("data of "+key), -1, ""); err != nil {
			t.Fatal(err)
		}
	}
	for key, ct := range objs {
		u, err := s.URL(ctx, key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		resp := fetch(t, http.MethodGet, u)
		if resp.code != 200 || resp.body != "data of "+key || resp.header.Get("Content-Type") != ct {
			t.Errorf("GET %s: %d %q %q", key, resp.code, resp.header.Get("Content-Type"), resp.body)
		}
		head := fetch(t, http.MethodHead, u)
		if head.code != 200 || head.body != "" || head.header.Get("Content-Length") != strconv.Itoa(len("data of "+key)) {
			t.Errorf("HEAD %s: %d len %q", key, head.code, head.header.Get("Content-Length"))
		}
	}

	key := "2026/03/10/cam 1/v-1/clip.mp4"
	good, _ := s.URL(ctx, key, time.Minute)
	other, _ := s.URL(ctx, "2026/03/10/cam 1/v-1/snapshot.jpg", time.Minute)
	expired := s.BaseURL + "2026/03/10/cam%201/v-1/clip.mp4?" + url.Values{
		"expires": {strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)},
		"sig":     {s.sign(key, time.Now().Add(-time.Second).Unix())},
	}.Encode()
	gu, _ := url.Parse(good)
	q := gu.Query()
	later := url.Values{"expires": {strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)}, "sig": {q.Get("sig")}}
	ou, _ := url.Parse(other)
	otherSig := url.Values{"expires": {ou.Query().Get("expires")}, "sig": {ou.Query().Get("sig")}}
	flipped := []byte(q.Get("sig"))
	flipped[0] ^= 1
	for name, u := range map[string]string{
		"no signature":                s.BaseURL + "2026/03/10/cam%201/v-1/clip.mp4",
		"expired":                     expired,
		"expiry extended":             s.BaseURL + "2026/03/10/cam%201/v-1/clip.mp4?" + later.Encode(),
		"another object's signature":  s.BaseURL + "2026/03/10/cam%201/v-1/clip.mp4?" + otherSig.Encode(),
		"tampered signature":          s.BaseURL + "2026/03/10/cam%201/v-1/clip.mp4?" + url.Values{"expires": {q.Get("expires")}, "sig": {string(flipped)}}.Encode(),
		"signed by another store key": signedBy(t, NewSignKey(), s, key),
	} {
		if r := fetch(t, http.MethodGet, u); r.code != http.StatusForbidden || strings.Contains(r.body, "data of") {
			t.Errorf("%s: %d %q, want 403", name, r.code, r.body)
		}
	}

	// A valid signature for a missing object: 404, and not for other methods.
	missing, _ := s.URL(ctx, "2026/03/10/cam 1/v-9/clip.mp4", time.Minute)
	if r := fetch(t, http.MethodGet, missing); r.code != http.StatusNotFound {
		t.Errorf("missing object: %d, want 404", r.code)
	}
	if r := fetch(t, http.MethodPost, good); r.code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", r.code)
	}
	// Without a sign key nothing is served and no link is made.
	unsigned := &LocalStore{Dir: s.Dir, BaseURL: s.BaseURL}
	if _, err := unsigned.URL(ctx, key, time.Minute); err == nil {
		t.Error("URL without SignKey succeeded")
	}
	rec := httptest.NewRecorder()
	unsigned.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, good, nil))
	if rec.Code != http.StatusForbidden {
		t.Errorf("handler without SignKey: %d, want 403", rec.Code)
	}
}

func signedBy(t *testing.T, key []byte, s *LocalStore, objKey string) string {
	t.Helper()
	forged := &LocalStore{Dir: s.Dir, BaseURL: s.BaseURL, SignKey: key}
	u, err := forged.URL(context.Background(), objKey, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

type response struct {
	code   int
	header http.Header
	body   string
}

func fetch(t *testing.T, method, u string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"clip.mp4": "video/mp4", "a.JPG": "image/jpeg", "b.jpeg": "image/jpeg",
		"manifest.json": "application/json", "x.png": "image/png", "blob": "application/octet-stream",
	} {
		if got := ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
}
