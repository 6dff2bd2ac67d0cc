package dispatch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// CaseEvidenceStore keeps evidence made before its case exists: the bay
// clip of a weighing record, for the weighing_without_visit ticket the
// reconciler may make of the record half an hour later. The SQL stores
// implement it.
type CaseEvidenceStore interface {
	// PutCaseEvidence records (again: the last wins) the evidence of the
	// case with violationID.
	PutCaseEvidence(ctx context.Context, violationID string, ev Evidence) error
	// CaseEvidence returns it (ErrNotFound: none).
	CaseEvidence(ctx context.Context, violationID string) (Evidence, error)
}

var _ CaseEvidenceStore = (*sqlStore)(nil)

// PutCaseEvidence implements CaseEvidenceStore.
func (s *sqlStore) PutCaseEvidence(ctx context.Context, violationID string, ev Evidence) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO case_evidence (violation_id, prefix, files, manifest_sha256) VALUES (?,?,?,?)
		ON CONFLICT (violation_id) DO UPDATE SET prefix = excluded.prefix, files = excluded.files, manifest_sha256 = excluded.manifest_sha256`,
		violationID, ev.Prefix, filesJSON(ev.Files), ev.ManifestSHA256)
	if err != nil {
		return fmt.Errorf("evidence of case %s: %w", violationID, err)
	}
	return nil
}

// CaseEvidence implements CaseEvidenceStore.
func (s *sqlStore) CaseEvidence(ctx context.Context, violationID string) (Evidence, error) {
	var ev Evidence
	var files string
	err := s.db.QueryRowContext(ctx, `SELECT prefix, files, manifest_sha256 FROM case_evidence WHERE violation_id = ?`, violationID).
		Scan(&ev.Prefix, &files, &ev.ManifestSHA256)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ev, ErrNotFound
	case err != nil:
		return ev, fmt.Errorf("evidence of case %s: %w", violationID, err)
	}
	return ev, json.Unmarshal([]byte(files), &ev.Files)
}

// PutCaseEvidence records evidence for a case not made yet (see
// CaseEvidenceStore); a store that keeps none ignores it.
func (s *Service) PutCaseEvidence(ctx context.Context, violationID string, ev Evidence) error {
	if cs, ok := s.store.(CaseEvidenceStore); ok {
		return cs.PutCaseEvidence(ctx, violationID, ev)
	}
	return nil
}
