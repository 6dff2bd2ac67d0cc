package dispatch

import (
	"context"
	"time"

	"github.com/streetwatch/streetwatch/internal/ulid"
)

// Store is the ticket database: tickets, their audit log and the outbox
// of tickets waiting for delivery. Every method is atomic; UpdateTicket
// runs its read-modify-write in one transaction (SQLite: BEGIN IMMEDIATE;
// PostgreSQL: SELECT ... FOR UPDATE), so the outbox row of a confirmation
// is written together with it or not at all.
type Store interface {
	// CreateTicket stores t with its creation audit entry, and an outbox
	// row when t.Delivery.QueuedAt is set, unless a ticket for
	// t.ViolationID exists: then it returns that one and created=false.
	CreateTicket(ctx context.Context, t *Ticket, audit AuditEntry) (stored *Ticket, created bool, err error)
	// Ticket returns a ticket by id (ErrNotFound when there is none).
	Ticket(ctx context.Context, id string) (*Ticket, error)
	// TicketByViolation returns a violation's ticket (ErrNotFound).
	TicketByViolation(ctx context.Context, violationID string) (*Ticket, error)
	// ListTickets returns the tickets matching f, newest (highest id) first.
	ListTickets(ctx context.Context, f Filter) ([]*Ticket, error)
	// UpdateTicket loads the ticket, lets fn change it and say what else
	// to write, then stores it with Version+1 and UpdatedAt=now, all in
	// one transaction. An error from fn aborts the update and is returned.
	UpdateTicket(ctx context.Context, id string, now time.Time, fn func(t *Ticket) (Change, error)) (*Ticket, error)
	// Audit returns a ticket's changes, oldest first.
	Audit(ctx context.Context, ticketID string) ([]AuditEntry, error)

	// ClaimOutbox leases up to limit outbox rows due at now, oldest
	// first, to owner until now+lease: in one atomic step each row's next
	// attempt moves to the lease's end, so no other sender (on this node
	// or another sharing the database) sees it due before then. A claim
	// that is neither retried, released nor dequeued (its sender crashed)
	// makes the row due again when the lease ends, for anyone.
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int, owner string) ([]OutboxItem, error)
	// ReleaseOutbox gives up a claim without an attempt (a sender
	// shutting down): the row is due again at due. A claim that is no
	// longer the row's (retried, dequeued, or taken over after its lease)
	// is left alone.
	ReleaseOutbox(ctx context.Context, item OutboxItem, due time.Time) error
	// NextOutboxDue is the earliest next attempt of any row (ok=false:
	// the outbox is empty).
	NextOutboxDue(ctx context.Context) (next time.Time, ok bool, err error)
	// RetryLater records a failed attempt of an outbox row: its attempt
	// count, next attempt and error, also on its ticket's delivery state
	// (without changing the ticket's version), and ends item's claim. A
	// row queued again since it was claimed (another queued_at), or no
	// longer claimed by item's claim, is left as it is.
	RetryLater(ctx context.Context, item OutboxItem, next time.Time, lastErr string) error
	// DeleteOutbox removes a row whose ticket is no longer waiting.
	DeleteOutbox(ctx context.Context, id int64) error
	// OutboxDepth counts the rows waiting.
	OutboxDepth(ctx context.Context) (int, error)

	Close() error
}

// Change is what UpdateTicket writes besides the ticket itself.
type Change struct {
	// Audit is appended to the log (its TicketID and At are filled in).
	Audit *AuditEntry
	// Enqueue adds (or resets) the ticket's outbox row, due at
	// t.Delivery.QueuedAt; Dequeue removes it.
	Enqueue, Dequeue bool
}

// OutboxItem is a ticket waiting for delivery, claimed by a sender.
type OutboxItem struct {
	ID       int64
	TicketID string
	QueuedAt time.Time
	// Attempts made so far (RetryLater callers set the new count).
	Attempts int
	// The claim: who holds the row and until when. The lease's end is
	// later for each new claim of a row, so with the owner it tells this
	// claim from any later one.
	ClaimedBy  string
	LeaseUntil time.Time
}

// Filter selects tickets for ListTickets.
type Filter struct {
	Statuses []Status // any of them; empty: all
	Type     string
	CameraID string
	District string
	// From (inclusive) and To (exclusive) bound ConfirmedAt; zero: open.
	From, To time.Time
	// Before continues a listing: only ids less than it.
	Before string
	Limit  int
}

// newID returns a ULID, the same scheme as violation ids.
func newID(t time.Time) string { return ulid.New(t) }
