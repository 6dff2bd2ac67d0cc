package evidence

import (
	"context"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRetentionDeletesOldEvidenceExceptKept(t *testing.T) {
	rec := &recordingStore{Store: &LocalStore{Dir: t.TempDir()}}
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
	put := func(key string) {
		if err := rec.Put(ctx, key, strings.NewReader("x"), 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	bundle := func(at time.Time, id string) {
		for _, name := range []string{"clip.mp4", ManifestName, "snapshot.jpg"} {
			put(Key(at, "cam-1", id, name))
		}
	}
	bundle(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), "old")        // deleted
	bundle(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), "old-ticket") // Keep: stays
	bundle(day(2), "eight-days")                                      // deleted
	bundle(day(3), "seven-days")                                      // stays: not older than 7 days
	bundle(day(10), "today")                                          // stays
	put("exports/2020/report.csv")                                    // not evidence layout: stays

	m := NewMetrics(nil)
	var asked []string
	r, err := NewRetention(RetentionConfig{Days: 7}, RetentionDeps{Store: rec, Metrics: m, Log: testLogger(t), Keep: func(id string) bool {
		asked = append(asked, id)
		return id == "old-ticket"
	}})
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := r.Sweep(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 6 || testutil.ToFloat64(m.Deleted) != 6 {
		t.Fatalf("deleted %d (metric %v), want 6", deleted, testutil.ToFloat64(m.Deleted))
	}
	left, _ := rec.List(ctx, "")
	var ids []string
	for _, o := range left {
		if _, id, _, ok := parseKey(o.Key); ok {
			ids = append(ids, id)
		} else {
			ids = append(ids, o.Key)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if got := strings.Join(ids, ","); got != "exports/2020/report.csv,old-ticket,seven-days,today" {
		t.Fatalf("left %s", got)
	}
	slices.Sort(asked)
	if got := strings.Join(asked, ","); got != "eight-days,old,old-ticket" {
		t.Fatalf("Keep asked for %s, want once per old violation", got)
	}
	// The manifest of each deleted bundle goes first.
	for i, key := range rec.deletes {
		if i%3 == 0 && path.Base(key) != ManifestName {
			t.Fatalf("delete order %v: manifest not first", rec.deletes)
		}
	}

	// A second sweep has nothing left to do.
	if n, err := r.Sweep(ctx, now); n != 0 || err != nil {
		t.Fatalf("second sweep: %d, %v", n, err)
	}
}

func TestRetentionRefusesNonPositiveDays(t *testing.T) {
	if _, err := NewRetention(RetentionConfig{}, RetentionDeps{Store: &LocalStore{Dir: t.TempDir()}}); err == nil {
		t.Fatal("Days 0 would delete everything; want an error")
	}
	if _, err := (&Retention{store: &LocalStore{Dir: t.TempDir()}}).Sweep(context.Background(), time.Now()); err == nil {
		t.Fatal("Sweep with days 0: want an error")
	}
}

func TestRetentionRunSweepsAtStartAndStopsWithContext(t *testing.T) {
	s := &LocalStore{Dir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	old := Key(time.Now().AddDate(0, 0, -30), "cam-1", "v", "clip.mp4")
	if err := s.Put(ctx, old, strings.NewReader("x"), 1, ""); err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(nil)
	done := make(chan error)
	r, err := NewRetention(RetentionConfig{Days: 7}, RetentionDeps{Store: s, Metrics: m, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- r.Run(ctx) }()
	waitFor(t, "the first sweep", func() bool { return testutil.ToFloat64(m.Deleted) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
