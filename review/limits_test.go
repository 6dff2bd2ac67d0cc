package review

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/streetwatch/streetwatch/dispatch"
)

func TestStaticFilesAreServedButFoldersAreNotListed(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	if a := c.get("/static/app.css"); a.status != http.StatusOK {
		t.Errorf("/static/app.css: %d", a.status)
	}
	for _, p := range []string{"/static/", "/static/?C=M;O=D"} {
		if a := c.get(p); a.status != http.StatusNotFound || strings.Contains(a.body, "app.js") {
			t.Errorf("%s: %d, want 404 without a listing\n%.200s", p, a.status, a.body)
		}
	}
}

func TestQueueRefusesOverlongFiltersWithoutEchoingThem(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("alice")
	if a := c.get("/?camera=" + strings.Repeat("x", maxFilterLen)); a.status != http.StatusOK {
		t.Errorf("a %d-character filter: %d, want 200", maxFilterLen, a.status)
	}
	long := strings.Repeat("摄", maxFilterLen+1)
	a := c.get("/?camera=" + url.QueryEscape(long))
	if a.status != http.StatusBadRequest {
		t.Errorf("a %d-character filter: %d, want 400", maxFilterLen+1, a.status)
	}
	if strings.Contains(a.body, long[:30]) || strings.Contains(a.body, url.QueryEscape(long)[:60]) {
		t.Errorf("the refused filter is echoed in the page")
	}
}

func TestAPIChangesNeedExactlyTheJSONMediaTypeInAnyCase(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for i, tc := range []struct {
		ct   string
		want int
	}{
		{"application/jsonp", http.StatusForbidden},
		{"application/json-seq", http.StatusForbidden},
		{"text/plain; x=application/json", http.StatusForbidden},
		{"APPLICATION/JSON", http.StatusOK},
		{"Application/Json; charset=utf-8", http.StatusOK},
	} {
		tk := f.ticket(f.tickets[i%len(f.tickets)].ID)
		body := dispatch.TransitionRequest{To: dispatch.StatusConfirmed, Version: tk.Version}
		if tk.Status != dispatch.StatusPendingReview {
			body = dispatch.TransitionRequest{To: dispatch.StatusResolved, Version: tk.Version}
		}
		a := c.do(http.MethodPost, "/api/v1/tickets/"+tk.ID+"/transitions", jsonBody(body),
			map[string]string{"Content-Type": tc.ct, "Authorization": basic("alice")})
		if a.status != tc.want {
			t.Errorf("Content-Type %q: %d, want %d\n%s", tc.ct, a.status, tc.want, a.body)
		}
	}
}

func TestNotesOverTheLimitAreRefusedByTheServer(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	tok := c.signIn("alice")
	tk := f.tickets[0]
	long := strings.Repeat("长", dispatch.MaxNoteLen+1)
	a := c.post("/tickets/"+tk.ID+"/note", url.Values{"csrf": {tok}, "version": {"1"}, "note": {long}})
	if a.status != http.StatusSeeOther || !strings.Contains(a.header.Get("Location"), "msg=note_too_long") {
		t.Errorf("form note of %d characters: %d %s, want a note_too_long message", dispatch.MaxNoteLen+1, a.status, a.header.Get("Location"))
	}
	if page := c.get(a.header.Get("Location")).body; !strings.Contains(page, "2000") {
		t.Errorf("the case page does not say the limit")
	}
	a = c.do(http.MethodPost, "/api/v1/tickets/"+tk.ID+"/transitions",
		jsonBody(dispatch.TransitionRequest{To: dispatch.StatusRejected, Reason: "other", Version: 1, Note: long}),
		map[string]string{"Content-Type": "application/json", "Authorization": basic("alice")})
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, "note too long") || !strings.Contains(a.body, "2000") {
		t.Errorf("API note of %d characters: %d %s, want 400 naming the limit", dispatch.MaxNoteLen+1, a.status, a.body)
	}
	if n := len(f.audit(tk.ID)); n != 1 {
		t.Errorf("audit has %d entries, want only the creation", n)
	}
	ok := strings.Repeat("长", dispatch.MaxNoteLen)
	a = c.post("/tickets/"+tk.ID+"/note", url.Values{"csrf": {tok}, "version": {"1"}, "note": {ok}})
	if !strings.Contains(a.header.Get("Location"), "msg=note_done") {
		t.Errorf("a note of exactly %d characters: %s", dispatch.MaxNoteLen, a.header.Get("Location"))
	}
}

func TestOversizedFormsAreTooLargeNotCSRF(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	tok := c.signIn("alice")
	big := strings.Repeat("a", 100<<10)
	a := c.post("/tickets/"+f.tickets[0].ID+"/note", url.Values{"csrf": {tok}, "version": {"1"}, "note": {big}})
	if a.status != http.StatusRequestEntityTooLarge || strings.Contains(a.body, "CSRF") {
		t.Errorf("100 KB form with a session: %d, want 413\n%.300s", a.status, a.body)
	}
	a = c.do(http.MethodPost, "/tickets/"+f.tickets[0].ID+"/note", strings.NewReader(url.Values{"version": {"1"}, "note": {big}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", csrfHeader: tok})
	if a.status != http.StatusRequestEntityTooLarge {
		t.Errorf("100 KB form with the CSRF header: %d, want 413", a.status)
	}
	fresh := f.client()
	ltok := csrf(t, fresh.get("/login").body)
	if a := fresh.post("/login", url.Values{"csrf": {ltok}, "name": {"alice"}, "password": {big}}); a.status != http.StatusRequestEntityTooLarge {
		t.Errorf("100 KB sign-in form: %d, want 413", a.status)
	}
}
