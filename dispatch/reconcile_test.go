package dispatch

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/stations"
)

// reconcileT0 is when the station's day starts in the reconciliation test.
var reconcileT0 = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)

func rmin(m int) time.Time { return reconcileT0.Add(time.Duration(m) * time.Minute) }

func reconcileConfig() *config.Config {
	return &config.Config{
		Stations: []config.Station{{ID: "baiyun-07"}, {ID: "baiyun-08"}},
		Cameras: []config.Camera{{ID: "station-07", Name: "白云七站卸料口",
			Location: config.Location{Lat: 23.2, Lon: 113.27, Address: "白云区 石井街道"},
			Station:  &config.StationCamera{ID: "baiyun-07", Bay: config.Polygon{{0, 0}, {1, 0}, {1, 1}}}}},
		Weighing: config.Weighing{Reconcile: config.Reconcile{
			Before: config.Duration(2 * time.Minute), After: config.Duration(10 * time.Minute),
			MaxVisit: config.Duration(30 * time.Minute), Interval: config.Duration(time.Minute),
			Lookback: config.Duration(48 * time.Hour), LoadLimits: map[string]float64{"tricycle": 500}}},
	}
}

// reconciler builds a Reconciler on s whose clock says now.
func reconciler(t *testing.T, s *Service, reg prometheus.Registerer, now time.Time) *Reconciler {
	t.Helper()
	r := NewReconciler(s, reconcileConfig(), reg)
	r.Now = func() time.Time { return now }
	return r
}

func putVisit(t *testing.T, s *Service, id string, arrive, leave int, evidence string) stations.Visit {
	t.Helper()
	v := stations.Visit{ID: id, Station: "baiyun-07", Camera: "station-07", Arrival: rmin(arrive), Stop: rmin(arrive).Add(time.Minute),
		Departure: rmin(leave), VehicleClass: "tricycle", Score: 0.9, EvidenceStatus: stations.EvidencePending, CreatedAt: rmin(leave)}
	if _, _, err := s.visits.PutVisit(t.Context(), v); err != nil {
		t.Fatal(err)
	}
	if evidence != stations.EvidencePending {
		setEvidence(t, s, id, evidence)
	}
	return v
}

func setEvidence(t *testing.T, s *Service, id, status string) {
	t.Helper()
	ev := stations.VisitEvidence{Status: status}
	if status == stations.EvidenceStored {
		ev.Prefix, ev.Files, ev.ManifestSHA256 = "2026/12/03/station-07/"+id+"/", []string{"clip.mp4", "snapshot_annotated.jpg", "manifest.json"}, "cafe"
	}
	if err := s.visits.SetVisitEvidence(t.Context(), id, ev); err != nil {
		t.Fatal(err)
	}
}

func putRecord(t *testing.T, s *Service, id string, at int, netKG float64) {
	t.Helper()
	w := stations.Weighing{Source: "bridge-07", RecordID: id, Station: "baiyun-07", Time: rmin(at), NetKG: netKG, ReceivedAt: rmin(at)}
	if _, err := s.weighings.PutWeighings(t.Context(), []stations.Weighing{w}); err != nil {
		t.Fatal(err)
	}
}

// ticketsOf returns the tickets of a type, by violation id.
func ticketsOf(t *testing.T, s *Service, typ string) map[string]*Ticket {
	t.Helper()
	list, err := s.store.ListTickets(t.Context(), Filter{Type: typ, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Ticket{}
	for _, tk := range list {
		out[tk.ViolationID] = tk
	}
	return out
}

func pass(t *testing.T, r *Reconciler) {
	t.Helper()
	if err := r.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Reconciling a station's day on the real ticket database: a visit
// without a record becomes an unweighed_unload ticket carrying the visit's
// evidence; a record without a visit while the camera watched becomes a
// weighing_without_visit ticket with the bay clip cut when it arrived,
// but one during a camera outage makes no
// case; a match over the vehicle class's load limit is stored on the
// visit; a visit whose evidence is still being made waits for it. Late
// records withdraw a pending unweighed_unload ticket (rejected by
// StreetWatch, the record named in the audit) and only annotate one a
// reviewer already confirmed. A restart reconciling again makes no
// duplicate.
func TestReconcilerTurnsVisitsAndRecordsIntoStationCasesOnceAndWithdrawsOnLateRecords(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		dir := t.TempDir()
		ctx := t.Context()
		s := testService(t, config.Dispatch{}, dir, prometheus.NewRegistry())
		ws := s.store.(WatchStore)
		// The camera watched all day but for an outage from 100 to 130 min.
		for _, span := range [][2]int{{-60, 100}, {130, 600}} {
			id, err := ws.StartWatch(ctx, "station-07", rmin(span[0]))
			if err != nil {
				t.Fatal(err)
			}
			if err := ws.ExtendWatch(ctx, id, rmin(span[1])); err != nil {
				t.Fatal(err)
			}
		}
		putVisit(t, s, "01VISITA", 10, 15, stations.EvidenceStored)    // no record (yet)
		putVisit(t, s, "01VISITB", 30, 35, stations.EvidenceStored)    // weighed: 800 kg on a tricycle
		putRecord(t, s, "W-B", 36, 800)                                //
		putRecord(t, s, "W-C", 60, 300)                                // no visit, watched
		putRecord(t, s, "W-D", 115, 300)                               // no visit, camera down
		putVisit(t, s, "01VISITE", 140, 145, stations.EvidencePending) // unweighed, evidence not yet stored
		putVisit(t, s, "01VISITF", 200, 205, stations.EvidenceStored)  // unweighed, reviewer will confirm
		putVisit(t, s, "01VISITG", 220, 225, stations.EvidenceFailed)  // unweighed, no evidence
		putVisit(t, s, "01VISITH", 580, 590, stations.EvidenceStored)  // not settled yet

		// The pipeline cut W-C's bay clip as it arrived.
		bay := Evidence{Prefix: "2026/12/03/station-07/weighing-c/", Files: []string{"clip.mp4", "manifest.json"}, ManifestSHA256: "beef"}
		if err := s.PutCaseEvidence(ctx, RecordViolationID(stations.Weighing{Source: "bridge-07", RecordID: "W-C"}), bay); err != nil {
			t.Fatal(err)
		}

		reg := prometheus.NewRegistry()
		now := rmin(595)
		r := reconciler(t, s, reg, now)
		pass(t, r)

		unweighed := ticketsOf(t, s, "unweighed_unload")
		if len(unweighed) != 2 || unweighed["01VISITA"] == nil || unweighed["01VISITF"] == nil {
			t.Fatalf("unweighed_unload tickets %v, want the visits A and F (E's evidence is pending, G's failed, H is open)", keys(unweighed))
		}
		a := unweighed["01VISITA"]
		if a.Status != StatusPendingReview || a.CameraID != "station-07" || a.CameraName != "白云七站卸料口" || a.Zone != ReconcileZone ||
			!a.FirstSeen.Equal(rmin(10)) || !a.ConfirmedAt.Equal(rmin(15)) || a.Class != "tricycle" ||
			a.Evidence.Prefix != "2026/12/03/station-07/01VISITA/" || !slices.Equal(a.Evidence.Files, []string{"clip.mp4", "snapshot_annotated.jpg", "manifest.json"}) ||
			a.Evidence.ManifestSHA256 != "cafe" || !slices.Equal(a.Signals, []string{SignalWeighing}) || a.Location.Address != "白云区 石井街道" {
			t.Errorf("unweighed_unload ticket %+v", a)
		}
		if !s.KeepEvidence("01VISITA") {
			t.Error("the visit's evidence is not kept for its open ticket")
		}
		suspect := ticketsOf(t, s, "weighing_without_visit")
		if len(suspect) != 1 {
			t.Fatalf("weighing_without_visit tickets %v, want W-C's only (W-D was weighed while the camera was down)", keys(suspect))
		}
		for id, c := range suspect {
			if !strings.HasPrefix(id, "weighing-") || c.CameraID != "station-07" || !c.FirstSeen.Equal(rmin(60)) ||
				c.Status != StatusPendingReview || c.Evidence.Prefix != bay.Prefix || !slices.Equal(c.Evidence.Files, bay.Files) ||
				c.Evidence.ManifestSHA256 != bay.ManifestSHA256 {
				t.Errorf("weighing_without_visit ticket %+v", c)
			}
		}
		vs, err := s.visits.VisitsBetween(ctx, "baiyun-07", rmin(30), rmin(31), 10)
		if err != nil || len(vs) != 1 || vs[0].Weighing != "bridge-07/W-B" || vs[0].OverLimitKG != 500 {
			t.Errorf("visit B after matching: %+v %v, want matched with bridge-07/W-B, over the 500 kg limit", vs, err)
		}
		wantCounts(t, r, map[string]float64{ReconcileMatched: 1, ReconcileOverLimit: 1, ReconcileUnweighedUnload: 2,
			ReconcileWeighingWithoutVisit: 1, ReconcileUnwatched: 1, ReconcileWithdrawn: 0})
		if n := testutil.ToFloat64(r.counts.WithLabelValues("baiyun-08", ReconcileMatched)); n != 0 {
			t.Errorf("baiyun-08 matched %g", n)
		}
		if n, err := testutil.GatherAndCount(reg, "streetwatch_station_reconciled_total"); err != nil || n != 12 {
			t.Errorf("%d series (%v), want every result of both stations from zero", n, err)
		}

		// A reviewer confirms F; E's evidence comes in; the records of A and
		// F arrive late; a visit explaining W-C is stored late (its hand-off
		// after a crash).
		f := unweighed["01VISITF"]
		if _, err := s.Transition(ctx, f.ID, TransitionRequest{To: StatusConfirmed, Version: f.Version, Actor: "reviewer"}); err != nil {
			t.Fatal(err)
		}
		setEvidence(t, s, "01VISITE", stations.EvidenceStored)
		putRecord(t, s, "W-A", 17, 200)
		putRecord(t, s, "W-F", 206, 200)
		putVisit(t, s, "01VISITC", 58, 61, stations.EvidenceStored)
		pass(t, r)
		pass(t, r) // a second pass changes nothing

		unweighed = ticketsOf(t, s, "unweighed_unload")
		if len(unweighed) != 3 || unweighed["01VISITE"] == nil {
			t.Fatalf("unweighed_unload tickets %v, want E's too now", keys(unweighed))
		}
		a = unweighed["01VISITA"]
		if a.Status != StatusRejected || a.RejectReason != ReasonNotViolation {
			t.Errorf("A after its late record: %s (%s), want withdrawn", a.Status, a.RejectReason)
		}
		wantAudit(t, s, a.ID, "withdrawn: weighing record bridge-07/W-A arrived late", 1)
		if f := unweighed["01VISITF"]; f.Status != StatusConfirmed {
			t.Errorf("F, confirmed by a reviewer, is %s after its late record", f.Status)
		}
		wantAudit(t, s, f.ID, "weighing record bridge-07/W-F arrived late, after review (ticket is confirmed): not withdrawn", 1)
		for _, c := range ticketsOf(t, s, "weighing_without_visit") {
			if c.Status != StatusRejected {
				t.Errorf("W-C's case after its visit was found: %s, want withdrawn", c.Status)
			}
			wantAudit(t, s, c.ID, "withdrawn: visit 01VISITC found", 1)
		}
		wantCounts(t, r, map[string]float64{ReconcileMatched: 4, ReconcileOverLimit: 1, ReconcileUnweighedUnload: 3,
			ReconcileWeighingWithoutVisit: 1, ReconcileUnwatched: 1, ReconcileWithdrawn: 2})

		// Restart: a new service and reconciler on the same database, a
		// little later (H still open), make no new ticket and count nothing new but the records no
		// camera watched (the count is per process).
		s.Close()
		s = testService(t, config.Dispatch{}, dir, prometheus.NewRegistry())
		r = reconciler(t, s, prometheus.NewRegistry(), now.Add(2*time.Minute))
		pass(t, r)
		if n := len(ticketsOf(t, s, "unweighed_unload")) + len(ticketsOf(t, s, "weighing_without_visit")); n != 4 {
			t.Errorf("%d station tickets after the restart, want the same 4", n)
		}
		wantCounts(t, r, map[string]float64{ReconcileMatched: 0, ReconcileOverLimit: 0, ReconcileUnweighedUnload: 0,
			ReconcileWeighingWithoutVisit: 0, ReconcileUnwatched: 1, ReconcileWithdrawn: 0})
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func wantCounts(t *testing.T, r *Reconciler, want map[string]float64) {
	t.Helper()
	for res, n := range want {
		if got := testutil.ToFloat64(r.counts.WithLabelValues("baiyun-07", res)); got != n {
			t.Errorf("streetwatch_station_reconciled_total{station=baiyun-07,result=%s} = %g, want %g", res, got, n)
		}
	}
}

// wantAudit checks that a ticket's audit log has note n times, by StreetWatch.
func wantAudit(t *testing.T, s *Service, id, note string, n int) {
	t.Helper()
	audit, err := s.Audit(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, e := range audit {
		if e.Note == note && e.Actor == SystemActor {
			got++
		}
	}
	if got != n {
		t.Errorf("ticket %s: %d audit entries %q, want %d (log %+v)", id, got, note, n, audit)
	}
}
