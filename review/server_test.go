package review

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/internal/pgtest"
)

// The PostgreSQL server the "postgres" subtests share stops when the
// tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Main(m)) }

func TestSignedOutRequestsAreRefusedExceptHealthzAndAssets(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for path, want := range map[string]int{
		"/api/v1/tickets":                    http.StatusUnauthorized,
		"/api/v1/tickets/" + f.tickets[0].ID: http.StatusUnauthorized,
		"/metrics":                           http.StatusUnauthorized,
		"/debug/detections":                  http.StatusUnauthorized,
		"/evidence/2026/11/25/x/clip.mp4":    http.StatusUnauthorized,
		"/":                                  http.StatusSeeOther,
		"/tickets/" + f.tickets[0].ID:        http.StatusSeeOther,
		"/cameras":                           http.StatusSeeOther,
		"/healthz":                           http.StatusOK,
		"/static/app.css":                    http.StatusOK,
		"/static/app.js":                     http.StatusOK,
		"/login":                             http.StatusOK,
		"/no/such/page":                      http.StatusUnauthorized,
	} {
		a := c.get(path)
		if a.status != want {
			t.Errorf("GET %s: %d, want %d", path, a.status, want)
		}
		if want == http.StatusSeeOther && a.header.Get("Location") != "/login?next="+url.QueryEscape(path) {
			t.Errorf("GET %s: redirected to %q, want the sign-in page coming back here", path, a.header.Get("Location"))
		}
		if a.header.Get("WWW-Authenticate") != "" {
			t.Errorf("GET %s: WWW-Authenticate makes browsers cache basic auth (an ambient credential)", path)
		}
	}
	a := c.post("/tickets/"+f.tickets[0].ID+"/confirm", url.Values{"version": {"1"}})
	if a.status != http.StatusUnauthorized || f.ticket(f.tickets[0].ID).Status != dispatch.StatusPendingReview {
		t.Errorf("signed-out confirm: %d, ticket %s", a.status, f.ticket(f.tickets[0].ID).Status)
	}
	a = c.do(http.MethodPost, "/api/v1/tickets/"+f.tickets[0].ID+"/transitions",
		jsonBody(dispatch.TransitionRequest{To: dispatch.StatusConfirmed, Version: 1, Actor: "mallory"}),
		map[string]string{"Content-Type": "application/json", dispatch.HeaderUser: "mallory"})
	if a.status != http.StatusUnauthorized || !strings.Contains(a.body, `"code":"unauthorized"`) {
		t.Errorf("signed-out API transition: %d %s", a.status, a.body)
	}
}

func TestPublicMetricsNeedNoSignIn(t *testing.T) {
	f := newFixture(t, func(s *Server) { s.Config.PublicMetrics = true })
	if a := f.client().get("/metrics"); a.status != http.StatusOK {
		t.Fatalf("public /metrics: %d", a.status)
	}
	if a := f.client().get("/api/v1/tickets"); a.status != http.StatusUnauthorized {
		t.Fatalf("the API stays private: %d", a.status)
	}
}

func TestSessionCookieIsHttpOnlySameSiteAndSecureWhenConfigured(t *testing.T) {
	for _, secure := range []bool{false, true} {
		f := newFixture(t, func(s *Server) { s.Config.SecureCookies = secure })
		c := f.client()
		login := c.get("/login")
		a := c.post("/login", url.Values{"csrf": {csrf(t, login.body)}, "name": {"alice"}, "password": {"alice-pw"}})
		var found bool
		for _, ck := range (&http.Response{Header: a.header}).Cookies() {
			if ck.Name != sessionCookie {
				continue
			}
			found = true
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != secure || ck.Path != "/" {
				t.Errorf("secure_cookies=%t: cookie %+v", secure, ck)
			}
		}
		if !found {
			t.Fatalf("no session cookie: %d %v", a.status, a.header)
		}
	}
}

func TestSignInChecksPasswordAndFormTokenAndStaysOnSite(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	tok := csrf(t, c.get("/login").body)
	if a := c.post("/login", url.Values{"csrf": {tok}, "name": {"alice"}, "password": {"wrong"}}); a.status != http.StatusUnauthorized ||
		!strings.Contains(a.body, "用户名或密码错误") {
		t.Errorf("wrong password: %d", a.status)
	}
	if a := c.post("/login", url.Values{"csrf": {"forged"}, "name": {"alice"}, "password": {"alice-pw"}}); a.status != http.StatusForbidden {
		t.Errorf("sign-in without the form's token: %d, want 403 (login CSRF)", a.status)
	}
	for next, want := range map[string]string{"//evil.example/x": "/", "https://evil.example/": "/", "/\\evil": "/",
		"/tickets/" + f.tickets[0].ID: "/tickets/" + f.tickets[0].ID} {
		c := f.client()
		tok := csrf(t, c.get("/login").body)
		a := c.post("/login", url.Values{"csrf": {tok}, "name": {"张伟"}, "password": {"zhang-pw"}, "next": {next}})
		if a.status != http.StatusSeeOther || a.header.Get("Location") != want {
			t.Errorf("next=%q: %d → %q, want %q", next, a.status, a.header.Get("Location"), want)
		}
	}
}

func TestSignInIsRateLimitedPerUser(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	tok := csrf(t, c.get("/login").body)
	for i := range 5 {
		if a := c.post("/login", url.Values{"csrf": {tok}, "name": {"alice"}, "password": {"guess"}}); a.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, a.status)
		}
	}
	a := c.post("/login", url.Values{"csrf": {tok}, "name": {"alice"}, "password": {"alice-pw"}})
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures even the right password: %d, want 429 with Retry-After", a.status)
	}
	// Another user from the same address still gets in (the address
	// limit is looser than the per-user one).
	c2 := f.client()
	c2.signIn("root")
	// A minute later alice has one more try.
	f.rev.now = func() time.Time { return time.Now().Add(61 * time.Second) }
	c3 := f.client()
	c3.signIn("alice")
}

func TestEveryPageRendersInBothLanguages(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("alice")
	id := f.tickets[0].ID
	pages := []string{"/", "/?status=", "/?status=rejected&type=garbage_pile", "/tickets/" + id, "/cameras", "/no-such-page-but-signed-in"}
	for _, lang := range []struct{ q, want string }{{"", "案件队列"}, {"lang=en", "Cases"}} {
		for _, p := range pages {
			u := p
			if lang.q != "" {
				u += map[bool]string{true: "&", false: "?"}[strings.Contains(p, "?")] + lang.q
			}
			a := c.get(u)
			if p == "/no-such-page-but-signed-in" {
				continue // the inner mux's 404
			}
			if a.status != http.StatusOK || !strings.Contains(a.body, lang.want) {
				t.Errorf("GET %s: %d, want 200 with %q:\n%.400s", u, a.status, lang.want, a.body)
			}
		}
	}
	// The language sticks (cookie) until changed.
	if a := c.get("/cameras"); !strings.Contains(a.body, "Sampled fps") {
		t.Errorf("the English choice did not stick")
	}
	if a := c.get("/cameras?lang=zh-CN"); !strings.Contains(a.body, "抽帧率") {
		t.Errorf("back to Chinese failed")
	}
	signedOut := f.client()
	if a := signedOut.get("/login"); !strings.Contains(a.body, "登录") || !strings.Contains(a.body, `lang="zh-CN"`) {
		t.Errorf("the sign-in page is not Chinese by default")
	}
	if a := signedOut.get("/login?lang=en"); !strings.Contains(a.body, "Sign in") {
		t.Errorf("?lang=en on the sign-in page")
	}
}

func TestQueueIsNewestFirstFiltersAndCounts(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("alice")
	a := c.get("/?status=")
	i0, i1, i2 := strings.Index(a.body, f.tickets[0].ID), strings.Index(a.body, f.tickets[1].ID), strings.Index(a.body, f.tickets[2].ID)
	if i0 < 0 || i1 < 0 || i2 < 0 || !(i2 < i1 && i1 < i0) {
		t.Fatalf("queue not newest first: positions %d %d %d", i2, i1, i0)
	}
	if !strings.Contains(a.body, `data-status="pending_review">待审核 <b>3</b>`) || !strings.Contains(a.body, `data-status="">全部 <b>3</b>`) {
		t.Errorf("counts per status missing:\n%s", a.body)
	}
	for q, want := range map[string][]int{
		"type=garbage_pile":                   {2},
		"camera=station-1&status=":            {0, 2},
		"district=baiyun":                     {0, 2},
		"from=2026-11-25&to=2026-11-25":       {0, 1, 2},
		"from=2026-11-26":                     {},
		"to=2026-11-24&status=pending_review": {},
		"status=rejected":                     {},
	} {
		a := c.get("/?" + q)
		if a.status != http.StatusOK {
			t.Errorf("%s: %d", q, a.status)
			continue
		}
		for i, tk := range f.tickets {
			in := strings.Contains(a.body, `data-id="`+tk.ID+`"`)
			if in != containsInt(want, i) {
				t.Errorf("%s: ticket %d listed=%t", q, i, in)
			}
		}
	}
	if a := c.get("/?from=yesterday"); a.status != http.StatusBadRequest {
		t.Errorf("bad date: %d", a.status)
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestCasePageShowsEvidenceMarksAndActions(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("alice")
	tk := f.tickets[0]
	a := c.get("/tickets/" + tk.ID)
	for _, want := range []string{
		`<video id="clip" src="/evidence/` + tk.Evidence.Prefix + `clip.mp4?expires=`,
		`data-act="10.000"`,       // first_seen − clip start
		`data-confirmed="70.000"`, // confirmed_at − clip start
		`data-start="` + itoa64(tk.FirstSeen.Add(-10*time.Second).UnixMilli()) + `"`,
		"2026-11-25 14:01:00", // confirmed_at in Asia/Shanghai
		"白云区 同和街 12 号", "streetwatch-demo 1", "82%", "白云站 1",
		`id="confirm-form"`, `id="reject"`, `id="reassign"`, `id="note-form"`,
		"snapshot_annotated.jpg?expires=",
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("case page lacks %q", want)
		}
	}
	// The evidence link works without a session (it is signed), and a
	// changed link does not.
	clip := between(a.body, `<video id="clip" src="`, `"`)
	clip = strings.ReplaceAll(clip, "&amp;", "&")
	if b := f.client().get(clip); b.status != http.StatusOK || b.body != "not really an mp4" {
		t.Errorf("signed clip link: %d", b.status)
	}
	if b := f.client().get(strings.Replace(clip, "clip.mp4", "snapshot_annotated.jpg", 1)); b.status != http.StatusForbidden {
		t.Errorf("link with another key: %d, want 403", b.status)
	}
	if a := c.get("/tickets/01NOSUCHTICKET0000000000000"); a.status != http.StatusNotFound {
		t.Errorf("missing ticket: %d", a.status)
	}
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	return s[:strings.Index(s, to)]
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func TestReviewerActionsAreAuditedUnderTheSignedInName(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	tok := c.signIn("张伟")
	tk := f.tickets[0]
	post := func(action string, v url.Values) answer {
		v.Set("csrf", tok)
		return c.post("/tickets/"+tk.ID+"/"+action, v)
	}
	if a := post("note", url.Values{"version": {"1"}, "note": {"路人提供了线索"}}); a.status != http.StatusSeeOther ||
		!strings.Contains(a.header.Get("Location"), "msg=note_done") {
		t.Fatalf("note: %d %s", a.status, a.header.Get("Location"))
	}
	if a := post("reassign", url.Values{"version": {"2"}, "district": {"tianhe"}}); !strings.Contains(a.header.Get("Location"), "msg=reassign") {
		t.Fatalf("reassign: %d %s", a.status, a.header.Get("Location"))
	}
	if a := post("reassign", url.Values{"version": {"3"}, "district": {"nowhere"}}); !strings.Contains(a.header.Get("Location"), "msg=invalid") {
		t.Errorf("reassign to an unknown district: %s", a.header.Get("Location"))
	}
	if a := post("reject", url.Values{"version": {"2"}, "reason": {"false_positive"}}); !strings.Contains(a.header.Get("Location"), "msg=conflict") {
		t.Errorf("stale version: %s, want a conflict", a.header.Get("Location"))
	}
	if a := post("reject", url.Values{"version": {"3"}, "reason": {"other"}}); !strings.Contains(a.header.Get("Location"), "msg=invalid") {
		t.Errorf("reason other without a note: %s", a.header.Get("Location"))
	}
	if a := post("reject", url.Values{"version": {"3"}, "reason": {"false_positive"}, "note": {"影子"}}); !strings.Contains(a.header.Get("Location"), "msg=reject_done") {
		t.Fatalf("reject: %s", a.header.Get("Location"))
	}
	got := f.ticket(tk.ID)
	if got.Status != dispatch.StatusRejected || got.RejectReason != dispatch.ReasonFalsePositive {
		t.Fatalf("ticket after reject: %s %s", got.Status, got.RejectReason)
	}
	entries := f.audit(tk.ID)
	if len(entries) != 4 {
		t.Fatalf("audit: %+v", entries)
	}
	for _, e := range entries[1:] {
		if e.Actor != "张伟" {
			t.Errorf("audit entry by %q, want the signed-in user: %+v", e.Actor, e)
		}
	}
	if last := entries[3]; last.To != dispatch.StatusRejected || last.Reason != "false_positive" || last.Note != "影子" {
		t.Errorf("reject entry: %+v", last)
	}
	// The page shows the history: notes as notes, the change with its reason.
	page := c.get("/tickets/" + tk.ID).body
	for _, want := range []string{"路人提供了线索", "改派", "baiyun → tianhe", "待审核 → 已驳回", "误报", `data-status="rejected"`} {
		if !strings.Contains(page, want) {
			t.Errorf("case page history lacks %q\n%s", want, between(page, `<ol class="audit"`, "</ol>"))
		}
	}
	if strings.Contains(page, "keep evidence:") {
		t.Errorf("the audit-only fallback's prefix shows on the page")
	}
	// Confirming from the queue returns there.
	q := c.get("/")
	back := between(q.body, `name="back" value="`, `"`)
	a := c.post("/tickets/"+f.tickets[1].ID+"/confirm", url.Values{"csrf": {tok}, "version": {"1"}, "return": {"queue"}, "back": {back}})
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/?") || !strings.Contains(a.header.Get("Location"), "msg=confirm_done") {
		t.Errorf("confirm from the queue: %d %s", a.status, a.header.Get("Location"))
	}
	if f.ticket(f.tickets[1].ID).Status != dispatch.StatusConfirmed {
		t.Errorf("not confirmed")
	}
}

func TestChangesWithoutTheCSRFTokenAreRefused(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	tok := c.signIn("alice")
	id := f.tickets[0].ID
	wrong := "x" + tok[1:]
	if tok[0] == 'x' { // one token in 64 starts with x
		wrong = "y" + tok[1:]
	}
	for name, req := range map[string]struct {
		body   url.Values
		header map[string]string
	}{
		"no token":       {url.Values{"version": {"1"}}, nil},
		"wrong token":    {url.Values{"version": {"1"}, "csrf": {wrong}}, nil},
		"other origin":   {url.Values{"version": {"1"}, "csrf": {tok}}, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}},
		"token in query": {url.Values{"version": {"1"}}, map[string]string{}},
	} {
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		for k, v := range req.header {
			h[k] = v
		}
		path := "/tickets/" + id + "/confirm"
		if name == "token in query" {
			path += "?csrf=" + tok
		}
		a := c.do(http.MethodPost, path, strings.NewReader(req.body.Encode()), h)
		if a.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, a.status)
		}
	}
	// The API with the session cookie needs the token in a header.
	body := dispatch.TransitionRequest{To: dispatch.StatusConfirmed, Version: 1}
	a := c.do(http.MethodPost, "/api/v1/tickets/"+id+"/transitions", jsonBody(body), map[string]string{"Content-Type": "application/json"})
	if a.status != http.StatusForbidden || !strings.Contains(a.body, `"code":"csrf"`) {
		t.Errorf("API POST with the cookie and no token: %d %s", a.status, a.body)
	}
	if a := c.post("/logout", url.Values{}); a.status != http.StatusForbidden {
		t.Errorf("sign-out without the token: %d (a forged sign-out is a nuisance, still refused)", a.status)
	}
	if f.ticket(id).Status != dispatch.StatusPendingReview {
		t.Fatal("a refused request changed the ticket")
	}
	a = c.do(http.MethodPost, "/api/v1/tickets/"+id+"/transitions", jsonBody(body),
		map[string]string{"Content-Type": "application/json", csrfHeader: tok, dispatch.HeaderUser: "someone-else"})
	if a.status != http.StatusOK {
		t.Fatalf("API POST with the header token: %d %s", a.status, a.body)
	}
	if e := f.audit(id); e[len(e)-1].Actor != "alice" {
		t.Errorf("API change audited as %q, want the session's user", e[len(e)-1].Actor)
	}
	// Sign out ends the session.
	if a := c.post("/logout", url.Values{"csrf": {tok}}); a.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", a.status)
	}
	if a := c.get("/api/v1/tickets"); a.status != http.StatusUnauthorized {
		t.Errorf("after sign-out: %d", a.status)
	}
}

func TestViewerCannotDecide(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	tok := c.signIn("vera")
	id := f.tickets[0].ID
	page := c.get("/tickets/" + id)
	if page.status != http.StatusOK || strings.Contains(page.body, `id="confirm-form"`) || !strings.Contains(page.body, `id="read-only"`) {
		t.Errorf("viewer's case page offers actions")
	}
	for _, action := range actions {
		a := c.post("/tickets/"+id+"/"+action, url.Values{"csrf": {tok}, "version": {"1"}, "reason": {"duplicate"}, "note": {"x"}, "district": {"tianhe"}})
		if a.status != http.StatusForbidden {
			t.Errorf("viewer %s: %d, want 403", action, a.status)
		}
	}
	a := c.do(http.MethodPost, "/api/v1/tickets/"+id+"/transitions", jsonBody(dispatch.TransitionRequest{To: dispatch.StatusConfirmed, Version: 1}),
		map[string]string{"Content-Type": "application/json", "Authorization": basic("vera")})
	if a.status != http.StatusForbidden || !strings.Contains(a.body, `"code":"forbidden"`) {
		t.Errorf("viewer API transition: %d %s", a.status, a.body)
	}
	if f.ticket(id).Status != dispatch.StatusPendingReview || len(f.audit(id)) != 1 {
		t.Fatal("a viewer changed the ticket")
	}
	if a := c.get("/api/v1/tickets"); a.status != http.StatusOK {
		t.Errorf("viewer reads the API: %d", a.status)
	}
	if a := c.get("/debug/detections"); a.status != http.StatusForbidden {
		t.Errorf("viewer /debug/: %d", a.status)
	}
	if a := c.post("/logout", url.Values{"csrf": {tok}}); a.status != http.StatusSeeOther {
		t.Errorf("viewer sign-out: %d", a.status)
	}
}

func basic(name string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+passwords[name]))
}

func TestAPIClientsUseBasicAuthAndActAsThemselves(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	id := f.tickets[0].ID
	if a := c.do(http.MethodGet, "/api/v1/tickets", nil, map[string]string{"Authorization": basic("alice")}); a.status != http.StatusOK ||
		!strings.Contains(a.body, id) {
		t.Fatalf("basic auth list: %d", a.status)
	}
	if a := c.do(http.MethodGet, "/api/v1/tickets", nil, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:nope"))}); a.status != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", a.status)
	}
	body := dispatch.TransitionRequest{To: dispatch.StatusRejected, Version: 1, Reason: "duplicate", Actor: "mallory"}
	// A form-encoded POST is what a cross-site form could send: refused.
	if a := c.do(http.MethodPost, "/api/v1/tickets/"+id+"/transitions", jsonBody(body),
		map[string]string{"Content-Type": "text/plain", "Authorization": basic("alice")}); a.status != http.StatusForbidden {
		t.Errorf("basic auth POST without a JSON content type: %d, want 403", a.status)
	}
	a := c.do(http.MethodPost, "/api/v1/tickets/"+id+"/transitions", jsonBody(body),
		map[string]string{"Content-Type": "application/json", "Authorization": basic("alice"), dispatch.HeaderUser: "mallory"})
	if a.status != http.StatusOK {
		t.Fatalf("basic auth transition: %d %s", a.status, a.body)
	}
	if e := f.audit(id); e[len(e)-1].Actor != "alice" {
		t.Errorf("audited as %q, want alice (not the header nor the body)", e[len(e)-1].Actor)
	}
	if a := c.do(http.MethodGet, "/debug/detections", nil, map[string]string{"Authorization": basic("root")}); a.status != http.StatusOK {
		t.Errorf("admin /debug/: %d", a.status)
	}
	if a := c.do(http.MethodGet, "/metrics", nil, map[string]string{"Authorization": basic("vera")}); a.status != http.StatusOK {
		t.Errorf("/metrics with basic auth: %d", a.status)
	}
}

func TestWithoutUsersThePagesAreOffAndTheRestIsOpen(t *testing.T) {
	f := newFixture(t, func(s *Server) { s.Config.Users = nil })
	c := f.client()
	if a := c.get("/api/v1/tickets"); a.status != http.StatusOK {
		t.Errorf("API without users: %d", a.status)
	}
	if a := c.get("/"); a.status != http.StatusNotFound || !strings.Contains(a.body, "review.users") {
		t.Errorf("review page without users: %d", a.status)
	}
	if a := c.get("/login"); a.status != http.StatusNotFound {
		t.Errorf("sign-in without users: %d", a.status)
	}
}

func TestCamerasPageShowsStateAndSampledFPS(t *testing.T) {
	count := uint64(100)
	// The page's clock stands still: the rate is 60 frames over exactly
	// 30 s however long the page takes on a loaded machine.
	start := time.Now()
	f := newFixture(t, func(s *Server) {
		s.now = func() time.Time { return start }
		cams := s.Cameras
		s.Cameras = func() []CameraStatus {
			out := cams()
			out[0].FramesSampled = count
			return append(out, CameraStatus{ID: "street-3", Name: "Street 3", Up: true, State: "no_decode"},
				CameraStatus{ID: "street-4", Name: "Street 4", Up: true, State: "starting"})
		}
	})
	f.rev.fps.sample(start.Add(-30 * time.Second))
	count = 160 // 60 frames in 30 s
	c := f.client()
	c.signIn("vera")
	a := c.get("/cameras")
	for _, want := range []string{"白云站 1", "在线", "离线", "H264 1280×720 · tcp", "dial tcp: connection refused", "2.0", "秒前", "尚无画面",
		"在线，无法解码", "在线，等待关键帧"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("cameras page lacks %q", want)
		}
	}
	// Media that arrives but never decodes is not "up".
	if row := a.body[strings.Index(a.body, `data-camera="street-3"`):]; strings.Contains(row[:strings.Index(row, "</tr>")], `badge ok`) {
		t.Errorf("a camera whose pictures never decode shows as up")
	}
}

func TestFrameRatesKeepAMinute(t *testing.T) {
	n := 0.0
	fr := newFrameRates(func() map[string]float64 { return map[string]float64{"a": n} })
	t0 := time.Now()
	if _, ok := fr.rates(t0); ok {
		t.Fatal("a rate before any sample")
	}
	for i := 0; i <= 24; i++ { // two minutes at 5 s, 2 fps
		n = float64(i * 10)
		fr.sample(t0.Add(time.Duration(i) * 5 * time.Second))
	}
	if len(fr.samples) > 13 {
		t.Errorf("%d samples kept, want about a minute's", len(fr.samples))
	}
	r, ok := fr.rates(t0.Add(120 * time.Second))
	if !ok || r["a"] < 1.99 || r["a"] > 2.01 {
		t.Errorf("rate %v (ok=%t), want 2", r, ok)
	}
}

func TestCatalogsMatchAndTheDefaultIsChinese(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	if Languages[0] != "zh-CN" {
		t.Errorf("default language %s", Languages[0])
	}
	for _, st := range dispatch.Statuses {
		for _, lang := range Languages {
			if !cats[lang].has("status." + string(st)) {
				t.Errorf("%s: no text for status %s", lang, st)
			}
		}
	}
	for _, r := range RejectReasons {
		if !cats["en"].has("reason." + r) {
			t.Errorf("no text for reason %s", r)
		}
	}
	for _, role := range []string{config.RoleViewer, config.RoleReviewer, config.RoleAdmin} {
		if !cats["zh-CN"].has("role." + role) {
			t.Errorf("no text for role %s", role)
		}
	}
}

func TestCasePageWithoutAManifestStillShowsTheClip(t *testing.T) {
	f := newFixture(t)
	tk := f.tickets[1]
	if err := f.store.Delete(context.Background(), tk.Evidence.Prefix+"manifest.json"); err != nil {
		t.Fatal(err)
	}
	c := f.client()
	c.signIn("alice")
	a := c.get("/tickets/" + tk.ID)
	if a.status != http.StatusOK || !strings.Contains(a.body, `<video id="clip"`) || strings.Contains(a.body, "data-start=") ||
		strings.Contains(a.body, "data-act=") {
		t.Fatalf("case page without a manifest: %d\n%s", a.status, between(a.body, "<video", ">"))
	}
}

// The case page shows each audit entry by its kind, never by guessing from
// the note's words: a note that starts like a reassignment is a note.
func TestCasePageShowsAuditEntriesByTheirKind(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	tok := c.signIn("张伟")
	tk := f.tickets[0]
	if a := c.post("/tickets/"+tk.ID+"/note", url.Values{"csrf": {tok}, "version": {"1"}, "note": {"district meeting at 9"}}); a.status != http.StatusSeeOther {
		t.Fatalf("note: %d", a.status)
	}
	if e := f.audit(tk.ID); e[len(e)-1].Kind != dispatch.AuditNote || e[len(e)-1].Note != "district meeting at 9" {
		t.Fatalf("audit entry %+v", e[len(e)-1])
	}
	audit := between(c.get("/tickets/"+tk.ID).body, `<ol class="audit"`, "</ol>")
	li := between(audit, `<li class="audit-note"`, "</li>")
	if !strings.Contains(li, "备注") || !strings.Contains(li, "district meeting at 9") || strings.Contains(audit, "audit-reassign") {
		t.Errorf("the note is not shown as a note:\n%s", audit)
	}
}
