package stations

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

// at is t0 plus minutes.
func at(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }

func visit(id string, arrive, depart float64) Visit {
	return Visit{ID: id, Station: "baiyun-07", Camera: "bay", Arrival: at(arrive), Departure: at(depart), VehicleClass: "vehicle"}
}

func record(id string, min, kg float64) Weighing {
	return Weighing{Source: "bridge", RecordID: id, Station: "baiyun-07", Time: at(min), NetKG: kg}
}

func always(string, time.Time, time.Time) bool { return true }

// outcome writes an Outcome as one line per item, for comparing.
func outcome(o Outcome) string {
	var lines []string
	for _, m := range o.Matches {
		line := fmt.Sprintf("match %s %s gap=%s", m.Visit.ID, m.Record.RecordID, m.Gap)
		if m.OverLimitKG > 0 {
			line += fmt.Sprintf(" over=%g", m.OverLimitKG)
		}
		lines = append(lines, line)
	}
	for _, v := range o.Unweighed {
		lines = append(lines, "unweighed "+v.ID)
	}
	for _, r := range o.Unvisited {
		lines = append(lines, "unvisited "+r.RecordID)
	}
	for _, r := range o.Unwatched {
		lines = append(lines, "unwatched "+r.RecordID)
	}
	for _, v := range o.OpenVisits {
		lines = append(lines, "open visit "+v.ID)
	}
	for _, r := range o.OpenRecords {
		lines = append(lines, "open record "+r.RecordID)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func TestReconcile(t *testing.T) {
	w := Window{Before: 2 * time.Minute, After: 10 * time.Minute, MaxVisit: 30 * time.Minute}
	late := at(24 * 60) // every window settled
	for _, tc := range []struct {
		name    string
		visits  []Visit
		records []Weighing
		now     time.Time
		watched func(string, time.Time, time.Time) bool
		limits  map[string]float64
		want    []string
	}{{
		name:    "a record during the stay matches with no gap",
		visits:  []Visit{visit("v1", 0, 3)},
		records: []Weighing{record("r1", 1, 400)},
		want:    []string{"match v1 r1 gap=0s"},
	}, {
		name:    "weighed on the way in and on the way out, within the window",
		visits:  []Visit{visit("v1", 0, 3), visit("v2", 60, 63)},
		records: []Weighing{record("r1", -1.5, 400), record("r2", 72, 300)},
		want:    []string{"match v1 r1 gap=1m30s", "match v2 r2 gap=9m0s"},
	}, {
		name:    "outside the window nothing matches",
		visits:  []Visit{visit("v1", 0, 3)},
		records: []Weighing{record("r1", -2.5, 400), record("r2", 13.5, 300)},
		want:    []string{"unweighed v1", "unvisited r1", "unvisited r2"},
	}, {
		name:    "nearest visit wins; the other is an unweighed unload",
		visits:  []Visit{visit("v1", 0, 2), visit("v2", 5, 7)},
		records: []Weighing{record("r1", 6, 400)},
		want:    []string{"match v2 r1 gap=0s", "unweighed v1"},
	}, {
		// r1 is nearer v2, but only v2 fits r2: pairing r1 with v2 would
		// leave v1 and r2 as two false cases.
		name:    "the most pairs beat the nearest pair",
		visits:  []Visit{visit("v1", 0, 2), visit("v2", 3, 5)},
		records: []Weighing{record("r1", 2.8, 400), record("r2", 14, 300)},
		want:    []string{"match v1 r1 gap=48s", "match v2 r2 gap=9m0s"},
	}, {
		name:    "two records for one visit: the nearer matches, the other is suspect",
		visits:  []Visit{visit("v1", 0, 3)},
		records: []Weighing{record("r1", 2, 400), record("r2", 8, 400)},
		want:    []string{"match v1 r1 gap=0s", "unvisited r2"},
	}, {
		name:    "a record the camera did not watch throughout makes no case",
		records: []Weighing{record("r1", 30, 400), record("r2", 90, 400)},
		watched: func(_ string, from, to time.Time) bool { return from.After(at(60)) },
		want:    []string{"unvisited r2", "unwatched r1"},
	}, {
		name:    "the watch span runs from After before the record to Before after it",
		records: []Weighing{record("r1", 30, 400)},
		watched: func(_ string, from, to time.Time) bool { return from.Equal(at(20)) && to.Equal(at(32)) },
		want:    []string{"unvisited r1"},
	}, {
		name:    "unsettled items stay open: a visit until After past its departure, a record until Before+MaxVisit past its time",
		visits:  []Visit{visit("v1", 0, 3), visit("v2", 20, 25)},
		records: []Weighing{record("r1", 16, 400), record("r2", 2, 400)},
		now:     at(30),
		want:    []string{"match v1 r2 gap=0s", "open record r1", "open visit v2"},
	}, {
		name:    "settled at the exact instant",
		visits:  []Visit{visit("v1", 0, 3)},
		records: []Weighing{record("r1", -19, 400), record("r2", -18.9, 400)},
		now:     at(13),
		want:    []string{"open record r2", "unvisited r1", "unweighed v1"},
	}, {
		name:    "a load its class cannot carry is flagged on the match",
		visits:  []Visit{visit("v1", 0, 3), visit("v2", 10, 12), {ID: "v3", Station: "baiyun-07", Arrival: at(30), Departure: at(31), VehicleClass: "truck"}},
		records: []Weighing{record("r1", 1, 800), record("r2", 11, 400), record("r3", 30.5, 9000)},
		limits:  map[string]float64{"vehicle": 500},
		want:    []string{"match v1 r1 gap=0s over=500", "match v2 r2 gap=0s", "match v3 r3 gap=0s"},
	}, {
		name:    "stations never mix",
		visits:  []Visit{visit("v1", 0, 3)},
		records: []Weighing{{Source: "bridge", RecordID: "r1", Station: "baiyun-08", Time: at(1), NetKG: 300}},
		want:    []string{"unvisited r1", "unweighed v1"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = late
			}
			watched := tc.watched
			if watched == nil {
				watched = always
			}
			got := outcome(Reconcile(tc.visits, tc.records, w, now, tc.limits, watched))
			want := slices.Sorted(slices.Values(tc.want))
			if got != strings.Join(want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

// A record that arrives late turns an unweighed unload into a match when
// reconciliation runs again.
func TestReconcileALateRecordReopensTheVisit(t *testing.T) {
	w := DefaultWindow
	visits := []Visit{visit("v1", 0, 3)}
	before := Reconcile(visits, nil, w, at(60), nil, always)
	if got := outcome(before); got != "unweighed v1" {
		t.Fatalf("before the record: %s", got)
	}
	after := Reconcile(visits, []Weighing{record("r1", 4, 350)}, w, at(24*60), nil, always)
	if got := outcome(after); got != "match v1 r1 gap=1m0s" {
		t.Fatalf("after the late record: %s", got)
	}
}

// A busy day at two stations, shuffled: the outcome does not depend on
// input order, every item is accounted for once, and no match breaks the
// window or pairs two stations.
func TestReconcileIsDeterministicAndAccountsForEveryItem(t *testing.T) {
	w := DefaultWindow
	rng := rand.New(rand.NewPCG(1, 2))
	var visits []Visit
	var records []Weighing
	for i := range 300 {
		st := []string{"baiyun-07", "baiyun-08"}[i%2]
		start := rng.Float64() * 600
		v := Visit{ID: fmt.Sprintf("v%03d", i), Station: st, Arrival: at(start), Departure: at(start + 1 + rng.Float64()*8), VehicleClass: "vehicle"}
		visits = append(visits, v)
		if rng.Float64() < 0.9 { // most are weighed, somewhere in the window
			tm := v.Arrival.Add(-w.Before).Add(time.Duration(rng.Float64() * float64(v.Departure.Sub(v.Arrival)+w.Before+w.After)))
			records = append(records, Weighing{Source: "bridge", RecordID: fmt.Sprintf("r%03d", i), Station: st, Time: tm, NetKG: 300})
		}
	}
	for i := range 20 { // and some records no vehicle explains
		records = append(records, Weighing{Source: "bridge", RecordID: fmt.Sprintf("x%03d", i), Station: "baiyun-08", Time: at(rng.Float64() * 600), NetKG: 300})
	}
	now := at(24 * 60)
	want := Reconcile(visits, records, w, now, nil, always)
	for range 5 {
		rng.Shuffle(len(visits), func(i, j int) { visits[i], visits[j] = visits[j], visits[i] })
		rng.Shuffle(len(records), func(i, j int) { records[i], records[j] = records[j], records[i] })
		if got := Reconcile(visits, records, w, now, nil, always); outcome(got) != outcome(want) {
			t.Fatal("the outcome changed with the input order")
		}
	}
	seenV, seenR := map[string]int{}, map[string]int{}
	for _, m := range want.Matches {
		seenV[m.Visit.ID]++
		seenR[m.Record.RecordID]++
		if m.Visit.Station != m.Record.Station || !w.Fits(m.Visit, m.Record.Time) {
			t.Errorf("%s matched %s outside its window or station", m.Visit.ID, m.Record.RecordID)
		}
	}
	for _, v := range want.Unweighed {
		seenV[v.ID]++
	}
	for _, r := range want.Unvisited {
		seenR[r.RecordID]++
	}
	if len(seenV) != len(visits) || len(seenR) != len(records) {
		t.Errorf("accounted for %d of %d visits, %d of %d records", len(seenV), len(visits), len(seenR), len(records))
	}
	for id, n := range seenV {
		if n != 1 {
			t.Errorf("visit %s counted %d times", id, n)
		}
	}
	for id, n := range seenR {
		if n != 1 {
			t.Errorf("record %s counted %d times", id, n)
		}
	}
	// No unmatched visit and record that fit each other are both left over:
	// the matching is maximal.
	for _, v := range want.Unweighed {
		for _, r := range want.Unvisited {
			if v.Station == r.Station && w.Fits(v, r.Time) {
				t.Errorf("%s and %s fit but were left unmatched", v.ID, r.RecordID)
			}
		}
	}
	if len(want.Matches) < 250 {
		t.Errorf("only %d matches of about 270 weighed visits", len(want.Matches))
	}
}

func TestWindowCheckNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		w    Window
		want string
	}{
		{Window{Before: -time.Second, MaxVisit: time.Minute}, "before:"},
		{Window{After: -time.Second, MaxVisit: time.Minute}, "after:"},
		{Window{}, "max_visit:"},
	} {
		if err := tc.w.Check(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %s...", tc.w, err, tc.want)
		}
	}
	if err := DefaultWindow.Check(); err != nil {
		t.Error(err)
	}
}

// A busy station's day in one run of overlapping windows: 400 visits,
// one a minute and a bit, each weighed.
func BenchmarkReconcileBusyDay(b *testing.B) {
	var visits []Visit
	var records []Weighing
	for i := range 400 {
		v := visit(fmt.Sprintf("v%03d", i), float64(i)*1.2, float64(i)*1.2+4)
		visits = append(visits, v)
		records = append(records, record(fmt.Sprintf("r%03d", i), float64(i)*1.2+5, 300))
	}
	now := at(24 * 60)
	for b.Loop() {
		if o := Reconcile(visits, records, DefaultWindow, now, nil, always); len(o.Matches) != 400 {
			b.Fatalf("%d matches", len(o.Matches))
		}
	}
}

// On small random stations the matching has as many pairs as the best
// one-to-one matching found by trying them all, and no larger total gap.
func TestReconcileMatchesTheBruteForceOptimum(t *testing.T) {
	w := DefaultWindow
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 3000 {
		var visits []Visit
		var records []Weighing
		for i := range 1 + rng.IntN(7) {
			start := rng.Float64() * 30
			visits = append(visits, visit(fmt.Sprintf("v%d", i), start, start+0.5+rng.Float64()*1.5))
		}
		for j := range 1 + rng.IntN(7) {
			records = append(records, record(fmt.Sprintf("r%d", j), rng.Float64()*45-5, 300))
		}
		o := Reconcile(visits, records, w, at(24*60), nil, always)
		var total time.Duration
		for _, m := range o.Matches {
			total += m.Gap
		}
		bestN, bestGap := bruteForce(visits, records, w, 0, map[int]bool{})
		if len(o.Matches) != bestN || total != bestGap {
			t.Fatalf("trial %d: %d pairs with total gap %s, the best is %d pairs with %s\n%s",
				trial, len(o.Matches), total, bestN, bestGap, outcome(o))
		}
	}
}

// bruteForce returns the most pairs of visits[i:] with unused records,
// and the least total gap among matchings with that many pairs.
func bruteForce(visits []Visit, records []Weighing, w Window, i int, used map[int]bool) (int, time.Duration) {
	if i == len(visits) {
		return 0, 0
	}
	bestN, bestGap := bruteForce(visits, records, w, i+1, used) // visit i unmatched
	for j, r := range records {
		if used[j] || !w.Fits(visits[i], r.Time) {
			continue
		}
		used[j] = true
		n, g := bruteForce(visits, records, w, i+1, used)
		used[j] = false
		n, g = n+1, g+gap(visits[i], r.Time)
		if n > bestN || n == bestN && g < bestGap {
			bestN, bestGap = n, g
		}
	}
	return bestN, bestGap
}
