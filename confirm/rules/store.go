package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/streetwatch/streetwatch/internal/atomicfile"
)

// FileStore keeps each camera's open violations in DIR/<camera>.json,
// replaced atomically (write, fsync, rename) so a crash leaves the old or
// the new file, never half of one.
type FileStore struct{ Dir string }

func (s FileStore) path(camera string) string { return filepath.Join(s.Dir, camera+".json") }

// Load reads a camera's open violations (none when the file does not exist).
func (s FileStore) Load(camera string) ([]OpenViolation, error) {
	data, err := os.ReadFile(s.path(camera))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var open []OpenViolation
	if err := json.Unmarshal(data, &open); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path(camera), err)
	}
	return open, nil
}

// Save replaces a camera's open violations.
func (s FileStore) Save(camera string, open []OpenViolation) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(open, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.path(camera), data, 0o600)
}

// Documents is a database that keeps each camera's open violations as a
// document (the ticket database when the nodes of a cluster share it:
// dispatch.OpenViolationDocs).
type Documents interface {
	OpenViolations(ctx context.Context, camera string) (doc []byte, ok bool, err error)
	SaveOpenViolations(ctx context.Context, camera string, doc []byte, at time.Time) error
}

// sharedTimeout bounds one load or save: the confirmation worker waits
// for it, and a failed save is retried with the next change.
const sharedTimeout = 10 * time.Second

// SharedStore keeps open violations in a database the nodes share, so the
// node a camera moves to does not report its objects again. A camera the
// database has never seen is read from Before (the state folder of a node
// that ran before the database kept them), once.
type SharedStore struct {
	DB     Documents
	Before Store
}

// Load reads a camera's open violations.
func (s SharedStore) Load(camera string) ([]OpenViolation, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	doc, ok, err := s.DB.OpenViolations(ctx, camera)
	if err != nil {
		return nil, err
	}
	if !ok {
		if s.Before == nil {
			return nil, nil
		}
		return s.Before.Load(camera)
	}
	var open []OpenViolation
	if err := json.Unmarshal(doc, &open); err != nil {
		return nil, fmt.Errorf("open violations of %s in the database: %w", camera, err)
	}
	return open, nil
}

// Save replaces a camera's open violations.
func (s SharedStore) Save(camera string, open []OpenViolation) error {
	if open == nil {
		open = []OpenViolation{} // saved empty, not "never saved"
	}
	doc, err := json.Marshal(open)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	return s.DB.SaveOpenViolations(ctx, camera, doc, time.Now())
}
