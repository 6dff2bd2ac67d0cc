package deploy

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
)

// promtool returns the path of Debian's promtool (package prometheus):
// required in CI, skipped with a note elsewhere (mediatest.Missing).
func promtool(t *testing.T) string {
	t.Helper()
	return mediatest.Tool(t, "promtool")
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestAlertRulesPassPromtoolCheck(t *testing.T) {
	runPromtool(t, "check", "rules", "prometheus/alerts.yml")
}

func TestAlertRulesUnitTestsPass(t *testing.T) {
	runPromtool(t, "test", "rules", "prometheus/alerts_test.yml")
}

func TestPrometheusConfigIsValid(t *testing.T) {
	// --syntax-only: the rule file path is the one inside the container.
	runPromtool(t, "check", "config", "--syntax-only", "prometheus/prometheus.yml")
	runPromtool(t, "check", "config", "prometheus/demo.yml") // rule file path is real here
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	var rf ruleFile
	readYAML(t, "prometheus/alerts.yml", &rf)
	if len(rf.Groups) == 0 {
		t.Fatal("prometheus/alerts.yml: no rule groups")
	}
	return rf
}

func TestEveryAlertHasSeverityTextAndUnitTest(t *testing.T) {
	rf := loadRules(t)
	tests, err := os.ReadFile("prometheus/alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			names = append(names, r.Alert)
			if s := r.Labels["severity"]; s != "page" && s != "ticket" {
				t.Errorf("%s: severity %q, want page or ticket", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description", r.Alert)
			}
			// An alert about one camera must say which camera in its text.
			if strings.Contains(r.Expr, "camera)") || strings.Contains(r.Expr, "streetwatch_camera_") {
				if !strings.Contains(r.Annotations["summary"], "$labels.camera") {
					t.Errorf("%s: per-camera alert whose summary does not name the camera", r.Alert)
				}
			}
			if !regexp.MustCompile(`alertname: ` + r.Alert + `\n`).Match(tests) {
				t.Errorf("%s: no unit test in prometheus/alerts_test.yml", r.Alert)
			}
		}
	}
	for _, want := range []string{"StreetWatchCameraDown", "StreetWatchSampledFramesDropping", "StreetWatchDetectorSaturated",
		"StreetWatchEvidenceSpoolGrowing", "StreetWatchDispatchFailing", "StreetWatchDiskFilling"} {
		if !slices.Contains(names, want) {
			t.Errorf("alert %s is missing", want)
		}
	}
}

// dashboard is the part of Grafana's JSON model the tests look at.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	Targets    []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // collapsed rows
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("grafana/streetwatch.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("grafana/streetwatch.json: %v", err)
	}
	return d
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

func TestDashboardHasRowsVariablesAndDatasource(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["camera"] != "query" {
		t.Errorf("template variables %v: want a datasource variable and a $camera query", vars)
	}
	var rows []string
	for _, p := range allPanels(d.Panels) {
		if p.Type == "row" {
			rows = append(rows, p.Title)
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource must be the ${datasource} variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no queries", p.Title)
		}
	}
	for _, want := range []string{"Fleet overview", "Per camera", "Detector", "Evidence", "Dispatch"} {
		if !slices.ContainsFunc(rows, func(r string) bool { return strings.HasPrefix(r, want) }) {
			t.Errorf("row %q missing (rows: %v)", want, rows)
		}
	}
}

// definedMetrics parses the module's Go source (outside tests) for metric
// options literals and returns the series names they expose: a histogram
// exposes _bucket, _sum and _count.
func definedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "tmp", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") {
				return true
			}
			for _, el := range lit.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); !ok || k.Name != "Name" {
					continue
				}
				bl, ok := kv.Value.(*ast.BasicLit)
				if !ok || bl.Kind != token.STRING {
					continue
				}
				name, err := strconv.Unquote(bl.Value)
				if err != nil || !strings.HasPrefix(name, "streetwatch_") {
					continue
				}
				names[name] = true
				if sel.Sel.Name == "HistogramOpts" {
					names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 20 {
		t.Fatalf("found only %d streetwatch_ metrics in the Go source; the scan is broken", len(names))
	}
	return names
}

// external are the series that come from collectors outside StreetWatch's own
// code (Go/process collectors, node_exporter).
var external = map[string]bool{
	"process_cpu_seconds_total":     true,
	"process_resident_memory_bytes": true,
	"node_filesystem_avail_bytes":   true,
	"node_filesystem_size_bytes":    true,
}

var (
	identRE  = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
)

// metricNames returns the metric-like identifiers of a PromQL expression:
// those with a prefix StreetWatch's queries use (string literals removed).
func metricNames(expr string) []string {
	var out []string
	for _, id := range identRE.FindAllString(quotedRE.ReplaceAllString(expr, `""`), -1) {
		for _, p := range []string{"streetwatch_", "process_", "node_", "go_"} {
			if strings.HasPrefix(id, p) {
				out = append(out, id)
			}
		}
	}
	return out
}

func TestQueriesUseOnlyMetricsTheCodeDefines(t *testing.T) {
	defined := definedMetrics(t)
	exprs := map[string]string{} // expr → where
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			exprs[r.Expr] = "alerts.yml " + r.Alert + r.Record
		}
	}
	d := loadDashboard(t)
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			exprs[tg.Expr] = "dashboard panel " + strconv.Quote(p.Title)
		}
	}
	for _, v := range d.Templating.List {
		var q struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(v.Query, &q) == nil && q.Query != "" {
			exprs[q.Query] = "dashboard variable $" + v.Name
		}
	}
	used := 0
	for expr, where := range exprs {
		for _, name := range metricNames(expr) {
			used++
			if !defined[name] && !external[name] {
				t.Errorf("%s uses %s, which no Go code defines (renamed?)", where, name)
			}
		}
	}
	if used == 0 {
		t.Fatal("no metric names found in the queries; the scan is broken")
	}
}

func TestMetricNameScanSeesSuffixesAndSkipsStrings(t *testing.T) {
	got := metricNames(`histogram_quantile(0.95, sum by (le) (rate(streetwatch_decode_seconds_bucket{reason="streetwatch_x"}[5m]))) / process_cpu_seconds_total`)
	want := []string{"streetwatch_decode_seconds_bucket", "process_cpu_seconds_total"}
	if !slices.Equal(got, want) {
		t.Errorf("metricNames = %v, want %v", got, want)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestComposeFileServicesAndMounts(t *testing.T) {
	var c struct {
		Services map[string]struct {
			Image   string   `yaml:"image"`
			Volumes []string `yaml:"volumes"`
			Deploy  struct {
				Resources struct {
					Reservations struct {
						Devices []struct {
							Driver       string   `yaml:"driver"`
							Capabilities []string `yaml:"capabilities"`
						} `yaml:"devices"`
					} `yaml:"reservations"`
				} `yaml:"resources"`
			} `yaml:"deploy"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	readYAML(t, "docker-compose.yml", &c)
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"grafana", "minio", "prometheus", "streetwatch"}) {
		t.Errorf("services %v", names)
	}
	if devs := c.Services["streetwatch"].Deploy.Resources.Reservations.Devices; len(devs) != 1 ||
		devs[0].Driver != "nvidia" || !slices.Contains(devs[0].Capabilities, "gpu") {
		t.Errorf("streetwatch must reserve the NVIDIA GPUs, got %+v", devs)
	}
	for svc, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("service %s mounts %s: %v", svc, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s uses volume %q, not declared under volumes:", svc, src)
			}
		}
	}
}

func TestComposeStreetWatchConfigIsValid(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("a long test password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("STREETWATCH_ADMIN_HASH", string(hash))
	t.Setenv("S3_ACCESS_KEY", "streetwatch")
	t.Setenv("S3_SECRET_KEY", "0123456789abcdef0123456789abcdef")
	t.Setenv("STREET12_PASSWORD", "secret")
	cfg, err := config.Load("streetwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/var/lib/streetwatch" {
		t.Errorf("state_dir = %q, want the image's volume /var/lib/streetwatch", cfg.StateDir)
	}
}
