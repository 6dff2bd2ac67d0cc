package dispatch

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/streetwatch/streetwatch/config"
)

func TestReassignRoutesTheTicketToTheNewDistrictsTeam(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		tk := mustCreate(t, s, input(1, "street_vending", "cam-2", "market", 0.5)) // east, review required
		if tk.District != "east" || tk.Team != "enforcement" {
			t.Fatalf("created in %q/%q, want east/enforcement", tk.District, tk.Team)
		}
		moved, err := s.Reassign(t.Context(), tk.ID, tk.Version, "north", "李娜", "wrong side of the street")
		if err != nil {
			t.Fatal(err)
		}
		if moved.District != "north" || moved.Team != "north-chengguan" || moved.Version != tk.Version+1 {
			t.Fatalf("after reassign: %q/%q v%d", moved.District, moved.Team, moved.Version)
		}
		if stored, err := s.Ticket(t.Context(), tk.ID); err != nil || stored.District != "north" || stored.Team != "north-chengguan" {
			t.Fatalf("stored after reassign: %+v, %v; want north/north-chengguan", stored, err)
		}
		// The same stale version again: a conflict.
		if _, err := s.Reassign(t.Context(), tk.ID, tk.Version, "east", "张伟", ""); !errors.Is(err, ErrConflict) {
			t.Fatalf("stale reassign: %v, want ErrConflict", err)
		}
		if _, err := s.Reassign(t.Context(), tk.ID, moved.Version, "nowhere", "张伟", ""); !errors.Is(err, ErrInvalid) {
			t.Fatalf("unknown district: %v, want ErrInvalid", err)
		}
		noted, err := s.AddNote(t.Context(), tk.ID, moved.Version, "李娜", "vendor gone at 10:15")
		if err != nil || noted.Status != moved.Status {
			t.Fatalf("note: %v, status %s", err, noted.Status)
		}
		audit, err := s.Audit(t.Context(), tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		var log []string
		for _, a := range audit {
			log = append(log, a.Actor+" "+string(a.Kind)+": "+a.Note)
		}
		joined := strings.Join(log, "\n")
		for _, want := range []string{"李娜 reassign: east → north (team north-chengguan); wrong side of the street", "李娜 note: vendor gone at 10:15"} {
			if !strings.Contains(joined, want) {
				t.Errorf("audit lacks %q:\n%s", want, joined)
			}
		}
		// A dispatched ticket stays where its work order went.
		done := force(t, s, tk.ID, StatusDispatched)
		if _, err := s.Reassign(t.Context(), tk.ID, done.Version, "east", "张伟", ""); !errors.Is(err, ErrIllegalTransition) {
			t.Fatalf("reassigning a dispatched ticket: %v, want ErrIllegalTransition", err)
		}
	})
}

// districtConfig routes north (cam-1) and south to receivers of their own;
// every other district goes to city.
func districtConfig(city, north, south *receiver) config.Dispatch {
	cfg := testConfig(city.srv.URL)
	cfg.Review = map[string]config.ReviewPolicy{"garbage_pile": {Mode: config.ReviewAuto}} // dumping: review required
	cfg.Districts["north"] = config.District{Cameras: []string{"cam-1"}, Team: "north-team", WebhookURL: north.srv.URL}
	cfg.Districts["south"] = config.District{Team: "south-team", Teams: map[string]string{"illegal_dumping": "south-dumping"}, WebhookURL: south.srv.URL}
	return cfg
}

// The move is stored, not only told: the API shows the ticket in south
// with south's team (also when listing by district), and once confirmed
// its delivery reaches south's receiver, under the ticket id as key.
func TestReassignedTicketShowsTheNewDistrictAndIsDeliveredThere(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		city, north, south := newReceiver(t, 0), newReceiver(t, 0), newReceiver(t, 0)
		s := testService(t, districtConfig(city, north, south), t.TempDir(), nil)
		a := newAPI(t, s)
		run(t, s)
		tk := mustCreate(t, s, input(1, "illegal_dumping", "cam-1", "kerb", 0.9))
		if tk.District != "north" || tk.Status != StatusPendingReview {
			t.Fatalf("created in %q as %s, want north pending_review", tk.District, tk.Status)
		}
		moved, err := s.Reassign(t.Context(), tk.ID, tk.Version, "south", "李娜", "")
		if err != nil {
			t.Fatal(err)
		}
		var got Ticket
		if code, body := a.do("GET", "/api/v1/tickets/"+tk.ID, nil, &got); code != http.StatusOK {
			t.Fatalf("get: %d %s", code, body)
		}
		if got.District != "south" || got.Team != "south-dumping" || got.Version != moved.Version {
			t.Fatalf("API shows %q/%q v%d after the move, want south/south-dumping v%d", got.District, got.Team, got.Version, moved.Version)
		}
		for district, want := range map[string]int{"south": 1, "north": 0} {
			var page TicketPage
			a.do("GET", "/api/v1/tickets?district="+district, nil, &page)
			if len(page.Tickets) != want {
				t.Errorf("listing district %s: %d tickets, want %d", district, len(page.Tickets), want)
			}
		}
		if code, body := a.do("POST", "/api/v1/tickets/"+tk.ID+"/transitions",
			TransitionRequest{To: StatusConfirmed, Version: got.Version}, nil, HeaderUser, "李娜"); code != http.StatusOK {
			t.Fatalf("confirm: %d %s", code, body)
		}
		waitFor(t, "dispatched", func() bool {
			cur, _ := s.Ticket(t.Context(), tk.ID)
			return cur.Status == StatusDispatched
		})
		d := south.deliveries()
		if len(d) != 1 || d[0].key != tk.ID || d[0].payload.Ticket.District != "south" || d[0].payload.Ticket.Team != "south-dumping" {
			t.Fatalf("south received %s, want one of %s in south/south-dumping", describe(d), tk.ID)
		}
		if n, m := len(north.deliveries()), len(city.deliveries()); n+m != 0 {
			t.Errorf("north received %d and the city endpoint %d deliveries, want none", n, m)
		}
	})
}

// A ticket moved while its delivery to the old district is in flight:
// whatever the old district answers, the new district gets its own
// delivery (a fresh first attempt, keyed "<id>/<district>" because the
// old district may have it), and the ticket is dispatched only by that.
func TestTicketMovedWhileItsDeliveryIsInFlightIsDeliveredToTheNewDistrict(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		for _, tc := range []struct {
			name        string
			northAnswer int
		}{{"old district accepts", http.StatusOK}, {"old district fails", http.StatusServiceUnavailable}} {
			t.Run(tc.name, func(t *testing.T) {
				city, north, south := newReceiver(t, 0), newReceiver(t, 0), newReceiver(t, 0)
				north.failStatus = tc.northAnswer
				north.setDown(tc.northAnswer != http.StatusOK)
				inFlight, release := make(chan struct{}), make(chan struct{})
				var once sync.Once
				north.hold = func() { once.Do(func() { close(inFlight); <-release }) }
				s := testService(t, districtConfig(city, north, south), t.TempDir(), nil)
				a := newAPI(t, s)
				tk := mustCreate(t, s, input(1, "garbage_pile", "cam-1", "kerb", 0.9)) // auto: confirmed, queued for north
				run(t, s)
				<-inFlight
				moved, err := s.Reassign(t.Context(), tk.ID, tk.Version, "south", "李娜", "wrong side of the road")
				if err != nil {
					t.Fatal(err)
				}
				if moved.Status != StatusConfirmed || moved.Delivery.Attempts != 0 {
					t.Errorf("moved ticket %s %+v, want confirmed and queued afresh", moved.Status, moved.Delivery)
				}
				close(release)
				var got Ticket
				waitFor(t, "dispatched", func() bool {
					a.do("GET", "/api/v1/tickets/"+tk.ID, nil, &got)
					return got.Status == StatusDispatched
				})
				if got.District != "south" || got.Team != "south-team" {
					t.Errorf("dispatched in %q/%q, want south/south-team", got.District, got.Team)
				}
				d := south.deliveries()
				if len(d) != 1 || d[0].key != tk.ID+"/south" || d[0].payload.Attempt != 1 || d[0].payload.Ticket.District != "south" {
					t.Fatalf("south received %s, want one first attempt keyed %s/south", describe(d), tk.ID)
				}
				if err := verify(testSecret, d[0]); err != nil {
					t.Error(err)
				}
				if n := len(north.deliveries()); n != 1 || north.deliveries()[0].key != tk.ID {
					t.Errorf("north received %d deliveries, want the one in flight", n)
				}
				audit := func() string {
					var log AuditLog
					a.do("GET", "/api/v1/tickets/"+tk.ID+"/audit", nil, &log)
					var notes []string
					for _, e := range log.Entries {
						notes = append(notes, string(e.Kind)+": "+e.Note)
					}
					return strings.Join(notes, "\n")
				}
				// North's answer is handled by the sender that held it, maybe
				// after south's delivery made the ticket dispatched.
				const told = "delivered to district north's work-order system (attempt 1) while the ticket moved to south"
				if tc.northAnswer == http.StatusOK {
					waitFor(t, "north's delivery in the audit", func() bool { return strings.Contains(audit(), told) })
				} else {
					waitFor(t, "north's failure counted", func() bool {
						return testutil.ToFloat64(s.metrics.Attempts.WithLabelValues(ResultHTTPError)) >= 1
					})
					if log := audit(); strings.Contains(log, told) {
						t.Errorf("audit tells of a delivery north refused:\n%s", log)
					}
				}
			})
		}
	})
}

// describe lists deliveries for a failure message.
func describe(ds []delivery) string {
	var out []string
	for _, d := range ds {
		s := fmt.Sprintf("key %s attempt %d", d.key, d.payload.Attempt)
		if tk := d.payload.Ticket; tk != nil {
			s += fmt.Sprintf(" in %s/%s", tk.District, tk.Team)
		}
		out = append(out, s)
	}
	return fmt.Sprintf("%d deliveries %v", len(ds), out)
}
