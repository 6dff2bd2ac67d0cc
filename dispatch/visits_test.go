package dispatch

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/stations"
)

var visitDay = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)

// visitAt is a visit to station arriving at minute arrive and departing
// at minute depart of visitDay.
func visitAt(id, station string, arrive, depart int) stations.Visit {
	at := func(m int) time.Time { return visitDay.Add(time.Duration(m) * time.Minute) }
	return stations.Visit{ID: id, Station: station, Camera: "station-07", Arrival: at(arrive), Stop: at(arrive).Add(20 * time.Second),
		Departure: at(depart), VehicleClass: "vehicle", Score: 0.81, CreatedAt: at(depart).Add(time.Minute)}
}

func TestVisitsAreStoredOnceByIDAndSurviveAReopen(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tickets.db")
		db, err := openStore(t, path)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		v := visitAt("01VISIT", "baiyun-07", 10, 14)
		v.Arrival = v.Arrival.Add(123456789 * time.Nanosecond) // stored to the microsecond
		stored, created, err := db.PutVisit(ctx, v)
		if err != nil || !created {
			t.Fatalf("first put: %v created %t", err, created)
		}
		if stored.EvidenceStatus != stations.EvidencePending || !stored.Arrival.Equal(v.Arrival.Truncate(time.Microsecond)) ||
			stored.Score != v.Score || stored.VehicleClass != "vehicle" || stored.Camera != "station-07" {
			t.Errorf("stored %+v", stored)
		}
		// Handed over again after a crash (another CreatedAt): nothing changes.
		again := v
		again.CreatedAt = again.CreatedAt.Add(time.Hour)
		if s, created, err := db.PutVisit(ctx, again); err != nil || created || !s.CreatedAt.Equal(v.CreatedAt) {
			t.Fatalf("same visit again: %v created %t, created_at %v (want the first)", err, created, s.CreatedAt)
		}
		if err := db.SetVisitEvidence(ctx, v.ID, stations.VisitEvidence{Prefix: "2026/12/03/station-07/01VISIT/", Status: stations.EvidenceStored, Files: []string{"clip.mp4", "manifest.json"}, ManifestSHA256: "abc"}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetVisitEvidence(ctx, "nope", stations.VisitEvidence{Prefix: "x/", Status: stations.EvidenceStored}); !errors.Is(err, ErrNotFound) {
			t.Errorf("evidence of an unknown visit: %v, want ErrNotFound", err)
		}
		if err := db.SetVisitEvidence(ctx, v.ID, stations.VisitEvidence{Status: "lost"}); err == nil {
			t.Error("an unknown evidence status was stored")
		}
		if _, _, err := db.PutVisit(ctx, stations.Visit{Station: "baiyun-07"}); err == nil {
			t.Error("a visit without an id was stored")
		}
		db.Close()

		db, err = openStore(t, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		got, err := db.VisitsBetween(ctx, "baiyun-07", visitDay, visitDay.Add(24*time.Hour), 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("after reopening: %v %+v", err, got)
		}
		if got[0].EvidenceStatus != stations.EvidenceStored || got[0].EvidencePrefix != "2026/12/03/station-07/01VISIT/" {
			t.Errorf("evidence %q %q", got[0].EvidenceStatus, got[0].EvidencePrefix)
		}
	})
}

func TestVisitsBetweenSelectsOneStationsVisitsOverlappingTheRangeByArrival(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		db := testStore(t)
		ctx := t.Context()
		for _, v := range []stations.Visit{
			visitAt("c-inside", "baiyun-07", 30, 35),
			visitAt("a-before", "baiyun-07", 0, 9),      // departs before the range
			visitAt("b-into", "baiyun-07", 5, 10),       // departs as the range starts: overlaps
			visitAt("d-over", "baiyun-07", 15, 70),      // spans the range
			visitAt("e-at-end", "baiyun-07", 60, 65),    // arrives as the range ends: not in [from, to)
			visitAt("f-other", "baiyun-08", 30, 35),     // another station
			visitAt("g-out-late", "baiyun-07", 59, 62),  // arrives just before the end
			visitAt("h-early-tie", "baiyun-07", 30, 31), // same arrival as c: by id
		} {
			if _, _, err := db.PutVisit(ctx, v); err != nil {
				t.Fatal(err)
			}
		}
		from, to := visitDay.Add(10*time.Minute), visitDay.Add(60*time.Minute)
		got, err := db.VisitsBetween(ctx, "baiyun-07", from, to, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, v := range got {
			ids = append(ids, v.ID)
		}
		want := []string{"b-into", "d-over", "c-inside", "h-early-tie", "g-out-late"}
		if len(ids) != len(want) {
			t.Fatalf("visits %v, want %v", ids, want)
		}
		for i := range want {
			if ids[i] != want[i] {
				t.Fatalf("visits %v, want %v", ids, want)
			}
		}
		if got, _ := db.VisitsBetween(ctx, "baiyun-07", from, to, 2); len(got) != 2 {
			t.Errorf("limit 2: %d visits", len(got))
		}
		if got, err := db.VisitsBetween(ctx, "baiyun-09", from, to, 10); err != nil || got == nil || len(got) != 0 {
			t.Errorf("no visits: %v %#v, want an empty list", err, got)
		}
	})
}

// A database at schema 4 (weighing records, before visits) opens, its
// records stay, and visits can be stored in it.
func TestSchema4DatabaseOpensWithItsWeighingsAndTakesVisits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tickets.db")
	old, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`}
	for v := 1; v <= 4; v++ {
		stmts = append(stmts, sqliteMigrations(t)[v-1], fmt.Sprintf(`INSERT INTO schema_version VALUES (%d, 0)`, v))
	}
	stmts = append(stmts, `INSERT INTO weighings (source, record_id, station, at, net_kg, plate, operator, received_at)
		VALUES ('bridge-07', 'W-1', 'baiyun-07', 0, 8200, '', '', 0)`)
	for _, q := range stmts {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()

	db, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.SchemaVersion(t.Context()); err != nil || v != len(sqliteMigrations(t)) || v < 5 {
		t.Fatalf("schema version %d (%v), want %d", v, err, len(sqliteMigrations(t)))
	}
	ws, err := db.WeighingsReceivedAfter(t.Context(), 0, 10)
	if err != nil || len(ws) != 1 || ws[0].RecordID != "W-1" {
		t.Fatalf("weighings after the migration: %v %+v", err, ws)
	}
	if _, created, err := db.PutVisit(t.Context(), visitAt("01VISIT", "baiyun-07", 1, 3)); err != nil || !created {
		t.Fatalf("visit: %v %t", err, created)
	}
}
