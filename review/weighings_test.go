package review

import (
	"net/http"
	"strings"
	"testing"

	"github.com/streetwatch/streetwatch/config"
)

// Weighbridges post weighing records with their own credential, not a
// reviewer's session: the gate lets POST /api/v1/weighings through to the
// API (which checks the source's token), and nothing else.
func TestWeighingPostsPassTheGateOnTheirOwnCredentialAndListingNeedsSignIn(t *testing.T) {
	const token = "bridge-07-token-0123456789"
	f := newFixture(t)
	f.svc.Stations = []config.Station{{ID: "baiyun-07"}}
	f.svc.WeighingSources = []config.WeighingSource{{ID: "bridge-07", Token: token}}
	c := f.client()
	rec := `{"record_id":"W-1","station":"baiyun-07","time":"2026-11-25T08:00:00+08:00","net_kg":8200}`
	jsonType := map[string]string{"Content-Type": "application/json"}
	with := func(kv ...string) map[string]string {
		h := map[string]string{"Content-Type": "application/json"}
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}

	if a := c.do(http.MethodPost, WeighingsPath, strings.NewReader(rec), jsonType); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "no credential") {
		t.Errorf("no credential: %d %s, want the API's 401", a.status, a.body)
	}
	// A reviewer's basic auth is not a weighing source's credential.
	if a := c.do(http.MethodPost, WeighingsPath, strings.NewReader(rec), with("Authorization", basic("alice"))); a.status != http.StatusUnauthorized {
		t.Errorf("reviewer's basic auth: %d %s, want 401", a.status, a.body)
	}
	// Nor is a session (and no CSRF token is asked for).
	c.signIn("alice")
	if a := c.do(http.MethodPost, WeighingsPath, strings.NewReader(rec), jsonType); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "no credential") {
		t.Errorf("signed-in reviewer without a token: %d %s, want 401", a.status, a.body)
	}
	other := f.client()
	if a := other.do(http.MethodPost, WeighingsPath, strings.NewReader(rec), with("Authorization", "Bearer "+token)); a.status != http.StatusCreated {
		t.Fatalf("source token, no session: %d %s, want 201", a.status, a.body)
	}
	// The exemption is for that one call: other API changes still need a user.
	if a := other.do(http.MethodPost, "/api/v1/tickets/"+f.tickets[0].ID+"/keep", strings.NewReader(`{"keep":true,"version":1}`),
		with("Authorization", "Bearer "+token)); a.status != http.StatusUnauthorized {
		t.Errorf("source token on another API call: %d, want 401", a.status)
	}
	list := WeighingsPath + "?station=baiyun-07&from=2026-11-25T00:00:00%2B08:00&to=2026-11-26T00:00:00%2B08:00"
	if a := other.do(http.MethodGet, list, nil, with("Authorization", "Bearer "+token)); a.status != http.StatusUnauthorized {
		t.Errorf("listing with a source token: %d, want 401 (listing is for signed-in users)", a.status)
	}
	if a := c.get(list); a.status != http.StatusOK || !strings.Contains(a.body, `"record_id":"W-1"`) {
		t.Errorf("signed-in listing: %d %s", a.status, a.body)
	}
	if a := f.client().get(list); a.status != http.StatusUnauthorized {
		t.Errorf("signed-out listing: %d, want 401", a.status)
	}
}
