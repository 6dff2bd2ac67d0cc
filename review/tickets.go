package review

import (
	"context"
	"fmt"
	"time"

	"github.com/streetwatch/streetwatch/dispatch"
)

// Tickets is what the review page needs from the ticket store. Service
// adapts a *dispatch.Service to it.
type Tickets interface {
	// List returns the tickets matching q, newest first, and a cursor for
	// the next page ("" on the last).
	List(ctx context.Context, q Query) (tickets []*dispatch.Ticket, next string, err error)
	Ticket(ctx context.Context, id string) (*dispatch.Ticket, error)
	Audit(ctx context.Context, id string) ([]dispatch.AuditEntry, error)
	Transition(ctx context.Context, id string, req dispatch.TransitionRequest) (*dispatch.Ticket, error)
	// AddNote writes a note to the ticket's audit log.
	AddNote(ctx context.Context, id string, version int64, actor, note string) (*dispatch.Ticket, error)
	// Reassign moves the ticket to another district. An implementation
	// that cannot change the district records the request in the audit
	// log and returns the ticket unchanged in that respect.
	Reassign(ctx context.Context, id string, version int64, district, actor, note string) (*dispatch.Ticket, error)
}

// Query selects tickets for the queue.
type Query struct {
	Statuses []dispatch.Status
	Type     string
	Camera   string
	District string
	// From (inclusive) and To (exclusive) bound the confirmation time.
	From, To time.Time
	Cursor   string
	Limit    int
}

// Service adapts the dispatch Service to Tickets.
func Service(svc *dispatch.Service) Tickets { return serviceTickets{svc: svc} }

type serviceTickets struct {
	svc *dispatch.Service
}

func (s serviceTickets) Ticket(ctx context.Context, id string) (*dispatch.Ticket, error) {
	return s.svc.Ticket(ctx, id)
}

func (s serviceTickets) Audit(ctx context.Context, id string) ([]dispatch.AuditEntry, error) {
	return s.svc.Audit(ctx, id)
}

func (s serviceTickets) Transition(ctx context.Context, id string, req dispatch.TransitionRequest) (*dispatch.Ticket, error) {
	return s.svc.Transition(ctx, id, req)
}

func (s serviceTickets) AddNote(ctx context.Context, id string, version int64, actor, note string) (*dispatch.Ticket, error) {
	return s.svc.AddNote(ctx, id, version, actor, note)
}

func (s serviceTickets) Reassign(ctx context.Context, id string, version int64, district, actor, note string) (*dispatch.Ticket, error) {
	return s.svc.Reassign(ctx, id, version, district, actor, note)
}

func (s serviceTickets) List(ctx context.Context, q Query) ([]*dispatch.Ticket, string, error) {
	page, err := s.svc.List(ctx, dispatch.Filter{Statuses: q.Statuses, Type: q.Type, CameraID: q.Camera,
		District: q.District, From: q.From, To: q.To, Limit: q.Limit}, q.Cursor)
	if err != nil {
		return nil, "", fmt.Errorf("review: list tickets: %w", err)
	}
	return page.Tickets, page.NextCursor, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
