package dispatch

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/streetwatch/streetwatch/internal/pgtest"
)

// Nodes starting together on a new database: goose's advisory lock lets
// one migrate while the others wait, and none fails or migrates twice.
func TestPostgresMigratesOnceWhenSeveralNodesOpenItAtOnce(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	stores := make([]*Postgres, 4)
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(t.Context(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var versions []int
	rows, err := stores[0].db.QueryContext(t.Context(), "SELECT version FROM schema_version ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if len(versions) != 1 || versions[0] != len(sqliteMigrations(t)) {
		t.Errorf("schema_version %v, want [%d]: PostgreSQL's one migration makes SQLite's latest schema", versions, len(sqliteMigrations(t)))
	}
	// The schema enforces what SQLite's does.
	if _, err := stores[1].db.ExecContext(t.Context(), "INSERT INTO outbox (ticket_id, queued_at, next_attempt_at) VALUES ('nope', 0, 0)"); err == nil {
		t.Error("foreign key not enforced")
	}
}

// A database URL's password appears in no error: neither when the
// server cannot be reached nor when the URL does not parse.
func TestPostgresErrorsNeverShowTheURLsPassword(t *testing.T) {
	for _, url := range []string{
		"postgres://sw:s3cret-pw@127.0.0.1:1/streetwatch?connect_timeout=2",
		"postgres://sw:s3cret-pw@127.0.0.1:port/streetwatch",
		"postgresql://sw:s3cret-pw@127.0.0.1:1/streetwatch?sslmode=bogus",
		"postgres://sw@127.0.0.1:1/streetwatch?password=s3cret-pw&sslmode=bogus",
	} {
		db, err := OpenPostgres(t.Context(), url)
		if err == nil {
			db.Close()
			t.Fatalf("%s: opened", url)
		}
		t.Log(err)
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error shows the password: %v", err)
		}
		if got := RedactURL(url); strings.Contains(got, "s3cret-pw") {
			t.Errorf("RedactURL(%s) = %s", url, got)
		}
	}
}

// Commands that open only SQLite refuse a PostgreSQL dispatch.database
// instead of making a folder of its URL.
func TestOpenSQLiteRefusesAPostgresURL(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := OpenSQLite(t.Context(), "postgres://sw:s3cret-pw@db/streetwatch")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error %v: want a refusal without the password", err)
	}
	if _, err := os.Stat("postgres:"); err == nil {
		t.Error("made a folder postgres:")
	}
}

// Whatever a driver's error quotes, the password is taken out of it,
// also from a URL that does not parse.
func TestRedactErrTakesThePasswordOutOfAnyMessage(t *testing.T) {
	for _, url := range []string{
		"postgres://sw:s3cret-pw@db/streetwatch",
		"postgres://sw@db/streetwatch?password=s3cret-pw",
		"postgres://sw:s3cret-pw@db:port/streetwatch",
	} {
		err := redactErr(errors.New("cannot use "+url+": s3cret-pw rejected"), url)
		if strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("%s: %v", url, err)
		}
	}
}
