package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const dispatchCameras = `
cameras:
  - id: station-01
    url: rtsp://127.0.0.1/1
  - id: station-03
    url: rtsp://127.0.0.1/3
    zones:
      - name: kerb
        polygon: [[0, 0], [1, 0], [1, 1]]
`

func TestDispatchSectionParsesWithDefaultsAndSecretFromTheEnvironment(t *testing.T) {
	t.Setenv("SW_HOOK_SECRET", "s3cret-from-env-0123456789")
	t.Setenv("SW_NORTH_HOST", "north.example.gov")
	cfg, err := Parse([]byte(dispatchCameras + `
http: {public_url: "https://streetwatch.example.gov"}
dispatch:
  review:
    illegal_dumping: required
    garbage_pile: auto
    street_vending: {mode: auto, min_score: 0.8}
  webhook:
    url: https://workorders.example.gov/hooks/streetwatch
    secret: ${SW_HOOK_SECRET}
  teams: {garbage_pile: sanitation}
  districts:
    baiyun-north:
      cameras: [station-01]
      zones: [station-03/kerb]
      team: north-sanitation
      teams: {street_vending: north-chengguan}
      webhook_url: https://${SW_NORTH_HOST}/hooks
`))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Dispatch
	if d.Webhook.Secret != "s3cret-from-env-0123456789" {
		t.Errorf("secret %q: ${SW_HOOK_SECRET} not expanded", d.Webhook.Secret)
	}
	if got := d.Districts["baiyun-north"].WebhookURL; got != "https://north.example.gov/hooks" {
		t.Errorf("district webhook_url %q", got)
	}
	if d.Webhook.Timeout.D() != 10*time.Second || d.Webhook.MaxAge.D() != 24*time.Hour ||
		d.Webhook.Backoff.Min.D() != time.Second || d.Webhook.Backoff.Max.D() != 5*time.Minute {
		t.Errorf("webhook defaults: %+v", d.Webhook.Backoff)
	}
	if d.Database != "" {
		t.Errorf("database %q: empty means <state_dir>/tickets.db", d.Database)
	}
	for typ, want := range map[string]ReviewPolicy{
		"illegal_dumping": {Mode: ReviewRequired},
		"garbage_pile":    {Mode: ReviewAuto},
		"street_vending":  {Mode: ReviewAuto, MinScore: 0.8},
	} {
		if got := d.Policy(typ); got != want {
			t.Errorf("%s policy %+v, want %+v", typ, got, want)
		}
	}
	if strings.Contains(fmt.Sprint(d.Webhook), "s3cret") {
		t.Errorf("the webhook prints its secret: %s", d.Webhook)
	}
}

func TestDispatchSectionIsOptional(t *testing.T) {
	cfg, err := Parse([]byte(dispatchCameras))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Dispatch.Policy("street_vending"); p.Mode != ReviewRequired {
		t.Errorf("default policy %+v, want required", p)
	}
}

func TestBrokenDispatchConfigsNameTheField(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "dispatch:\n  webhooks: {}\n", "dispatch.webhooks: unknown field (line 11)"},
		{"review type", "dispatch:\n  review: {dumping: auto}\n", "dispatch.review.dumping: not a violation type"},
		{"review mode", "dispatch:\n  review: {garbage_pile: sometimes}\n", `dispatch.review.garbage_pile.mode: must be required or auto (got "sometimes")`},
		{"review unknown key", "dispatch:\n  review: {garbage_pile: {mode: auto, score: 1}}\n", `dispatch.review.garbage_pile: unknown field "score" (expected mode, min_score)`},
		{"review score range", "dispatch:\n  review: {garbage_pile: {mode: auto, min_score: 80}}\n", "dispatch.review.garbage_pile.min_score: must be between 0 and 1 (got 80)"},
		{"score without auto", "dispatch:\n  review: {garbage_pile: {mode: required, min_score: 0.5}}\n", "dispatch.review.garbage_pile.min_score: only applies to mode auto"},
		{"webhook scheme", "dispatch:\n  webhook: {url: 'ftp://h/x', secret: 0123456789abcdef}\n", "dispatch.webhook.url: must be http(s)://host[:port]/path"},
		{"webhook credentials", "dispatch:\n  webhook: {url: 'https://u:p@h/x', secret: 0123456789abcdef}\n", "dispatch.webhook.url: must not carry credentials"},
		{"webhook without secret", "dispatch:\n  webhook: {url: 'https://h/x'}\n", "dispatch.webhook.secret: required with dispatch.webhook.url"},
		{"short secret", "dispatch:\n  webhook: {url: 'https://h/x', secret: short}\n", "dispatch.webhook.secret: must be at least 16 characters (got 5)"},
		{"unset secret variable", "dispatch:\n  webhook: {url: 'https://h/x', secret: '${SW_NOT_SET_EVER}'}\n", "dispatch.webhook.secret: environment variable SW_NOT_SET_EVER is not set"},
		{"backoff order", "dispatch:\n  webhook:\n    backoff: {min: 10s, max: 1s}\n", "dispatch.webhook.backoff.max: must be between backoff.min and 24h (got 1s)"},
		{"max age", "dispatch:\n  webhook:\n    max_age: 3000h\n    url: 'https://h/x'\n    secret: 0123456789abcdef\n", "dispatch.webhook.max_age: must be between backoff.min and 2160h"},
		{"webhook timeout", "dispatch:\n  webhook:\n    timeout: 10m\n", "dispatch.webhook.timeout: must be between 100ms and 5m (got 10m0s)"},
		{"team type", "dispatch:\n  teams: {vending: a}\n", "dispatch.teams.vending: not a violation type"},
		{"district name", "dispatch:\n  districts: {North: {}}\n", "dispatch.districts.North: district names must be"},
		{"district camera", "dispatch:\n  districts: {north: {cameras: [station-09]}}\n", `dispatch.districts.north.cameras[0]: no camera "station-09" in cameras`},
		{"camera in two districts", "dispatch:\n  districts: {a: {cameras: [station-01]}, b: {cameras: [station-01]}}\n", `dispatch.districts.b.cameras[0]: camera "station-01" is already in district "a"`},
		{"zone form", "dispatch:\n  districts: {north: {zones: [kerb]}}\n", `dispatch.districts.north.zones[0]: expected <camera id>/<zone name> (got "kerb")`},
		{"zone unknown", "dispatch:\n  districts: {north: {zones: [station-03/gate]}}\n", `dispatch.districts.north.zones[0]: camera "station-03" has no zone "gate"`},
		{"district team type", "dispatch:\n  districts: {north: {teams: {parking: a}}}\n", "dispatch.districts.north.teams.parking: not a violation type"},
		{"district url", "dispatch:\n  districts: {north: {webhook_url: 'h/x'}}\n", "dispatch.districts.north.webhook_url: must be http(s)://host[:port]/path"},
		{"database scheme", "dispatch:\n  database: 'mysql://u:p@h/db'\n", "dispatch.database: must be a SQLite file path or a postgres:// URL"},
		{"database sqlite query", "dispatch:\n  database: 'tickets.db?mode=ro'\n", "dispatch.database: a SQLite path cannot contain '?' or '#'"},
		{"database postgres url", "dispatch:\n  database: 'postgres://u:pw@h:port/db'\n", "dispatch.database: not a valid URL"},
		{"database postgres host", "dispatch:\n  database: 'postgresql:///db'\n", "dispatch.database: names no host"},
		{"database password variable", "dispatch:\n  database: 'postgres://sw:${SW_NOT_SET_EVER}@db/sw'\n", "dispatch.database: environment variable SW_NOT_SET_EVER is not set"},
		{"district url needs default", "dispatch:\n  districts: {north: {webhook_url: 'https://n/x'}}\n", "dispatch.webhook.url: required when a district has its own webhook_url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(dispatchCameras + tc.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// http.public_url is what local evidence links sent to the work-order
// system are made absolute on: required with a webhook and local
// evidence, and a base a path can be appended to.
func TestPublicURLIsRequiredForAWebhookWithLocalEvidenceAndMustBeABase(t *testing.T) {
	const (
		webhook = "dispatch:\n  webhook: {url: 'https://h/x', secret: 0123456789abcdef}\n"
		s3      = "evidence:\n  s3: {endpoint: 'minio:9000', bucket: ev, access_key: a, secret_key: b}\n"
	)
	publicURL := func(u string) string { return "http: {public_url: '" + u + "'}\n" }
	for _, tc := range []struct {
		name, yaml, want string // want "": valid
	}{
		{"webhook with local evidence", webhook, "http.public_url: required when a webhook is configured and evidence is stored locally"},
		{"webhook with local evidence and a base", webhook + publicURL("https://streetwatch.city.gov"), ""},
		{"a base with a path", webhook + publicURL("http://10.0.0.5:8080/streetwatch/"), ""},
		{"webhook with evidence in S3", webhook + s3, ""},
		{"no webhook", "", ""},
		{"relative", webhook + publicURL("/streetwatch"), "http.public_url: must be an absolute http(s)://host[:port][/path] URL"},
		{"host only", webhook + publicURL("streetwatch.city.gov"), "http.public_url: must be an absolute"},
		{"other scheme", webhook + publicURL("ftp://streetwatch.city.gov"), "http.public_url: must be an absolute"},
		{"query", webhook + publicURL("https://streetwatch.city.gov/?a=b"), "http.public_url: must not have a query or fragment"},
		{"fragment", webhook + publicURL("https://streetwatch.city.gov/#top"), "http.public_url: must not have a query or fragment"},
		{"credentials", webhook + publicURL("https://u:p@streetwatch.city.gov"), "http.public_url: must not carry credentials"},
		{"bad even without a webhook", publicURL("mailto:ops@city.gov"), "http.public_url: must be an absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(dispatchCameras + tc.yaml))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// A PostgreSQL dispatch.database is a URL, not a path next to the config
// file; its password may come from the environment, and a broken one is
// reported without quoting the password.
func TestDispatchDatabaseTakesAPostgresURLWithItsPasswordFromTheEnvironment(t *testing.T) {
	t.Setenv("SW_PG_PASSWORD", "p@ss/word")
	dir := t.TempDir()
	path := filepath.Join(dir, "streetwatch.yaml")
	doc := dispatchCameras + "dispatch:\n  database: 'postgres://sw:${SW_PG_PASSWORD}@db.internal:5432/streetwatch'\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://sw:p%40ss%2Fword@db.internal:5432/streetwatch"; cfg.Dispatch.Database != want {
		t.Errorf("database %q, want %q", cfg.Dispatch.Database, want)
	}
	_, err = Parse([]byte(dispatchCameras + "dispatch:\n  database: 'postgres://sw:hunter2@db:x/sw'\n"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v: want one that does not quote the password", err)
	}
}
