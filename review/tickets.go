package review

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

// Service adapts the dispatch Service to Tickets. The Service has no Go
// method to list tickets, so List calls its own JSON API handler in
// process (no network, same filters and cursors as the API).
func Service(svc *dispatch.Service) Tickets { return serviceTickets{svc: svc, api: svc.Handler()} }

type serviceTickets struct {
	svc *dispatch.Service
	api http.Handler
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
	v := url.Values{}
	if len(q.Statuses) > 0 {
		st := make([]string, len(q.Statuses))
		for i, s := range q.Statuses {
			st[i] = string(s)
		}
		v.Set("status", strings.Join(st, ","))
	}
	for k, val := range map[string]string{"type": q.Type, "camera": q.Camera, "district": q.District, "cursor": q.Cursor} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/tickets?"+v.Encode(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("review: list tickets: %w", err)
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	s.api.ServeHTTP(rec, req)
	if rec.status != http.StatusOK {
		var e dispatch.APIError
		_ = json.Unmarshal(rec.body.Bytes(), &e)
		err := errors.New(e.Error)
		if rec.status == http.StatusBadRequest {
			err = fmt.Errorf("%w: %s", dispatch.ErrInvalid, e.Error)
		}
		return nil, "", fmt.Errorf("review: list tickets: %d: %w", rec.status, err)
	}
	var page dispatch.TicketPage
	if err := json.Unmarshal(rec.body.Bytes(), &page); err != nil {
		return nil, "", fmt.Errorf("review: list tickets: %w", err)
	}
	return page.Tickets, page.NextCursor, nil
}

// recorder is an in-memory http.ResponseWriter for in-process API calls.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
