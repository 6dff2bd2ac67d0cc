package dispatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/streetwatch/streetwatch/stations"
)

// The ticket database keeps the stations' weighing records too: one file
// to back up, and the tickets a reconciler will raise sit beside the
// records they are about.
var _ stations.Store = (*sqlStore)(nil)

const weighingColumns = `seq, source, record_id, station, at, net_kg, gross_kg, tare_kg, plate, operator, received_at`

func scanWeighing(row scanner) (stations.Weighing, error) {
	var w stations.Weighing
	var at, received int64
	var gross, tare sql.NullFloat64
	err := row.Scan(&w.Seq, &w.Source, &w.RecordID, &w.Station, &at, &w.NetKG, &gross, &tare, &w.Plate, &w.Operator, &received)
	if errors.Is(err, sql.ErrNoRows) {
		return w, ErrNotFound
	}
	if err != nil {
		return w, err
	}
	w.Time, w.ReceivedAt = fromMicros(at), fromMicros(received)
	if gross.Valid {
		w.GrossKG = &gross.Float64
	}
	if tare.Valid {
		w.TareKG = &tare.Float64
	}
	return w, nil
}

func nullKG(v *float64) sql.NullFloat64 {
	if v == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *v, Valid: true}
}

// PutWeighings implements stations.Store.
func (s *sqlStore) PutWeighings(ctx context.Context, ws []stations.Weighing) ([]stations.Put, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	out := make([]stations.Put, len(ws))
	for i, w := range ws {
		// RETURNING gives the new row's seq (PostgreSQL has no last
		// insert id) and no row when the record was there already.
		err := tx.QueryRowContext(ctx, `INSERT INTO weighings (source, record_id, station, at, net_kg, gross_kg, tare_kg, plate, operator, received_at)
			VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (source, record_id) DO NOTHING RETURNING seq`,
			w.Source, w.RecordID, w.Station, micros(w.Time), w.NetKG, nullKG(w.GrossKG), nullKG(w.TareKG), w.Plate, w.Operator, micros(w.ReceivedAt)).Scan(&w.Seq)
		if errors.Is(err, sql.ErrNoRows) {
			existing, err := scanWeighing(tx.QueryRowContext(ctx, `SELECT `+weighingColumns+` FROM weighings WHERE source = ? AND record_id = ?`, w.Source, w.RecordID))
			if err != nil {
				return nil, fmt.Errorf("existing weighing %s/%s: %w", w.Source, w.RecordID, err)
			}
			out[i] = stations.Put{Weighing: existing, Result: stations.ResultConflict}
			if existing.SameContent(w) {
				out[i].Result = stations.ResultDuplicate
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("insert weighing %s/%s: %w", w.Source, w.RecordID, err)
		}
		w.Time, w.ReceivedAt = fromMicros(micros(w.Time)), fromMicros(micros(w.ReceivedAt))
		out[i] = stations.Put{Weighing: w, Result: stations.ResultStored}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// WeighingsBetween implements stations.Store.
func (s *sqlStore) WeighingsBetween(ctx context.Context, station string, from, to time.Time, limit int) ([]stations.Weighing, error) {
	return s.weighings(ctx, `SELECT `+weighingColumns+` FROM weighings WHERE station = ? AND at >= ? AND at < ?
		ORDER BY at, seq LIMIT ?`, station, micros(from), micros(to), limit)
}

// WeighingsReceivedAfter implements stations.Store.
func (s *sqlStore) WeighingsReceivedAfter(ctx context.Context, seq int64, limit int) ([]stations.Weighing, error) {
	return s.weighings(ctx, `SELECT `+weighingColumns+` FROM weighings WHERE seq > ? ORDER BY seq LIMIT ?`, seq, limit)
}

func (s *sqlStore) weighings(ctx context.Context, q string, args ...any) ([]stations.Weighing, error) {
	out, err := queryAll(ctx, s.db, scanWeighing, q, args...)
	if err != nil {
		return nil, fmt.Errorf("weighings: %w", err)
	}
	return out, nil
}

// queryAll runs a query and scans every row; no rows is an empty list,
// never nil (the API answers [] rather than null).
func queryAll[T any](ctx context.Context, db *sqlDB, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
