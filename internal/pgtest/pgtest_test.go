package pgtest_test

import (
	"database/sql"
	"os"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/internal/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Main(m)) }

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Each test gets a database of its own on the one server, and it is gone
// when the test ends.
func TestEachTestGetsItsOwnDatabaseGoneWhenItEnds(t *testing.T) {
	srv := pgtest.Start(t)
	var first string
	t.Run("a", func(t *testing.T) {
		first = srv.NewDatabase(t)
		db := open(t, first)
		if _, err := db.Exec(`CREATE TABLE x (v int); INSERT INTO x VALUES (1)`); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("b", func(t *testing.T) {
		url := srv.NewDatabase(t)
		if url == first {
			t.Fatalf("two tests got %s", url)
		}
		var n int
		err := open(t, url).QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'x'`).Scan(&n)
		if err != nil || n != 0 {
			t.Errorf("new database has table x (%d, %v)", n, err)
		}
	})
	_, schema, _ := strings.Cut(first, "search_path=")
	var n int
	if err := open(t, srv.NewDatabase(t)).QueryRow(`SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n); err != nil || n != 0 {
		t.Errorf("schema %s still there (%d, %v)", schema, n, err)
	}
}

// PostgreSQL refuses root: as root the harness runs it as the postgres
// user, whose data folder it is.
func TestTheServerNeverRunsAsRoot(t *testing.T) {
	srv := pgtest.Start(t)
	var data string
	if err := open(t, srv.NewDatabase(t)).QueryRow(`SHOW data_directory`).Scan(&data); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
		t.Errorf("data folder %s belongs to root", data)
	}
}
