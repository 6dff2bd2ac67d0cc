package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/stations"
)

// Config is the dispatch section of the StreetWatch config.
type Config = config.Dispatch

// SystemActor is the audit log's name for changes StreetWatch makes itself.
const SystemActor = "streetwatch"

// Service is the dispatch stage: it creates tickets, applies reviewers'
// transitions, delivers confirmed tickets (Run) and serves the JSON API
// (Handler). Build it with Open (SQLite or PostgreSQL) or New (any Store); cancel Run's
// context and wait for it before Close.
type Service struct {
	// EvidenceURL makes a fresh link to an evidence object (presigned for
	// S3), for the API and for each webhook delivery. Set it before Run
	// and Handler; nil: links are left out.
	EvidenceURL func(ctx context.Context, key string) (string, error)
	// PublicURL is the address that serves this server's / from outside
	// (http.public_url): links EvidenceURL gives as paths (the local
	// store's /evidence/...) are sent on it, so that the work-order system
	// can fetch them. Empty: they are sent as they are.
	PublicURL string
	// Stations are the configured garbage stations and WeighingSources who
	// may post their weighing records (POST /api/v1/weighings); set them
	// before Handler. No sources: every post is refused.
	Stations        []config.Station
	WeighingSources []config.WeighingSource
	// StationTimezone is where the daily station report's days begin and
	// end (weighing.timezone; nil: UTC).
	StationTimezone *time.Location
	// OnWeighing, if set, sees each weighing record the API stores new,
	// once stored: the pipeline cuts the station bay's clip for it while
	// the camera's history still holds it. It must not block for long.
	OnWeighing func(stations.Weighing)

	// settings are the dispatch config and its routing, replaced whole by
	// SetConfig (a config reload).
	settings  atomic.Pointer[settings]
	weighings stations.Store // nil when the store keeps none
	visits    stations.VisitStore
	openDocs  OpenViolationDocs
	auth      AuthStore
	store     Store
	metrics   *Metrics
	log       *slog.Logger
	client    *http.Client
	wake      chan struct{}
	watch     watchSpans
	now       func() time.Time
	// poll is the longest the sender sleeps without a wake-up: it picks up
	// rows another process (or a clock jump) made due.
	poll time.Duration
	// owner names this sender in its outbox claims: unique per Service,
	// so two in one process (tests) are two nodes.
	owner string
	// lease is how long the sender's claim on an outbox row lasts: one
	// attempt (webhook.timeout bounds the whole request, answer
	// included; it changes only with a restart) plus leaseMargin.
	lease time.Duration
}

// Open opens the ticket database, migrating it, and builds the Service on
// it: PostgreSQL when cfg.Database is a postgres:// URL, else the SQLite
// file DatabasePath names.
func Open(ctx context.Context, cfg config.Dispatch, stateDir string, reg prometheus.Registerer, log *slog.Logger) (*Service, error) {
	store, where, err := OpenStore(ctx, cfg, stateDir)
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, store, cfg, reg, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	s.log.Info("ticket database open", "path", where)
	return s, nil
}

// SQLStore is what both ticket databases keep: tickets, the stations'
// weighing records and visits, watch spans, case evidence and verdicts,
// open violations and the review page's sign-ins.
type SQLStore interface {
	Store
	stations.Store
	stations.VisitStore
	WatchStore
	CaseEvidenceStore
	VerdictStore
	OpenViolationDocs
	AuthStore
}

var (
	_ SQLStore = (*SQLite)(nil)
	_ SQLStore = (*Postgres)(nil)
)

// OpenStore opens the ticket database cfg.Database names (see Open); where
// says which, for logs (a URL without its password).
func OpenStore(ctx context.Context, cfg config.Dispatch, stateDir string) (store SQLStore, where string, err error) {
	if config.IsPostgresURL(cfg.Database) {
		pg, err := OpenPostgres(ctx, cfg.Database)
		if err != nil {
			return nil, "", err
		}
		return pg, RedactURL(cfg.Database), nil
	}
	path := DatabasePath(cfg, stateDir)
	lite, err := OpenSQLite(ctx, path)
	if err != nil {
		return nil, "", err
	}
	return lite, path, nil
}

// DatabasePath is where the SQLite ticket database is: cfg.Database, or
// <stateDir>/tickets.db (meaningless when cfg.Database is a PostgreSQL URL).
func DatabasePath(cfg config.Dispatch, stateDir string) string {
	if cfg.Database != "" {
		return cfg.Database
	}
	return filepath.Join(stateDir, "tickets.db")
}

// New builds the Service on an open Store (which Close then closes).
func New(ctx context.Context, store Store, cfg config.Dispatch, reg prometheus.Registerer, log *slog.Logger) (*Service, error) {
	cfg.Defaults()
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		store:   store,
		metrics: NewMetrics(reg),
		log:     log.With("stage", "dispatch"),
		client: &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(), // its own, closed by Close
			Timeout:   cfg.Webhook.Timeout.D(),
			// A redirect is an answer, not a delivery: the signature and
			// idempotency key are for the configured URL only.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		wake: make(chan struct{}, 1),
		// Microseconds: what the store keeps, so a returned ticket equals
		// the stored one.
		now:   func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		poll:  5 * time.Second,
		owner: senderName(),
		lease: cfg.Webhook.Timeout.D() + leaseMargin,
	}
	s.settings.Store(&settings{cfg: cfg, routes: newRouting(cfg)})
	s.weighings, _ = store.(stations.Store)
	s.visits, _ = store.(stations.VisitStore)
	if _, pg := store.(*Postgres); pg {
		s.openDocs, _ = store.(OpenViolationDocs)
	}
	s.auth, _ = store.(AuthStore)
	if err := s.updateDepth(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// settings is what SetConfig replaces.
type settings struct {
	cfg    Config
	routes routing
}

func (s *Service) conf() *settings { return s.settings.Load() }

// SetConfig applies a reloaded dispatch config: review policies, teams,
// districts and their routing, the webhook's URL, secret, backoff and
// max_age apply to tickets routed and deliveries made from now on. The
// database and the webhook timeout stay as they are until the next start:
// SetConfig returns their fields when they changed.
func (s *Service) SetConfig(cfg Config) (restart []string) {
	cfg.Defaults()
	old := s.conf().cfg
	if cfg.Database != old.Database {
		restart = append(restart, "dispatch.database")
		cfg.Database = old.Database
	}
	if cfg.Webhook.Timeout != old.Webhook.Timeout {
		restart = append(restart, "dispatch.webhook.timeout")
		cfg.Webhook.Timeout = old.Webhook.Timeout
	}
	s.settings.Store(&settings{cfg: cfg, routes: newRouting(cfg)})
	s.wakeSender() // a webhook may be there now, or a district's URL changed
	return restart
}

// Config is the dispatch config in use (with defaults).
func (s *Service) Config() Config { return s.conf().cfg }

// Visits is where station visits are kept (nil when the store keeps none).
func (s *Service) Visits() stations.VisitStore { return s.visits }

// OpenViolations is where the cameras' open violations are kept when the
// ticket database is shared by the nodes of a cluster (PostgreSQL); nil
// otherwise: one node keeps them in its state folder.
func (s *Service) OpenViolations() OpenViolationDocs {
	return s.openDocs
}

// Auth is where the review page's sign-ins are kept (nil when the store
// keeps none).
func (s *Service) Auth() AuthStore { return s.auth }

// Close closes the ticket store. Run must have returned.
func (s *Service) Close() error {
	s.client.CloseIdleConnections()
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("dispatch: close: %w", err)
	}
	return nil
}

// CreateTicket stores the ticket of a confirmed violation. It is
// idempotent by the violation id: for a violation that has a ticket it
// returns that ticket and created=false, so the pipeline can hand a
// violation over again after a crash. Types configured for auto dispatch
// with enough confidence go straight to confirmed and are queued.
func (s *Service) CreateTicket(ctx context.Context, in TicketInput) (t *Ticket, created bool, err error) {
	if err := in.validate(); err != nil {
		return nil, false, err
	}
	now := s.now()
	v := in.Violation
	district, team := s.conf().routes.route(v.Camera, v.Zone, string(v.Type))
	t = &Ticket{
		ID: newID(now), ViolationID: v.ID, Type: string(v.Type),
		CameraID: v.Camera, CameraName: in.CameraName, Zone: v.Zone,
		Location: Location{Lat: in.Lat, Lon: in.Lon, Address: in.Address},
		District: district, Team: team,
		FirstSeen: v.FirstSeen.UTC(), ConfirmedAt: v.ConfirmedAt.UTC(), Confidence: shortFloat(v.Confidence),
		Class: v.Class, Signals: slices.Clone(signalsOr(v.Signals)),
		Model:    Model{Name: in.ModelName, Version: in.ModelVersion},
		Evidence: Evidence{Prefix: in.EvidencePrefix, Files: orEmpty(in.EvidenceFiles), ManifestSHA256: in.ManifestSHA256},
		Status:   StatusPendingReview, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	audit := AuditEntry{Kind: AuditStatus, At: now, Actor: SystemActor, To: StatusPendingReview, Note: "created; review required"}
	if p := s.conf().cfg.Policy(t.Type); p.Mode == config.ReviewAuto {
		if t.Confidence >= p.MinScore {
			t.Status, t.Delivery.QueuedAt = StatusConfirmed, &now
			audit.To = StatusConfirmed
			audit.Note = fmt.Sprintf("created; auto dispatch (confidence %g ≥ %g)", t.Confidence, p.MinScore)
		} else {
			audit.Note = fmt.Sprintf("created; review required (confidence %g < auto dispatch score %g)", t.Confidence, p.MinScore)
		}
	}
	// Times round-trip through the store at microsecond precision.
	t.FirstSeen, t.ConfirmedAt = t.FirstSeen.Truncate(time.Microsecond), t.ConfirmedAt.Truncate(time.Microsecond)

	stored, created, err := s.store.CreateTicket(ctx, t, audit)
	if err != nil {
		return nil, false, fmt.Errorf("dispatch: ticket for violation %s: %w", v.ID, err)
	}
	if !created {
		s.log.Info("violation already has a ticket", "violation", v.ID, "ticket", stored.ID, "camera", v.Camera)
		return stored, false, nil
	}
	s.metrics.Tickets.WithLabelValues(t.Type, string(t.Status)).Inc()
	if !v.ConfirmedAt.IsZero() {
		s.metrics.EventToTicket.Observe(max(0, now.Sub(v.ConfirmedAt).Seconds()))
	}
	s.log.Info("ticket created", "ticket", t.ID, "violation", t.ViolationID, "camera", t.CameraID,
		"type", t.Type, "status", t.Status, "district", t.District, "team", t.Team)
	if t.Status == StatusConfirmed {
		s.queued(ctx)
	}
	return stored, true, nil
}

// Ticket returns a ticket by id (ErrNotFound).
func (s *Service) Ticket(ctx context.Context, id string) (*Ticket, error) {
	return s.store.Ticket(ctx, id)
}

// Transition moves a ticket to req.To on behalf of a reviewer. It fails
// with ErrConflict when the ticket's version is not req.Version,
// ErrIllegalTransition when the lifecycle forbids the move and ErrInvalid
// for a malformed request. Confirming queues the ticket for delivery in
// the same transaction.
func (s *Service) Transition(ctx context.Context, id string, req TransitionRequest) (*Ticket, error) {
	return s.transition(ctx, id, req, nil)
}

// Retry queues a dispatch_failed ticket for delivery again.
func (s *Service) Retry(ctx context.Context, id string, version int64, actor, note string) (*Ticket, error) {
	req := TransitionRequest{To: StatusConfirmed, Version: version, Actor: actor, Note: note}
	if req.Note == "" {
		req.Note = "manual retry"
	}
	return s.transition(ctx, id, req, func(t *Ticket) error {
		if t.Status != StatusDispatchFailed {
			return fmt.Errorf("%w: only dispatch_failed tickets can be retried (ticket is %s)", ErrIllegalTransition, t.Status)
		}
		return nil
	})
}

func (s *Service) transition(ctx context.Context, id string, req TransitionRequest, guard func(*Ticket) error) (*Ticket, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	now := s.now()
	var from Status
	t, err := s.store.UpdateTicket(ctx, id, now, func(t *Ticket) (Change, error) {
		if t.Version != req.Version {
			return Change{}, fmt.Errorf("%w: ticket %s is at version %d, not %d", ErrConflict, id, t.Version, req.Version)
		}
		if guard != nil {
			if err := guard(t); err != nil {
				return Change{}, err
			}
		}
		if err := checkTransition(t.Status, req.To, byPerson); err != nil {
			return Change{}, err
		}
		from = t.Status
		ch := Change{Audit: &AuditEntry{Kind: AuditStatus, Actor: req.Actor, From: from, To: req.To, Reason: req.Reason, Note: req.Note}}
		t.Status, t.RejectReason = req.To, req.Reason
		if req.To == StatusConfirmed {
			t.Delivery = DeliveryState{QueuedAt: &now}
			ch.Enqueue = true
		}
		return ch, nil
	})
	if err != nil {
		return nil, wrapTicketErr(id, err)
	}
	s.metrics.Tickets.WithLabelValues(t.Type, string(t.Status)).Inc()
	if from == StatusPendingReview && (t.Status == StatusConfirmed || t.Status == StatusRejected) && req.Actor != SystemActor {
		s.metrics.Reviews.WithLabelValues(t.CameraID, t.Type, string(t.Status)).Inc()
		s.metrics.ReviewLatency.WithLabelValues(t.Type).Observe(max(0, now.Sub(t.CreatedAt).Seconds()))
	}
	s.log.Info("ticket transition", "ticket", id, "camera", t.CameraID, "from", from, "to", t.Status,
		"actor", req.Actor, "reason", req.Reason)
	if t.Status == StatusConfirmed {
		s.queued(ctx)
	}
	return t, nil
}

// SetKeep marks a ticket's evidence to be kept past retention (or not).
func (s *Service) SetKeep(ctx context.Context, id string, keep bool, version int64, actor, note string) (*Ticket, error) {
	if actor == "" || version <= 0 {
		return nil, fmt.Errorf("%w: actor and version are required", ErrInvalid)
	}
	if err := checkNote(note); err != nil {
		return nil, err
	}
	t, err := s.store.UpdateTicket(ctx, id, s.now(), func(t *Ticket) (Change, error) {
		if t.Version != version {
			return Change{}, fmt.Errorf("%w: ticket %s is at version %d, not %d", ErrConflict, id, t.Version, version)
		}
		t.Keep = keep
		n := fmt.Sprintf("keep evidence: %t", keep)
		if note != "" {
			n += "; " + note
		}
		return Change{Audit: &AuditEntry{Kind: AuditKeep, Actor: actor, From: t.Status, To: t.Status, Note: n}}, nil
	})
	if err != nil {
		return nil, wrapTicketErr(id, err)
	}
	return t, nil
}

// AddNote writes a reviewer's note to a ticket's audit log (the status
// stays). A stale version is ErrConflict.
func (s *Service) AddNote(ctx context.Context, id string, version int64, actor, note string) (*Ticket, error) {
	if actor == "" || version <= 0 || note == "" {
		return nil, fmt.Errorf("%w: actor, version and note are required", ErrInvalid)
	}
	if err := checkNote(note); err != nil {
		return nil, err
	}
	t, err := s.store.UpdateTicket(ctx, id, s.now(), func(t *Ticket) (Change, error) {
		if t.Version != version {
			return Change{}, fmt.Errorf("%w: ticket %s is at version %d, not %d", ErrConflict, id, t.Version, version)
		}
		return Change{Audit: &AuditEntry{Kind: AuditNote, Actor: actor, From: t.Status, To: t.Status, Note: note}}, nil
	})
	if err != nil {
		return nil, wrapTicketErr(id, err)
	}
	return t, nil
}

// Reassign moves a ticket to another configured district: its team is
// routed again for that district, and a delivery not yet made goes to the
// district's work-order endpoint. A confirmed ticket (queued, perhaps in
// flight to the old district) is queued afresh, its attempts starting
// over; if the old district's delivery succeeds meanwhile, it is noted and
// the new district still gets its own (see deliver). Dispatched, resolved
// and rejected tickets are not moved (the work order already went out, or
// none will).
func (s *Service) Reassign(ctx context.Context, id string, version int64, district, actor, note string) (*Ticket, error) {
	if actor == "" || version <= 0 {
		return nil, fmt.Errorf("%w: actor and version are required", ErrInvalid)
	}
	if err := checkNote(note); err != nil {
		return nil, err
	}
	routes := s.conf().routes
	if _, ok := routes.districts[district]; !ok {
		return nil, fmt.Errorf("%w: no district %q in dispatch.districts", ErrInvalid, district)
	}
	now := s.now()
	var from string
	t, err := s.store.UpdateTicket(ctx, id, now, func(t *Ticket) (Change, error) {
		if t.Version != version {
			return Change{}, fmt.Errorf("%w: ticket %s is at version %d, not %d", ErrConflict, id, t.Version, version)
		}
		switch t.Status {
		case StatusDispatched, StatusResolved, StatusRejected:
			return Change{}, fmt.Errorf("%w: ticket %s is %s; only tickets not yet dispatched can move", ErrIllegalTransition, id, t.Status)
		}
		from = t.District
		t.District = district
		t.Team = routes.teamFor(district, t.Type)
		n := fmt.Sprintf("%s → %s (team %s)", orDash(from), district, t.Team)
		if note != "" {
			n += "; " + note
		}
		ch := Change{Audit: &AuditEntry{Kind: AuditReassign, Actor: actor, From: t.Status, To: t.Status, Note: n}}
		if t.Status == StatusConfirmed {
			// The old district's failures say nothing about the new
			// endpoint: start over, due now.
			t.Delivery = DeliveryState{QueuedAt: &now}
			ch.Enqueue = true
		}
		return ch, nil
	})
	if err != nil {
		return nil, wrapTicketErr(id, err)
	}
	s.log.Info("ticket reassigned", "ticket", id, "camera", t.CameraID, "from", from, "to", t.District,
		"team", t.Team, "status", t.Status, "actor", actor)
	if t.Status == StatusConfirmed {
		s.queued(ctx)
	}
	return t, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// KeepEvidence reports whether a violation's evidence must be kept: its
// ticket is open (not resolved or rejected) or marked keep. A violation
// without a ticket has nothing holding its evidence. On a database error
// it says keep: deleting evidence is the one thing that cannot be undone.
func (s *Service) KeepEvidence(violationID string) bool {
	t, err := s.store.TicketByViolation(context.Background(), violationID)
	switch {
	case errors.Is(err, ErrNotFound):
		return false
	case err != nil:
		s.log.Error("keep evidence: ticket lookup failed; keeping", "violation", violationID, "err", err)
		return true
	}
	return t.Keep || (t.Status != StatusResolved && t.Status != StatusRejected)
}

// Audit returns a ticket's audit log, oldest first (ErrNotFound).
func (s *Service) Audit(ctx context.Context, id string) ([]AuditEntry, error) {
	if _, err := s.store.Ticket(ctx, id); err != nil {
		return nil, wrapTicketErr(id, err)
	}
	return s.store.Audit(ctx, id)
}

func wrapTicketErr(id string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("ticket %s: %w", id, ErrNotFound)
	}
	return err
}

// wakeSender wakes the sender (Run) if it sleeps.
func (s *Service) wakeSender() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// queued wakes the sender and updates the depth gauge after a ticket
// entered the outbox.
func (s *Service) queued(ctx context.Context) {
	s.wakeSender()
	if err := s.updateDepth(ctx); err != nil {
		s.log.Warn("outbox depth", "err", err)
	}
}

func (s *Service) updateDepth(ctx context.Context) error {
	n, err := s.store.OutboxDepth(ctx)
	if err != nil {
		return fmt.Errorf("dispatch: outbox depth: %w", err)
	}
	s.metrics.OutboxDepth.Set(float64(n))
	return nil
}

// routing resolves a ticket's district, team and webhook URL from config.
type routing struct {
	byZone, byCamera map[string]string // "camera/zone" or camera → district
	districts        map[string]config.District
	teams            map[string]string
	url              string
}

func newRouting(cfg config.Dispatch) routing {
	r := routing{byZone: map[string]string{}, byCamera: map[string]string{}, districts: cfg.Districts,
		teams: cfg.Teams, url: cfg.Webhook.URL}
	for name, d := range cfg.Districts {
		for _, c := range d.Cameras {
			r.byCamera[c] = name
		}
		for _, z := range d.Zones {
			r.byZone[z] = name
		}
	}
	return r
}

// route gives the district (zone assignment first, then camera) and the
// team (district's per-type team, district's team, default per type).
func (r routing) route(camera, zone, typ string) (district, team string) {
	district, ok := r.byZone[camera+"/"+zone]
	if !ok {
		district = r.byCamera[camera]
	}
	return district, r.teamFor(district, typ)
}

// webhookURL is where a district's tickets go ("" : nowhere).
// teamFor is the team of a district for a violation type (the district's
// per-type team, its team, else the default team for the type).
func (r routing) teamFor(district, typ string) string {
	if d, ok := r.districts[district]; ok {
		if t := d.Teams[typ]; t != "" {
			return t
		}
		if d.Team != "" {
			return d.Team
		}
	}
	return r.teams[typ]
}

func (r routing) webhookURL(district string) string {
	if d, ok := r.districts[district]; ok && d.WebhookURL != "" {
		return d.WebhookURL
	}
	return r.url
}

// delivers reports whether any ticket can be delivered at all.
func (r routing) delivers() bool {
	if r.url != "" {
		return true
	}
	for _, d := range r.districts {
		if d.WebhookURL != "" {
			return true
		}
	}
	return false
}

// senderName is "<host>/<pid>/<ulid>": a claim's owner, readable in the
// database, unique even for two Services in one process.
func senderName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), newID(time.Now()))
}
