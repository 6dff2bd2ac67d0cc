package dispatch

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sqlStore is the Store on a SQL database, the same queries for SQLite
// and PostgreSQL: the schemas keep the same tables, columns and integer
// microsecond times, so what differs is only what dialect says. SQLite
// and Postgres wrap it with their own way to open the database.
type sqlStore struct {
	db *sqlDB
}

var _ Store = (*sqlStore)(nil)

// Close closes the database.
func (s *sqlStore) Close() error { return s.db.Close() }

// dialect is what differs between the databases sqlStore runs on.
type dialect struct {
	name string // its folder under migrations/
	// numbered: placeholders are $1, $2... rather than ?.
	numbered bool
	// forUpdate ends a SELECT whose rows the transaction will change:
	// SQLite's write transactions hold the database's lock from BEGIN
	// (_txlock=immediate), PostgreSQL locks the rows. skipLocked does the
	// same but passes over rows another transaction holds.
	forUpdate, skipLocked string
	// int64 is the 64-bit integer column type.
	int64 string
	// tableExists counts the tables named by its one parameter.
	tableExists string
	// least and greatest are the scalar minimum and maximum of their
	// arguments (SQLite's min and max with two or more).
	least, greatest string
}

var (
	sqliteDialect = &dialect{name: "sqlite", int64: "INTEGER",
		tableExists: `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`,
		least:       "MIN", greatest: "MAX"}
	postgresDialect = &dialect{name: "postgres", numbered: true, forUpdate: " FOR UPDATE", skipLocked: " FOR UPDATE SKIP LOCKED", int64: "BIGINT",
		tableExists: `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?`,
		least:       "LEAST", greatest: "GREATEST"}
)

// bind writes q's ? placeholders the dialect's way. The store's queries
// have no '?' in string literals or identifiers.
func (d *dialect) bind(q string) string {
	if !d.numbered {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sqlDB and sqlTx are database/sql's, taking queries written with ?
// placeholders.
type sqlDB struct {
	*sql.DB
	d *dialect
}

func (db *sqlDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.DB.ExecContext(ctx, db.d.bind(q), args...)
}

func (db *sqlDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.DB.QueryContext(ctx, db.d.bind(q), args...)
}

func (db *sqlDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return db.DB.QueryRowContext(ctx, db.d.bind(q), args...)
}

func (db *sqlDB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sqlTx, error) {
	tx, err := db.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &sqlTx{Tx: tx, d: db.d}, nil
}

type sqlTx struct {
	*sql.Tx
	d *dialect
}

func (tx *sqlTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.Tx.ExecContext(ctx, tx.d.bind(q), args...)
}

func (tx *sqlTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.Tx.QueryContext(ctx, tx.d.bind(q), args...)
}

func (tx *sqlTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.Tx.QueryRowContext(ctx, tx.d.bind(q), args...)
}

const ticketColumns = `id, violation_id, type, camera_id, camera_name, zone, lat, lon, address, district, team,
	first_seen, confirmed_at, confidence, model_name, model_version, evidence_prefix, evidence_files,
	manifest_sha256, status, reject_reason, keep, delivery_attempts, last_error, queued_at, dispatched_at,
	version, created_at, updated_at, object_class, signals`

type scanner interface{ Scan(dest ...any) error }

func scanTicket(row scanner) (*Ticket, error) {
	var t Ticket
	var files, signals string
	var firstSeen, confirmedAt, created, updated int64
	var queued, dispatched sql.NullInt64
	err := row.Scan(&t.ID, &t.ViolationID, &t.Type, &t.CameraID, &t.CameraName, &t.Zone,
		&t.Location.Lat, &t.Location.Lon, &t.Location.Address, &t.District, &t.Team,
		&firstSeen, &confirmedAt, &t.Confidence, &t.Model.Name, &t.Model.Version,
		&t.Evidence.Prefix, &files, &t.Evidence.ManifestSHA256, &t.Status, &t.RejectReason, &t.Keep,
		&t.Delivery.Attempts, &t.Delivery.LastError, &queued, &dispatched, &t.Version, &created, &updated,
		&t.Class, &signals)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(files), &t.Evidence.Files); err != nil {
		return nil, fmt.Errorf("ticket %s: evidence files: %w", t.ID, err)
	}
	if signals != "" {
		if err := json.Unmarshal([]byte(signals), &t.Signals); err != nil {
			return nil, fmt.Errorf("ticket %s: signals: %w", t.ID, err)
		}
	}
	t.Signals = signalsOr(t.Signals)
	t.FirstSeen, t.ConfirmedAt = fromMicros(firstSeen), fromMicros(confirmedAt)
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	t.Delivery.QueuedAt, t.Delivery.DispatchedAt = nullTime(queued), nullTime(dispatched)
	return &t, nil
}

// CreateTicket implements Store.
func (s *sqlStore) CreateTicket(ctx context.Context, t *Ticket, audit AuditEntry) (*Ticket, bool, error) {
	files, err := json.Marshal(orEmpty(t.Evidence.Files))
	if err != nil {
		return nil, false, err
	}
	signals, err := json.Marshal(signalsOr(t.Signals))
	if err != nil {
		return nil, false, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO tickets (`+ticketColumns+`)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (violation_id) DO NOTHING`,
		t.ID, t.ViolationID, t.Type, t.CameraID, t.CameraName, t.Zone, t.Location.Lat, t.Location.Lon,
		t.Location.Address, t.District, t.Team, micros(t.FirstSeen), micros(t.ConfirmedAt), t.Confidence,
		t.Model.Name, t.Model.Version, t.Evidence.Prefix, string(files), t.Evidence.ManifestSHA256,
		t.Status, t.RejectReason, t.Keep, t.Delivery.Attempts, t.Delivery.LastError,
		nullMicros(t.Delivery.QueuedAt), nullMicros(t.Delivery.DispatchedAt), t.Version,
		micros(t.CreatedAt), micros(t.UpdatedAt), t.Class, string(signals))
	if err != nil {
		return nil, false, fmt.Errorf("insert ticket: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		existing, err := scanTicket(tx.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE violation_id = ?`, t.ViolationID))
		if err != nil {
			return nil, false, fmt.Errorf("existing ticket of violation %s: %w", t.ViolationID, err)
		}
		return existing, false, nil
	}
	audit.TicketID = t.ID
	if err := insertAudit(ctx, tx, audit); err != nil {
		return nil, false, err
	}
	if t.Delivery.QueuedAt != nil {
		if err := enqueue(ctx, tx, t.ID, *t.Delivery.QueuedAt); err != nil {
			return nil, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, false, err
	}
	return t, true, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func insertAudit(ctx context.Context, tx *sqlTx, a AuditEntry) error {
	if !validAuditKind(a.Kind) {
		return fmt.Errorf("insert audit: unknown kind %q", a.Kind)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit (ticket_id, at, actor, kind, from_status, to_status, reason, note)
		VALUES (?,?,?,?,?,?,?,?)`, a.TicketID, micros(a.At), a.Actor, a.Kind, a.From, a.To, a.Reason, a.Note)
	if err != nil {
		return fmt.Errorf("insert audit: %w", err)
	}
	return nil
}

func enqueue(ctx context.Context, tx *sqlTx, ticketID string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox (ticket_id, queued_at, next_attempt_at) VALUES (?,?,?)
		ON CONFLICT (ticket_id) DO UPDATE SET queued_at = excluded.queued_at,
			next_attempt_at = excluded.next_attempt_at, attempts = 0, last_error = '', claimed_by = ''`,
		ticketID, micros(at), micros(at))
	if err != nil {
		return fmt.Errorf("insert outbox: %w", err)
	}
	return nil
}

// Ticket implements Store.
func (s *sqlStore) Ticket(ctx context.Context, id string) (*Ticket, error) {
	return scanTicket(s.db.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, id))
}

// TicketByViolation implements Store.
func (s *sqlStore) TicketByViolation(ctx context.Context, violationID string) (*Ticket, error) {
	return scanTicket(s.db.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE violation_id = ?`, violationID))
}

// ListTickets implements Store.
func (s *sqlStore) ListTickets(ctx context.Context, f Filter) ([]*Ticket, error) {
	var where []string
	var args []any
	if len(f.Statuses) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?,", len(f.Statuses)), ",")
		where = append(where, "status IN ("+marks+")")
		for _, st := range f.Statuses {
			args = append(args, st)
		}
	}
	for _, c := range []struct {
		col, val string
	}{{"type", f.Type}, {"camera_id", f.CameraID}, {"district", f.District}} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if !f.From.IsZero() {
		where = append(where, "confirmed_at >= ?")
		args = append(args, micros(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "confirmed_at < ?")
		args = append(args, micros(f.To))
	}
	if f.Before != "" {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	q := `SELECT ` + ticketColumns + ` FROM tickets`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	defer rows.Close()
	var out []*Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// UpdateTicket implements Store.
func (s *sqlStore) UpdateTicket(ctx context.Context, id string, now time.Time, fn func(t *Ticket) (Change, error)) (*Ticket, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	t, err := scanTicket(tx.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`+s.db.d.forUpdate, id))
	if err != nil {
		return nil, err
	}
	old := t.Version
	ch, err := fn(t)
	if err != nil {
		return nil, err
	}
	t.Version, t.UpdatedAt = old+1, now
	// Every field a change may make is written; the violation's own
	// facts (camera, times, evidence...) never change.
	res, err := tx.ExecContext(ctx, `UPDATE tickets SET district = ?, team = ?, status = ?, reject_reason = ?, keep = ?,
		delivery_attempts = ?, last_error = ?, queued_at = ?, dispatched_at = ?, version = ?, updated_at = ?
		WHERE id = ? AND version = ?`,
		t.District, t.Team, t.Status, t.RejectReason, t.Keep, t.Delivery.Attempts, t.Delivery.LastError,
		nullMicros(t.Delivery.QueuedAt), nullMicros(t.Delivery.DispatchedAt), t.Version, micros(now), id, old)
	if err != nil {
		return nil, fmt.Errorf("update ticket %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, fmt.Errorf("ticket %s: %w", id, ErrConflict)
	}
	if ch.Audit != nil {
		a := *ch.Audit
		a.TicketID, a.At = id, now
		if err := insertAudit(ctx, tx, a); err != nil {
			return nil, err
		}
	}
	if ch.Dequeue {
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE ticket_id = ?`, id); err != nil {
			return nil, fmt.Errorf("dequeue %s: %w", id, err)
		}
	}
	if ch.Enqueue {
		at := now
		if t.Delivery.QueuedAt != nil {
			at = *t.Delivery.QueuedAt
		}
		if err := enqueue(ctx, tx, id, at); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update ticket %s: %w", id, err)
	}
	return t, nil
}

// Audit implements Store.
func (s *sqlStore) Audit(ctx context.Context, ticketID string) ([]AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, ticket_id, at, actor, kind, from_status, to_status, reason, note
		FROM audit WHERE ticket_id = ? ORDER BY id`, ticketID)
	if err != nil {
		return nil, fmt.Errorf("audit of %s: %w", ticketID, err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var a AuditEntry
		var at int64
		if err := rows.Scan(&a.ID, &a.TicketID, &at, &a.Actor, &a.Kind, &a.From, &a.To, &a.Reason, &a.Note); err != nil {
			return nil, err
		}
		a.At = fromMicros(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// ClaimOutbox implements Store. The rows are picked and leased by one
// statement in a write transaction: on PostgreSQL the pick locks its rows
// and skips those another sender's claim holds locked (FOR UPDATE SKIP
// LOCKED), so concurrent claims take different rows without waiting; on
// SQLite the transaction holds the database's one write lock.
func (s *sqlStore) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int, owner string) ([]OutboxItem, error) {
	until := now.Add(lease)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	defer tx.Rollback()
	// MATERIALIZED: the pick runs once, so the LIMIT holds.
	rows, err := tx.QueryContext(ctx, `WITH due AS MATERIALIZED (
			SELECT id FROM outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`+s.db.d.skipLocked+`)
		UPDATE outbox SET next_attempt_at = ?, claimed_by = ? WHERE id IN (SELECT id FROM due)
		RETURNING id, ticket_id, queued_at, attempts`, micros(now), limit, micros(until), owner)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		it := OutboxItem{ClaimedBy: owner, LeaseUntil: fromMicros(micros(until))}
		var queued int64
		if err := rows.Scan(&it.ID, &it.TicketID, &queued, &it.Attempts); err != nil {
			return nil, fmt.Errorf("claim outbox: %w", err)
		}
		it.QueuedAt = fromMicros(queued)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	// RETURNING keeps no order; ids grow with queueing.
	slices.SortFunc(out, func(a, b OutboxItem) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// ReleaseOutbox implements Store.
func (s *sqlStore) ReleaseOutbox(ctx context.Context, it OutboxItem, due time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET next_attempt_at = ?, claimed_by = ''
		WHERE id = ? AND claimed_by = ? AND next_attempt_at = ?`, micros(due), it.ID, it.ClaimedBy, micros(it.LeaseUntil))
	if err != nil {
		return fmt.Errorf("release outbox %d: %w", it.ID, err)
	}
	return nil
}

// NextOutboxDue implements Store.
func (s *sqlStore) NextOutboxDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM outbox`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("outbox: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMicros(next.Int64), true, nil
}

// RetryLater implements Store.
func (s *sqlStore) RetryLater(ctx context.Context, it OutboxItem, next time.Time, lastErr string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, claimed_by = ''
		WHERE id = ? AND queued_at = ? AND claimed_by = ? AND next_attempt_at = ?`,
		it.Attempts, micros(next), lastErr, it.ID, micros(it.QueuedAt), it.ClaimedBy, micros(it.LeaseUntil))
	if err != nil {
		return fmt.Errorf("outbox %d: %w", it.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // queued again, gone or claimed anew since it was claimed: this attempt is history
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tickets SET delivery_attempts = ?, last_error = ? WHERE id = ?`,
		it.Attempts, lastErr, it.TicketID); err != nil {
		return fmt.Errorf("ticket %s: %w", it.TicketID, err)
	}
	return tx.Commit()
}

// DeleteOutbox implements Store.
func (s *sqlStore) DeleteOutbox(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, id)
	return err
}

// OutboxDepth implements Store.
func (s *sqlStore) OutboxDepth(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n)
	return n, err
}

// Times are stored as UTC microseconds since the epoch: they sort and
// compare as integers, and PostgreSQL's timestamptz has the same precision.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}
