package dispatch

import (
	"errors"
	"os"
	"strings"
	"testing"
)

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
