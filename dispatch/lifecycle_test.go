package dispatch

import (
	"errors"
	"net/http"
	"sync"
	"testing"
)

func TestLifecycleAllowsOnlyItsTransitions(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		tests := []struct {
			name    string
			from    Status
			req     TransitionRequest
			wantErr error
		}{
			{"review confirms", StatusPendingReview, TransitionRequest{To: StatusConfirmed}, nil},
			{"review rejects", StatusPendingReview, TransitionRequest{To: StatusRejected, Reason: ReasonFalsePositive}, nil},
			{"reject as duplicate", StatusPendingReview, TransitionRequest{To: StatusRejected, Reason: ReasonDuplicate}, nil},
			{"reject other with note", StatusPendingReview, TransitionRequest{To: StatusRejected, Reason: ReasonOther, Note: "cart of a permitted vendor"}, nil},
			{"reject needs a reason", StatusPendingReview, TransitionRequest{To: StatusRejected}, ErrInvalid},
			{"reject with unknown reason", StatusPendingReview, TransitionRequest{To: StatusRejected, Reason: "meh"}, ErrInvalid},
			{"reject other needs a note", StatusPendingReview, TransitionRequest{To: StatusRejected, Reason: ReasonOther}, ErrInvalid},
			{"reason only when rejecting", StatusPendingReview, TransitionRequest{To: StatusConfirmed, Reason: ReasonDuplicate}, ErrInvalid},
			{"review cannot skip to dispatched", StatusPendingReview, TransitionRequest{To: StatusDispatched}, ErrIllegalTransition},
			{"review cannot resolve", StatusPendingReview, TransitionRequest{To: StatusResolved}, ErrIllegalTransition},
			{"unknown status", StatusPendingReview, TransitionRequest{To: "closed"}, ErrIllegalTransition},
			{"same status", StatusPendingReview, TransitionRequest{To: StatusPendingReview}, ErrIllegalTransition},
			{"queued cannot be rejected", StatusConfirmed, TransitionRequest{To: StatusRejected, Reason: ReasonDuplicate}, ErrIllegalTransition},
			{"only the sender dispatches", StatusConfirmed, TransitionRequest{To: StatusDispatched}, ErrIllegalTransition},
			{"only the sender fails", StatusConfirmed, TransitionRequest{To: StatusDispatchFailed}, ErrIllegalTransition},
			{"dispatched is resolved", StatusDispatched, TransitionRequest{To: StatusResolved, Note: "cleaned up"}, nil},
			{"dispatched cannot be rejected", StatusDispatched, TransitionRequest{To: StatusRejected, Reason: ReasonOther, Note: "x"}, ErrIllegalTransition},
			{"resolved is final", StatusResolved, TransitionRequest{To: StatusConfirmed}, ErrIllegalTransition},
			{"rejected is final", StatusRejected, TransitionRequest{To: StatusConfirmed}, ErrIllegalTransition},
			{"failed is queued again", StatusDispatchFailed, TransitionRequest{To: StatusConfirmed}, nil},
			{"failed is rejected", StatusDispatchFailed, TransitionRequest{To: StatusRejected, Reason: ReasonNotViolation}, nil},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tk := mustCreate(t, s, input(100+i, "illegal_dumping", "cam-1", "kerb", 0.9))
				if tc.from != tk.Status {
					tk = force(t, s, tk.ID, tc.from)
				}
				before, _ := s.Audit(t.Context(), tk.ID)
				depth, _ := s.store.OutboxDepth(t.Context())
				req := tc.req
				req.Version, req.Actor = tk.Version, "reviewer-li"
				got, err := s.Transition(t.Context(), tk.ID, req)
				after, _ := s.Audit(t.Context(), tk.ID)
				newDepth, _ := s.store.OutboxDepth(t.Context())
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("err %v, want %v", err, tc.wantErr)
					}
					if len(after) != len(before) || newDepth != depth {
						t.Errorf("a refused transition changed the audit log (%d → %d entries) or outbox (%d → %d)", len(before), len(after), depth, newDepth)
					}
					if cur, _ := s.Ticket(t.Context(), tk.ID); cur.Version != tk.Version || cur.Status != tc.from {
						t.Errorf("a refused transition changed the ticket: %s v%d", cur.Status, cur.Version)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != req.To || got.Version != tk.Version+1 || got.RejectReason != req.Reason {
					t.Errorf("ticket %s v%d reason %q, want %s v%d %q", got.Status, got.Version, got.RejectReason, req.To, tk.Version+1, req.Reason)
				}
				last := after[len(after)-1]
				if len(after) != len(before)+1 || last.Actor != "reviewer-li" || last.From != tc.from || last.To != req.To ||
					last.Reason != req.Reason || last.Note != req.Note {
					t.Errorf("audit entry %+v (%d → %d entries)", last, len(before), len(after))
				}
				if wantQueued := req.To == StatusConfirmed; wantQueued != (newDepth == depth+1) {
					t.Errorf("outbox %d → %d after → %s", depth, newDepth, req.To)
				}
			})
		}
	})
}

func TestTransitionOnAStaleVersionIsAConflict(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		tk := mustCreate(t, s, input(1, "illegal_dumping", "cam-1", "kerb", 0.9))
		if _, err := s.SetKeep(t.Context(), tk.ID, true, tk.Version, "reviewer-li", ""); err != nil {
			t.Fatal(err)
		}
		_, err := s.Transition(t.Context(), tk.ID, TransitionRequest{To: StatusConfirmed, Version: tk.Version, Actor: "reviewer-wang"})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("err %v, want ErrConflict", err)
		}
		if _, err := s.Transition(t.Context(), "01NOSUCHTICKET000000000000", TransitionRequest{To: StatusConfirmed, Version: 1, Actor: "x"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown ticket: %v, want ErrNotFound", err)
		}
	})
}

func TestTwoReviewersAtOnceOneWinsTheOtherConflicts(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		a := newAPI(t, s)
		for i := range 10 {
			tk := mustCreate(t, s, input(i, "illegal_dumping", "cam-1", "kerb", 0.9))
			reqs := []TransitionRequest{
				{To: StatusConfirmed, Version: tk.Version, Actor: "reviewer-li"},
				{To: StatusRejected, Reason: ReasonFalsePositive, Version: tk.Version, Actor: "reviewer-wang"},
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, 2)
			codes := make([]int, 2)
			for j, req := range reqs {
				wg.Go(func() {
					<-start
					if i%2 == 0 { // half through the service, half through the API
						_, errs[j] = s.Transition(t.Context(), tk.ID, req)
					} else {
						codes[j], _ = a.do("POST", "/api/v1/tickets/"+tk.ID+"/transitions", req, nil)
					}
				})
			}
			close(start)
			wg.Wait()
			if i%2 == 0 {
				ok, conflict := 0, 0
				for _, err := range errs {
					switch {
					case err == nil:
						ok++
					case errors.Is(err, ErrConflict):
						conflict++
					default:
						t.Errorf("unexpected error %v", err)
					}
				}
				if ok != 1 || conflict != 1 {
					t.Errorf("ticket %d: %d won, %d conflicted (errors %v), want 1 and 1", i, ok, conflict, errs)
				}
			} else if !(codes[0] == http.StatusOK && codes[1] == http.StatusConflict || codes[0] == http.StatusConflict && codes[1] == http.StatusOK) {
				t.Errorf("ticket %d: API answered %v, want one 200 and one 409", i, codes)
			}
			audit, _ := s.Audit(t.Context(), tk.ID)
			if len(audit) != 2 {
				t.Errorf("ticket %d: %d audit entries, want 2 (creation, the winner)", i, len(audit))
			}
		}
	})
}

func TestKeepEvidenceWhileOpenOrMarkedKeep(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		open := mustCreate(t, s, input(1, "illegal_dumping", "cam-1", "kerb", 0.9))
		rejected := mustCreate(t, s, input(2, "illegal_dumping", "cam-1", "kerb", 0.9))
		rejected, err := s.Transition(t.Context(), rejected.ID, TransitionRequest{To: StatusRejected, Reason: ReasonFalsePositive, Version: 1, Actor: "li"})
		if err != nil {
			t.Fatal(err)
		}
		resolvedKept := force(t, s, mustCreate(t, s, input(3, "illegal_dumping", "cam-1", "kerb", 0.9)).ID, StatusResolved)
		if _, err := s.SetKeep(t.Context(), resolvedKept.ID, true, resolvedKept.Version, "li", "court case"); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			violation string
			want      bool
		}{
			{open.ViolationID, true}, {rejected.ViolationID, false}, {resolvedKept.ViolationID, true}, {"no-ticket", false},
		} {
			if got := s.KeepEvidence(tc.violation); got != tc.want {
				t.Errorf("KeepEvidence(%s) = %v, want %v", tc.violation, got, tc.want)
			}
		}
	})
}
