package dispatch

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// openAPI is the part of api/openapi.yaml the tests compare with the code.
type openAPI struct {
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		Schemas map[string]*schema `yaml:"schemas"`
	} `yaml:"components"`
}

type schema struct {
	Ref        string             `yaml:"$ref"`
	Type       string             `yaml:"type"`
	Required   []string           `yaml:"required"`
	Properties map[string]*schema `yaml:"properties"`
	Items      *schema            `yaml:"items"`
	Enum       []string           `yaml:"enum"`
	Nullable   bool               `yaml:"nullable"`
	// AdditionalProperties is the schema of a map's values (nil when
	// absent or false).
	AdditionalProperties *mapValues `yaml:"additionalProperties"`
}

// mapValues is additionalProperties: a schema, or false (no other keys).
type mapValues struct{ schema *schema }

func (m *mapValues) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return nil
	}
	m.schema = &schema{}
	return n.Decode(m.schema)
}

func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	data, err := os.ReadFile("../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	return &doc
}

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true}

func TestOpenAPIDocumentsEveryRouteAndNothingMore(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		doc := loadOpenAPI(t)
		s := testService(t, testConfig(""), t.TempDir(), nil)
		mux, ok := s.Handler().(*http.ServeMux)
		if !ok {
			t.Fatal("Handler is not a *http.ServeMux: update this test to find its patterns")
		}
		documented := map[string]bool{}
		for path, ops := range doc.Paths {
			for method := range ops {
				if !httpMethods[method] {
					continue // parameters, summary...
				}
				op := strings.ToUpper(method) + " " + path
				documented[op] = true
				req := httptest.NewRequest(strings.ToUpper(method), strings.ReplaceAll(path, "{id}", "01ANYTICKET000000000000000"), nil)
				if _, pattern := mux.Handler(req); pattern != op {
					t.Errorf("documented %s is routed to %q", op, pattern)
				}
			}
		}
		for _, r := range routes {
			if op := r.method + " " + r.path; !documented[op] {
				t.Errorf("%s is served but not documented in api/openapi.yaml", op)
			}
		}
	})
}

// TestResponsesMatchTheirSchemas checks real responses (and a real webhook
// payload) against the document: every field sent is documented, every
// required field is sent, enums hold.
func TestResponsesMatchTheirSchemas(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		doc := loadOpenAPI(t)
		rcv := newReceiver(t, 1)
		s := testService(t, testConfig(rcv.srv.URL), t.TempDir(), nil)
		a := newAPI(t, s)
		run(t, s)

		// A ticket with every optional field: delivered after a failure, then
		// resolved; and one rejected with a reason.
		delivered := mustCreate(t, s, input(1, "garbage_pile", "cam-1", "kerb", 0.9))
		waitFor(t, "dispatched", func() bool {
			cur, _ := s.Ticket(t.Context(), delivered.ID)
			return cur.Status == StatusDispatched
		})
		rejected := mustCreate(t, s, input(2, "illegal_dumping", "cam-2", "market", 0.7))
		if _, err := s.Transition(t.Context(), rejected.ID, TransitionRequest{To: StatusRejected, Reason: ReasonOther, Note: "a parked cart", Version: 1, Actor: "li"}); err != nil {
			t.Fatal(err)
		}
		failed := mustCreate(t, s, input(3, "illegal_dumping", "cam-2", "market", 0.7))
		if _, err := s.store.UpdateTicket(t.Context(), failed.ID, s.now(), func(tk *Ticket) (Change, error) {
			now := time.Now()
			tk.Status, tk.Delivery = StatusDispatchFailed, DeliveryState{Attempts: 9, LastError: "HTTP 500", QueuedAt: &now}
			return Change{}, nil
		}); err != nil {
			t.Fatal(err)
		}

		check := func(what, schemaName, path string) {
			t.Helper()
			code, body := a.do("GET", path, nil, nil)
			if code != http.StatusOK {
				t.Fatalf("%s: %d %s", path, code, body)
			}
			var v any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatal(err)
			}
			for _, p := range matchSchema(doc, &schema{Ref: "#/components/schemas/" + schemaName}, v, what) {
				t.Error(p)
			}
		}
		check("list", "TicketPage", "/api/v1/tickets?limit=2") // two of three: next_cursor is present
		for _, id := range []string{delivered.ID, rejected.ID, failed.ID} {
			check("ticket", "Ticket", "/api/v1/tickets/"+id)
			check("audit", "AuditLog", "/api/v1/tickets/"+id+"/audit")
			check("evidence", "EvidenceList", "/api/v1/tickets/"+id+"/evidence")
		}
		for _, d := range rcv.deliveries() {
			var v any
			if err := json.Unmarshal(d.body, &v); err != nil {
				t.Fatal(err)
			}
			for _, p := range matchSchema(doc, &schema{Ref: "#/components/schemas/WebhookPayload"}, v, "webhook") {
				t.Error(p)
			}
		}
		// Review statistics: a group with a review (numbers, rejected_by) and
		// the same period grouped where some group has none (nulls).
		day := input(2, "", "", "", 0).Violation.ConfirmedAt.Format(time.DateOnly)
		check("stats", "ReviewStats", "/api/v1/stats?from="+day+"&to="+day)
		check("stats by zone", "ReviewStats", "/api/v1/stats?from="+day+"&to="+day+"&by=zone")

		_, body := a.do("GET", "/api/v1/tickets/nope", nil, nil)
		var v any
		_ = json.Unmarshal([]byte(body), &v)
		for _, p := range matchSchema(doc, &schema{Ref: "#/components/schemas/Error"}, v, "error") {
			t.Error(p)
		}

		// The Go types name exactly the schema's properties, so a field added
		// on one side only fails here even if no response above carries it.
		var tk Ticket
		var fields map[string]any
		raw, _ := json.Marshal(struct {
			Ticket
			RejectReason string `json:"reject_reason"`
		}{Ticket: tk})
		_ = json.Unmarshal(raw, &fields)
		var got, want []string
		for k := range fields {
			got = append(got, k)
		}
		for k := range doc.Components.Schemas["Ticket"].Properties {
			want = append(want, k)
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("Ticket JSON fields %v, schema properties %v", got, want)
		}
	})
}

// matchSchema lists how v differs from s.
func matchSchema(doc *openAPI, s *schema, v any, at string) []string {
	for s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		next, ok := doc.Components.Schemas[name]
		if !ok {
			return []string{at + ": unknown schema " + s.Ref}
		}
		s = next
	}
	var problems []string
	switch val := v.(type) {
	case map[string]any:
		if s.Type != "object" {
			return []string{at + ": an object where the schema says " + s.Type}
		}
		for _, r := range s.Required {
			if _, ok := val[r]; !ok {
				problems = append(problems, at+"."+r+": required but missing")
			}
		}
		for k, fv := range val {
			ps, ok := s.Properties[k]
			if !ok && s.AdditionalProperties != nil && s.AdditionalProperties.schema != nil {
				ps, ok = s.AdditionalProperties.schema, true
			}
			if !ok {
				problems = append(problems, at+"."+k+": not in the schema")
				continue
			}
			problems = append(problems, matchSchema(doc, ps, fv, at+"."+k)...)
		}
	case []any:
		if s.Type != "array" || s.Items == nil {
			return []string{at + ": an array where the schema says " + s.Type}
		}
		for _, item := range val {
			problems = append(problems, matchSchema(doc, s.Items, item, at+"[]")...)
		}
	case string:
		if s.Type != "string" {
			problems = append(problems, at+": a string where the schema says "+s.Type)
		}
		if len(s.Enum) > 0 && !contains(s.Enum, val) {
			problems = append(problems, at+": "+val+" is not in the enum")
		}
	case float64:
		if s.Type != "number" && s.Type != "integer" {
			problems = append(problems, at+": a number where the schema says "+s.Type)
		}
	case bool:
		if s.Type != "boolean" {
			problems = append(problems, at+": a boolean where the schema says "+s.Type)
		}
	case nil:
		if !s.Nullable {
			problems = append(problems, at+": null where the schema is not nullable")
		}
	}
	return problems
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
