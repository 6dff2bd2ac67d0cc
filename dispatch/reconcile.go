package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/stations"
	"github.com/streetwatch/streetwatch/violation"
)

// Results of reconciliation (the result label of
// streetwatch_station_reconciled_total).
const (
	ReconcileMatched              = "matched"
	ReconcileUnweighedUnload      = string(violation.UnweighedUnload)
	ReconcileWeighingWithoutVisit = string(violation.WeighingWithoutVisit)
	ReconcileUnwatched            = "unwatched"
	ReconcileOverLimit            = "over_limit"
	ReconcileWithdrawn            = "withdrawn"
)

var reconcileResults = []string{ReconcileMatched, ReconcileUnweighedUnload, ReconcileWeighingWithoutVisit,
	ReconcileUnwatched, ReconcileOverLimit, ReconcileWithdrawn}

// SignalWeighing is the signal of station cases: reconciling visits with
// weighing records found them, not a model.
const SignalWeighing = "weighing"

// ReconcileZone is the zone of station cases: the station camera's bay.
const ReconcileZone = "bay"

// maxReconcileRows bounds what one pass reads per station and kind.
const maxReconcileRows = 100_000

// Reconciler matches each configured station's visits with its weighing
// records every interval (stations.Reconcile) and acts on the outcome,
// idempotently, so that every pass, and a restart, may see the same
// outcome again:
//
//   - a settled visit without a record, once its evidence is stored,
//     becomes an unweighed_unload ticket whose violation id is the
//     visit's id (so the ticket holds the visit's evidence, and a second
//     pass finds the ticket);
//   - a record that matches a visit whose unweighed_unload ticket is
//     still pending review (the record came late) withdraws it: rejected
//     by StreetWatch with an audit note naming the record; a ticket past
//     review gets the note only. Likewise a visit stored late withdraws
//     its record's weighing_without_visit ticket;
//   - a settled record without a visit while every bay camera of the
//     station watched becomes a weighing_without_visit ticket (violation
//     id derived from the record's source and id) on the station's first
//     bay camera, with the bay's clip for the record's time when the
//     pipeline cut it as the record arrived (CaseEvidenceStore);
//   - a match is stored on its visit, with the load limit it exceeds.
//
// Records no camera watched make no case; they are counted.
type Reconciler struct {
	// Now is the clock (nil: the wall clock); a test may set it before Run
	// or Pass.
	Now func() time.Time

	svc      *Service
	cfg      config.Reconcile
	window   stations.Window
	stations []string
	cameras  map[string][]config.Camera // station → its cameras with a bay
	counts   *prometheus.CounterVec
	log      *slog.Logger

	mu sync.Mutex
	// seen are the records counted unwatched, and the visits whose
	// missing evidence was logged, by this process (metrics and logs only).
	seen map[string]bool
}

// NewReconciler builds the reconciler of cfg's stations on svc's
// database; its counter goes to reg.
func NewReconciler(svc *Service, cfg *config.Config, reg prometheus.Registerer) *Reconciler {
	r := &Reconciler{svc: svc, cfg: cfg.Weighing.Reconcile, window: cfg.Weighing.Reconcile.Window(),
		cameras: map[string][]config.Camera{}, log: svc.log.With("stage", "reconcile"), seen: map[string]bool{},
		counts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_station_reconciled_total",
			Help: "Outcomes of reconciling station visits with weighing records, each counted once when it first happens.",
		}, []string{"station", "result"})}
	for _, st := range cfg.Stations {
		r.stations = append(r.stations, st.ID)
		for _, res := range reconcileResults {
			r.counts.WithLabelValues(st.ID, res)
		}
	}
	for _, cam := range cfg.Cameras {
		if cam.Station != nil && len(cam.Station.Bay) > 0 {
			r.cameras[cam.Station.ID] = append(r.cameras[cam.Station.ID], cam)
		}
	}
	if reg != nil {
		reg.MustRegister(r.counts)
	}
	return r
}

// Run reconciles at once and then every interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	if r.svc.visits == nil || r.svc.weighings == nil {
		return errors.New("reconcile: the ticket store keeps no visits or weighing records")
	}
	t := time.NewTicker(r.cfg.Interval.D())
	defer t.Stop()
	for {
		if err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("reconciliation pass failed; trying again next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Pass reconciles every station once, as of now. One station's failure
// does not stop the others.
func (r *Reconciler) Pass(ctx context.Context) error {
	now := time.Now().UTC()
	if r.Now != nil {
		now = r.Now()
	}
	var errs []error
	for _, st := range r.stations {
		if err := r.station(ctx, st, now); err != nil {
			errs = append(errs, fmt.Errorf("station %s: %w", st, err))
		}
	}
	return errors.Join(errs...)
}

func (r *Reconciler) station(ctx context.Context, station string, now time.Time) error {
	from := now.Add(-r.cfg.Lookback.D())
	pf, pt := r.window.Pad(from, now)
	visits, err := r.svc.visits.VisitsBetween(ctx, station, pf, pt, maxReconcileRows)
	if err != nil {
		return err
	}
	records, err := r.svc.weighings.WeighingsBetween(ctx, station, pf, pt, maxReconcileRows)
	if err != nil {
		return err
	}
	var cameras []string
	for _, c := range r.cameras[station] {
		cameras = append(cameras, c.ID)
	}
	var watchErr error
	watched := func(_ string, from, to time.Time) bool {
		ok, err := r.svc.Watched(ctx, cameras, from, to)
		if watchErr == nil {
			watchErr = err
		}
		return ok
	}
	out := stations.Reconcile(visits, records, r.window, now, r.cfg.LoadLimits, watched)
	if watchErr != nil {
		// Unknown is not unwatched: no record is judged on this pass.
		return fmt.Errorf("watch record: %w", watchErr)
	}
	// Items before the lookback are there as candidates only: their own
	// candidates may lie beyond the padding.
	var errs []error
	for _, m := range out.Matches {
		if m.Visit.Departure.Before(from) {
			continue
		}
		errs = append(errs, r.matched(ctx, m))
	}
	for _, v := range out.Unweighed {
		if v.Departure.Before(from) {
			continue
		}
		errs = append(errs, r.unweighed(ctx, v))
	}
	for _, w := range out.Unvisited {
		if w.Time.Before(from) {
			continue
		}
		errs = append(errs, r.unvisited(ctx, w))
	}
	for _, w := range out.Unwatched {
		if !w.Time.Before(from) && r.first("unwatched/"+recordName(w)) {
			r.counts.WithLabelValues(station, ReconcileUnwatched).Inc()
			r.log.Info("weighing record without a visit while the station's cameras did not watch: no case",
				"station", station, "record", recordName(w), "time", w.Time)
		}
	}
	return errors.Join(errs...)
}

// first reports whether key is seen for the first time by this process.
func (r *Reconciler) first(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] {
		return false
	}
	r.seen[key] = true
	return true
}

func recordName(w stations.Weighing) string { return w.Source + "/" + w.RecordID }

// matched stores the match on its visit and withdraws the visit's
// unweighed_unload ticket if the record came after it was made.
func (r *Reconciler) matched(ctx context.Context, m stations.Match) error {
	v, rec := m.Visit, recordName(m.Record)
	changed, err := r.svc.visits.SetVisitWeighing(ctx, v.ID, rec, m.OverLimitKG)
	if err != nil {
		return err
	}
	if changed {
		r.counts.WithLabelValues(v.Station, ReconcileMatched).Inc()
		r.log.Info("visit matched with its weighing record", "station", v.Station, "camera", v.Camera, "visit", v.ID,
			"record", rec, "gap", m.Gap)
		if m.OverLimitKG > 0 {
			r.counts.WithLabelValues(v.Station, ReconcileOverLimit).Inc()
			r.log.Warn("net weight over the vehicle class's load limit", "station", v.Station, "camera", v.Camera,
				"visit", v.ID, "record", rec, "class", v.VehicleClass, "net_kg", m.Record.NetKG, "limit_kg", m.OverLimitKG)
		}
	}
	// A record that came late answers the visit's case; a visit stored
	// late (its hand-off after a crash) answers the record's.
	return errors.Join(
		r.withdraw(ctx, v.Station, v.ID, ReconcileUnweighedUnload, fmt.Sprintf("weighing record %s arrived late", rec)),
		r.withdraw(ctx, v.Station, RecordViolationID(m.Record), ReconcileWeighingWithoutVisit, fmt.Sprintf("visit %s found", v.ID)))
}

// withdraw rejects a station case a match answers while it is still
// pending review (why says what came late); one past review only gets an
// audit note (once).
func (r *Reconciler) withdraw(ctx context.Context, station, violationID, typ, why string) error {
	t, err := r.svc.store.TicketByViolation(ctx, violationID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	case t.Type != typ || t.Status == StatusRejected:
		return nil
	}
	if t.Status == StatusPendingReview {
		_, err := r.svc.transition(ctx, t.ID, TransitionRequest{To: StatusRejected, Version: t.Version, Actor: SystemActor,
			Reason: ReasonNotViolation, Note: "withdrawn: " + why}, func(t *Ticket) error {
			if t.Status != StatusPendingReview {
				return fmt.Errorf("%w: ticket %s is %s now", ErrConflict, t.ID, t.Status)
			}
			return nil
		})
		if errors.Is(err, ErrConflict) {
			return nil // a reviewer moved it meanwhile: the next pass sees where it is
		}
		if err == nil {
			r.counts.WithLabelValues(station, ReconcileWithdrawn).Inc()
			r.log.Info("station case withdrawn", "station", station, "camera", t.CameraID, "ticket", t.ID,
				"type", typ, "why", why)
		}
		return err
	}
	note := fmt.Sprintf("%s, after review (ticket is %s): not withdrawn", why, t.Status)
	audit, err := r.svc.store.Audit(ctx, t.ID)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(audit, func(a AuditEntry) bool { return a.Note == note }) {
		return nil
	}
	r.log.Warn("station case answered after review", "station", station, "camera", t.CameraID, "ticket", t.ID,
		"type", typ, "status", t.Status, "why", why)
	_, err = r.svc.AddNote(ctx, t.ID, t.Version, SystemActor, note)
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}

// unweighed makes the ticket of a visit without a record, once its
// evidence is stored.
func (r *Reconciler) unweighed(ctx context.Context, v stations.Visit) error {
	if v.Weighing != "" { // its record went to a visit it fits better
		if _, err := r.svc.visits.SetVisitWeighing(ctx, v.ID, "", 0); err != nil {
			return err
		}
	}
	if _, err := r.svc.store.TicketByViolation(ctx, v.ID); !errors.Is(err, ErrNotFound) {
		return err // it has its ticket (or the lookup failed)
	}
	switch v.EvidenceStatus {
	case stations.EvidenceStored:
	case stations.EvidenceFailed:
		if r.first("failed/" + v.ID) {
			r.log.Error("unweighed unload without evidence: no ticket", "station", v.Station, "camera", v.Camera, "visit", v.ID)
		}
		return nil
	default:
		return nil // its bundle is being made: the next pass
	}
	in := r.ticketInput(v.Station, v.Camera, violation.Record{ID: v.ID, Type: violation.UnweighedUnload,
		Class: v.VehicleClass, FirstSeen: v.Arrival, ConfirmedAt: v.Departure, Confidence: v.Score})
	in.EvidencePrefix, in.EvidenceFiles, in.ManifestSHA256 = v.EvidencePrefix, v.EvidenceFiles, v.ManifestSHA256
	return r.create(ctx, v.Station, in)
}

// unvisited makes the ticket of a record no vehicle explains while the
// station's cameras watched.
func (r *Reconciler) unvisited(ctx context.Context, w stations.Weighing) error {
	cams := r.cameras[w.Station]
	if len(cams) == 0 {
		return nil // cannot happen: no camera, nothing watched
	}
	id := RecordViolationID(w)
	if _, err := r.svc.store.TicketByViolation(ctx, id); !errors.Is(err, ErrNotFound) {
		return err
	}
	in := r.ticketInput(w.Station, cams[0].ID, violation.Record{ID: id, Type: violation.WeighingWithoutVisit,
		FirstSeen: w.Time, ConfirmedAt: w.Time, Confidence: 1})
	// The bay's clip, when the pipeline cut it as the record arrived (a
	// record imported, or posted after the history moved on, has none).
	if cs, ok := r.svc.store.(CaseEvidenceStore); ok {
		switch ev, err := cs.CaseEvidence(ctx, id); {
		case err == nil:
			in.EvidencePrefix, in.EvidenceFiles, in.ManifestSHA256 = ev.Prefix, ev.Files, ev.ManifestSHA256
		case !errors.Is(err, ErrNotFound):
			return err
		}
	}
	return r.create(ctx, w.Station, in)
}

func (r *Reconciler) ticketInput(station, camera string, rec violation.Record) TicketInput {
	rec.Camera, rec.Zone, rec.Signals = camera, ReconcileZone, []string{SignalWeighing}
	in := TicketInput{Violation: rec}
	for _, c := range r.cameras[station] {
		if c.ID == camera {
			in.CameraName, in.Lat, in.Lon, in.Address = c.Name, c.Location.Lat, c.Location.Lon, c.Location.Address
		}
	}
	return in
}

func (r *Reconciler) create(ctx context.Context, station string, in TicketInput) error {
	_, created, err := r.svc.CreateTicket(ctx, in)
	if err == nil && created {
		r.counts.WithLabelValues(station, string(in.Violation.Type)).Inc()
	}
	return err
}

// RecordViolationID is the violation id of a record's
// weighing_without_visit case: the same for the same record, whatever
// characters its source and id hold.
func RecordViolationID(w stations.Weighing) string {
	sum := sha256.Sum256([]byte(w.Source + "\x00" + w.RecordID))
	return "weighing-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
}
