package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
)

func TestAPIListFiltersAndPagesWithACursor(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		a := newAPI(t, s)
		// 12 tickets: cameras alternate, every third is a street_vending
		// (auto-confirmed at 0.9), the rest are dumping (pending review).
		var all []*Ticket
		for i := range 12 {
			typ := "illegal_dumping"
			if i%3 == 0 {
				typ = "street_vending"
			}
			all = append(all, mustCreate(t, s, input(i, typ, fmt.Sprintf("cam-%d", 1+i%2), "kerb", 0.9)))
		}

		// Pages of 5 cover everything once, newest first.
		var ids []string
		cursor, pages := "", 0
		for {
			var page TicketPage
			q := "/api/v1/tickets?limit=5"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			if code, body := a.do("GET", q, nil, &page); code != http.StatusOK {
				t.Fatalf("%s: %d %s", q, code, body)
			}
			pages++
			for _, tk := range page.Tickets {
				ids = append(ids, tk.ID)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if pages != 3 || len(ids) != 12 {
			t.Fatalf("%d pages with %d tickets, want 3 and 12", pages, len(ids))
		}
		seen := map[string]bool{}
		for i, id := range ids {
			if seen[id] || (i > 0 && ids[i-1] <= id) {
				t.Fatalf("ids not unique and newest first: %v", ids)
			}
			seen[id] = true
		}

		count := func(q string) int {
			t.Helper()
			var page TicketPage
			if code, body := a.do("GET", "/api/v1/tickets?limit=100&"+q, nil, &page); code != http.StatusOK {
				t.Fatalf("%s: %d %s", q, code, body)
			}
			return len(page.Tickets)
		}
		from := all[4].ConfirmedAt.Format(time.RFC3339)
		to := all[8].ConfirmedAt.Format(time.RFC3339)
		for q, want := range map[string]int{
			"":                                        12,
			"status=confirmed":                        4,
			"status=pending_review":                   8,
			"status=pending_review,confirmed":         12,
			"status=dispatched":                       0,
			"type=street_vending":                     4,
			"camera=cam-1":                            6,
			"camera=cam-2&type=illegal_dumping":       4,
			"district=north":                          6, // cam-1 is in north
			"from=" + from:                            8,
			"to=" + to:                                8,
			"from=" + from + "&to=" + to:              4,
			"from=" + from + "&status=confirmed":      2,
			"camera=cam-9":                            0,
			"type=garbage_pile&status=dispatched":     0,
			"camera=cam-1&from=" + from + "&to=" + to: 2,
		} {
			if got := count(q); got != want {
				t.Errorf("?%s: %d tickets, want %d", q, got, want)
			}
		}
		for _, q := range []string{"status=open", "from=yesterday", "limit=0", "limit=501", "cursor=!!!", "cursor=eA", "camera_id=cam-1"} {
			if code, body := a.do("GET", "/api/v1/tickets?"+q, nil, nil); code != http.StatusBadRequest || !strings.Contains(body, `"code":"bad_request"`) {
				t.Errorf("?%s: %d %s, want 400", q, code, body)
			}
		}
	})
}

func TestAPITransitionAnswers(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		a := newAPI(t, s)
		tk := mustCreate(t, s, input(1, "illegal_dumping", "cam-1", "kerb", 0.9))
		path := "/api/v1/tickets/" + tk.ID + "/transitions"
		tests := []struct {
			name   string
			body   any
			header []string
			want   int
			code   string
		}{
			{"unknown ticket", nil, nil, http.StatusNotFound, "not_found"},
			{"not JSON", "confirm please", nil, http.StatusBadRequest, "bad_request"},
			{"unknown field", map[string]any{"to": "confirmed", "version": 1, "actor": "li", "priority": "high"}, nil, http.StatusBadRequest, "bad_request"},
			{"no version", map[string]any{"to": "confirmed", "actor": "li"}, nil, http.StatusBadRequest, "bad_request"},
			{"no actor", map[string]any{"to": "confirmed", "version": 1}, nil, http.StatusBadRequest, "bad_request"},
			{"reject without reason", map[string]any{"to": "rejected", "version": 1, "actor": "li"}, nil, http.StatusBadRequest, "bad_request"},
			{"illegal", map[string]any{"to": "resolved", "version": 1, "actor": "li"}, nil, http.StatusUnprocessableEntity, "illegal_transition"},
			{"stale version", map[string]any{"to": "confirmed", "version": 7, "actor": "li"}, nil, http.StatusConflict, "conflict"},
			{"confirm, actor from header", map[string]any{"to": "confirmed", "version": 1, "actor": "body-name"}, []string{HeaderUser, "reviewer-wang"}, http.StatusOK, ""},
			{"same change again is now stale", map[string]any{"to": "confirmed", "version": 1, "actor": "li"}, nil, http.StatusConflict, "conflict"},
		}
		for _, tc := range tests {
			p := path
			if tc.name == "unknown ticket" {
				p, tc.body = "/api/v1/tickets/01NOSUCHTICKET000000000000/transitions", map[string]any{"to": "confirmed", "version": 1, "actor": "li"}
			}
			code, body := a.do("POST", p, tc.body, nil, tc.header...)
			if code != tc.want || (tc.code != "" && !strings.Contains(body, `"code":"`+tc.code+`"`)) {
				t.Errorf("%s: %d %s, want %d %s", tc.name, code, body, tc.want, tc.code)
			}
		}
		audit, _ := s.Audit(t.Context(), tk.ID)
		if last := audit[len(audit)-1]; last.Actor != "reviewer-wang" || last.To != StatusConfirmed {
			t.Errorf("last audit entry %+v, want confirmed by the header's reviewer-wang", last)
		}
		if code, _ := a.do("GET", "/api/v1/tickets/01NOSUCHTICKET000000000000", nil, nil); code != http.StatusNotFound {
			t.Errorf("GET unknown ticket: %d", code)
		}
		if code, _ := a.do("GET", "/api/v1/tickets/01NOSUCHTICKET000000000000/audit", nil, nil); code != http.StatusNotFound {
			t.Errorf("GET audit of unknown ticket: %d", code)
		}
		var kept Ticket
		if code, body := a.do("POST", "/api/v1/tickets/"+tk.ID+"/keep", map[string]any{"keep": true, "version": 2, "actor": "li"}, &kept); code != http.StatusOK || !kept.Keep {
			t.Errorf("keep: %d %s", code, body)
		}
		if code, _ := a.do("POST", "/api/v1/tickets/"+tk.ID+"/keep", map[string]any{"version": 3, "actor": "li"}, nil); code != http.StatusBadRequest {
			t.Errorf("keep without keep: %d, want 400", code)
		}
	})
}

func TestAPIEvidenceGivesFreshLinksEachTime(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		s := testService(t, testConfig(""), t.TempDir(), nil)
		a := newAPI(t, s)
		tk := mustCreate(t, s, input(1, "illegal_dumping", "cam-1", "kerb", 0.9))
		var mu sync.Mutex
		n := 0
		s.EvidenceURL = func(_ context.Context, key string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			n++
			return fmt.Sprintf("http://evidence.invalid/%s?n=%d", key, n), nil
		}
		var first, second EvidenceList
		a.do("GET", "/api/v1/tickets/"+tk.ID+"/evidence", nil, &first)
		a.do("GET", "/api/v1/tickets/"+tk.ID+"/evidence", nil, &second)
		if len(first.Files) != 3 || first.ManifestSHA256 != "ab12" || first.Files[0].Key != tk.Evidence.Prefix+"clip.mp4" {
			t.Fatalf("evidence %+v", first)
		}
		if first.Files[0].URL == second.Files[0].URL {
			t.Errorf("the same link twice: %s", first.Files[0].URL)
		}
		s.EvidenceURL = func(context.Context, string) (string, error) { return "", errors.New("store down") }
		if code, _ := a.do("GET", "/api/v1/tickets/"+tk.ID+"/evidence", nil, nil); code != http.StatusBadGateway {
			t.Errorf("store down: %d, want 502", code)
		}
		s.EvidenceURL = nil
		if code, _ := a.do("GET", "/api/v1/tickets/"+tk.ID+"/evidence", nil, nil); code != http.StatusServiceUnavailable {
			t.Errorf("no store: %d, want 503", code)
		}
	})
}

func TestTheSecretIsNeverInTheAPIOrTheLog(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		rcv := newReceiver(t, 2)
		cfg := testConfig(rcv.srv.URL + "/hook?token=url-token-xyz")
		cfg.Webhook.MaxAge = config.Duration(time.Minute)
		dir := t.TempDir()
		// The test server trusts every connection, so a password in the
		// URL is accepted and must still appear nowhere.
		cfg.Database = strings.Replace(testDatabase(t, dir), "postgres@", "postgres:db-password-xyz@", 1)
		var logs bytes.Buffer
		var logMu sync.Mutex
		s, err := Open(t.Context(), cfg, dir, nil, slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		s.EvidenceURL = func(_ context.Context, key string) (string, error) { return "http://evidence.invalid/" + key, nil }
		a := newAPI(t, s)
		tk := mustCreate(t, s, input(1, "garbage_pile", "cam-1", "kerb", 0.9))
		run(t, s)
		waitFor(t, "dispatched", func() bool {
			cur, _ := s.Ticket(t.Context(), tk.ID)
			return cur.Status == StatusDispatched
		})
		var out []string
		for _, p := range []string{"", "/" + tk.ID, "/" + tk.ID + "/audit", "/" + tk.ID + "/evidence"} {
			_, body := a.do("GET", "/api/v1/tickets"+p, nil, nil)
			out = append(out, body)
		}
		logMu.Lock()
		out = append(out, logs.String())
		logMu.Unlock()
		for _, text := range out {
			for _, secret := range []string{testSecret, "url-token-xyz", "db-password-xyz"} {
				if strings.Contains(text, secret) {
					t.Errorf("%q shown in %s", secret, text)
				}
			}
		}
		if !strings.Contains(out[len(out)-1], "webhook delivery failed") {
			t.Error("the failed attempts were not logged")
		}
		if onPostgres(t) && !strings.Contains(out[len(out)-1], "postgres:xxxxx@") {
			t.Error("the database's address was not logged, password redacted")
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
