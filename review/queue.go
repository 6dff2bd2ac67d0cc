package review

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/violation"
)

// ViolationTypes are the types the filters offer: every ticket type,
// station cases included.
var ViolationTypes = violation.TicketTypeNames()

// countCap bounds the counting per status: the queue pages through the
// API to count, so beyond this it shows "cap+".
const countCap = 1000

type queueFilter struct {
	Status, Type, Camera, District string
	// From and To are dates (YYYY-MM-DD) in the page's time zone, both
	// inclusive.
	From, To string
	Cursor   string
}

type statusCount struct {
	Status string
	N      int
	More   bool // at least N
	URL    string
	Active bool
}

type queueRow struct {
	T         *dispatch.Ticket
	Thumb     string
	CanDecide bool
}

type queueData struct {
	F         queueFilter
	Counts    []statusCount
	Rows      []queueRow
	Next      string // URL of the next page
	Back      string // this page, for forms that return here
	BackToken string // Back, encoded for a form field or query
	Statuses  []dispatch.Status
	Types     []string
	Cameras   []CameraStatus
	Districts []string
	Problem   string // catalog key of an error
}

// queuePage lists tickets, newest first, with filters and counts.
func (s *Server) queuePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, vals := range q {
		for _, v := range vals {
			if utf8.RuneCountInString(v) > maxFilterLen {
				// Not echoed: the page's links (languages) lose the query.
				r = r.Clone(r.Context())
				r.URL.RawQuery = ""
				s.render(w, r, http.StatusBadRequest, "error", "", errorData{Message: "err.filter_too_long"})
				return
			}
		}
	}
	f := queueFilter{Status: q.Get("status"), Type: q.Get("type"), Camera: q.Get("camera"), District: q.Get("district"),
		From: q.Get("from"), To: q.Get("to"), Cursor: q.Get("cursor")}
	if !q.Has("status") {
		f.Status = string(dispatch.StatusPendingReview) // triage first
	}
	d := queueData{F: f, Statuses: dispatch.Statuses, Types: ViolationTypes, Districts: s.districtList(), Back: "/"}
	if bq := r.URL.Query(); len(bq) > 0 {
		bq.Del("msg")
		bq.Del("lang")
		if len(bq) > 0 {
			d.Back = "/?" + bq.Encode()
		}
	}
	d.BackToken = encodeBack(d.Back)
	if s.Cameras != nil {
		d.Cameras = s.Cameras()
	}
	u, _ := UserFrom(r.Context())
	query, ok := s.query(f)
	if !ok {
		d.Problem = "queue.bad_filter"
		s.render(w, r, http.StatusBadRequest, "queue", "queue", d)
		return
	}
	if s.Tickets != nil {
		tickets, next, err := s.Tickets.List(r.Context(), query)
		if err != nil {
			s.listError(w, r, d, err)
			return
		}
		for _, t := range tickets {
			row := queueRow{T: t, CanDecide: u.can("reviewer") && t.Status == dispatch.StatusPendingReview}
			row.Thumb = s.link(r.Context(), t, "snapshot_annotated.jpg")
			d.Rows = append(d.Rows, row)
		}
		if next != "" {
			nq := r.URL.Query()
			nq.Set("cursor", next)
			nq.Del("msg")
			d.Next = "/?" + nq.Encode()
		}
		if d.Counts, err = s.counts(r.Context(), f, query); err != nil {
			s.listError(w, r, d, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "queue", "queue", d)
}

func (s *Server) listError(w http.ResponseWriter, r *http.Request, d queueData, err error) {
	if errors.Is(err, dispatch.ErrInvalid) {
		d.Problem = "queue.bad_filter"
		s.render(w, r, http.StatusBadRequest, "queue", "queue", d)
		return
	}
	s.Log.Error("queue", "err", err)
	s.render(w, r, http.StatusInternalServerError, "error", "", errorData{Message: "err.internal"})
}

// query turns the page's filter into a ticket query (ok=false: a filter
// value is malformed).
func (s *Server) query(f queueFilter) (Query, bool) {
	q := Query{Type: f.Type, Camera: f.Camera, District: f.District, Cursor: f.Cursor, Limit: defaultPageLimit}
	if f.Status != "" {
		if !slices.Contains(dispatch.Statuses, dispatch.Status(f.Status)) {
			return q, false
		}
		q.Statuses = []dispatch.Status{dispatch.Status(f.Status)}
	}
	day := func(v string) (time.Time, bool) {
		if v == "" {
			return time.Time{}, true
		}
		t, err := time.ParseInLocation("2006-01-02", v, s.loc)
		return t, err == nil
	}
	var ok1, ok2 bool
	q.From, ok1 = day(f.From)
	q.To, ok2 = day(f.To)
	if !q.To.IsZero() {
		q.To = q.To.AddDate(0, 0, 1) // the To day is included
	}
	return q, ok1 && ok2
}

// counts counts tickets per status under the other filters, paging through
// the store up to countCap each.
func (s *Server) counts(ctx context.Context, f queueFilter, q Query) ([]statusCount, error) {
	all := statusCount{Active: f.Status == ""}
	out := []statusCount{{}}
	q.Limit = 500
	for _, st := range dispatch.Statuses {
		c := statusCount{Status: string(st), Active: f.Status == string(st)}
		q.Statuses, q.Cursor = []dispatch.Status{st}, ""
		for {
			tickets, next, err := s.Tickets.List(ctx, q)
			if err != nil {
				return nil, err
			}
			c.N += len(tickets)
			if next == "" {
				break
			}
			if c.N >= countCap {
				c.More = true
				break
			}
			q.Cursor = next
		}
		v := url.Values{"status": {string(st)}}
		for k, val := range map[string]string{"type": f.Type, "camera": f.Camera, "district": f.District, "from": f.From, "to": f.To} {
			if val != "" {
				v.Set(k, val)
			}
		}
		c.URL = "/?" + v.Encode()
		out = append(out, c)
		all.N += c.N
		all.More = all.More || c.More
		if st == dispatch.Statuses[0] {
			v.Set("status", "")
			all.URL = "/?" + v.Encode()
		}
	}
	out[0] = all // the total comes first
	return out, nil
}

// link is a fresh link to one of a ticket's evidence files ("" when the
// ticket has no such file or no link can be made).
func (s *Server) link(ctx context.Context, t *dispatch.Ticket, file string) string {
	return s.bundleLink(ctx, t.Evidence.Prefix, t.Evidence.Files, file, "ticket", t.ID, "camera", t.CameraID)
}

// bundleLink is a fresh link to one file of the evidence bundle at prefix
// ("" when the bundle has no such file or no link can be made; logged
// with the args that say whose bundle it is).
func (s *Server) bundleLink(ctx context.Context, prefix string, files []string, file string, whose ...any) string {
	if s.Evidence == nil || prefix == "" || !slices.Contains(files, file) {
		return ""
	}
	u, err := s.Evidence.URL(ctx, prefix+file, s.LinkExpiry)
	if err != nil {
		s.Log.Warn("evidence link", append(whose, "file", file, "err", err)...)
		return ""
	}
	return u
}
