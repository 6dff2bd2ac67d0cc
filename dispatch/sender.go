package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/streetwatch/streetwatch/internal/backoff"
	"github.com/streetwatch/streetwatch/internal/signature"
)

// Webhook headers.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = signature.HeaderTimestamp
	HeaderSignature      = signature.HeaderSignature
)

// WebhookPayload is the JSON body POSTed to the work-order system for
// each confirmed ticket (schema WebhookPayload in api/openapi.yaml).
type WebhookPayload struct {
	Event    string         `json:"event"` // always "ticket.confirmed"
	SentAt   time.Time      `json:"sent_at"`
	Attempt  int            `json:"attempt"` // 1 for the first delivery
	Ticket   *Ticket        `json:"ticket"`
	Evidence []EvidenceLink `json:"evidence"`
}

// EvidenceLink is one evidence file and a fresh link to it.
type EvidenceLink struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	// URL is valid for the evidence store's url_expiry (absent when no
	// evidence store is wired).
	URL string `json:"url,omitempty"`
}

// Sign returns the X-StreetWatch-Signature value of a body sent at
// timestamp (unix seconds): "sha256=" + hex(HMAC-SHA256(secret,
// timestamp + "." + body)). Receivers compute the same and compare in
// constant time (hmac.Equal), and reject timestamps far from now. Weighing
// sources sign their posts the same way (internal/signature).
func Sign(secret []byte, timestamp string, body []byte) string {
	return signature.Sign(secret, timestamp, body)
}

// outboxWorkers is how many deliveries a sender makes at once, so that
// one slow district endpoint does not hold up the others for long.
const outboxWorkers = 4

// leaseMargin is how much longer than one delivery attempt's webhook
// timeout a claim on an outbox row lasts: enough for the store reads and
// the write of its outcome around the POST (SQLite may wait up to its
// 10 s busy timeout for the write lock) and for clocks of nodes a few
// seconds apart. A claim that outlives its attempt only delays a crashed
// sender's rows; one that ended before its attempt lets a second node
// deliver the ticket again (harmless under its Idempotency-Key, but not
// "exactly once"), so the margin is generous.
const leaseMargin = 30 * time.Second

// errRequeued: the ticket was queued again (reassigned) while an attempt
// of its old outbox row was made; the attempt's outcome is history.
var errRequeued = errors.New("dispatch: ticket was queued again")

// Run delivers queued tickets until ctx ends, then returns nil. Delivery
// is at-least-once: a ticket is marked dispatched only after a 2xx, so a
// crash in between sends it again, with the same Idempotency-Key. Each
// attempt is made under a lease on the ticket's outbox row (see
// ClaimOutbox), so senders of several nodes sharing one database deliver
// each ticket once, unless one crashes mid-attempt. Run wakes at once
// when a ticket is queued, sleeps until the next retry (or lease end) is
// due otherwise, and polls every few seconds in case another process
// queued one.
func (s *Service) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	warned := false
	for {
		if !s.conf().routes.delivers() {
			// Until a reload brings a webhook (SetConfig wakes us).
			if !warned {
				s.log.Warn("no webhook configured: confirmed tickets stay queued, nothing is pushed")
				warned = true
			}
			select {
			case <-ctx.Done():
				return nil
			case <-s.wake:
				continue
			}
		}
		wait := s.poll
		if err := s.deliverDue(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Error("outbox", "err", err)
		} else if next, ok, err := s.store.NextOutboxDue(ctx); err == nil && ok {
			wait = min(wait, max(time.Millisecond, next.Sub(s.now())))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// deliverDue attempts every due outbox row, outboxWorkers at a time,
// each worker claiming one row after the other until none is due.
func (s *Service) deliverDue(ctx context.Context) error {
	defer func() {
		if err := s.updateDepth(context.WithoutCancel(ctx)); err != nil {
			s.log.Warn("outbox depth", "err", err)
		}
	}()
	errs := make([]error, outboxWorkers+1)
	var wg sync.WaitGroup
	for i := range outboxWorkers {
		wg.Go(func() { errs[i] = s.deliverClaimed(ctx) })
	}
	wg.Wait()
	errs[outboxWorkers] = ctx.Err()
	return errors.Join(errs...)
}

// deliverClaimed claims due rows one at a time and attempts each, until
// none is due, ctx ends or the store fails.
func (s *Service) deliverClaimed(ctx context.Context) error {
	for ctx.Err() == nil {
		// The claim is not cut off by shutdown: a claim whose commit
		// raced the cancellation could stand in the database while this
		// side saw an error, and hold the row for a whole lease with
		// nobody to release it. Shutdown is seen right after instead.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		items, err := s.store.ClaimOutbox(cctx, s.now(), s.lease, 1, s.owner)
		cancel()
		if err != nil || len(items) == 0 {
			return err
		}
		err = s.deliver(ctx, items[0])
		if ctx.Err() != nil {
			// Shutting down: the attempt, if any, was cut off and does
			// not count; the row is due again at once rather than at the
			// lease's end (a no-op when deliver recorded an outcome).
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if rerr := s.store.ReleaseOutbox(rctx, items[0], s.now()); rerr != nil {
				s.log.Warn("outbox release", "ticket", items[0].TicketID, "err", rerr)
			}
			cancel()
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// deliver makes one attempt of one row and records its outcome. Errors
// returned are the store's; delivery failures are recorded, not returned.
func (s *Service) deliver(ctx context.Context, it OutboxItem) error {
	t, err := s.store.Ticket(ctx, it.TicketID)
	if errors.Is(err, ErrNotFound) || (err == nil && t.Status != StatusConfirmed) {
		// No longer waiting (cannot happen through this package).
		return s.store.DeleteOutbox(ctx, it.ID)
	}
	if err != nil {
		return err
	}
	target := s.conf().routes.webhookURL(t.District)
	it.Attempts++
	result, derr := ResultNetworkError, errors.New("no webhook URL for this district")
	if target != "" {
		key, err := s.deliveryKey(ctx, t)
		if err != nil {
			return err
		}
		var body []byte
		body, derr = s.payload(ctx, t, it.Attempts)
		if derr != nil {
			result = ResultEvidenceError
		} else {
			result, derr = s.post(ctx, target, key, body)
		}
	}
	if ctx.Err() != nil {
		return nil // shutting down: not an attempt, the caller releases the row
	}
	s.metrics.Attempts.WithLabelValues(result).Inc()
	log := s.log.With("ticket", t.ID, "camera", t.CameraID, "district", t.District, "endpoint", endpoint(target), "attempt", it.Attempts)
	if derr == nil {
		return s.markDispatched(ctx, t, it, log)
	}
	now := s.now()
	maxAge := s.conf().cfg.Webhook.MaxAge.D()
	if now.Sub(it.QueuedAt) >= maxAge {
		return s.markFailed(ctx, t, it, derr, log)
	}
	// The last attempt is made at max_age exactly, not a backoff later.
	next := now.Add(s.backoff(it.Attempts))
	if deadline := it.QueuedAt.Add(maxAge); next.After(deadline) {
		next = deadline
	}
	log.Warn("webhook delivery failed; will retry", "result", result, "err", derr, "retry_in", next.Sub(now).Round(time.Millisecond))
	return s.store.RetryLater(ctx, it, next, derr.Error())
}

// deliveryKey is the Idempotency-Key of a ticket's deliveries: its id,
// until it is moved to another district after it was queued (a delivery
// may then have reached the old district's receiver, perhaps the same
// system); from then on "<id>/<district>", so that the new district's
// delivery is new work and not a repeat to drop.
func (s *Service) deliveryKey(ctx context.Context, t *Ticket) (string, error) {
	entries, err := s.store.Audit(ctx, t.ID)
	if err != nil {
		return "", fmt.Errorf("ticket %s: %w", t.ID, err)
	}
	for _, a := range entries {
		if a.Kind == AuditReassign && (a.From == StatusConfirmed || a.From == StatusDispatchFailed) {
			return t.ID + "/" + t.District, nil
		}
	}
	return t.ID, nil
}

// markDispatched records a delivery of sent (the ticket as it was read
// for it). A ticket moved to another district meanwhile is not dispatched:
// the old district's receiver has it (noted in the audit log) and the
// outbox row, queued afresh by Reassign, delivers to the new district.
func (s *Service) markDispatched(ctx context.Context, sent *Ticket, it OutboxItem, log *slog.Logger) error {
	now := s.now()
	moved := false
	t, err := s.store.UpdateTicket(ctx, sent.ID, now, func(t *Ticket) (Change, error) {
		if t.District != sent.District {
			moved = true
			return Change{Audit: &AuditEntry{Kind: AuditNote, Actor: SystemActor, From: t.Status, To: t.Status,
				Note: fmt.Sprintf("delivered to district %s's work-order system (attempt %d) while the ticket moved to %s; %s gets its own delivery",
					orDash(sent.District), it.Attempts, orDash(t.District), orDash(t.District))}}, nil
		}
		if err := checkTransition(t.Status, StatusDispatched, bySender); err != nil {
			return Change{}, err
		}
		t.Status, t.Delivery.Attempts, t.Delivery.LastError, t.Delivery.DispatchedAt = StatusDispatched, it.Attempts, "", &now
		return Change{Dequeue: true, Audit: &AuditEntry{Kind: AuditStatus, Actor: SystemActor, From: StatusConfirmed, To: StatusDispatched,
			Note: fmt.Sprintf("delivered to the work-order system (attempt %d)", it.Attempts)}}, nil
	})
	if err != nil {
		// The receiver has it; the row stays and is sent again, which
		// its Idempotency-Key makes harmless.
		return fmt.Errorf("ticket %s delivered but not marked dispatched: %w", it.TicketID, err)
	}
	if moved {
		log.Warn("ticket delivered to its old district while it was reassigned; delivering to the new one", "new_district", t.District)
		return nil
	}
	s.metrics.Tickets.WithLabelValues(t.Type, string(StatusDispatched)).Inc()
	log.Info("ticket dispatched")
	return nil
}

func (s *Service) markFailed(ctx context.Context, t *Ticket, it OutboxItem, cause error, log *slog.Logger) error {
	now := s.now()
	age := now.Sub(it.QueuedAt).Round(time.Second)
	t, err := s.store.UpdateTicket(ctx, t.ID, now, func(t *Ticket) (Change, error) {
		if t.Delivery.QueuedAt == nil || !t.Delivery.QueuedAt.Equal(it.QueuedAt) {
			return Change{}, errRequeued
		}
		if err := checkTransition(t.Status, StatusDispatchFailed, bySender); err != nil {
			return Change{}, err
		}
		t.Status, t.Delivery.Attempts, t.Delivery.LastError = StatusDispatchFailed, it.Attempts, cause.Error()
		return Change{Dequeue: true, Audit: &AuditEntry{Kind: AuditStatus, Actor: SystemActor, From: StatusConfirmed, To: StatusDispatchFailed,
			Note: fmt.Sprintf("not delivered after %d attempts over %s: %v", it.Attempts, age, cause)}}, nil
	})
	if errors.Is(err, errRequeued) {
		return nil // reassigned meanwhile: its new delivery has its own max_age
	}
	if err != nil {
		return fmt.Errorf("ticket %s: mark dispatch_failed: %w", it.TicketID, err)
	}
	s.metrics.Tickets.WithLabelValues(t.Type, string(StatusDispatchFailed)).Inc()
	log.Error("webhook delivery given up: ticket is dispatch_failed until retried", "err", cause, "age", age)
	return nil
}

// backoff is the wait after the n-th failed attempt: min·2^(n-1) capped
// at max, with "equal jitter" (half fixed, half random) so that tickets
// queued together during an outage do not retry in lockstep.
func (s *Service) backoff(n int) time.Duration {
	b := s.conf().cfg.Webhook.Backoff
	return backoff.Policy{Min: b.Min.D(), Max: b.Max.D(), Jitter: backoff.EqualJitter}.Delay(n)
}

// payload builds the webhook body with fresh evidence links.
func (s *Service) payload(ctx context.Context, t *Ticket, attempt int) ([]byte, error) {
	links, err := s.evidenceLinks(ctx, t)
	if err != nil {
		return nil, err
	}
	return json.Marshal(WebhookPayload{Event: "ticket.confirmed", SentAt: s.now(), Attempt: attempt, Ticket: t, Evidence: links})
}

func (s *Service) evidenceLinks(ctx context.Context, t *Ticket) ([]EvidenceLink, error) {
	links := make([]EvidenceLink, len(t.Evidence.Files))
	for i, name := range t.Evidence.Files {
		links[i] = EvidenceLink{Name: name, Key: t.Evidence.Prefix + name}
		if s.EvidenceURL == nil {
			continue
		}
		u, err := s.EvidenceURL(ctx, links[i].Key)
		if err != nil {
			return nil, fmt.Errorf("evidence link for %s: %w", links[i].Key, err)
		}
		links[i].URL = absolute(s.PublicURL, u)
	}
	return links, nil
}

// absolute makes a link to this server (a path, as the local evidence
// store gives: /evidence/...?expires=...&sig=...) absolute on base, the
// address that serves this server's / from outside; links that are
// absolute already (presigned S3) and all links without a base stay as
// they are. base keeps its own path: a proxy may serve StreetWatch under
// one.
func absolute(base, link string) string {
	if base == "" || !strings.HasPrefix(link, "/") || strings.HasPrefix(link, "//") {
		return link
	}
	return strings.TrimSuffix(base, "/") + link
}

// post sends one signed delivery; the error never holds the secret or the
// URL (which may carry a token).
func (s *Service) post(ctx context.Context, target, key string, body []byte) (result string, err error) {
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return ResultNetworkError, errors.New("bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "StreetWatch-Dispatch/1")
	req.Header.Set(HeaderIdempotencyKey, key)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign([]byte(s.conf().cfg.Webhook.Secret), ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return ResultNetworkError, fmt.Errorf("POST: %w", err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return ResultOK, nil
	}
	msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if text := printable(head); text != "" {
		msg += ": " + text
	}
	return ResultHTTPError, errors.New(msg)
}

// printable makes a response snippet safe for logs and the API.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, strings.ToValidUTF8(string(b), "?"))
	return strings.TrimSpace(s)
}

// endpoint names a webhook URL for logs: scheme, host and path only.
func endpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.Path
}
