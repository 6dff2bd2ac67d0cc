package dispatch

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

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
	// Until the schema is current, one store at a time (see lockFile).
	unlock, err := lockFile(ctx, path+"-lock")
	if err != nil {
		return nil, fmt.Errorf("dispatch: %w", err)
	}
	defer unlock()
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

// lockFile takes an exclusive flock on the file at path (creating it),
// waiting for it as long as ctx allows. OpenSQLite holds it while it
// opens and migrates the database, so that stores opening a database at
// once (in several processes or one) do that one after the other: two
// first connections switching a new file to WAL, or two runs of the same
// migration, fail. The database file itself cannot be the lock: closing
// a descriptor of it would drop SQLite's own locks.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing the only descriptor releases the flock
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
