package dispatch

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"testing"

	"github.com/streetwatch/streetwatch/violation"
)

// leftBehind is violation i confirmed by the left-object signal alone: an
// unclassified object left behind.
func leftBehind(i int, typ, camera, zone string, signals ...string) TicketInput {
	in := input(i, typ, camera, zone, 0.6)
	in.Violation.Class = violation.ClassLeftObject
	in.Violation.Signals = signals
	return in
}

// The class and the signals that confirmed a case reach the store, the
// API's JSON and the webhook payload as they were confirmed; a record
// without signals (made before they existed) is the model's.
func TestTicketCarriesItsClassAndSignalsToTheAPIAndTheWebhook(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		rcv := newReceiver(t, 0)
		s := testService(t, testConfig(rcv.srv.URL), t.TempDir(), nil)
		a := newAPI(t, s)

		left := mustCreate(t, s, leftBehind(1, "garbage_pile", "cam-1", "kerb", SignalLeftObject)) // auto dispatch
		both := mustCreate(t, s, leftBehind(2, "illegal_dumping", "cam-2", "market", SignalModel, SignalLeftObject))
		old := input(3, "illegal_dumping", "cam-2", "market", 0.7)
		old.Violation.Class = violation.ClassGarbageBag
		legacy := mustCreate(t, s, old)

		want := map[string]struct {
			class   string
			signals []string
		}{
			left.ID:   {"left_object", []string{"left_object"}},
			both.ID:   {"left_object", []string{"model", "left_object"}},
			legacy.ID: {"garbage_bag", []string{"model"}},
		}
		for id, w := range want {
			stored, err := s.store.Ticket(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Class != w.class || !slices.Equal(stored.Signals, w.signals) {
				t.Errorf("stored %s: class %q signals %v, want %q %v", id, stored.Class, stored.Signals, w.class, w.signals)
			}
			var raw map[string]any
			if code, body := a.do("GET", "/api/v1/tickets/"+id, nil, &raw); code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", id, code, body)
			}
			got, _ := json.Marshal(raw["signals"])
			wantJSON, _ := json.Marshal(w.signals)
			if raw["class"] != w.class || string(got) != string(wantJSON) {
				t.Errorf("API %s: class %v signals %s, want %q %s", id, raw["class"], got, w.class, wantJSON)
			}
		}

		run(t, s)
		waitFor(t, "the left-object ticket delivered", func() bool { return len(rcv.deliveries()) > 0 })
		d := rcv.deliveries()[0]
		var body struct {
			Ticket map[string]any `json:"ticket"`
		}
		if err := json.Unmarshal(d.body, &body); err != nil {
			t.Fatal(err)
		}
		if d.key != left.ID || body.Ticket["class"] != "left_object" || len(body.Ticket["signals"].([]any)) != 1 || body.Ticket["signals"].([]any)[0] != "left_object" {
			t.Errorf("webhook %s: class %v signals %v, want left_object [left_object]", d.key, body.Ticket["class"], body.Ticket["signals"])
		}
	})
}

// A database of schema 2 (tickets without class or signals) opens; its
// tickets read as the model's with no class, and new ones keep theirs.
func TestSchema2DatabaseOpensAndItsTicketsAreTheModels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tickets.db")
	old, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		sqliteMigrations(t)[0], sqliteMigrations(t)[1],
		`INSERT INTO schema_version VALUES (1, 0), (2, 0)`,
		`INSERT INTO tickets (id, violation_id, type, camera_id, camera_name, zone, lat, lon, address, district, team,
			first_seen, confirmed_at, confidence, model_name, model_version, evidence_prefix, evidence_files,
			manifest_sha256, status, version, created_at, updated_at)
		VALUES ('T1', 'V1', 'illegal_dumping', 'cam', 'Cam', 'kerb', 0, 0, '', 'north', 'crew',
			0, 0, 0.9, 'm', '1', 'p/', '[]', 'ab', 'pending_review', 1, 0, 0)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()

	s := testService(t, testConfig(""), filepath.Dir(path), nil)
	got, err := s.Ticket(t.Context(), "T1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Class != "" || !slices.Equal(got.Signals, []string{SignalModel}) {
		t.Errorf("old ticket: class %q signals %v, want \"\" [model]", got.Class, got.Signals)
	}
	tk := mustCreate(t, s, leftBehind(9, "illegal_dumping", "cam-1", "kerb", SignalLeftObject))
	if got, _ := s.Ticket(t.Context(), tk.ID); got.Class != "left_object" || !slices.Equal(got.Signals, []string{SignalLeftObject}) {
		t.Errorf("new ticket in the migrated database: class %q signals %v", got.Class, got.Signals)
	}
}
