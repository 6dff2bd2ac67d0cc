package review

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
)

// RejectReasons are the reasons a reviewer picks from (dispatch's).
var RejectReasons = []string{dispatch.ReasonFalsePositive, dispatch.ReasonDuplicate, dispatch.ReasonNotViolation, dispatch.ReasonOther}

type mark struct {
	Kind string  // act, confirmed
	At   float64 // seconds into the clip
	Time time.Time
}

type caseData struct {
	T        *dispatch.Ticket
	Manifest *evidence.Manifest // nil when it cannot be read

	// Links to the evidence files ("" when missing).
	Clip, Snapshot, Annotated, Actor, ActorAnnotated, ManifestURL string

	ClipStart     time.Time
	ClipDuration  float64 // seconds
	ClipTruncated bool
	Marks         []mark
	Audit         []dispatch.AuditEntry // newest first

	CanAct, CanConfirm, CanReject, CanResolve bool
	Districts, Reasons                        []string
	Back                                      string // the queue this case was opened from
	BackToken                                 string // Back, encoded for forms
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request) {
	if s.Tickets == nil {
		s.render(w, r, http.StatusNotFound, "error", "", errorData{Message: "err.not_found"})
		return
	}
	ctx := r.Context()
	t, err := s.Tickets.Ticket(ctx, r.PathValue("id"))
	if errors.Is(err, dispatch.ErrNotFound) {
		s.render(w, r, http.StatusNotFound, "error", "", errorData{Message: "err.not_found"})
		return
	}
	if err != nil {
		s.Log.Error("case page", "ticket", r.PathValue("id"), "err", err)
		s.render(w, r, http.StatusInternalServerError, "error", "", errorData{Message: "err.internal"})
		return
	}
	entries, err := s.Tickets.Audit(ctx, t.ID)
	if err != nil {
		s.Log.Error("case page: audit", "ticket", t.ID, "camera", t.CameraID, "err", err)
		s.render(w, r, http.StatusInternalServerError, "error", "", errorData{Message: "err.internal"})
		return
	}
	u, _ := UserFrom(ctx)
	back := decodeBack(r.URL.Query().Get("back"))
	d := caseData{T: t, Districts: s.districtList(), Reasons: RejectReasons, Back: back, BackToken: encodeBack(back),
		CanAct: u.can(config.RoleReviewer)}
	pending := t.Status == dispatch.StatusPendingReview || t.Status == dispatch.StatusDispatchFailed
	d.CanConfirm, d.CanReject = d.CanAct && pending, d.CanAct && pending
	d.CanResolve = d.CanAct && t.Status == dispatch.StatusDispatched
	d.Clip = s.link(ctx, t, "clip.mp4")
	d.Snapshot = s.link(ctx, t, "snapshot.jpg")
	d.Annotated = s.link(ctx, t, "snapshot_annotated.jpg")
	d.Actor = s.link(ctx, t, "actor.jpg")
	d.ActorAnnotated = s.link(ctx, t, "actor_annotated.jpg")
	d.ManifestURL = s.link(ctx, t, evidence.ManifestName)
	if m, err := s.manifests.get(ctx, t.Evidence.Prefix); err != nil {
		s.Log.Warn("case page: manifest", "ticket", t.ID, "camera", t.CameraID, "err", err)
	} else {
		d.Manifest = m
		if c := m.Clip; c != nil {
			d.ClipStart, d.ClipTruncated = c.Start, c.Truncated
			d.ClipDuration = c.Duration
			if d.ClipDuration <= 0 {
				d.ClipDuration = c.End.Sub(c.Start).Seconds()
			}
			act := m.Violation.FirstSeen
			if !m.Violation.ActorAt.IsZero() {
				act = m.Violation.ActorAt // dumping: the frame where the object appeared
			}
			for _, mk := range []mark{{Kind: "act", Time: act}, {Kind: "confirmed", Time: m.Violation.ConfirmedAt}} {
				mk.At = mk.Time.Sub(c.Start).Seconds()
				if !mk.Time.IsZero() && mk.At >= 0 && mk.At <= d.ClipDuration {
					d.Marks = append(d.Marks, mk)
				}
			}
		}
	}
	for i := len(entries) - 1; i >= 0; i-- { // newest first
		d.Audit = append(d.Audit, entries[i])
	}
	s.render(w, r, http.StatusOK, "case", "queue", d)
}

// actions a reviewer can take from the case page (and confirm from the
// queue).
var actions = []string{"confirm", "reject", "resolve", "reassign", "note"}

func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	id, act := r.PathValue("id"), r.PathValue("action")
	if !slices.Contains(actions, act) || s.Tickets == nil {
		s.render(w, r, http.StatusNotFound, "error", "", errorData{Message: "err.not_found"})
		return
	}
	// Handler parsed the form when it checked the CSRF token.
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if isTooLarge(err) {
			s.refuse(w, r, http.StatusRequestEntityTooLarge, "too_large", "err.too_large")
			return
		}
		s.refuse(w, r, http.StatusBadRequest, "bad_request", "err.bad_request")
		return
	}
	u, _ := UserFrom(r.Context())
	f := r.PostForm
	version := atoi64(f.Get("version"))
	note := strings.TrimSpace(f.Get("note"))
	ctx := r.Context()
	var err error
	var t *dispatch.Ticket
	switch act {
	case "confirm":
		t, err = s.Tickets.Transition(ctx, id, dispatch.TransitionRequest{To: dispatch.StatusConfirmed, Version: version, Actor: u.Name, Note: note})
	case "reject":
		t, err = s.Tickets.Transition(ctx, id, dispatch.TransitionRequest{To: dispatch.StatusRejected, Version: version, Actor: u.Name,
			Reason: f.Get("reason"), Note: note})
	case "resolve":
		t, err = s.Tickets.Transition(ctx, id, dispatch.TransitionRequest{To: dispatch.StatusResolved, Version: version, Actor: u.Name, Note: note})
	case "reassign":
		district := f.Get("district")
		if !slices.Contains(s.districtList(), district) {
			err = dispatch.ErrInvalid
			break
		}
		t, err = s.Tickets.Reassign(ctx, id, version, district, u.Name, note)
		if err == nil && t.District != district {
			act = "reassign_recorded" // the store could only note it
		}
	case "note":
		if note == "" {
			err = dispatch.ErrInvalid
			break
		}
		t, err = s.Tickets.AddNote(ctx, id, version, u.Name, note)
	}
	result, msg := "ok", act+"_done"
	switch {
	case err == nil:
	case errors.Is(err, dispatch.ErrNotFound):
		s.metrics.actions.WithLabelValues(strings.TrimSuffix(act, "_recorded"), "refused").Inc()
		s.render(w, r, http.StatusNotFound, "error", "", errorData{Message: "err.not_found"})
		return
	case errors.Is(err, dispatch.ErrConflict):
		result, msg = "conflict", "conflict"
	case errors.Is(err, dispatch.ErrIllegalTransition):
		result, msg = "refused", "illegal"
	case errors.Is(err, dispatch.ErrNoteTooLong):
		result, msg = "refused", "note_too_long"
	case errors.Is(err, dispatch.ErrInvalid):
		result, msg = "refused", "invalid"
	default:
		s.Log.Error("review action", "ticket", id, "action", act, "user", u.Name, "err", err)
		result, msg = "refused", "failed"
	}
	s.metrics.actions.WithLabelValues(strings.TrimSuffix(act, "_recorded"), result).Inc()
	if result == "ok" {
		s.Log.Info("review action", "ticket", id, "camera", t.CameraID, "action", act, "user", u.Name, "status", t.Status)
	}
	back := decodeBack(f.Get("back"))
	target := "/tickets/" + url.PathEscape(id)
	q := url.Values{"msg": {msg}}
	if f.Get("return") == "queue" {
		target, q = back, nil
		if i := strings.IndexByte(back, '?'); i >= 0 {
			target = back[:i]
			q, _ = url.ParseQuery(back[i+1:])
		}
		if q == nil {
			q = url.Values{}
		}
		q.Set("msg", msg)
	} else if f.Get("back") != "" {
		q.Set("back", f.Get("back"))
	}
	http.Redirect(w, r, target+"?"+q.Encode(), http.StatusSeeOther)
}
