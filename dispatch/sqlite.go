package dispatch

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver (cgo)

	"github.com/streetwatch/streetwatch/config"
)

// SQLite is the embedded Store: one database file in WAL mode with
// foreign keys on, full fsync on commit (a confirmed ticket survives a
// power cut), and write transactions that take the lock up front so
// concurrent writers queue (busy timeout) instead of failing.
type SQLite struct {
	*sqlStore
	path string
}

// OpenSQLite opens (creating if needed) the database at path and brings
// its schema up to date.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if config.IsPostgresURL(path) {
		// A caller that knows only SQLite, given a PostgreSQL
		// dispatch.database: say so rather than make a folder "postgres:".
		return nil, fmt.Errorf("dispatch: %s is a PostgreSQL database (open it with OpenStore)", RedactURL(path))
	}
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
	s := &SQLite{sqlStore: &sqlStore{db: &sqlDB{DB: db, d: sqliteDialect}}, path: path}
	if err := migrate(ctx, s.db); err != nil {
		db.Close()
		return nil, fmt.Errorf("dispatch: %s: %w", path, err)
	}
	return s, nil
}
