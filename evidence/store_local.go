package evidence

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/streetwatch/streetwatch/internal/atomicfile"
)

// ErrInvalidKey is returned (wrapped, naming the key and the reason) for an
// object key that could escape the store or is not in the key layout's form.
var ErrInvalidKey = errors.New("evidence: invalid key")

// tmpDir is the LocalStore folder for files being written; it sits inside
// Dir so that the final rename stays on one file system.
const tmpDir = ".tmp"

// CheckKey reports whether key is a safe object key: relative, '/'-separated,
// with no empty, "." or ".." segment, no backslash or NUL, and not inside the
// local store's temporary folder. Every store applies it, so a key accepted
// by one store is accepted by all.
func CheckKey(key string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, why) }
	switch {
	case key == "":
		return bad("empty")
	case strings.HasPrefix(key, "/"):
		return bad("absolute path")
	case strings.ContainsAny(key, "\\\x00"):
		return bad("contains a backslash or NUL")
	}
	for i, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return bad("empty path segment")
		case seg == "." || seg == "..":
			return bad(`contains "." or ".." segment`)
		case i == 0 && seg == tmpDir:
			return bad("reserved folder " + tmpDir)
		}
	}
	return nil
}

// checkPrefix is CheckKey for List prefixes, which may be empty or end in '/'.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := CheckKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("prefix: %w", err)
	}
	return nil
}

// LocalStore keeps evidence in a local directory, one file per key. Links
// are served by StreetWatch's own HTTP server (Handler) and signed with
// SignKey, so only holders of a fresh URL can fetch evidence.
type LocalStore struct {
	Dir string
	// BaseURL is where Handler is reachable, e.g.
	// "https://streetwatch.example/evidence/"; URL appends the key.
	BaseURL string
	// SignKey is the HMAC-SHA256 key for links; empty disables URL and
	// makes Handler refuse every request.
	SignKey []byte
}

var _ Store = (*LocalStore)(nil)

// Name says which directory the store uses.
func (s *LocalStore) Name() string { return "local:" + s.Dir }

func (s *LocalStore) path(key string) string {
	return filepath.Join(s.Dir, filepath.FromSlash(key))
}

// Put writes the object atomically: a reader never sees a partial file, and
// after Put returns the bytes survive a crash (file and folders fsync'd).
// The content type is not stored: Handler derives it from the extension.
func (s *LocalStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("evidence: put %s: %w", key, err)
	}
	tmp := filepath.Join(s.Dir, tmpDir)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("evidence: put %s: %w", key, err)
	}
	dst := s.path(key)
	f, err := atomicfile.CreateIn(tmp, dst, 0o600)
	if err != nil {
		return fmt.Errorf("evidence: put %s: %w", key, err)
	}
	defer f.Close() // removes the temporary file unless committed
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("got %d bytes, want %d", n, size)
	}
	if err != nil {
		return fmt.Errorf("evidence: put %s: %w", key, err)
	}
	// A concurrent Delete may remove the (then empty) folder between MkdirAll
	// and the rename; one retry covers it.
	for try := 0; ; try++ {
		if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
			err = f.Commit()
		}
		if err == nil || try == 1 || !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("evidence: put %s: %w", key, err)
	}
	return nil
}

// Get opens the object's file.
func (s *LocalStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	f, err := s.open(key)
	if err != nil {
		return nil, fmt.Errorf("evidence: get %s: %w", key, err)
	}
	return f, nil
}

// open opens a regular file; a missing key or a folder is ErrNotFound.
func (s *LocalStore) open(key string) (*os.File, error) {
	f, err := os.Open(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, ErrNotFound
	}
	return f, nil
}

// Delete removes the object and then the folders it leaves empty, so that
// retention does not leave a tree of empty day folders behind.
func (s *LocalStore) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	p := s.path(key)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("evidence: delete %s: %w", key, err)
	}
	root := filepath.Clean(s.Dir)
	for dir := filepath.Dir(p); dir != root && strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty (or gone): stop
			break
		}
	}
	return nil
}

// List walks the folders under prefix; keys come back sorted.
func (s *LocalStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	// Walk from the deepest folder the prefix names; the rest of the prefix
	// (a partial file or folder name) filters.
	start := s.Dir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = s.path(prefix[:i])
	}
	var out []ObjectInfo
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, err := filepath.Rel(s.Dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if key == tmpDir {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // deleted while listing
				return nil
			}
			return err
		}
		out = append(out, ObjectInfo{Key: key, Size: info.Size(), Modified: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("evidence: list %q: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// URL returns BaseURL+key with an expiry and an HMAC-SHA256 signature that
// Handler checks.
func (s *LocalStore) URL(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if len(s.SignKey) == 0 {
		return "", fmt.Errorf("evidence: url %s: local store has no sign key", key)
	}
	if expiry <= 0 {
		return "", fmt.Errorf("evidence: url %s: expiry %v must be positive", key, expiry)
	}
	exp := time.Now().Add(expiry).Unix()
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	q := url.Values{"expires": {strconv.FormatInt(exp, 10)}, "sig": {s.sign(key, exp)}}
	return strings.TrimSuffix(s.BaseURL, "/") + "/" + strings.Join(segs, "/") + "?" + q.Encode(), nil
}

// sign binds the key and the expiry, so neither can be changed in a link.
func (s *LocalStore) sign(key string, expires int64) string {
	m := hmac.New(sha256.New, s.SignKey)
	fmt.Fprintf(m, "%s\n%d", key, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// Handler serves GET and HEAD of objects at the paths URL produces (the
// request path minus BaseURL's path is the key), with Range support so that
// browsers can seek in clips. A missing, wrong or expired signature gets
// 403 Forbidden; it is checked before the file system is touched.
func (s *LocalStore) Handler() http.Handler {
	base := "/"
	if u, err := url.Parse(s.BaseURL); err == nil && u.Path != "" {
		base = strings.TrimSuffix(u.Path, "/") + "/"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		key, ok := strings.CutPrefix(r.URL.Path, base)
		if !ok || CheckKey(key) != nil {
			http.NotFound(w, r)
			return
		}
		if !s.validSig(key, r.URL.Query()) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		f, err := s.open(key)
		if errors.Is(err, ErrNotFound) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, "cannot open evidence", http.StatusInternalServerError)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			http.Error(w, "cannot open evidence", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType(key))
		w.Header().Set("Cache-Control", "private, no-transform")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", st.ModTime(), f)
	})
}

func (s *LocalStore) validSig(key string, q url.Values) bool {
	if len(s.SignKey) == 0 {
		return false
	}
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || time.Now().Unix() > exp {
		return false
	}
	got, err := hex.DecodeString(q.Get("sig"))
	if err != nil {
		return false
	}
	want, _ := hex.DecodeString(s.sign(key, exp))
	return hmac.Equal(got, want)
}

// ContentType is the MIME type of an evidence file, by its extension.
func ContentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".mp4":
		return "video/mp4"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".json":
		return "application/json"
	case ".png":
		return "image/png"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// NewSignKey returns a random 32-byte key for LocalStore.SignKey.
func NewSignKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
