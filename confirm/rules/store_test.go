package rules

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/confirm/track"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/dispatch"
)

// sharedDB is a real ticket database (SQLite; the dispatch tests run the
// same queries on PostgreSQL) standing for the one a cluster shares.
func sharedDB(t *testing.T) *dispatch.SQLite {
	t.Helper()
	db, err := dispatch.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "tickets.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A camera moves from node A to node B (the cluster grew): B's engine,
// with its own empty state folder and new track ids, finds the pile A
// reported in the shared database and does not report it again; when
// the pile is gone B closes it there, and A's stale folder is not read.
func TestACameraMovedToAnotherNodeDoesNotReportItsPileAgain(t *testing.T) {
	db := sharedDB(t)
	nodeA := SharedStore{DB: db, Before: FileStore{Dir: t.TempDir()}}
	nodeB := SharedStore{DB: db, Before: FileStore{Dir: t.TempDir()}}

	a, trA := engine(lowerHalf)
	a.Store = nodeA
	if vs, _ := play(t, a, trA, start, 320, pile); len(vs) != 1 {
		t.Fatalf("node A: %d violations, want 1", len(vs))
	}

	b, _ := engine(lowerHalf)
	b.Store = nodeB
	trB := track.New(track.Config{}, 5000)
	if vs, _ := play(t, b, trB, start.Add(15*time.Minute), 600, pile); len(vs) != 0 {
		t.Fatalf("node B reported node A's pile again: %+v", vs)
	}
	// The pile is cleared away: after ClearAfter (2 min) B closes it.
	gone := func(int) []detectors.Detection { return nil }
	play(t, b, trB, start.Add(25*time.Minute), 180, gone)
	if open, err := nodeA.Load("cam"); err != nil || len(open) != 0 {
		t.Fatalf("after B closed it the database holds %+v (%v), want none open", open, err)
	}
	// A new pile at the same place is a new case, on whichever node.
	b2, _ := engine(lowerHalf)
	b2.Store = nodeB
	if vs, _ := play(t, b2, track.New(track.Config{}, 9000), start.Add(30*time.Minute), 320, pile); len(vs) != 1 {
		t.Fatalf("a new pile after the old one closed: %d violations, want 1", len(vs))
	}
}

// A node that kept open violations in its state folder before the
// database did reads them from there the first time, then only from the
// database (where the first save puts them).
func TestSharedStoreStartsFromTheStateFolderOnce(t *testing.T) {
	folder := FileStore{Dir: t.TempDir()}
	a, tr := engine(lowerHalf)
	a.Store = folder
	if vs, _ := play(t, a, tr, start, 320, pile); len(vs) != 1 {
		t.Fatalf("%d violations before the switch, want 1", len(vs))
	}

	store := SharedStore{DB: sharedDB(t), Before: folder}
	b, _ := engine(lowerHalf)
	b.Store = store
	if vs, _ := play(t, b, track.New(track.Config{}, 1000), start.Add(10*time.Minute), 600, pile); len(vs) != 0 {
		t.Fatalf("the folder's open pile was reported again after the switch: %+v", vs)
	}
	if err := store.Save("cam", nil); err != nil {
		t.Fatal(err)
	}
	if open, err := store.Load("cam"); err != nil || len(open) != 0 {
		t.Fatalf("saved empty, loaded %+v (%v): the stale folder was read again", open, err)
	}
}

// downAtFirst is a real store whose database is unreachable for its first
// loads (the shared database restarting while a node starts).
type downAtFirst struct {
	Store
	failures int
}

func (s *downAtFirst) Load(camera string) ([]OpenViolation, error) {
	if s.failures > 0 {
		s.failures--
		return nil, errors.New("connection refused")
	}
	return s.Store.Load(camera)
}

// A node that cannot load a camera's open violations when it starts
// confirms nothing until it can: the pile already reported is not
// reported again once the database answers.
func TestOpenViolationsThatCannotBeLoadedAreRetriedBeforeAnythingIsConfirmed(t *testing.T) {
	db := sharedDB(t)
	a, tr := engine(lowerHalf)
	a.Store = SharedStore{DB: db}
	if vs, _ := play(t, a, tr, start, 320, pile); len(vs) != 1 {
		t.Fatalf("%d violations before the restart, want 1", len(vs))
	}

	down := &downAtFirst{Store: SharedStore{DB: db}, failures: 2}
	b, _ := engine(lowerHalf)
	b.Store = down
	tr2 := track.New(track.Config{}, 1000)
	var errs int
	for s := range 600 {
		now := start.Add(15*time.Minute + time.Duration(s)*time.Second)
		ended := tr2.Update(now, pile(s))
		vs, err := b.Update(now, 1280, 720, tr2.Tracks(), ended)
		if err != nil {
			errs++
		}
		if len(vs) != 0 {
			t.Fatalf("at %d s the pile was reported again: %+v", s, vs)
		}
	}
	if errs != 2 || down.failures != 0 {
		t.Fatalf("%d load errors reported, %d failures left: want both failures reported, then a load", errs, down.failures)
	}
	if open := b.Open(); len(open) != 1 {
		t.Fatalf("open violations after the database came back: %+v", open)
	}
}
