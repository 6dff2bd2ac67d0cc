// Package atomicfile replaces files so that a crash or a failed write leaves
// the old content or the new, never part of one: the new content goes to a
// temporary file, which is fsync'd, renamed over the destination, and the
// folder fsync'd so that the rename itself survives a power cut. It must
// never leave its temporary file behind once the caller is done (committed
// or closed), and it is not for files that grow in place (logs, segments).
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File is a file being written; its content appears at the destination
// path only when Commit succeeds. Callers write, Commit, and always Close
// (deferred): Close abandons an uncommitted file and is a no-op after
// Commit.
type File struct {
	f       *os.File // nil once closed
	tmp     string   // removed by Close unless renamed
	path    string
	renamed bool
}

// Create starts a replacement of path with permissions perm (exactly, not
// masked by the umask). The temporary file is a hidden name beside path,
// so the final rename stays on one file system.
func Create(path string, perm os.FileMode) (*File, error) {
	return CreateIn(filepath.Dir(path), path, perm)
}

// CreateIn is Create with the temporary file in tempDir, for callers that
// keep unfinished files out of the destination folder (a store whose
// listing must not see them). tempDir must be on path's file system.
func CreateIn(tempDir, path string, perm os.FileMode) (*File, error) {
	f, err := os.CreateTemp(tempDir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &File{f: f, tmp: f.Name(), path: path}, nil
}

// Write writes to the temporary file.
func (f *File) Write(p []byte) (int, error) {
	if f.f == nil {
		return 0, f.closedErr()
	}
	return f.f.Write(p)
}

// ReadFrom lets io.Copy use the operating system's file copy.
func (f *File) ReadFrom(r io.Reader) (int64, error) {
	if f.f == nil {
		return 0, f.closedErr()
	}
	return f.f.ReadFrom(r)
}

func (f *File) closedErr() error {
	return fmt.Errorf("atomicfile %s: %w", f.path, os.ErrClosed)
}

// Commit makes the written content durable and puts it at the destination
// path. If the rename fails (the destination folder is missing, say), the
// temporary file is kept, so the caller may fix the cause and Commit again;
// Close removes it. An error from the final folder sync means the content
// is in place but the rename may not survive a crash.
func (f *File) Commit() error {
	if !f.renamed {
		if f.f != nil {
			err := f.f.Sync()
			if cerr := f.f.Close(); err == nil {
				err = cerr
			}
			f.f = nil
			if err != nil {
				os.Remove(f.tmp)
				f.tmp = ""
				return fmt.Errorf("atomicfile %s: %w", f.path, err)
			}
		}
		if f.tmp == "" {
			return f.closedErr()
		}
		if err := os.Rename(f.tmp, f.path); err != nil {
			return err // a *LinkError names both paths
		}
		f.renamed, f.tmp = true, ""
	}
	return SyncDir(filepath.Dir(f.path))
}

// Close abandons an uncommitted file: the temporary file is removed and
// the destination keeps its old content. After Commit it does nothing.
func (f *File) Close() error {
	var err error
	if f.f != nil {
		err = f.f.Close()
		f.f = nil
	}
	if f.tmp != "" {
		if rerr := os.Remove(f.tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
		f.tmp = ""
	}
	return err
}

// WriteFile replaces path with data, atomically and durably.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// SyncDir makes a folder's entries durable (a rename into it, a new or
// removed file).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
