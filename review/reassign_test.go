package review

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
)

// workOrders is a district's work-order system on 127.0.0.1: it accepts
// every delivery and remembers its Idempotency-Key.
type workOrders struct {
	url  string
	mu   sync.Mutex
	keys []string
}

func newWorkOrders(t *testing.T) *workOrders {
	w := &workOrders{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.keys = append(w.keys, r.Header.Get(dispatch.HeaderIdempotencyKey))
		w.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

func (w *workOrders) received() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.keys...)
}

// A reviewer moves a ticket from baiyun to tianhe on the page and
// confirms it: the page shows tianhe and its team, and the work order
// reaches tianhe's endpoint, not baiyun's.
func TestTicketReassignedOnThePageIsShownAndDeliveredInTheNewDistrict(t *testing.T) {
	city, baiyun, tianhe := newWorkOrders(t), newWorkOrders(t), newWorkOrders(t)
	f := newDispatchFixture(t, config.Dispatch{
		Webhook: config.Webhook{URL: city.url, Secret: "review-test-secret-0123456789"},
		Districts: map[string]config.District{
			"baiyun": {Cameras: []string{"station-1"}, Team: "baiyun-sanitation", WebhookURL: baiyun.url},
			"tianhe": {Team: "tianhe-sanitation", WebhookURL: tianhe.url},
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done }) // before the service closes

	c := f.client()
	tok := c.signIn("张伟")
	tk := f.tickets[0]
	if tk.District != "baiyun" {
		t.Fatalf("ticket created in %q, want baiyun", tk.District)
	}
	post := func(action string, v url.Values) {
		t.Helper()
		v.Set("csrf", tok)
		if a := c.post("/tickets/"+tk.ID+"/"+action, v); !strings.Contains(a.header.Get("Location"), "msg="+action+"_done") {
			t.Fatalf("%s: %d %s", action, a.status, a.header.Get("Location"))
		}
	}
	post("reassign", url.Values{"version": {"1"}, "district": {"tianhe"}})
	page := c.get("/tickets/" + tk.ID).body
	if got := between(page, `<dd id="district">`, `</dd>`); got != "tianhe · tianhe-sanitation" {
		t.Errorf("case page shows district %q, want tianhe · tianhe-sanitation", got)
	}
	if q := c.get("/?district=tianhe").body; !strings.Contains(q, `data-id="`+tk.ID+`"`) {
		t.Error("the queue filtered by tianhe does not list the ticket")
	}
	post("confirm", url.Values{"version": {"2"}})
	deadline := time.Now().Add(10 * time.Second)
	for f.ticket(tk.ID).Status != dispatch.StatusDispatched {
		if time.Now().After(deadline) {
			t.Fatal("the ticket was not dispatched")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := tianhe.received(); len(got) != 1 || got[0] != tk.ID {
		t.Errorf("tianhe received %v, want the ticket once", got)
	}
	if n, m := len(baiyun.received()), len(city.received()); n+m != 0 {
		t.Errorf("baiyun received %d and the city endpoint %d deliveries, want none", n, m)
	}
}
