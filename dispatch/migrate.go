package dispatch

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
)

// The schema of each dialect is one ordered list of SQL files under
// migrations/<dialect>/, applied by goose. goose rather than
// golang-migrate because it runs on the *sql.DB both stores already use
// (golang-migrate wants a driver of its own per database), and because
// its version table is pluggable: versionTable below keeps the
// schema_version table that StreetWatch's own runner wrote before, so a
// SQLite database at any old version upgrades in place with no
// conversion step. Never edit a file that has shipped: add the next one.
//
//go:embed migrations
var migrationFiles embed.FS

// migrate brings the database's schema up to date: each pending
// migration in a transaction of its own, recorded in schema_version in
// the same transaction. The caller makes sure no other store migrates
// the database at the same time (SQLite: a file lock around opening it;
// PostgreSQL: goose's advisory lock, in opts).
func migrate(ctx context.Context, db *sqlDB, opts ...goose.ProviderOption) error {
	files, err := fs.Sub(migrationFiles, "migrations/"+db.d.name)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	opts = append(opts,
		goose.WithStore(versionTable{db.d}),
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
	)
	p, err := goose.NewProvider(goose.DialectCustom, db.DB, files, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	have, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sources := p.ListSources()
	known := sources[len(sources)-1].Version
	if have > known {
		return fmt.Errorf("schema version %d is newer than this StreetWatch knows (%d): upgrade StreetWatch", have, known)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// versionTable is goose's record of applied migrations kept in the
// schema_version table (version, applied_at in microseconds) that
// databases made before goose already have. goose's own tables start
// with a row for version 0 (the empty schema); this one never had it,
// so version 0 is implied rather than stored and the table reads as it
// always did: one row per migration applied.
type versionTable struct{ d *dialect }

var _ database.StoreExtender = versionTable{}

func (versionTable) Tablename() string { return "schema_version" }

func (v versionTable) CreateVersionTable(ctx context.Context, db database.DBTxConn) error {
	// SQLite's INTEGER is 64 bits, PostgreSQL's 32: applied_at needs 64.
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version `+v.d.int64+` PRIMARY KEY, applied_at `+v.d.int64+` NOT NULL)`)
	return err
}

func (v versionTable) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, v.d.bind(v.d.tableExists), "schema_version").Scan(&n)
	return n > 0, err
}

func (v versionTable) Insert(ctx context.Context, db database.DBTxConn, req database.InsertRequest) error {
	if req.Version == 0 {
		return nil
	}
	_, err := db.ExecContext(ctx, v.d.bind(`INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`),
		req.Version, micros(time.Now()))
	return err
}

func (v versionTable) Delete(ctx context.Context, db database.DBTxConn, version int64) error {
	_, err := db.ExecContext(ctx, v.d.bind(`DELETE FROM schema_version WHERE version = ?`), version)
	return err
}

func (v versionTable) GetMigration(ctx context.Context, db database.DBTxConn, version int64) (*database.GetMigrationResult, error) {
	if version == 0 {
		return &database.GetMigrationResult{IsApplied: true}, nil
	}
	var at int64
	err := db.QueryRowContext(ctx, v.d.bind(`SELECT applied_at FROM schema_version WHERE version = ?`), version).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, database.ErrVersionNotFound
	}
	if err != nil {
		return nil, err
	}
	return &database.GetMigrationResult{Timestamp: fromMicros(at), IsApplied: true}, nil
}

func (v versionTable) GetLatestVersion(ctx context.Context, db database.DBTxConn) (int64, error) {
	var latest int64
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&latest)
	return latest, err
}

func (v versionTable) ListMigrations(ctx context.Context, db database.DBTxConn) ([]*database.ListMigrationsResult, error) {
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_version ORDER BY version DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*database.ListMigrationsResult
	for rows.Next() {
		var m database.ListMigrationsResult
		if err := rows.Scan(&m.Version); err != nil {
			return nil, err
		}
		m.IsApplied = true
		out = append(out, &m)
	}
	return append(out, &database.ListMigrationsResult{Version: 0, IsApplied: true}), rows.Err()
}

// SchemaVersion is the version the database is at.
func (s *sqlStore) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}
