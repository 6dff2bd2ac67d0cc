package dispatch

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/pgtest"
	"github.com/streetwatch/streetwatch/violation"
)

// The PostgreSQL server the "postgres" subtests share stops when the
// tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Main(m)) }

// eachStore runs test once per ticket store, as subtests "sqlite" and
// "postgres": the tests that build a store (testService, openStore) get
// the one their subtest names.
func eachStore(t *testing.T, test func(t *testing.T)) {
	t.Helper()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, test)
	}
}

// onPostgres reports whether t runs in (or under) eachStore's "postgres"
// subtest.
func onPostgres(t *testing.T) bool {
	_, sub, _ := strings.Cut(t.Name(), "/")
	return sub == "postgres" || strings.HasPrefix(sub, "postgres/")
}

// pgDatabases are the PostgreSQL databases standing for the SQLite
// folders (or files) of running tests, so that a test reopening its
// folder (a restart) reopens its database.
var pgDatabases sync.Map // dir → URL

// testDatabase is the dispatch.database a test's store in dir uses: ""
// (SQLite in dir), or under eachStore's "postgres" a database of the
// test's own, the same one each time for the same dir.
func testDatabase(t *testing.T, dir string) string {
	t.Helper()
	if !onPostgres(t) {
		return ""
	}
	if url, ok := pgDatabases.Load(dir); ok {
		return url.(string)
	}
	url := pgtest.Start(t).NewDatabase(t)
	pgDatabases.Store(dir, url)
	t.Cleanup(func() { pgDatabases.Delete(dir) })
	return url
}

// openStore opens the store of the test's kind (see eachStore) at the
// SQLite path, or the PostgreSQL database standing for it.
func openStore(t *testing.T, path string) (*sqlStore, error) {
	t.Helper()
	if url := testDatabase(t, path); url != "" {
		pg, err := OpenPostgres(t.Context(), url)
		if err != nil {
			return nil, err
		}
		return pg.sqlStore, nil
	}
	lite, err := OpenSQLite(t.Context(), path)
	if err != nil {
		return nil, err
	}
	return lite.sqlStore, nil
}

const testSecret = "test-secret-0123456789abcdef"

// testConfig is a dispatch config with a webhook at url and backoffs short
// enough for tests.
func testConfig(url string) config.Dispatch {
	return config.Dispatch{
		Review: map[string]config.ReviewPolicy{
			"street_vending": {Mode: config.ReviewAuto, MinScore: 0.8},
			"garbage_pile":   {Mode: config.ReviewAuto},
		},
		Webhook: config.Webhook{
			URL: url, Secret: testSecret, Timeout: config.Duration(5 * time.Second),
			MaxAge:  config.Duration(time.Minute),
			Backoff: config.Backoff{Min: config.Duration(10 * time.Millisecond), Max: config.Duration(40 * time.Millisecond)},
		},
		Teams: map[string]string{"garbage_pile": "sanitation", "street_vending": "enforcement", "illegal_dumping": "enforcement"},
		Districts: map[string]config.District{
			"north": {Cameras: []string{"cam-1"}, Team: "north-team", Teams: map[string]string{"street_vending": "north-chengguan"}},
			"east":  {Zones: []string{"cam-2/market"}},
		},
	}
}

// testStore is a new store of the test's kind, closed when it ends.
func testStore(t *testing.T) *sqlStore {
	t.Helper()
	db, err := openStore(t, filepath.Join(t.TempDir(), "tickets.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testService opens a Service on the test's database in dir (see
// eachStore); it is closed when the test ends (unless the test closes it
// first).
func testService(t *testing.T, cfg config.Dispatch, dir string, reg prometheus.Registerer) *Service {
	t.Helper()
	if cfg.Database == "" {
		cfg.Database = testDatabase(t, dir)
	}
	s, err := Open(t.Context(), cfg, dir, reg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, pg := s.store.(*Postgres); pg != onPostgres(t) {
		t.Fatalf("store %T in test %s", s.store, t.Name())
	}
	s.EvidenceURL = func(_ context.Context, key string) (string, error) {
		return "http://evidence.invalid/" + key + "?sig=fresh", nil
	}
	t.Cleanup(func() { s.Close() }) // closing twice is harmless
	return s
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// run starts the sender; it is stopped (and waited for) by the returned
// func or when the test ends.
func run(t *testing.T, s *Service) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

var baseTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// input is violation i of a type on a camera.
func input(i int, typ, camera, zone string, confidence float32) TicketInput {
	id := fmt.Sprintf("01VIOLATION%015d", i)
	at := baseTime.Add(time.Duration(i) * time.Minute)
	return TicketInput{
		Violation: violation.Record{ID: id, Type: violation.Type(typ), Camera: camera, Zone: zone,
			FirstSeen: at.Add(-time.Minute), ConfirmedAt: at, Confidence: confidence},
		CameraName: "Camera " + camera, Lat: 23.2, Lon: 113.27, Address: "白云区 石井街道",
		ModelName: "streetwatch-demo", ModelVersion: "1.0",
		EvidencePrefix: "2026/01/02/" + camera + "/" + id + "/",
		EvidenceFiles:  []string{"clip.mp4", "snapshot.jpg", "manifest.json"},
		ManifestSHA256: "ab12",
	}
}

func mustCreate(t *testing.T, s *Service, in TicketInput) *Ticket {
	t.Helper()
	tk, _, err := s.CreateTicket(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// force puts a ticket in a status directly in the store (test setup).
func force(t *testing.T, s *Service, id string, st Status) *Ticket {
	t.Helper()
	tk, err := s.store.UpdateTicket(t.Context(), id, s.now(), func(tk *Ticket) (Change, error) {
		tk.Status = st
		return Change{Dequeue: true}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// waitFor polls cond until it holds (failing the test after 10 s). Used
// only to observe a state the code under test reaches on its own.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// delivery is one request the receiver saw.
type delivery struct {
	key, timestamp, signature string
	body                      []byte
	payload                   WebhookPayload
	status                    int
}

// receiver is a work-order system on 127.0.0.1 that answers the first
// failFirst requests with failStatus, then 200 (or keeps failing while
// down is set).
type receiver struct {
	t          *testing.T
	srv        *httptest.Server
	mu         sync.Mutex
	failFirst  int
	failStatus int
	down       bool
	// hold, when set, runs before each answer (a delivery in flight).
	hold     func()
	seen     []delivery
	requests chan struct{}
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	r := &receiver{t: t, failFirst: failFirst, failStatus: http.StatusServiceUnavailable, requests: make(chan struct{}, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	d := delivery{key: req.Header.Get(HeaderIdempotencyKey), timestamp: req.Header.Get(HeaderTimestamp),
		signature: req.Header.Get(HeaderSignature), body: body}
	if err := json.Unmarshal(body, &d.payload); err != nil {
		r.t.Errorf("receiver: payload is not JSON: %v", err)
	}
	r.mu.Lock()
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		hold()
	}
	r.mu.Lock()
	d.status = http.StatusOK
	if r.down || len(r.seen) < r.failFirst {
		d.status = r.failStatus
	}
	r.seen = append(r.seen, d)
	r.mu.Unlock()
	w.WriteHeader(d.status)
	fmt.Fprintf(w, `{"status":%d}`, d.status)
	r.requests <- struct{}{}
}

func (r *receiver) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.seen...)
}

// verify checks a delivery's signature as a receiver would.
func verify(secret string, d delivery) error {
	if _, err := strconv.ParseInt(d.timestamp, 10, 64); err != nil {
		return fmt.Errorf("timestamp %q: %v", d.timestamp, err)
	}
	want := Sign([]byte(secret), d.timestamp, d.body)
	if !hmac.Equal([]byte(want), []byte(d.signature)) {
		return fmt.Errorf("signature %q, want %q", d.signature, want)
	}
	return nil
}

// api calls the Service's HTTP API through a real server on 127.0.0.1.
type api struct {
	t   *testing.T
	srv *httptest.Server
}

func newAPI(t *testing.T, s *Service) *api {
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &api{t: t, srv: srv}
}

// do sends a request (body marshalled as JSON unless nil) and decodes the
// answer into out (unless nil); it returns the status and raw body.
func (a *api) do(method, path string, body any, out any, header ...string) (int, string) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

// sqliteMigrations are the SQLite migrations' SQL, in order: tests build
// a database of an old schema from the first few, as StreetWatch's own
// runner left it before goose.
func sqliteMigrations(t *testing.T) []string {
	t.Helper()
	return migrationSQL(t, "sqlite")
}

// migrationSQL is one dialect's migrations' SQL, in order.
func migrationSQL(t *testing.T, dialect string) []string {
	t.Helper()
	names, err := fs.Glob(migrationFiles, "migrations/"+dialect+"/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("%s migrations: %v %v", dialect, names, err)
	}
	out := make([]string, len(names))
	for i, name := range names { // Glob sorts, and the names start with the version
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	return out
}
