package dispatch

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HeaderUser names the person making a change. Authentication is a later
// issue: until then the API trusts this header (or the body's actor), so
// it must only be reachable by reviewers, e.g. behind an authenticating
// reverse proxy that sets the header.
const HeaderUser = "X-StreetWatch-User"

// route is one API endpoint; api/openapi.yaml documents each (a test
// checks both ways).
type route struct {
	method, path string
	handle       func(*Service, http.ResponseWriter, *http.Request)
}

var routes = []route{
	{http.MethodGet, "/api/v1/tickets", (*Service).apiList},
	{http.MethodGet, "/api/v1/tickets/{id}", (*Service).apiGet},
	{http.MethodPost, "/api/v1/tickets/{id}/transitions", (*Service).apiTransition},
	{http.MethodGet, "/api/v1/tickets/{id}/audit", (*Service).apiAudit},
	{http.MethodGet, "/api/v1/tickets/{id}/evidence", (*Service).apiEvidence},
	{http.MethodPost, "/api/v1/tickets/{id}/retry", (*Service).apiRetry},
	{http.MethodPost, "/api/v1/tickets/{id}/keep", (*Service).apiKeep},
	// Weighing records: posted by weighing sources with their own
	// credential (the review gate lets POST through without a session),
	// listed by signed-in users.
	{http.MethodPost, "/api/v1/weighings", (*Service).apiPostWeighings},
	{http.MethodGet, "/api/v1/weighings", (*Service).apiListWeighings},
	{http.MethodGet, "/api/v1/stations/{id}/report", (*Service).apiStationReport},
	{http.MethodGet, "/api/v1/stats", (*Service).apiStats},
}

// Handler serves the JSON API under /api/v1/ (mount it there as is).
func (s *Service) Handler() http.Handler {
	for _, st := range s.Stations {
		for _, r := range weighingResults {
			s.metrics.Weighings.WithLabelValues(st.ID, r) // zeros, so rate() works from the start
		}
	}
	mux := http.NewServeMux()
	for _, r := range routes {
		mux.HandleFunc(r.method+" "+r.path, func(w http.ResponseWriter, req *http.Request) { r.handle(s, w, req) })
	}
	return mux
}

// TicketPage is one page of a ticket listing.
type TicketPage struct {
	Tickets []*Ticket `json:"tickets"`
	// NextCursor continues the listing (absent on the last page).
	NextCursor string `json:"next_cursor,omitempty"`
}

const (
	defaultLimit = 50
	maxLimit     = 500
)

var listParams = map[string]bool{"status": true, "type": true, "camera": true, "district": true,
	"from": true, "to": true, "limit": true, "cursor": true}

func (s *Service) apiList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if !listParams[k] {
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("unknown query parameter %q", k))
			return
		}
	}
	f := Filter{Type: q.Get("type"), CameraID: q.Get("camera"), District: q.Get("district"), Limit: defaultLimit}
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			if !validStatus(Status(st)) {
				apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("status: unknown status %q", st))
				return
			}
			f.Statuses = append(f.Statuses, Status(st))
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("%s: expected an RFC 3339 time such as 2026-01-02T15:04:05Z", p.name))
				return
			}
			*p.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit: must be between 1 and %d", maxLimit))
			return
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		id, ok := decodeCursor(v)
		if !ok {
			apiError(w, http.StatusBadRequest, "bad_request", "cursor: not a cursor from this API")
			return
		}
		f.Before = id
	}
	page, err := s.listPage(r.Context(), f)
	if err != nil {
		s.internalError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// List returns one page of the tickets matching f, newest first. cursor
// continues a listing (a TicketPage.NextCursor; it replaces f.Before);
// f.Limit 0 means the API's default page size.
func (s *Service) List(ctx context.Context, f Filter, cursor string) (TicketPage, error) {
	if f.Limit == 0 {
		f.Limit = defaultLimit
	}
	if f.Limit < 1 || f.Limit > maxLimit {
		return TicketPage{}, fmt.Errorf("%w: limit: must be between 1 and %d", ErrInvalid, maxLimit)
	}
	if cursor != "" {
		id, ok := decodeCursor(cursor)
		if !ok {
			return TicketPage{}, fmt.Errorf("%w: cursor: not a cursor from this API", ErrInvalid)
		}
		f.Before = id
	}
	return s.listPage(ctx, f)
}

func (s *Service) listPage(ctx context.Context, f Filter) (TicketPage, error) {
	limit := f.Limit
	f.Limit++ // one more tells whether there is a next page
	tickets, err := s.store.ListTickets(ctx, f)
	if err != nil {
		return TicketPage{}, err
	}
	page := TicketPage{Tickets: tickets}
	if len(tickets) > limit {
		page.Tickets = tickets[:limit]
		page.NextCursor = encodeCursor(tickets[limit-1].ID)
	}
	if page.Tickets == nil {
		page.Tickets = []*Ticket{}
	}
	return page, nil
}

// Cursors are opaque to clients; today they are the last id seen.
func encodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("t1:" + id))
}

func decodeCursor(c string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	id, ok := strings.CutPrefix(string(raw), "t1:")
	return id, ok && id != ""
}

func (s *Service) apiGet(w http.ResponseWriter, r *http.Request) {
	t, err := s.store.Ticket(r.Context(), r.PathValue("id"))
	if err != nil {
		s.ticketError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Service) apiTransition(w http.ResponseWriter, r *http.Request) {
	var req TransitionRequest
	if !readJSON(w, r, &req) {
		return
	}
	req.Actor = actor(r, req.Actor)
	t, err := s.Transition(r.Context(), r.PathValue("id"), req)
	if err != nil {
		s.ticketError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// ChangeRequest is the body of retry and keep.
type ChangeRequest struct {
	Version int64  `json:"version"`
	Actor   string `json:"actor,omitempty"`
	Note    string `json:"note,omitempty"`
	Keep    *bool  `json:"keep,omitempty"` // keep only
}

func (s *Service) apiRetry(w http.ResponseWriter, r *http.Request) {
	var req ChangeRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Keep != nil {
		apiError(w, http.StatusBadRequest, "bad_request", "keep does not apply to retry")
		return
	}
	t, err := s.Retry(r.Context(), r.PathValue("id"), req.Version, actor(r, req.Actor), req.Note)
	if err != nil {
		s.ticketError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Service) apiKeep(w http.ResponseWriter, r *http.Request) {
	var req ChangeRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Keep == nil {
		apiError(w, http.StatusBadRequest, "bad_request", "keep (true or false) is required")
		return
	}
	t, err := s.SetKeep(r.Context(), r.PathValue("id"), *req.Keep, req.Version, actor(r, req.Actor), req.Note)
	if err != nil {
		s.ticketError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// AuditLog is a ticket's audit log.
type AuditLog struct {
	Entries []AuditEntry `json:"entries"`
}

func (s *Service) apiAudit(w http.ResponseWriter, r *http.Request) {
	entries, err := s.Audit(r.Context(), r.PathValue("id"))
	if err != nil {
		s.ticketError(w, err)
		return
	}
	if entries == nil {
		entries = []AuditEntry{}
	}
	writeJSON(w, http.StatusOK, AuditLog{Entries: entries})
}

// EvidenceList is a ticket's evidence with fresh links.
type EvidenceList struct {
	ManifestSHA256 string         `json:"manifest_sha256"`
	Files          []EvidenceLink `json:"files"`
}

func (s *Service) apiEvidence(w http.ResponseWriter, r *http.Request) {
	t, err := s.store.Ticket(r.Context(), r.PathValue("id"))
	if err != nil {
		s.ticketError(w, err)
		return
	}
	if s.EvidenceURL == nil {
		apiError(w, http.StatusServiceUnavailable, "unavailable", "no evidence store is configured")
		return
	}
	links, err := s.evidenceLinks(r.Context(), t)
	if err != nil {
		s.log.Error("evidence links", "ticket", t.ID, "camera", t.CameraID, "err", err)
		apiError(w, http.StatusBadGateway, "evidence_store", "the evidence store did not give links")
		return
	}
	writeJSON(w, http.StatusOK, EvidenceList{ManifestSHA256: t.Evidence.ManifestSHA256, Files: links})
}

// actor is who makes a change: the header (set by an authenticating
// proxy, later by our own authentication) wins over the body.
func actor(r *http.Request, body string) string {
	if h := strings.TrimSpace(r.Header.Get(HeaderUser)); h != "" {
		return h
	}
	return strings.TrimSpace(body)
}

// APIError is the body of every error response.
type APIError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func (s *Service) ticketError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		apiError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrConflict):
		apiError(w, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, ErrIllegalTransition):
		apiError(w, http.StatusUnprocessableEntity, "illegal_transition", err.Error())
	case errors.Is(err, ErrInvalid):
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
	default:
		s.internalError(w, err)
	}
}

func (s *Service) internalError(w http.ResponseWriter, err error) {
	s.log.Error("api", "err", err)
	apiError(w, http.StatusInternalServerError, "internal", "internal error (see the StreetWatch log)")
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, APIError{Error: strings.TrimPrefix(msg, "dispatch: "), Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // evidence links are short-lived credentials
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// readJSON decodes a small JSON body strictly (unknown fields are errors).
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", "body: "+err.Error())
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		apiError(w, http.StatusBadRequest, "bad_request", "body: one JSON object expected")
		return false
	}
	return true
}
