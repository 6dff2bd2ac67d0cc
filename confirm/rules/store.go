package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
