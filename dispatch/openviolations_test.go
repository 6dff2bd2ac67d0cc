package dispatch

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A camera's open violations saved by one node are what another node
// sharing the database reads, replaced whole by each save; a camera never
// saved is told from one saved empty. Only a PostgreSQL service offers
// them (SQLite is one node's: its open violations stay in its folder).
func TestOpenViolationsAreSharedThroughThePostgreSQLDatabase(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := t.Context()
		dir := t.TempDir()
		a := testService(t, testConfig(""), dir, prometheus.NewRegistry())
		if !onPostgres(t) {
			if a.OpenViolations() != nil {
				t.Fatal("a SQLite service shares open violations")
			}
			// The store keeps them all the same (one schema for both).
			if err := a.store.(*SQLite).SaveOpenViolations(ctx, "cam", []byte(`[]`), time.Now()); err != nil {
				t.Fatal(err)
			}
			return
		}
		b := testService(t, testConfig(""), dir, prometheus.NewRegistry()) // another node, same database
		da, db := a.OpenViolations(), b.OpenViolations()
		if da == nil || db == nil {
			t.Fatal("a PostgreSQL service does not share open violations")
		}
		if _, ok, err := db.OpenViolations(ctx, "cam-1"); err != nil || ok {
			t.Fatalf("never saved: ok=%v err=%v", ok, err)
		}
		at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
		for _, doc := range []string{`[{"id":"v1"}]`, `[{"id":"v1"},{"id":"v2"}]`, `[]`} {
			if err := da.SaveOpenViolations(ctx, "cam-1", []byte(doc), at); err != nil {
				t.Fatal(err)
			}
			got, ok, err := db.OpenViolations(ctx, "cam-1")
			if err != nil || !ok || string(got) != doc {
				t.Fatalf("node b read %q ok=%v err=%v, want %q", got, ok, err, doc)
			}
		}
		if _, ok, _ := db.OpenViolations(ctx, "cam-2"); ok {
			t.Fatal("another camera's document")
		}
	})
}
