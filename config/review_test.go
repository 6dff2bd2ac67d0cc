package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A bcrypt hash of "correct horse" (cost 4: tests only).
const testHash = "$2a$04$MsFKfd/Pf64UF8ScAV0KIeknG7gFW275N2DgByviAZagmGCK2J//u"

const reviewCamera = `
cameras:
  - id: cam
    url: rtsp://127.0.0.1/cam
`

func TestReviewSectionParsesWithDefaultsAndHashFromTheEnvironment(t *testing.T) {
	t.Setenv("SW_OPS_HASH", testHash)
	cfg, err := Parse([]byte(reviewCamera + `
http: {listen: "0.0.0.0:8080"}
review:
  users:
    - {name: 张伟, password_hash: "` + testHash + `", role: reviewer}
    - {name: ops, password_hash: "${SW_OPS_HASH}", role: admin}
    - {name: wall-screen, password_hash: "` + testHash + `"}
  secure_cookies: true
`))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Review
	if r.SessionTTL.D() != 12*time.Hour || r.Timezone != "Asia/Shanghai" || !r.SecureCookies || r.PublicMetrics {
		t.Errorf("defaults: %+v", r)
	}
	if r.Users[1].PasswordHash != testHash {
		t.Errorf("${SW_OPS_HASH} not expanded: %q", r.Users[1].PasswordHash)
	}
	if r.Users[0].Name != "张伟" || r.Users[0].Role != RoleReviewer || r.Users[2].Role != RoleViewer {
		t.Errorf("users: %v (role defaults to viewer)", r.Users)
	}
	if s := fmt.Sprint(r.Users); strings.Contains(s, "$2a$") {
		t.Errorf("printing users shows the hash: %s", s)
	}
}

func TestReviewSectionErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"no users on a public address", "http: {listen: ':8080'}\n",
			"review.users: at least one user is needed when http.listen (:8080) is not a loopback address"},
		{"bad hash", "review: {users: [{name: a, password_hash: secret}]}\n",
			"review.users[0].password_hash: not a bcrypt hash"},
		{"unset variable", "review: {users: [{name: a, password_hash: '${SW_NOPE_HASH}'}]}\n",
			"review.users[0].password_hash: environment variable SW_NOPE_HASH is not set"},
		{"role", "review: {users: [{name: a, password_hash: '" + testHash + "', role: boss}]}\n",
			`review.users[0].role: must be viewer, reviewer or admin (got "boss")`},
		{"colon in name", "review: {users: [{name: 'a:b', password_hash: '" + testHash + "'}]}\n",
			"review.users[0].name: must not contain ':'"},
		{"duplicate", "review: {users: [{name: a, password_hash: '" + testHash + "'}, {name: a, password_hash: '" + testHash + "'}]}\n",
			`review.users[1].name: "a" is already used by review.users[0]`},
		{"ttl", "review: {session_ttl: 1m}\n", "review.session_ttl: must be between 5m and 168h (got 1m0s)"},
		{"timezone", "review: {timezone: Mars/Olympus}\n", `review.timezone: unknown time zone "Mars/Olympus"`},
		{"unknown key", "review: {users: [{name: a, password: x}]}\n", "review.users[0].password: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(reviewCamera + tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoopbackAddressesNeedNoUsers(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true, "127.1.2.3:80": true,
		":8080": false, "0.0.0.0:8080": false, "10.0.0.5:8080": false, "example.gov:80": false, "nonsense": false,
	} {
		if got := IsLoopback(listen); got != want {
			t.Errorf("IsLoopback(%q) = %t, want %t", listen, got, want)
		}
	}
	if _, err := Parse([]byte(reviewCamera + "http: {listen: '127.0.0.1:8080'}\n")); err != nil {
		t.Fatalf("loopback without users: %v", err)
	}
}
