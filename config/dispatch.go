package config

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/streetwatch/streetwatch/violation"
)

// Dispatch configures tickets and their delivery to the work-order system.
//
//	dispatch:
//	  database: /var/lib/streetwatch/tickets.db  # default: <state_dir>/tickets.db
//	  # Per violation type: "required" (the default: a reviewer confirms
//	  # each ticket), "auto" (every ticket is dispatched at once), or
//	  # {mode: auto, min_score: 0.8} (auto at or above the score, review
//	  # below it).
//	  review:
//	    illegal_dumping: required
//	    street_vending: {mode: auto, min_score: 0.8}
//	  webhook:
//	    url: https://workorders.example.gov/hooks/streetwatch  # empty: no delivery
//	    secret: ${STREETWATCH_WEBHOOK_SECRET}  # HMAC-SHA256 key, 16+ characters
//	    timeout: 10s
//	    max_age: 24h        # retry this long, then the ticket is dispatch_failed
//	    backoff: {min: 1s, max: 5m}
//	  teams:                # default team per violation type
//	    garbage_pile: sanitation
//	    street_vending: enforcement
//	    illegal_dumping: enforcement
//	  districts:
//	    baiyun-north:
//	      cameras: [station-01, station-02]  # every zone of these cameras
//	      zones: [station-03/kerb]           # <camera id>/<zone name>
//	      team: north-sanitation             # this district's team for every type...
//	      teams: {street_vending: north-chengguan}  # ...or per type
//	      webhook_url: https://north.example.gov/hooks  # optional override
//
// A ticket's district is the one listing its camera/zone, else the one
// listing its camera, else none. Its team is, in order: the district's
// teams[type], the district's team, dispatch.teams[type], else empty.
type Dispatch struct {
	// Database is the ticket database: a SQLite file (empty:
	// <state_dir>/tickets.db) or a postgres:// (postgresql://) URL.
	Database string                  `yaml:"database"`
	Review   map[string]ReviewPolicy `yaml:"review"`
	Webhook  Webhook                 `yaml:"webhook"`
	// Teams is the default team per violation type.
	Teams     map[string]string   `yaml:"teams"`
	Districts map[string]District `yaml:"districts"`
}

// Review modes.
const (
	ReviewRequired = "required" // a reviewer confirms every ticket
	ReviewAuto     = "auto"     // tickets at or above MinScore are dispatched at once
)

// ReviewPolicy says whether a violation type's tickets wait for a
// reviewer. In YAML it is either a bare mode ("required", "auto") or a
// mapping {mode, min_score}.
type ReviewPolicy struct {
	Mode string `yaml:"mode"`
	// MinScore is the lowest confidence dispatched without review in auto
	// mode (0: every ticket).
	MinScore float64 `yaml:"min_score"`
}

// UnmarshalYAML accepts "required", "auto" or {mode: auto, min_score: 0.8}.
func (p *ReviewPolicy) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		p.Mode = n.Value
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			switch key.Value {
			case "mode":
				if err := val.Decode(&p.Mode); err != nil {
					return fmt.Errorf("mode: expected required or auto")
				}
			case "min_score":
				if err := val.Decode(&p.MinScore); err != nil {
					return fmt.Errorf("min_score: expected a number, got %q", val.Value)
				}
			default:
				return fmt.Errorf("unknown field %q (expected mode, min_score)", key.Value)
			}
		}
		return nil
	}
	return fmt.Errorf("expected required, auto or {mode: auto, min_score: 0.8}")
}

// Policy returns the review policy of a violation type (required unless
// configured).
func (d Dispatch) Policy(violationType string) ReviewPolicy {
	if p, ok := d.Review[violationType]; ok && p.Mode != "" {
		return p
	}
	return ReviewPolicy{Mode: ReviewRequired}
}

// Webhook is where confirmed tickets are pushed.
type Webhook struct {
	// URL receives a signed JSON POST per ticket; empty: tickets are only
	// stored and reviewed, never pushed. ${VAR} is expanded.
	URL string `yaml:"url"`
	// Secret keys the HMAC-SHA256 signature; use ${VAR} to keep it out of
	// the file. Never logged nor shown by the API.
	Secret string `yaml:"secret"`
	// Timeout of one delivery attempt.
	Timeout Duration `yaml:"timeout"`
	// MaxAge: a ticket not delivered this long after it was queued becomes
	// dispatch_failed (a reviewer can queue it again).
	MaxAge  Duration `yaml:"max_age"`
	Backoff Backoff  `yaml:"backoff"`
}

// String hides the secret (configs get logged and printed).
func (w Webhook) String() string {
	return fmt.Sprintf("webhook %s (timeout %s, max_age %s)", w.URL, w.Timeout, w.MaxAge)
}

// Backoff bounds the exponential backoff between delivery attempts.
type Backoff struct {
	Min Duration `yaml:"min"`
	Max Duration `yaml:"max"`
}

// District is an area served by its own team(s), optionally with its own
// work-order endpoint.
type District struct {
	// Cameras assigned whole to the district (camera ids).
	Cameras []string `yaml:"cameras"`
	// Zones assigned to the district, as "<camera id>/<zone name>"; they
	// win over a camera's assignment.
	Zones []string `yaml:"zones"`
	// Team handles every violation type here, unless Teams names another.
	Team  string            `yaml:"team"`
	Teams map[string]string `yaml:"teams"`
	// WebhookURL replaces webhook.url for this district's tickets (same
	// secret). ${VAR} is expanded.
	WebhookURL string `yaml:"webhook_url"`
}

// Defaults fills the dispatch section's unset fields (Database stays
// empty: it means <state_dir>/tickets.db). Safe to call more than once.
func (d *Dispatch) Defaults() {
	w := &d.Webhook
	if w.Timeout == 0 {
		w.Timeout = Duration(10 * time.Second)
	}
	if w.MaxAge == 0 {
		w.MaxAge = Duration(24 * time.Hour)
	}
	if w.Backoff.Min == 0 {
		w.Backoff.Min = Duration(time.Second)
	}
	if w.Backoff.Max == 0 {
		w.Backoff.Max = Duration(5 * time.Minute)
	}
}

// defaultsDispatch fills the dispatch section's defaults and expands
// ${VAR} in its secret and URLs.
func (c *Config) defaultsDispatch() {
	d := &c.Dispatch
	d.Webhook.URL = expandVars(d.Webhook.URL)
	d.Webhook.Secret = expandVars(d.Webhook.Secret)
	for name, dist := range d.Districts {
		dist.WebhookURL = expandVars(dist.WebhookURL)
		d.Districts[name] = dist
	}
	d.Defaults()
}

// validateDispatch checks the dispatch section.
func (c *Config) validateDispatch(bad func(path, format string, args ...any)) {
	d := &c.Dispatch
	validateDatabase(d.Database, bad)
	for _, t := range sortedKeys(d.Review) {
		p, path := d.Review[t], "dispatch.review."+t
		if err := violation.CheckTicketType(t); err != nil {
			bad(path, "%v", err)
		}
		switch p.Mode {
		case ReviewRequired:
			if p.MinScore != 0 {
				bad(path+".min_score", "only applies to mode auto")
			}
		case ReviewAuto:
			if p.MinScore < 0 || p.MinScore > 1 {
				bad(path+".min_score", "must be between 0 and 1 (got %g)", p.MinScore)
			}
		default:
			bad(path+".mode", "must be required or auto (got %q)", p.Mode)
		}
	}
	w := d.Webhook
	validateWebhookURL("dispatch.webhook.url", w.URL, bad)
	switch {
	case strings.Contains(w.Secret, "${"):
		bad("dispatch.webhook.secret", "environment variable %s is not set", varName(w.Secret))
	case w.URL != "" && w.Secret == "":
		bad("dispatch.webhook.secret", "required with dispatch.webhook.url (use ${VAR} to keep it out of the file)")
	case w.Secret != "" && len(w.Secret) < 16:
		bad("dispatch.webhook.secret", "must be at least 16 characters (got %d)", len(w.Secret))
	}
	if w.Timeout.D() < 100*time.Millisecond || w.Timeout.D() > 5*time.Minute {
		bad("dispatch.webhook.timeout", "must be between 100ms and 5m (got %s)", w.Timeout)
	}
	if w.Backoff.Min.D() < 10*time.Millisecond {
		bad("dispatch.webhook.backoff.min", "must be at least 10ms (got %s)", w.Backoff.Min)
	}
	if w.Backoff.Max < w.Backoff.Min || w.Backoff.Max.D() > 24*time.Hour {
		bad("dispatch.webhook.backoff.max", "must be between backoff.min and 24h (got %s)", w.Backoff.Max)
	}
	if w.MaxAge < w.Backoff.Min || w.MaxAge.D() > 90*24*time.Hour {
		bad("dispatch.webhook.max_age", "must be between backoff.min and 2160h (got %s)", w.MaxAge)
	}
	validateTeams("dispatch.teams", d.Teams, bad)
	validatePublicURL(c.HTTP.PublicURL, bad)
	if c.HTTP.PublicURL == "" && c.Evidence.S3.Endpoint == "" && d.delivers() {
		bad("http.public_url", "required when a webhook is configured and evidence is stored locally (no evidence.s3): "+
			"the work-order system fetches the evidence links from it (e.g. https://streetwatch.city.gov)")
	}

	cameras := map[string]map[string]bool{} // camera id → zone names
	for _, cam := range c.Cameras {
		zones := map[string]bool{}
		for _, z := range cam.Zones {
			zones[z.Name] = true
		}
		cameras[cam.ID] = zones
	}
	cameraOwner, zoneOwner := map[string]string{}, map[string]string{}
	for _, name := range sortedKeys(d.Districts) {
		dist, p := d.Districts[name], "dispatch.districts."+name
		if !idRE.MatchString(name) {
			bad(p, "district names must be 1-64 lowercase letters, digits, '_' or '-'")
		}
		for i, cam := range dist.Cameras {
			cp := fmt.Sprintf("%s.cameras[%d]", p, i)
			if _, ok := cameras[cam]; !ok {
				bad(cp, "no camera %q in cameras", cam)
			} else if other, dup := cameraOwner[cam]; dup {
				bad(cp, "camera %q is already in district %q", cam, other)
			}
			cameraOwner[cam] = name
		}
		for i, ref := range dist.Zones {
			zp := fmt.Sprintf("%s.zones[%d]", p, i)
			cam, zone, ok := strings.Cut(ref, "/")
			switch {
			case !ok || cam == "" || zone == "":
				bad(zp, "expected <camera id>/<zone name> (got %q)", ref)
			case cameras[cam] == nil:
				bad(zp, "no camera %q in cameras", cam)
			case !cameras[cam][zone]:
				bad(zp, "camera %q has no zone %q", cam, zone)
			default:
				if other, dup := zoneOwner[ref]; dup {
					bad(zp, "zone %q is already in district %q", ref, other)
				}
				zoneOwner[ref] = name
			}
		}
		validateTeams(p+".teams", dist.Teams, bad)
		validateWebhookURL(p+".webhook_url", dist.WebhookURL, bad)
		if dist.WebhookURL != "" && w.URL == "" {
			bad("dispatch.webhook.url", "required when a district has its own webhook_url (it serves the other districts)")
		}
	}
}

// delivers reports whether any ticket is pushed to a work-order system.
func (d Dispatch) delivers() bool {
	if d.Webhook.URL != "" {
		return true
	}
	for _, dist := range d.Districts {
		if dist.WebhookURL != "" {
			return true
		}
	}
	return false
}

// validatePublicURL checks http.public_url: an absolute http(s) URL that
// links are appended to, so no query, fragment or credentials.
func validatePublicURL(raw string, bad func(path, format string, args ...any)) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		bad("http.public_url", "must be an absolute http(s)://host[:port][/path] URL (got %q)", raw)
	case u.User != nil:
		bad("http.public_url", "must not carry credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		bad("http.public_url", "must not have a query or fragment: links are appended to it (got %q)", raw)
	}
}

func validateTeams(path string, teams map[string]string, bad func(path, format string, args ...any)) {
	for _, t := range sortedKeys(teams) {
		if err := violation.CheckTicketType(t); err != nil {
			bad(path+"."+t, "%v", err)
		}
		if strings.TrimSpace(teams[t]) == "" {
			bad(path+"."+t, "team name must not be empty")
		}
	}
}

// validateWebhookURL checks an optional http(s) URL.
func validateWebhookURL(path, raw string, bad func(path, format string, args ...any)) {
	if raw == "" {
		return
	}
	if strings.Contains(raw, "${") {
		bad(path, "environment variable %s is not set", varName(raw))
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may carry a token: do not echo it.
		bad(path, "must be http(s)://host[:port]/path")
		return
	}
	if u.User != nil {
		bad(path, "must not carry credentials (the webhook is authenticated by its signature)")
	}
}

func varName(s string) string {
	if m := envRef.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return "?"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// IsPostgresURL reports whether a dispatch.database names a PostgreSQL
// database rather than a SQLite file.
func IsPostgresURL(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// validateDatabase checks dispatch.database: a SQLite path, or a
// PostgreSQL URL with a host. Messages never quote the URL, which may
// hold a password.
func validateDatabase(db string, bad func(path, format string, args ...any)) {
	const path = "dispatch.database"
	if !IsPostgresURL(db) {
		if strings.Contains(db, "://") {
			bad(path, "must be a SQLite file path or a postgres:// URL")
		} else if strings.ContainsAny(db, "?#") {
			bad(path, "a SQLite path cannot contain '?' or '#'")
		}
		return
	}
	if strings.Contains(db, "${") {
		bad(path, "environment variable %s is not set", varName(db))
		return
	}
	u, err := url.Parse(db)
	if err != nil {
		bad(path, "not a valid URL (postgres://user:password@host:5432/database)")
		return
	}
	if u.Hostname() == "" && u.Query().Get("host") == "" {
		bad(path, "names no host (postgres://user:password@host:5432/database)")
	}
}
