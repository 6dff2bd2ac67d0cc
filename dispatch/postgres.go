package dispatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Postgres is the Store for several StreetWatch nodes sharing one
// PostgreSQL database: the same queries as SQLite (sqlStore), each write
// in a transaction, and UpdateTicket's read-modify-write holding the
// ticket's row (SELECT ... FOR UPDATE) so that a second writer waits and
// then sees the version the first wrote.
type Postgres struct {
	*sqlStore
}

// OpenPostgres connects to the database at a postgres:// (or
// postgresql://) URL and brings its schema up to date. The URL's password
// never appears in its errors.
func OpenPostgres(ctx context.Context, rawURL string) (*Postgres, error) {
	name := RedactURL(rawURL)
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("dispatch: open %s: %w", name, redactErr(err, rawURL))
	}
	// Idle connections are closed after a while, so a database restart
	// or failover leaves no dead ones behind for long.
	db.SetMaxOpenConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Postgres{sqlStore: &sqlStore{db: &sqlDB{DB: db, d: postgresDialect}}}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("dispatch: connect to %s: %w", name, redactErr(err, rawURL))
	}
	// Several StreetWatch nodes may start at once on one database: an
	// advisory lock lets one migrate while the others wait (trying each
	// second, for up to five minutes).
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := migrate(ctx, s.db, goose.WithSessionLocker(locker)); err != nil {
		db.Close()
		return nil, fmt.Errorf("dispatch: %s: %w", name, redactErr(err, rawURL))
	}
	return s, nil
}

// RedactURL is a database URL fit for logs and errors: its password,
// in the user part or a password= parameter, replaced by "xxxxx".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable database url)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// redactErr takes the URL's password out of err's text: a driver may
// quote what it could not parse or connect to.
func redactErr(err error, rawURL string) error {
	msg := err.Error()
	for _, pw := range passwords(rawURL) {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// passwords are the URL's passwords, read by hand from its user part
// when the URL does not parse (a bad port, say).
func passwords(raw string) []string {
	var out []string
	if u, err := url.Parse(raw); err == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			out = append(out, pw)
		}
		if pw := u.Query().Get("password"); pw != "" {
			out = append(out, pw)
		}
		return out
	}
	_, rest, _ := strings.Cut(raw, "://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
			out = append(out, pw)
		}
	}
	return out
}
