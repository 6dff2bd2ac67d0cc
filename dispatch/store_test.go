package dispatch

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/violation"
)

func TestMigrationsRunOnAFreshDatabaseAndAreIdempotentOnReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "tickets.db")
	db, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(t.Context()); err != nil || v != len(sqliteMigrations(t)) {
		t.Fatalf("schema version %d (%v), want %d", v, err, len(sqliteMigrations(t)))
	}
	var mode string
	var fk int
	if err := db.db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q (%v), want wal", mode, err)
	}
	if err := db.db.QueryRowContext(t.Context(), "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys %d (%v), want 1", fk, err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	tk := &Ticket{ID: newID(now), ViolationID: "v1", Type: "garbage_pile", CameraID: "cam-1", Status: StatusPendingReview,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	if _, created, err := db.CreateTicket(t.Context(), tk, AuditEntry{Kind: AuditStatus, At: now, Actor: SystemActor, To: StatusPendingReview}); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	// An outbox row for a ticket that does not exist violates the foreign key.
	if _, err := db.db.ExecContext(t.Context(), "INSERT INTO outbox (ticket_id, queued_at, next_attempt_at) VALUES ('nope', 0, 0)"); err == nil {
		t.Error("foreign key not enforced")
	}
	db.Close()

	db, err = OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	var rows int
	if err := db.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_version").Scan(&rows); err != nil || rows != len(sqliteMigrations(t)) {
		t.Errorf("schema_version has %d rows (%v), want %d: a migration ran twice", rows, err, len(sqliteMigrations(t)))
	}
	if got, err := db.Ticket(t.Context(), tk.ID); err != nil || got.ViolationID != "v1" {
		t.Errorf("ticket after reopen: %+v %v", got, err)
	}
}

func TestDatabaseFromANewerStreetWatchIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tickets.db")
		db, err := openStore(t, path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.db.ExecContext(t.Context(), "INSERT INTO schema_version VALUES (99, 0)"); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if db, err := openStore(t, path); err == nil {
			db.Close()
			t.Fatal("opened a database of schema version 99")
		}
	})
}

func TestCreateTicketTwiceForOneViolationGivesOneTicket(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		dir := t.TempDir()
		s := testService(t, testConfig(""), dir, nil)
		in := input(1, "illegal_dumping", "cam-1", "kerb", 0.91)
		first, created, err := s.CreateTicket(t.Context(), in)
		if err != nil || !created {
			t.Fatalf("first: created=%v err=%v", created, err)
		}
		again, created, err := s.CreateTicket(t.Context(), in)
		if err != nil || created {
			t.Fatalf("second: created=%v err=%v", created, err)
		}
		if again.ID != first.ID || again.Version != first.Version {
			t.Errorf("second call gave ticket %s v%d, want %s v%d", again.ID, again.Version, first.ID, first.Version)
		}
		// And after a restart (the pipeline's crash recovery hands it over again).
		s.Close()
		s = testService(t, testConfig(""), dir, nil)
		again, created, err = s.CreateTicket(t.Context(), in)
		if err != nil || created || again.ID != first.ID {
			t.Fatalf("after reopen: %v created=%v err=%v", again.ID, created, err)
		}
		all, err := s.store.ListTickets(t.Context(), Filter{Limit: 10})
		if err != nil || len(all) != 1 {
			t.Fatalf("%d tickets (%v), want 1", len(all), err)
		}
		if audit, _ := s.Audit(t.Context(), first.ID); len(audit) != 1 {
			t.Errorf("%d audit entries, want 1 (creation)", len(audit))
		}
		if got := *all[0]; got.Confidence != 0.91 || got.Location.Address != "白云区 石井街道" ||
			got.Evidence.Prefix != in.EvidencePrefix || len(got.Evidence.Files) != 3 || !got.ConfirmedAt.Equal(in.Violation.ConfirmedAt) ||
			got.Model.Name != "streetwatch-demo" || got.Status != StatusPendingReview {
			t.Errorf("stored ticket %+v", got)
		}
	})
}

func TestCreateTicketRejectsIncompleteInput(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		for _, in := range []TicketInput{{}, {Violation: violation.Record{ID: "v"}}, {Violation: violation.Record{ID: "v", Type: violation.GarbagePile}}} {
			if _, _, err := s.CreateTicket(t.Context(), in); !errors.Is(err, ErrInvalid) {
				t.Errorf("%+v: err %v, want ErrInvalid", in, err)
			}
		}
	})
}

func TestDistrictAndTeamComeFromZoneThenCameraThenTypeDefault(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		tests := []struct {
			camera, zone, typ, district, team string
		}{
			{"cam-1", "kerb", "street_vending", "north", "north-chengguan"}, // district's per-type team
			{"cam-1", "kerb", "garbage_pile", "north", "north-team"},        // district's team
			{"cam-2", "market", "garbage_pile", "east", "sanitation"},       // zone assignment, default team
			{"cam-2", "gate", "illegal_dumping", "", "enforcement"},         // no district
			{"cam-9", "", "garbage_pile", "", "sanitation"},
		}
		for i, tc := range tests {
			tk := mustCreate(t, s, input(i, tc.typ, tc.camera, tc.zone, 0.5))
			if tk.District != tc.district || tk.Team != tc.team {
				t.Errorf("%s/%s %s: district %q team %q, want %q %q", tc.camera, tc.zone, tc.typ, tk.District, tk.Team, tc.district, tc.team)
			}
		}
	})
}

func TestAutoDispatchQueuesOnlyAtOrAboveTheMinScore(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		tests := []struct {
			typ        string
			confidence float32
			want       Status
		}{
			{"street_vending", 0.85, StatusConfirmed},
			{"street_vending", 0.8, StatusConfirmed},
			{"street_vending", 0.79, StatusPendingReview},
			{"garbage_pile", 0.1, StatusConfirmed},         // auto without a score
			{"illegal_dumping", 0.99, StatusPendingReview}, // review required (default)
		}
		queued := 0
		for i, tc := range tests {
			tk := mustCreate(t, s, input(i, tc.typ, "cam-2", "gate", tc.confidence))
			if tk.Status != tc.want {
				t.Errorf("%s at %g: %s, want %s", tc.typ, tc.confidence, tk.Status, tc.want)
			}
			if tc.want == StatusConfirmed {
				queued++
				if tk.Delivery.QueuedAt == nil {
					t.Errorf("%s at %g: confirmed but not queued", tc.typ, tc.confidence)
				}
			}
		}
		if n, _ := s.store.OutboxDepth(t.Context()); n != queued {
			t.Errorf("outbox depth %d, want %d", n, queued)
		}
	})
}

func TestPolicyDefaultsToReviewRequired(t *testing.T) {
	if p := (config.Dispatch{}).Policy("garbage_pile"); p.Mode != config.ReviewRequired {
		t.Errorf("policy %+v", p)
	}
}

func TestIDsSortByTime(t *testing.T) {
	a, b := newID(baseTime), newID(baseTime.Add(time.Millisecond))
	if len(a) != 26 || !(a < b) {
		t.Errorf("ids %s, %s", a, b)
	}
}

// Stores opening a new database at once (StreetWatch and a command
// started together, or several nodes) take turns: none fails on another's
// half-made schema, the migrations run once, and the schema enforces
// foreign keys.
func TestStoresOpeningANewDatabaseAtOnceTakeTurns(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		rounds, versions := 5, len(sqliteMigrations(t))
		if onPostgres(t) {
			// A waiting node retries the advisory lock each second.
			rounds, versions = 1, len(migrationSQL(t, "postgres"))
		}
		for round := range rounds {
			path := filepath.Join(t.TempDir(), "tickets.db")
			testDatabase(t, path) // made before the stores race to it
			stores := make([]*sqlStore, 4)
			errs := make([]error, len(stores))
			var wg sync.WaitGroup
			for i := range stores {
				wg.Go(func() { stores[i], errs[i] = openStore(t, path) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d, store %d: %v", round, i, err)
				}
				defer stores[i].Close()
			}
			var rows int
			if err := stores[0].db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_version").Scan(&rows); err != nil || rows != versions {
				t.Errorf("round %d: schema_version has %d rows (%v), want %d", round, rows, err, versions)
			}
			if _, err := stores[1].db.ExecContext(t.Context(), "INSERT INTO outbox (ticket_id, queued_at, next_attempt_at) VALUES ('nope', 0, 0)"); err == nil {
				t.Errorf("round %d: foreign key not enforced", round)
			}
		}
	})
}
