package review

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/violation"
)

// Test users: name → password (role in testUsers).
var passwords = map[string]string{"alice": "alice-pw", "vera": "vera-pw", "root": "root-pw", "张伟": "zhang-pw"}

var (
	usersOnce sync.Once
	users     []config.User
)

// testUsers hashes the passwords once, at bcrypt's lowest cost.
func testUsers() []config.User {
	usersOnce.Do(func() {
		for _, u := range []struct{ name, role string }{{"alice", "reviewer"}, {"vera", "viewer"}, {"root", "admin"}, {"张伟", "reviewer"}} {
			h, err := bcrypt.GenerateFromPassword([]byte(passwords[u.name]), bcrypt.MinCost)
			if err != nil {
				panic(err)
			}
			users = append(users, config.User{Name: u.name, PasswordHash: string(h), Role: u.role})
		}
	})
	return users
}

// fixture is a review server over a real dispatch Service (SQLite) and a
// real local evidence store, on a loopback HTTP server.
type fixture struct {
	t       *testing.T
	url     string
	handler http.Handler // what the test server serves (Handler around the API, evidence, ...)
	rev     *Server
	svc     *dispatch.Service
	store   *evidence.LocalStore
	tickets []*dispatch.Ticket // created newest last
}

func newFixture(t *testing.T, tweak ...func(*Server)) *fixture {
	t.Helper()
	return newDispatchFixture(t, config.Dispatch{Districts: map[string]config.District{"baiyun": {Cameras: []string{"station-1"}}, "tianhe": {}}}, tweak...)
}

// newDispatchFixture is newFixture over a dispatch config of the test's
// own (the page offers its districts).
func newDispatchFixture(t *testing.T, dcfg config.Dispatch, tweak ...func(*Server)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	svc, err := dispatch.Open(ctx, dcfg, dir, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	store := &evidence.LocalStore{Dir: t.TempDir(), SignKey: evidence.NewSignKey(), BaseURL: "/evidence/"}
	f := &fixture{t: t, svc: svc, store: store}

	base := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC) // 14:00 in Shanghai
	for i, in := range []dispatch.TicketInput{
		{Violation: violation.Record{Type: violation.IllegalDumping, Camera: "station-1", Zone: "pavement"}, CameraName: "白云站 1", Address: "白云区 同和街 12 号"},
		{Violation: violation.Record{Type: violation.StreetVending, Camera: "street-2"}, CameraName: "Street 2"},
		{Violation: violation.Record{Type: violation.GarbagePile, Camera: "station-1", Zone: "pavement"}, CameraName: "白云站 1"},
	} {
		v := &in.Violation
		v.ID = "01VIOLATION00000000000000" + string(rune('A'+i))
		v.FirstSeen = base.Add(time.Duration(i) * time.Hour)
		v.ConfirmedAt = v.FirstSeen.Add(time.Minute)
		v.Confidence = 0.82
		in.ModelName, in.ModelVersion = "streetwatch-demo", "1"
		in.EvidencePrefix = "2026/11/25/" + v.Camera + "/" + v.ID + "/"
		in.EvidenceFiles = f.putEvidence(in)
		tk, _, err := svc.CreateTicket(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		f.tickets = append(f.tickets, tk)
		time.Sleep(2 * time.Millisecond) // distinct, ordered ULIDs
	}

	f.rev = &Server{
		Config:    config.Review{Users: testUsers(), SessionTTL: config.Duration(time.Hour), Timezone: "Asia/Shanghai"},
		Tickets:   Service(svc),
		Districts: slices.Sorted(maps.Keys(dcfg.Districts)),
		Cameras: func() []CameraStatus {
			return []CameraStatus{{ID: "station-1", Name: "白云站 1", Up: true, Codec: "H264", Width: 1280, Height: 720, Transport: "tcp",
				LastFrame: time.Now().Add(-2 * time.Second), FramesSampled: 120}, {ID: "street-2", Name: "Street 2", LastError: "dial tcp: connection refused"}}
		},
		Evidence:   store,
		LinkExpiry: time.Hour,
		Registerer: prometheus.NewRegistry(),
		Log:        slog.New(slog.DiscardHandler),
	}
	for _, fn := range tweak {
		fn(f.rev)
	}
	if err := f.rev.Initialize(); err != nil {
		t.Fatal(err)
	}
	inner := http.NewServeMux()
	inner.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	inner.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "# metrics") })
	inner.HandleFunc("GET /debug/detections", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "{}") })
	inner.Handle("/api/v1/", svc.Handler())
	inner.Handle("GET /evidence/", store.Handler())
	f.handler = f.rev.Handler(inner)
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// putEvidence stores a small bundle (a manifest with the clip's time
// range, a snapshot, a fake clip) and returns its file names.
func (f *fixture) putEvidence(in dispatch.TicketInput) []string {
	ctx := context.Background()
	v := in.Violation
	v.Class = "garbage_bag"
	m := &evidence.Manifest{Version: evidence.ManifestVersion,
		Violation: evidence.ViolationRecord{Record: v},
		Camera:    evidence.CameraRecord{ID: v.Camera},
		Clip:      &evidence.ClipRecord{Codec: "H264", Start: v.FirstSeen.Add(-10 * time.Second), End: v.ConfirmedAt.Add(10 * time.Second), Duration: 80}}
	files := map[string][]byte{"clip.mp4": []byte("not really an mp4"), "snapshot_annotated.jpg": []byte("\xff\xd8 jpeg")}
	for name, data := range files {
		if err := f.store.Put(ctx, in.EvidencePrefix+name, bytes.NewReader(data), int64(len(data)), evidence.ContentType(name)); err != nil {
			f.t.Fatal(err)
		}
	}
	raw, err := m.Encode(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.Put(ctx, in.EvidencePrefix+evidence.ManifestName, bytes.NewReader(raw), int64(len(raw)), "application/json"); err != nil {
		f.t.Fatal(err)
	}
	return []string{"clip.mp4", "snapshot_annotated.jpg", evidence.ManifestName}
}

// client is a browser-like HTTP client: a cookie jar, no redirects
// followed, so tests see each answer.
type client struct {
	f    *fixture
	http *http.Client
}

func (f *fixture) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{f: f, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path string, body io.Reader, header map[string]string) answer {
	c.f.t.Helper()
	req, err := http.NewRequest(method, c.f.url+path, body)
	if err != nil {
		c.f.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *client) get(path string) answer { return c.do(http.MethodGet, path, nil, nil) }

func (c *client) post(path string, form url.Values) answer {
	return c.do(http.MethodPost, path, strings.NewReader(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token in a page.
func csrf(t *testing.T, page string) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// signIn signs in through the form and returns the session's CSRF token.
func (c *client) signIn(name string) string {
	t := c.f.t
	t.Helper()
	login := c.get("/login")
	a := c.post("/login", url.Values{"csrf": {csrf(t, login.body)}, "name": {name}, "password": {passwords[name]}, "next": {"/"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/" {
		t.Fatalf("sign in as %s: %d %s\n%s", name, a.status, a.header.Get("Location"), a.body)
	}
	return csrf(t, c.get("/").body)
}

func (f *fixture) audit(id string) []dispatch.AuditEntry {
	f.t.Helper()
	entries, err := f.svc.Audit(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return entries
}

func (f *fixture) ticket(id string) *dispatch.Ticket {
	f.t.Helper()
	tk, err := f.svc.Ticket(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return tk
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}
