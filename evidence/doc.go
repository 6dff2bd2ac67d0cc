// Package evidence turns a confirmed violation into evidence a reviewer,
// and later a court, can trust: a clip cut from the camera's own stream
// (no re-encoding), the best frame as an untouched and an annotated JPEG,
// and a manifest with the SHA-256 of every file, optionally signed.
//
// The pieces:
//
//   - ClipSource is a camera's recent video, GOP-aligned, as the recorder
//     cuts clips from it; pipeline/history keeps it, fed by ingest.
//   - WriteMP4 muxes a range of access units to a faststart MP4.
//   - Store is where evidence lives: a local directory or S3/MinIO.
//   - Uploader puts bundles into a Store through a local spool, so a store
//     outage or a crash loses nothing.
//   - Retention deletes old evidence unless its ticket says to keep it.
//   - Recorder ties them together for each violation event.
package evidence

import (
	"context"
	"errors"
	"io"
	"time"
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

// ErrNotFound is returned by Store.Get for a missing key.
var ErrNotFound = errors.New("evidence: object not found")

// Store keeps evidence objects. Keys use '/' and look like
// YYYY/MM/DD/<camera>/<violation-id>/<file> (see Key).
type Store interface {
	// Put stores size bytes from r under key.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Get opens a stored object; ErrNotFound (wrapped) when it is missing.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// URL is a link a browser or the work-order system can fetch the
	// object from, valid for expiry (presigned for S3).
	URL(ctx context.Context, key string, expiry time.Duration) (string, error)
	// Delete removes an object; deleting a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the objects whose keys start with prefix.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Name says what the store is, for logs (never with credentials).
	Name() string
}

// File is one file of a bundle: its bytes, or a local file to read them from.
type File struct {
	Name        string // e.g. "clip.mp4"
	ContentType string
	Data        []byte
	Path        string // used when Data is nil
}

// Bundle is one violation's evidence: files stored under Prefix. The
// manifest (ManifestName) is stored last, so a manifest in the store means
// every file it lists is there.
type Bundle struct {
	ViolationID string
	Prefix      string // Key(...) without the file name, ending in '/'
	Files       []File
}

// ManifestName is the manifest's file name inside a bundle.
const ManifestName = "manifest.json"

// Key builds an object key: YYYY/MM/DD/<camera>/<violation-id>/<name>,
// the date in UTC of the violation's confirmation.
func Key(at time.Time, camera, violationID, name string) string {
	return Prefix(at, camera, violationID) + name
}

// Prefix is Key without the file name.
func Prefix(at time.Time, camera, violationID string) string {
	return at.UTC().Format("2006/01/02") + "/" + camera + "/" + violationID + "/"
}
