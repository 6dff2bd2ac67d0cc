package stations

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Window says which weighing records may belong to a visit, and when a
// question is settled.
type Window struct {
	// Before is how long before a vehicle's arrival its record may be
	// weighed (a bridge at the gate weighs it on the way in).
	Before time.Duration
	// After is how long after it left its record may be weighed or typed
	// in (weighed on the way out, or entered late by the operator).
	After time.Duration
	// MaxVisit is the longest a visit may last. A visit is reported when
	// it ends, so a record's question is settled only once every visit
	// that could fit it has ended: MaxVisit after Before past its time.
	MaxVisit time.Duration
}

// DefaultWindow suits a weighbridge at the station's gate.
var DefaultWindow = Window{Before: 2 * time.Minute, After: 10 * time.Minute, MaxVisit: 30 * time.Minute}

// Check reports the first bad field, named as in the configuration.
func (w Window) Check() error {
	switch {
	case w.Before < 0:
		return fmt.Errorf("before: must not be negative (got %s)", w.Before)
	case w.After < 0:
		return fmt.Errorf("after: must not be negative (got %s)", w.After)
	case w.MaxVisit <= 0:
		return fmt.Errorf("max_visit: must be positive (got %s)", w.MaxVisit)
	}
	return nil
}

// Fits reports whether a record weighed at t may belong to v: between
// Before ahead of its arrival and After past its departure.
func (w Window) Fits(v Visit, t time.Time) bool {
	return !t.Before(v.Arrival.Add(-w.Before)) && !t.After(v.Departure.Add(w.After))
}

// VisitSettles is when no record can be weighed for v any more.
func (w Window) VisitSettles(v Visit) time.Time { return v.Departure.Add(w.After) }

// RecordSettles is when every visit that could fit a record weighed at t
// has ended and been reported.
func (w Window) RecordSettles(t time.Time) time.Time { return t.Add(w.Before + w.MaxVisit) }

// Watch is the span a station camera must have watched, without a gap,
// before a record weighed at t without a visit may be called suspect: a
// fitting vehicle would have been in front of it during that span.
func (w Window) Watch(t time.Time) (from, to time.Time) { return t.Add(-w.After), t.Add(w.Before) }

// Pad widens a period so that Reconcile, given every visit and record of
// the padded period, sees every candidate of the items inside the period.
func (w Window) Pad(from, to time.Time) (time.Time, time.Time) {
	return from.Add(-w.Before - w.After - w.MaxVisit), to.Add(w.Before + w.After + w.MaxVisit)
}

// gap is how far t lies outside v's stay (0 inside it).
func gap(v Visit, t time.Time) time.Duration {
	switch {
	case t.Before(v.Arrival):
		return v.Arrival.Sub(t)
	case t.After(v.Departure):
		return t.Sub(v.Departure)
	}
	return 0
}

// Match is a visit and its weighing record.
type Match struct {
	Visit  Visit
	Record Weighing
	// Gap is how far the record's time lies outside the visit's stay.
	Gap time.Duration
	// OverLimitKG is the load limit of the visit's vehicle class when the
	// record's net weight exceeds it (0: within it, or no limit).
	OverLimitKG float64
}

// Outcome is a reconciliation of one station's visits and records.
type Outcome struct {
	Matches []Match
	// Unweighed are settled visits with no record: unweighed unloads.
	Unweighed []Visit
	// Unvisited are settled records with no visit while the camera watched
	// the whole Watch span: suspect records.
	Unvisited []Weighing
	// Unwatched are settled records with no visit that the camera did not
	// watch throughout: no case can be made.
	Unwatched []Weighing
	// OpenVisits and OpenRecords are unmatched and not yet settled.
	OpenVisits  []Visit
	OpenRecords []Weighing
}

// Reconcile matches visits and weighing records one to one, per station,
// as of now. Among all one-to-one matchings of records to visits that fit
// them, it takes one with the most matches and, among those, the least
// total gap: a record goes to the nearest visit in time unless that would
// leave another record and visit unmatched that could have been paired.
//
// It is pure and deterministic (input order does not matter): run it
// again when a record or visit comes in late and act on the difference.
// Give it every visit and record of a period widened by Window.Pad.
// Only a visit's ID, Station, Arrival, Departure and VehicleClass count.
// limits are the most net kg each vehicle class can carry (a class not
// listed has no limit). watched reports whether a station's cameras were
// up and watching for the whole of [from, to).
func Reconcile(visits []Visit, records []Weighing, w Window, now time.Time, limits map[string]float64, watched func(station string, from, to time.Time) bool) Outcome {
	visits = slices.Clone(visits)
	records = slices.Clone(records)
	slices.SortFunc(visits, func(a, b Visit) int {
		return cmp.Or(cmp.Compare(a.Station, b.Station), a.Arrival.Compare(b.Arrival), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(records, func(a, b Weighing) int {
		return cmp.Or(cmp.Compare(a.Station, b.Station), a.Time.Compare(b.Time),
			cmp.Compare(a.Source, b.Source), cmp.Compare(a.RecordID, b.RecordID))
	})
	var out Outcome
	for len(visits) > 0 || len(records) > 0 {
		station := nextStation(visits, records)
		nv := countPrefix(visits, func(v Visit) bool { return v.Station == station })
		nr := countPrefix(records, func(r Weighing) bool { return r.Station == station })
		reconcileStation(&out, visits[:nv], records[:nr], w, now, limits, watched)
		visits, records = visits[nv:], records[nr:]
	}
	return out
}

func nextStation(visits []Visit, records []Weighing) string {
	switch {
	case len(visits) == 0:
		return records[0].Station
	case len(records) == 0:
		return visits[0].Station
	}
	return min(visits[0].Station, records[0].Station)
}

func countPrefix[T any](s []T, ok func(T) bool) int {
	n := 0
	for n < len(s) && ok(s[n]) {
		n++
	}
	return n
}

// reconcileStation matches one station's visits and records (both
// sorted by time).
func reconcileStation(out *Outcome, visits []Visit, records []Weighing, w Window, now time.Time, limits map[string]float64, watched func(string, time.Time, time.Time) bool) {
	vMatched := make([]bool, len(visits))
	rMatched := make([]bool, len(records))
	for _, p := range match(visits, records, w) {
		v, r := visits[p[0]], records[p[1]]
		m := Match{Visit: v, Record: r, Gap: gap(v, r.Time)}
		if limit, ok := limits[v.VehicleClass]; ok && r.NetKG > limit {
			m.OverLimitKG = limit
		}
		out.Matches = append(out.Matches, m)
		vMatched[p[0]], rMatched[p[1]] = true, true
	}
	for i, v := range visits {
		switch {
		case vMatched[i]:
		case now.Before(w.VisitSettles(v)):
			out.OpenVisits = append(out.OpenVisits, v)
		default:
			out.Unweighed = append(out.Unweighed, v)
		}
	}
	for j, r := range records {
		if rMatched[j] {
			continue
		}
		from, to := w.Watch(r.Time)
		switch {
		case now.Before(w.RecordSettles(r.Time)):
			out.OpenRecords = append(out.OpenRecords, r)
		case watched(r.Station, from, to):
			out.Unvisited = append(out.Unvisited, r)
		default:
			out.Unwatched = append(out.Unwatched, r)
		}
	}
}

// match returns (visit, record) index pairs: the most pairs that fit,
// and among those the least total gap. It is a min-cost maximum flow
// from a source through visits and records to a sink, each edge of
// capacity one and a fitting pair costing its gap in milliseconds, found
// by successive shortest paths (Dijkstra with potentials). Records are
// sorted by time, so the records fitting a visit are one run of them.
func match(visits []Visit, records []Weighing, w Window) [][2]int {
	nv, nr := len(visits), len(records)
	src, sink := nv+nr, nv+nr+1
	g := make(flowGraph, nv+nr+2)
	for i, v := range visits {
		g.add(src, i, 0)
		lo, _ := slices.BinarySearchFunc(records, v.Arrival.Add(-w.Before), func(r Weighing, t time.Time) int { return r.Time.Compare(t) })
		for j := lo; j < nr && w.Fits(v, records[j].Time); j++ {
			g.add(i, nv+j, gap(v, records[j].Time).Milliseconds())
		}
	}
	for j := range records {
		g.add(nv+j, sink, 0)
	}
	g.minCostMaxFlow(src, sink)
	var pairs [][2]int
	for i := range visits {
		for _, e := range g[i] {
			if e.to >= nv && e.to < nv+nr && e.cap == 0 { // saturated: the pair is matched
				pairs = append(pairs, [2]int{i, e.to - nv})
			}
		}
	}
	return pairs
}

// flowGraph is a residual graph: adjacency lists of edges, each with the
// index of its reverse edge in its head's list.
type flowGraph [][]flowEdge

type flowEdge struct {
	to, rev, cap int
	cost         int64
}

func (g flowGraph) add(from, to int, cost int64) {
	g[from] = append(g[from], flowEdge{to: to, rev: len(g[to]), cap: 1, cost: cost})
	g[to] = append(g[to], flowEdge{to: from, rev: len(g[from]) - 1, cap: 0, cost: -cost})
}

// minCostMaxFlow pushes one unit at a time along a cheapest path until
// none is left. Costs start non-negative, so potentials start at zero.
// Each search stops when it reaches the sink: nodes it did not settle are
// at least as far, and raising their potential by the sink's distance
// keeps every residual edge's reduced cost non-negative.
func (g flowGraph) minCostMaxFlow(src, sink int) {
	n := len(g)
	potential := make([]int64, n)
	dist := make([]int64, n)
	done := make([]bool, n)
	prevNode, prevEdge := make([]int, n), make([]int, n)
	for {
		for i := range dist {
			dist[i], done[i] = math.MaxInt64, false
		}
		dist[src] = 0
		q := distHeap{{node: src}}
		for len(q) > 0 {
			it := q.pop()
			if done[it.node] {
				continue
			}
			done[it.node] = true
			if it.node == sink {
				break
			}
			for k, e := range g[it.node] {
				if e.cap == 0 || done[e.to] {
					continue
				}
				d := it.dist + e.cost + potential[it.node] - potential[e.to]
				if d < dist[e.to] {
					dist[e.to], prevNode[e.to], prevEdge[e.to] = d, it.node, k
					q.push(distItem{node: e.to, dist: d})
				}
			}
		}
		if !done[sink] {
			return
		}
		for i := range potential {
			if done[i] {
				potential[i] += dist[i]
			} else {
				potential[i] += dist[sink]
			}
		}
		for v := sink; v != src; v = prevNode[v] {
			e := &g[prevNode[v]][prevEdge[v]]
			e.cap--
			g[v][e.rev].cap++
		}
	}
}

type distItem struct {
	node int
	dist int64
}

// distHeap is a binary min-heap by distance, then node, so equal paths
// resolve the same way every run.
type distHeap []distItem

func (h distHeap) less(i, j int) bool {
	return h[i].dist < h[j].dist || h[i].dist == h[j].dist && h[i].node < h[j].node
}

func (h *distHeap) push(it distItem) {
	*h = append(*h, it)
	q := *h
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if !q.less(i, parent) {
			break
		}
		q[i], q[parent] = q[parent], q[i]
		i = parent
	}
}

func (h *distHeap) pop() distItem {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < len(q) && q.less(l, small) {
			small = l
		}
		if r < len(q) && q.less(r, small) {
			small = r
		}
		if small == i {
			break
		}
		q[i], q[small] = q[small], q[i]
		i = small
	}
	*h = q
	return top
}
