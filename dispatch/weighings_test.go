package dispatch

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/stations"
)

func weighing(source, id, station string, at time.Time, net float64) stations.Weighing {
	return stations.Weighing{Source: source, RecordID: id, Station: station, Time: at, NetKG: net,
		Plate: "粤A12345", ReceivedAt: time.Now().UTC().Truncate(time.Microsecond)}
}

// put stores one record.
func put(t *testing.T, db stations.Store, w stations.Weighing) (stations.Weighing, string, error) {
	t.Helper()
	puts, err := db.PutWeighings(t.Context(), []stations.Weighing{w})
	if err != nil {
		return w, "", err
	}
	if len(puts) != 1 {
		t.Fatalf("%d results for one record", len(puts))
	}
	return puts[0].Weighing, puts[0].Result, nil
}

func TestWeighingsAreStoredOncePerSourceAndRecordIDAndSurviveAReopen(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tickets.db")
		db, err := openStore(t, path)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		at := time.Date(2026, 12, 3, 0, 15, 0, 0, time.UTC)
		gross, tare := 23200.0, 15000.0
		w := weighing("bridge-07", "W-1", "baiyun-07", at, 8200)
		w.GrossKG, w.TareKG = &gross, &tare

		first, result, err := put(t, db, w)
		if err != nil || result != stations.ResultStored || first.Seq == 0 {
			t.Fatalf("first put: %v %s seq %d", err, result, first.Seq)
		}
		again := w
		again.ReceivedAt = w.ReceivedAt.Add(time.Hour) // the same record sent again later
		again.Time = at.In(time.FixedZone("CST", 8*3600))
		stored, result, err := put(t, db, again)
		if err != nil || result != stations.ResultDuplicate || !stored.ReceivedAt.Equal(w.ReceivedAt) {
			t.Fatalf("same record again: %v %s, received_at %v (want the first %v)", err, result, stored.ReceivedAt, w.ReceivedAt)
		}
		changed := w
		changed.NetKG = 8300
		stored, result, err = put(t, db, changed)
		if err != nil || result != stations.ResultConflict || stored.NetKG != 8200 {
			t.Fatalf("other content, same id: %v %s net %g (the first must stay)", err, result, stored.NetKG)
		}
		// Another source may use the same record id: ids are unique per source.
		if _, result, err := put(t, db, weighing("city-scales", "W-1", "baiyun-07", at, 5000)); err != nil || result != stations.ResultStored {
			t.Fatalf("same id from another source: %v %s", err, result)
		}
		db.Close()

		db, err = openStore(t, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if v, _ := db.SchemaVersion(ctx); v != len(sqliteMigrations(t)) {
			t.Errorf("schema version %d, want %d", v, len(sqliteMigrations(t)))
		}
		all, err := db.WeighingsReceivedAfter(ctx, 0, 100)
		if err != nil || len(all) != 2 {
			t.Fatalf("after reopen: %v, %d records, want 2", err, len(all))
		}
		got := all[0]
		if !got.SameContent(w) || got.Seq != first.Seq || *got.GrossKG != gross || *got.TareKG != tare || got.Time.Location() != time.UTC {
			t.Errorf("read back %+v, want %+v", got, w)
		}
		if all[1].TareKG != nil || all[1].GrossKG != nil {
			t.Errorf("weights not given read back as %v %v, want nil", all[1].GrossKG, all[1].TareKG)
		}
	})
}

func TestWeighingsBetweenSelectsOneStationsHalfOpenRangeInTimeOrder(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		db := testStore(t)
		ctx := t.Context()
		day := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
		// Stored out of time order (a late upload), with another station's
		// records and one at each edge of the range.
		for _, w := range []stations.Weighing{
			weighing("s", "c", "baiyun-07", day.Add(3*time.Hour), 3),
			weighing("s", "a", "baiyun-07", day, 1),                      // from: included
			weighing("s", "x", "baiyun-08", day.Add(2*time.Hour), 9),     // other station
			weighing("s", "edge", "baiyun-07", day.Add(24*time.Hour), 4), // to: excluded
			weighing("s", "b", "baiyun-07", day.Add(time.Hour), 2),
			weighing("s", "before", "baiyun-07", day.Add(-time.Second), 0.5),
		} {
			if _, _, err := put(t, db, w); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.WeighingsBetween(ctx, "baiyun-07", day, day.Add(24*time.Hour), 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids string
		for _, w := range got {
			ids += w.RecordID
		}
		if ids != "abc" {
			t.Errorf("records %q, want a, b, c", ids)
		}
		if got, _ := db.WeighingsBetween(ctx, "baiyun-07", day, day.Add(24*time.Hour), 2); len(got) != 2 {
			t.Errorf("limit 2: %d records", len(got))
		}
		// A reconciler that saw the first three arrivals is told about the rest.
		later, err := db.WeighingsReceivedAfter(ctx, 3, 100)
		if err != nil || len(later) != 3 || later[0].RecordID != "edge" {
			t.Errorf("received after seq 3: %v %+v", err, later)
		}
	})
}

func TestABatchOfWeighingsJudgesRepeatsWithinItAgainstTheFirst(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		db := testStore(t)
		at := time.Date(2026, 12, 3, 0, 15, 0, 0, time.UTC)
		a := weighing("s", "A", "baiyun-07", at, 1000)
		changed := a
		changed.NetKG = 1001
		puts, err := db.PutWeighings(t.Context(), []stations.Weighing{a, weighing("s", "B", "baiyun-07", at, 2000), a, changed})
		if err != nil {
			t.Fatal(err)
		}
		var results []string
		for _, p := range puts {
			results = append(results, p.Result)
		}
		if got := strings.Join(results, " "); got != "stored stored duplicate conflict" {
			t.Errorf("results %s, want stored stored duplicate conflict", got)
		}
		if puts[3].Weighing.NetKG != 1000 {
			t.Errorf("the conflict returns %g kg, want the stored record's 1000", puts[3].Weighing.NetKG)
		}
		if all, _ := db.WeighingsReceivedAfter(t.Context(), 0, 10); len(all) != 2 {
			t.Errorf("%d rows, want 2", len(all))
		}
	})
}
