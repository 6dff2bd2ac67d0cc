package dispatch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver (cgo)
)

// migrations are applied in order, each once; schema_version records
// them. Never edit one that has shipped: append a new one.
var migrations = []string{
	// 1: tickets, audit log, outbox.
	`CREATE TABLE tickets (
		id                TEXT PRIMARY KEY,
		violation_id      TEXT NOT NULL UNIQUE,
		type              TEXT NOT NULL,
		camera_id         TEXT NOT NULL,
		camera_name       TEXT NOT NULL,
		zone              TEXT NOT NULL,
		lat               REAL NOT NULL,
		lon               REAL NOT NULL,
		address           TEXT NOT NULL,
		district          TEXT NOT NULL,
		team              TEXT NOT NULL,
		first_seen        INTEGER NOT NULL,
		confirmed_at      INTEGER NOT NULL,
		confidence        REAL NOT NULL,
		model_name        TEXT NOT NULL,
		model_version     TEXT NOT NULL,
		evidence_prefix   TEXT NOT NULL,
		evidence_files    TEXT NOT NULL,
		manifest_sha256   TEXT NOT NULL,
		status            TEXT NOT NULL,
		reject_reason     TEXT NOT NULL DEFAULT '',
		keep              INTEGER NOT NULL DEFAULT 0,
		delivery_attempts INTEGER NOT NULL DEFAULT 0,
		last_error        TEXT NOT NULL DEFAULT '',
		queued_at         INTEGER,
		dispatched_at     INTEGER,
		version           INTEGER NOT NULL,
		created_at        INTEGER NOT NULL,
		updated_at        INTEGER NOT NULL
	);
	CREATE INDEX tickets_status ON tickets(status, id);
	CREATE INDEX tickets_camera ON tickets(camera_id, id);
	CREATE INDEX tickets_confirmed_at ON tickets(confirmed_at);
	CREATE TABLE audit (
		id          INTEGER PRIMARY KEY AUTOINCREMENT,
		ticket_id   TEXT NOT NULL REFERENCES tickets(id),
		at          INTEGER NOT NULL,
		actor       TEXT NOT NULL,
		from_status TEXT NOT NULL,
		to_status   TEXT NOT NULL,
		reason      TEXT NOT NULL,
		note        TEXT NOT NULL
	);
	CREATE INDEX audit_ticket ON audit(ticket_id, id);
	CREATE TABLE outbox (
		id              INTEGER PRIMARY KEY AUTOINCREMENT,
		ticket_id       TEXT NOT NULL UNIQUE REFERENCES tickets(id),
		queued_at       INTEGER NOT NULL,
		next_attempt_at INTEGER NOT NULL,
		attempts        INTEGER NOT NULL DEFAULT 0,
		last_error      TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX outbox_due ON outbox(next_attempt_at);`,

	// 2: audit entries say their kind in a column of their own. Entries
	// written before told it by a prefix of their note ("note: ...",
	// "district ...", "keep evidence: ..." on entries that kept the
	// status): parse it once here and drop the prefixes that only named
	// the kind, in one UPDATE so that every CASE reads the note as it was.
	`ALTER TABLE audit ADD COLUMN kind TEXT NOT NULL DEFAULT 'status';
	UPDATE audit SET
		kind = CASE
			WHEN substr(note, 1, 6) = 'note: ' THEN 'note'
			WHEN substr(note, 1, 9) = 'district ' THEN 'reassign'
			ELSE 'keep' END,
		note = CASE
			WHEN substr(note, 1, 6) = 'note: ' THEN substr(note, 7)
			WHEN substr(note, 1, 9) = 'district ' THEN substr(note, 10)
			ELSE note END
		WHERE from_status <> '' AND from_status = to_status;`,

	// 3: what the violation's object is and which signals confirmed it
	// (class model, left object). Tickets made before have neither: their
	// class is unknown ('') and their signals ('') were the model's.
	`ALTER TABLE tickets ADD COLUMN object_class TEXT NOT NULL DEFAULT '';
	ALTER TABLE tickets ADD COLUMN signals TEXT NOT NULL DEFAULT '';`,

	// 4: garbage stations' weighing records (stations.Weighing), one per
	// (source, record_id); seq orders them by arrival for a reconciler
	// following new and late records, weighings_station serves its
	// per-station time ranges. Weights are kilograms, NULL when not given.
	`CREATE TABLE weighings (
		seq         INTEGER PRIMARY KEY AUTOINCREMENT,
		source      TEXT NOT NULL,
		record_id   TEXT NOT NULL,
		station     TEXT NOT NULL,
		at          INTEGER NOT NULL,
		net_kg      REAL NOT NULL,
		gross_kg    REAL,
		tare_kg     REAL,
		plate       TEXT NOT NULL,
		operator    TEXT NOT NULL,
		received_at INTEGER NOT NULL,
		UNIQUE (source, record_id)
	);
	CREATE INDEX weighings_station ON weighings(station, at);`,

	// 5: station visits (stations.Visit), one per visit id; times are
	// microseconds like everywhere here. visits_station serves a
	// reconciler's per-station time ranges.
	`CREATE TABLE visits (
		id              TEXT PRIMARY KEY,
		station         TEXT NOT NULL,
		camera          TEXT NOT NULL,
		arrival         INTEGER NOT NULL,
		stop            INTEGER NOT NULL,
		departure       INTEGER NOT NULL,
		vehicle_class   TEXT NOT NULL,
		score           REAL NOT NULL,
		evidence_prefix TEXT NOT NULL DEFAULT '',
		evidence_status TEXT NOT NULL,
		created_at      INTEGER NOT NULL
	);
	CREATE INDEX visits_station ON visits(station, arrival);`,

	// 6: when each station camera was watching (Service.Watching): one row
	// a span of heartbeats without a gap, [started, until] in
	// microseconds. A camera with no span covering a time did not watch.
	`CREATE TABLE camera_watch (
		id      INTEGER PRIMARY KEY AUTOINCREMENT,
		camera  TEXT NOT NULL,
		started INTEGER NOT NULL,
		until   INTEGER NOT NULL
	);
	CREATE INDEX camera_watch_camera ON camera_watch(camera, until);`,

	// 7: a visit's evidence files (JSON array) and manifest digest, for
	// the ticket of an unweighed unload; the weighing record it was
	// matched with ("source/record_id") and its over-limit flag.
	`ALTER TABLE visits ADD COLUMN evidence_files TEXT NOT NULL DEFAULT '[]';
	ALTER TABLE visits ADD COLUMN manifest_sha256 TEXT NOT NULL DEFAULT '';
	ALTER TABLE visits ADD COLUMN weighing TEXT NOT NULL DEFAULT '';
	ALTER TABLE visits ADD COLUMN over_limit_kg REAL NOT NULL DEFAULT 0;`,

	// 8: evidence made before its case (a weighing record's bay clip,
	// cut while the camera's history still held it), by the violation id
	// of the case it would support.
	`CREATE TABLE case_evidence (
		violation_id    TEXT PRIMARY KEY,
		prefix          TEXT NOT NULL,
		files           TEXT NOT NULL,
		manifest_sha256 TEXT NOT NULL
	);`,
}

// SQLite is the embedded Store: one database file in WAL mode with
// foreign keys on, full fsync on commit (a confirmed ticket survives a
// power cut), and write transactions that take the lock up front so
// concurrent writers queue (busy timeout) instead of failing.
type SQLite struct {
	db   *sql.DB
	path string
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens (creating if needed) the database at path and brings
// its schema up to date.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("dispatch: database path %q: '?' and '#' are not supported", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("dispatch: database folder: %w", err)
	}
	dsn := path + "?_journal_mode=WAL&_foreign_keys=on&_busy_timeout=10000&_txlock=immediate&_synchronous=FULL"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("dispatch: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	s := &SQLite{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("dispatch: %s: %w", path, err)
	}
	return s, nil
}

// SchemaVersion is the version the database is at.
func (s *SQLite) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// migrate applies the missing migrations in one transaction.
func (s *SQLite) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&have); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this StreetWatch knows (%d): upgrade StreetWatch", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`, v, micros(time.Now())); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return tx.Commit()
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

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
func (s *SQLite) CreateTicket(ctx context.Context, t *Ticket, audit AuditEntry) (*Ticket, bool, error) {
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

func insertAudit(ctx context.Context, tx *sql.Tx, a AuditEntry) error {
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

func enqueue(ctx context.Context, tx *sql.Tx, ticketID string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox (ticket_id, queued_at, next_attempt_at) VALUES (?,?,?)
		ON CONFLICT (ticket_id) DO UPDATE SET queued_at = excluded.queued_at,
			next_attempt_at = excluded.next_attempt_at, attempts = 0, last_error = ''`,
		ticketID, micros(at), micros(at))
	if err != nil {
		return fmt.Errorf("insert outbox: %w", err)
	}
	return nil
}

// Ticket implements Store.
func (s *SQLite) Ticket(ctx context.Context, id string) (*Ticket, error) {
	return scanTicket(s.db.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, id))
}

// TicketByViolation implements Store.
func (s *SQLite) TicketByViolation(ctx context.Context, violationID string) (*Ticket, error) {
	return scanTicket(s.db.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE violation_id = ?`, violationID))
}

// ListTickets implements Store.
func (s *SQLite) ListTickets(ctx context.Context, f Filter) ([]*Ticket, error) {
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
func (s *SQLite) UpdateTicket(ctx context.Context, id string, now time.Time, fn func(t *Ticket) (Change, error)) (*Ticket, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	t, err := scanTicket(tx.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, id))
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
func (s *SQLite) Audit(ctx context.Context, ticketID string) ([]AuditEntry, error) {
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

// DueOutbox implements Store.
func (s *SQLite) DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxItem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, ticket_id, queued_at, next_attempt_at, attempts FROM outbox
		WHERE next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		var it OutboxItem
		var queued, next int64
		if err := rows.Scan(&it.ID, &it.TicketID, &queued, &next, &it.Attempts); err != nil {
			return nil, err
		}
		it.QueuedAt, it.NextAttempt = fromMicros(queued), fromMicros(next)
		out = append(out, it)
	}
	return out, rows.Err()
}

// NextOutboxDue implements Store.
func (s *SQLite) NextOutboxDue(ctx context.Context) (time.Time, bool, error) {
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
func (s *SQLite) RetryLater(ctx context.Context, it OutboxItem, next time.Time, lastErr string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?
		WHERE id = ? AND queued_at = ?`, it.Attempts, micros(next), lastErr, it.ID, micros(it.QueuedAt))
	if err != nil {
		return fmt.Errorf("outbox %d: %w", it.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // queued again (or gone) since it was read: this attempt is history
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tickets SET delivery_attempts = ?, last_error = ? WHERE id = ?`,
		it.Attempts, lastErr, it.TicketID); err != nil {
		return fmt.Errorf("ticket %s: %w", it.TicketID, err)
	}
	return tx.Commit()
}

// DeleteOutbox implements Store.
func (s *SQLite) DeleteOutbox(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, id)
	return err
}

// OutboxDepth implements Store.
func (s *SQLite) OutboxDepth(ctx context.Context) (int, error) {
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
