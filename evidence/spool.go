package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streetwatch/streetwatch/internal/atomicfile"
	"github.com/streetwatch/streetwatch/internal/backoff"
)

// Spool layout: one folder per bundle under Uploader.Dir, named by its
// submission time in nanoseconds (so names sort oldest first), holding the
// files' bytes as 0.data, 1.data, ... and, written last, the descriptor
// bundle.json. A folder without a descriptor is a Submit that did not
// finish (or an upload that did): it is deleted, never uploaded. A data file
// is deleted once its object is stored, so after a crash only the files not
// yet stored are uploaded again.
const (
	descriptorName = "bundle.json"
	badSuffix      = ".bad" // quarantined folders: unreadable descriptor or data
	spoolVersion   = 1
)

// Uploader moves evidence bundles into a Store through a local spool
// directory: Submit makes a bundle durable on local disk, Run uploads
// spooled bundles oldest first and retries with backoff while the store is
// down, and a restart resumes from the spool. The manifest of a bundle is
// stored after all its other files. One Uploader owns a Dir.
//
// Lifecycle: NewUploader, then Run until its context ends. Submit works
// before, during and after Run (what is spooled is uploaded by the next
// Run).
type Uploader struct {
	store                  Store
	dir                    string
	metrics                *Metrics
	log                    *slog.Logger
	backoffMin, backoffMax time.Duration

	initMu sync.Mutex
	inited bool          // the spool was scanned
	wake   chan struct{} // a Submit happened

	mu      sync.Mutex
	queue   []*spooled // sorted by name: oldest first
	bytes   int64      // not yet stored
	lastNS  int64      // newest folder name given out
	changed chan struct{}
	running bool
}

// UploaderConfig tunes an Uploader.
type UploaderConfig struct {
	// Dir is the spool directory (required).
	Dir string
	// BackoffMin and BackoffMax bound the wait after a failed upload
	// attempt (doubling per failure, with jitter); defaults 1s and 2m.
	BackoffMin, BackoffMax time.Duration
}

// UploaderDeps are the parts an Uploader works with.
type UploaderDeps struct {
	Store   Store        // required
	Metrics *Metrics     // nil: unregistered metrics
	Log     *slog.Logger // nil: slog.Default()
}

// NewUploader applies the defaults. It does not touch the disk: the spool
// is scanned at the first Submit or Run, and again after a scan failed (a
// full or unmounted disk), so a bad disk at start is not fatal.
func NewUploader(cfg UploaderConfig, deps UploaderDeps) (*Uploader, error) {
	if cfg.Dir == "" {
		return nil, errors.New("evidence: uploader: spool dir is empty")
	}
	if deps.Store == nil {
		return nil, errors.New("evidence: uploader: no store")
	}
	u := &Uploader{store: deps.Store, dir: cfg.Dir, metrics: deps.Metrics, log: deps.Log,
		backoffMin: cfg.BackoffMin, backoffMax: cfg.BackoffMax,
		wake: make(chan struct{}, 1), changed: make(chan struct{})}
	if u.metrics == nil {
		u.metrics = NewMetrics(nil)
	}
	if u.log == nil {
		u.log = slog.Default()
	}
	if u.backoffMin <= 0 {
		u.backoffMin = time.Second
	}
	if u.backoffMax < u.backoffMin {
		u.backoffMax = max(2*time.Minute, u.backoffMin)
	}
	return u, nil
}

// descriptor is bundle.json.
type descriptor struct {
	Version     int         `json:"version"`
	ViolationID string      `json:"violation_id"`
	Prefix      string      `json:"prefix"`
	Submitted   time.Time   `json:"submitted"`
	Files       []spoolFile `json:"files"` // upload order: manifest last
}

type spoolFile struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Data        string `json:"data"` // file name in the bundle's folder
}

// spooled is a bundle in the queue. Only Run changes it, under mu.
type spooled struct {
	name  string
	desc  descriptor
	files []spoolFile // not yet stored, in upload order
}

func (u *Uploader) init() error {
	u.initMu.Lock()
	defer u.initMu.Unlock()
	if u.inited {
		return nil
	}
	// A spool that cannot be read now (a full or unmounted disk) is tried
	// again at the next Submit or Run, not given up for the process's life.
	if err := u.rescan(); err != nil {
		return err
	}
	u.inited = true
	return nil
}

// rescan loads the bundles a previous run left in the spool.
func (u *Uploader) rescan() error {
	u.queue, u.bytes = nil, 0 // a retry after a failed scan starts over
	if err := os.MkdirAll(u.dir, 0o755); err != nil {
		return fmt.Errorf("evidence: spool %s: %w", u.dir, err)
	}
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return fmt.Errorf("evidence: spool %s: %w", u.dir, err)
	}
	for _, e := range entries {
		ns, err := strconv.ParseInt(e.Name(), 10, 64)
		if !e.IsDir() || err != nil {
			continue // quarantined folders and foreign files stay as they are
		}
		u.lastNS = max(u.lastNS, ns)
		b, err := u.load(e.Name())
		switch {
		case errors.Is(err, fs.ErrNotExist):
			u.log.Warn("evidence spool: removing unfinished bundle", "spool", e.Name())
			u.removeFolder(e.Name())
		case err != nil:
			u.log.Error("evidence spool: quarantining unreadable bundle", "spool", e.Name(), "err", err)
			if rerr := os.Rename(filepath.Join(u.dir, e.Name()), filepath.Join(u.dir, e.Name()+badSuffix)); rerr != nil {
				return fmt.Errorf("evidence: spool %s: quarantine %s: %w", u.dir, e.Name(), rerr)
			}
		case len(b.files) == 0: // stored before a crash; only the clean-up was left
			u.removeFolder(e.Name())
		default:
			u.queue = append(u.queue, b)
			for _, f := range b.files {
				u.bytes += f.Size
			}
		}
	}
	if len(u.queue) > 0 {
		u.log.Info("evidence spool: resuming uploads", "bundles", len(u.queue), "bytes", u.bytes)
	}
	u.notifyLocked()
	return nil
}

// load reads a bundle folder; fs.ErrNotExist when it has no descriptor.
func (u *Uploader) load(name string) (*spooled, error) {
	dir := filepath.Join(u.dir, name)
	raw, err := os.ReadFile(filepath.Join(dir, descriptorName))
	if err != nil {
		return nil, err
	}
	b := &spooled{name: name}
	if err := json.Unmarshal(raw, &b.desc); err != nil {
		return nil, fmt.Errorf("descriptor: %v", err) // not ErrNotExist
	}
	if b.desc.Version != spoolVersion {
		return nil, fmt.Errorf("descriptor version %d, want %d", b.desc.Version, spoolVersion)
	}
	for _, f := range b.desc.Files {
		st, err := os.Stat(filepath.Join(dir, f.Data))
		if errors.Is(err, fs.ErrNotExist) {
			continue // already stored
		}
		if err != nil {
			return nil, err
		}
		if st.Size() != f.Size {
			return nil, fmt.Errorf("%s: %d bytes, descriptor says %d", f.Name, st.Size(), f.Size)
		}
		b.files = append(b.files, f)
	}
	return b, nil
}

// removeFolder deletes a bundle folder, descriptor first so that a crash
// half-way leaves a folder the next rescan deletes rather than uploads.
func (u *Uploader) removeFolder(name string) {
	dir := filepath.Join(u.dir, name)
	err := os.Remove(filepath.Join(dir, descriptorName))
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		err = os.RemoveAll(dir)
	}
	if err != nil {
		u.log.Error("evidence spool: cannot remove bundle folder", "spool", name, "err", err)
	}
}

// Submit writes the bundle into the spool and returns once it is durable
// there (every file fsync'd, then the descriptor). Files given by Path are
// copied, so the caller may delete them afterwards. The upload happens in
// Run.
func (u *Uploader) Submit(b *Bundle) error {
	if err := u.init(); err != nil {
		return err
	}
	files, err := uploadOrder(b)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.lastNS = max(u.lastNS+1, time.Now().UnixNano())
	name := fmt.Sprintf("%019d", u.lastNS)
	u.mu.Unlock()

	dir := filepath.Join(u.dir, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("evidence: spool %s: %w", b.ViolationID, err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(dir)
		}
	}()
	if err := atomicfile.SyncDir(u.dir); err != nil {
		return fmt.Errorf("evidence: spool %s: %w", b.ViolationID, err)
	}
	desc := descriptor{Version: spoolVersion, ViolationID: b.ViolationID, Prefix: b.Prefix, Submitted: time.Now().UTC()}
	var total int64
	for i, f := range files {
		sf := spoolFile{Name: f.Name, ContentType: f.ContentType, Data: strconv.Itoa(i) + ".data"}
		if sf.ContentType == "" {
			sf.ContentType = ContentType(f.Name)
		}
		if sf.Size, err = writeSpoolFile(filepath.Join(dir, sf.Data), f); err != nil {
			return fmt.Errorf("evidence: spool %s: %s: %w", b.ViolationID, f.Name, err)
		}
		total += sf.Size
		desc.Files = append(desc.Files, sf)
	}
	if err := writeDescriptor(dir, &desc); err != nil {
		return fmt.Errorf("evidence: spool %s: %w", b.ViolationID, err)
	}
	done = true

	u.mu.Lock()
	i := sort.Search(len(u.queue), func(i int) bool { return u.queue[i].name > name })
	u.queue = append(u.queue[:i], append([]*spooled{{name: name, desc: desc, files: desc.Files}}, u.queue[i:]...)...)
	u.bytes += total
	u.notifyLocked()
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
	return nil
}

// uploadOrder checks a bundle and returns its files with the manifest last.
func uploadOrder(b *Bundle) ([]File, error) {
	if b == nil || b.ViolationID == "" {
		return nil, errors.New("evidence: spool: bundle without violation id")
	}
	if !strings.HasSuffix(b.Prefix, "/") {
		return nil, fmt.Errorf("evidence: spool %s: prefix %q must end in '/'", b.ViolationID, b.Prefix)
	}
	if len(b.Files) == 0 {
		return nil, fmt.Errorf("evidence: spool %s: bundle has no files", b.ViolationID)
	}
	seen := map[string]bool{}
	var files []File
	var manifest *File
	for i, f := range b.Files {
		if err := CheckKey(b.Prefix + f.Name); err != nil {
			return nil, fmt.Errorf("evidence: spool %s: %w", b.ViolationID, err)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("evidence: spool %s: file %q twice", b.ViolationID, f.Name)
		}
		seen[f.Name] = true
		if f.Data == nil && f.Path == "" {
			return nil, fmt.Errorf("evidence: spool %s: file %q has neither data nor path", b.ViolationID, f.Name)
		}
		if f.Name == ManifestName {
			manifest = &b.Files[i]
			continue
		}
		files = append(files, f)
	}
	if manifest != nil {
		files = append(files, *manifest)
	}
	return files, nil
}

// writeSpoolFile writes a bundle file's bytes durably (see atomicfile).
func writeSpoolFile(path string, f File) (int64, error) {
	out, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	var n int64
	if f.Data != nil {
		var m int
		m, err = out.Write(f.Data)
		n = int64(m)
	} else {
		var in *os.File
		if in, err = os.Open(f.Path); err == nil {
			n, err = io.Copy(out, in)
			in.Close()
		}
	}
	if err == nil {
		err = out.Commit()
	}
	return n, err
}

// writeDescriptor writes bundle.json atomically and durably: it is what
// makes the bundle exist.
func writeDescriptor(dir string, d *descriptor) error {
	raw, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, descriptorName), raw, 0o644)
}

// Run uploads spooled bundles until ctx ends (then it returns nil). A bundle
// whose upload fails is retried, with exponential backoff and jitter, before
// any newer one, so evidence reaches the store in order. Run first resumes
// the bundles a previous process left in the spool.
func (u *Uploader) Run(ctx context.Context) error {
	if err := u.init(); err != nil {
		return err
	}
	u.mu.Lock()
	if u.running {
		u.mu.Unlock()
		return errors.New("evidence: uploader: already running")
	}
	u.running = true
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.running = false
		u.mu.Unlock()
	}()

	failures := 0
	for {
		u.mu.Lock()
		var b *spooled
		if len(u.queue) > 0 {
			b = u.queue[0]
		}
		u.mu.Unlock()
		if b == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-u.wake:
				continue
			}
		}
		start := time.Now()
		err := u.upload(ctx, b)
		if ctx.Err() != nil {
			return nil // the rest stays spooled for the next run
		}
		if err != nil {
			failures++
			u.metrics.UploadFailures.Inc()
			wait := u.backoff(failures)
			u.log.Warn("evidence upload failed, will retry", "violation", b.desc.ViolationID,
				"store", u.store.Name(), "attempt", failures, "retry_in", wait, "err", err)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		if failures > 0 {
			u.log.Info("evidence store reachable again", "store", u.store.Name(), "failed_attempts", failures)
		}
		failures = 0
		u.metrics.UploadSeconds.Observe(time.Since(start).Seconds())
		u.log.Debug("evidence uploaded", "violation", b.desc.ViolationID, "prefix", b.desc.Prefix, "seconds", time.Since(start).Seconds())
	}
}

// upload stores a bundle's remaining files in order and then drops it from
// the spool.
func (u *Uploader) upload(ctx context.Context, b *spooled) error {
	dir := filepath.Join(u.dir, b.name)
	for len(b.files) > 0 {
		f := b.files[0]
		key := b.desc.Prefix + f.Name
		if err := u.put(ctx, filepath.Join(dir, f.Data), key, f); err != nil {
			return fmt.Errorf("evidence: upload %s: %w", b.desc.ViolationID, err)
		}
		// Forget the stored file, durably, so a restart does not store it
		// again (a crash right before this line does: Put overwrites).
		if err := os.Remove(filepath.Join(dir, f.Data)); err != nil {
			u.log.Warn("evidence spool: cannot remove stored file", "spool", b.name, "file", f.Name, "err", err)
		} else if err := atomicfile.SyncDir(dir); err != nil {
			u.log.Warn("evidence spool: cannot sync folder", "spool", b.name, "err", err)
		}
		u.mu.Lock()
		b.files = b.files[1:]
		u.bytes -= f.Size
		u.notifyLocked()
		u.mu.Unlock()
	}
	u.removeFolder(b.name)
	u.mu.Lock()
	for i, q := range u.queue {
		if q == b {
			u.queue = append(u.queue[:i], u.queue[i+1:]...)
			break
		}
	}
	u.notifyLocked()
	u.mu.Unlock()
	return nil
}

func (u *Uploader) put(ctx context.Context, path, key string, f spoolFile) error {
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("spooled %s: %w", f.Name, err)
	}
	defer in.Close()
	return u.store.Put(ctx, key, in, f.Size, f.ContentType)
}

// backoff is the wait after the n-th failure in a row: BackoffMin doubled
// per failure up to BackoffMax, with equal jitter so that many nodes do not
// retry against a recovering store in lockstep.
func (u *Uploader) backoff(n int) time.Duration {
	return backoff.Policy{Min: u.backoffMin, Max: u.backoffMax, Jitter: backoff.EqualJitter}.Delay(n)
}

// notifyLocked publishes the spool's size and wakes Flush waiters.
func (u *Uploader) notifyLocked() {
	u.metrics.SpoolBundles.Set(float64(len(u.queue)))
	u.metrics.SpoolBytes.Set(float64(u.bytes))
	close(u.changed)
	u.changed = make(chan struct{})
}

// Pending reports the bundles and bytes in the spool not yet stored.
func (u *Uploader) Pending() (bundles int, bytes int64) {
	if u.init() != nil {
		return 0, 0
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.queue), u.bytes
}

// Flush waits until the spool is empty (every submitted bundle stored) or
// ctx ends. It needs Run to be running to ever succeed.
func (u *Uploader) Flush(ctx context.Context) error {
	if err := u.init(); err != nil {
		return err
	}
	for {
		u.mu.Lock()
		n, ch := len(u.queue), u.changed
		u.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("evidence: flush: %d bundles still spooled: %w", n, ctx.Err())
		}
	}
}
