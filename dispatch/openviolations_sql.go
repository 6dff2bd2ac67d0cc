package dispatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OpenViolationDocs keeps each camera's open violations (the document
// confirm/rules writes) in the ticket database, where every node of a
// cluster finds them.
type OpenViolationDocs interface {
	// OpenViolations returns a camera's document; ok=false when none was
	// ever saved (not the same as a saved empty list).
	OpenViolations(ctx context.Context, camera string) (doc []byte, ok bool, err error)
	// SaveOpenViolations replaces a camera's document.
	SaveOpenViolations(ctx context.Context, camera string, doc []byte, at time.Time) error
}

var _ OpenViolationDocs = (*sqlStore)(nil)

// OpenViolations implements OpenViolationDocs.
func (s *sqlStore) OpenViolations(ctx context.Context, camera string) ([]byte, bool, error) {
	var doc string
	err := s.db.QueryRowContext(ctx, `SELECT document FROM open_violations WHERE camera = ?`, camera).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open violations of %s: %w", camera, err)
	}
	return []byte(doc), true, nil
}

// SaveOpenViolations implements OpenViolationDocs.
func (s *sqlStore) SaveOpenViolations(ctx context.Context, camera string, doc []byte, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO open_violations (camera, document, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (camera) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
		camera, string(doc), micros(at))
	if err != nil {
		return fmt.Errorf("save open violations of %s: %w", camera, err)
	}
	return nil
}
