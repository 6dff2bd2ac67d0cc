package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/streetwatch/streetwatch/stations"
)

// The ticket database keeps the stations' visits too, beside the
// weighing records a reconciler matches them with.
var _ stations.VisitStore = (*sqlStore)(nil)

const visitColumns = `id, station, camera, arrival, stop, departure, vehicle_class, score, evidence_prefix, evidence_status, created_at,
	evidence_files, manifest_sha256, weighing, over_limit_kg`

func scanVisit(row scanner) (stations.Visit, error) {
	var v stations.Visit
	var arrival, stop, departure, created int64
	var files string
	err := row.Scan(&v.ID, &v.Station, &v.Camera, &arrival, &stop, &departure, &v.VehicleClass, &v.Score,
		&v.EvidencePrefix, &v.EvidenceStatus, &created, &files, &v.ManifestSHA256, &v.Weighing, &v.OverLimitKG)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal([]byte(files), &v.EvidenceFiles); err != nil {
		return v, fmt.Errorf("visit %s: evidence files: %w", v.ID, err)
	}
	v.Arrival, v.Stop, v.Departure, v.CreatedAt = fromMicros(arrival), fromMicros(stop), fromMicros(departure), fromMicros(created)
	return v, nil
}

// PutVisit implements stations.VisitStore.
func (s *sqlStore) PutVisit(ctx context.Context, v stations.Visit) (stations.Visit, bool, error) {
	if v.ID == "" {
		return v, false, fmt.Errorf("put visit: no id")
	}
	if v.EvidenceStatus == "" {
		v.EvidenceStatus = stations.EvidencePending
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return v, false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO visits (`+visitColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING`,
		v.ID, v.Station, v.Camera, micros(v.Arrival), micros(v.Stop), micros(v.Departure), v.VehicleClass, v.Score,
		v.EvidencePrefix, v.EvidenceStatus, micros(v.CreatedAt), filesJSON(v.EvidenceFiles), v.ManifestSHA256, v.Weighing, v.OverLimitKG)
	if err != nil {
		return v, false, fmt.Errorf("put visit %s: %w", v.ID, err)
	}
	n, _ := res.RowsAffected()
	stored, err := scanVisit(tx.QueryRowContext(ctx, `SELECT `+visitColumns+` FROM visits WHERE id = ?`, v.ID))
	if err != nil {
		return v, false, fmt.Errorf("put visit %s: %w", v.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return v, false, err
	}
	return stored, n == 1, nil
}

// VisitsBetween implements stations.VisitStore.
func (s *sqlStore) VisitsBetween(ctx context.Context, station string, from, to time.Time, limit int) ([]stations.Visit, error) {
	out, err := queryAll(ctx, s.db, scanVisit, `SELECT `+visitColumns+` FROM visits
		WHERE station = ? AND arrival < ? AND departure >= ? ORDER BY arrival, id LIMIT ?`,
		station, micros(to), micros(from), limit)
	if err != nil {
		return nil, fmt.Errorf("visits: %w", err)
	}
	return out, nil
}

// SetVisitEvidence implements stations.VisitStore.
func (s *sqlStore) SetVisitEvidence(ctx context.Context, id string, ev stations.VisitEvidence) error {
	switch ev.Status {
	case stations.EvidenceStored, stations.EvidenceFailed, stations.EvidencePending:
	default:
		return fmt.Errorf("visit %s: evidence status %q", id, ev.Status)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE visits SET evidence_prefix = ?, evidence_status = ?, evidence_files = ?, manifest_sha256 = ? WHERE id = ?`,
		ev.Prefix, ev.Status, filesJSON(ev.Files), ev.ManifestSHA256, id)
	if err != nil {
		return fmt.Errorf("visit %s: evidence: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("visit %s: %w", id, ErrNotFound)
	}
	return nil
}

// SetVisitWeighing implements stations.VisitStore.
func (s *sqlStore) SetVisitWeighing(ctx context.Context, id, record string, overLimitKG float64) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE visits SET weighing = ?, over_limit_kg = ? WHERE id = ? AND (weighing != ? OR over_limit_kg != ?)`,
		record, overLimitKG, id, record, overLimitKG)
	if err != nil {
		return false, fmt.Errorf("visit %s: weighing: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func filesJSON(files []string) string {
	b, _ := json.Marshal(orEmpty(files))
	return string(b)
}
