package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const stationsCameras = "cameras:\n  - id: station-07\n    url: rtsp://127.0.0.1/7\n"

func TestStationsAndWeighingSourcesParseWithCredentialsFromTheEnvironment(t *testing.T) {
	t.Setenv("SW_SCALE_TOKEN", "token-from-env-0123456789")
	t.Setenv("SW_SCALE_SECRET", "hmac-from-env-0123456789")
	cfg, err := Parse([]byte(stationsCameras + `
stations:
  - {id: baiyun-07, name: 白云区第七压缩站}
  - {id: baiyun-08}
weighing:
  sources:
    - {id: bridge-07, stations: [baiyun-07], token: '${SW_SCALE_TOKEN}'}
    - {id: city-scales, hmac_secret: '${SW_SCALE_SECRET}'}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Stations) != 2 || cfg.Stations[1].Name != "baiyun-08" {
		t.Errorf("stations %+v: the name defaults to the id", cfg.Stations)
	}
	if cfg.Weighing.Timezone != "Asia/Shanghai" {
		t.Errorf("weighing.timezone %q, want review.timezone's default", cfg.Weighing.Timezone)
	}
	src := cfg.Weighing.Sources
	if src[0].Token != "token-from-env-0123456789" || src[1].HMACSecret != "hmac-from-env-0123456789" {
		t.Errorf("credentials not expanded: %q %q", src[0].Token, src[1].HMACSecret)
	}
	if !src[0].MayPost("baiyun-07") || src[0].MayPost("baiyun-08") || !src[1].MayPost("baiyun-08") {
		t.Error("MayPost: a source with stations posts only for them, one without for any")
	}
	for _, s := range src {
		if printed := fmt.Sprint(s) + fmt.Sprintf("%v %+v", s, cfg.Weighing.Sources); strings.Contains(printed, "from-env") {
			t.Errorf("a weighing source prints its credential: %s", printed)
		}
	}
}

func TestBrokenStationConfigsNameTheFieldAndNeverTheCredential(t *testing.T) {
	const secret = "Very-Secret-Credential-42"
	t.Setenv("SW_DUP_TOKEN", secret)
	st := "stations:\n  - {id: baiyun-07}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"station id missing", "stations:\n  - {name: a}\n", "stations[0].id: required"},
		{"station id form", "stations:\n  - {id: Baiyun 7}\n", `stations[0].id: must be 1-64 lowercase letters`},
		{"station id reserved", "stations:\n  - {id: unknown}\n", `stations[0].id: "unknown" is reserved`},
		{"station id twice", "stations:\n  - {id: a}\n  - {id: a}\n", `stations[1].id: "a" is already used by stations[0]`},
		{"station unknown key", "stations:\n  - {id: a, cams: []}\n", "stations[0].cams: unknown field"},
		{"sources without stations", "weighing:\n  sources:\n    - {id: s, token: 0123456789abcdef}\n", "weighing.sources: needs at least one station"},
		{"source id missing", st + "weighing:\n  sources:\n    - {token: 0123456789abcdef}\n", "weighing.sources[0].id: required"},
		{"source id reserved", st + "weighing:\n  sources:\n    - {id: import, token: 0123456789abcdef}\n", `weighing.sources[0].id: "import" is reserved`},
		{"source id twice", st + "weighing:\n  sources:\n    - {id: s, token: 0123456789abcdef}\n    - {id: s, token: fedcba9876543210}\n", `weighing.sources[1].id: "s" is already used by weighing.sources[0]`},
		{"source station unknown", st + "weighing:\n  sources:\n    - {id: s, stations: [baiyun-09], token: 0123456789abcdef}\n", `weighing.sources[0].stations[0]: no station "baiyun-09" in stations`},
		{"no credential", st + "weighing:\n  sources:\n    - {id: s}\n", "weighing.sources[0]: needs a credential: token or hmac_secret"},
		{"two credentials", st + "weighing:\n  sources:\n    - {id: s, token: 0123456789abcdef, hmac_secret: 0123456789abcdef}\n", "weighing.sources[0]: token and hmac_secret: give one credential, not both"},
		{"short token", st + "weighing:\n  sources:\n    - {id: s, token: Very-Secret}\n", "weighing.sources[0].token: must be at least 16 characters (got 11)"},
		{"short hmac secret", st + "weighing:\n  sources:\n    - {id: s, hmac_secret: Very-Secret}\n", "weighing.sources[0].hmac_secret: must be at least 16 characters (got 11)"},
		{"unset variable", st + "weighing:\n  sources:\n    - {id: s, token: '${SW_NOT_SET_EVER}'}\n", "weighing.sources[0].token: environment variable SW_NOT_SET_EVER is not set"},
		{"token twice", st + "weighing:\n  sources:\n    - {id: a, token: '${SW_DUP_TOKEN}'}\n    - {id: b, token: '${SW_DUP_TOKEN}'}\n", "weighing.sources[1].token: the same token as weighing.sources[0]"},
		{"token with a space", st + "weighing:\n  sources:\n    - {id: s, token: 'Very-Secret Credential-42'}\n", "weighing.sources[0].token: must not contain spaces"},
		{"timezone", st + "weighing: {timezone: Mars/Olympus}\n", `weighing.timezone: unknown time zone "Mars/Olympus"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(stationsCameras + tc.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%v\nwant it to contain %q", err, tc.want)
			}
			for _, part := range []string{secret, "Very-Secret"} {
				if strings.Contains(err.Error(), part) {
					t.Errorf("error shows the credential: %v", err)
				}
			}
		})
	}
}

// stationCamera is a station camera with a model, with its station block
// (indented under the camera) given.
func stationCamera(block string) string {
	return `stations: [{id: baiyun-07}]
detectors:
  models: [{name: demo, manifest: demo.yaml}]
cameras:
  - id: station-07
    url: rtsp://127.0.0.1/7
    station:
` + block
}

func TestAStationCameraGetsItsDefaults(t *testing.T) {
	cfg, err := Parse([]byte(stationCamera("      id: baiyun-07\n      bay: [[0.3, 0.6], [0.6, 0.6], [0.6, 0.95], [0.3, 0.95]]\n")))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Cameras[0].Station
	if sc.MinStop.D() != DefaultMinStop || sc.LeaveAfter.D() != DefaultLeaveAfter || len(sc.VehicleClasses) != 1 || sc.VehicleClasses[0] != "vehicle" {
		t.Errorf("station camera %+v: want min_stop 10s, leave_after 5s, vehicle_classes [vehicle]", sc)
	}
	if sc.Entrance != nil {
		t.Errorf("entrance %v, want none", sc.Entrance)
	}
	cfg, err = Parse([]byte(stationCamera("      id: baiyun-07\n      bay: [[0, 0], [1, 0], [1, 1]]\n      entrance: [[0, 0], [0.1, 0], [0.1, 1]]\n" +
		"      min_stop: 20s\n      leave_after: 8s\n      vehicle_classes: [tricycle, truck]\n")))
	if err != nil {
		t.Fatal(err)
	}
	if sc := cfg.Cameras[0].Station; sc.MinStop.D() != 20*time.Second || sc.LeaveAfter.D() != 8*time.Second || len(sc.VehicleClasses) != 2 || len(sc.Entrance) != 3 {
		t.Errorf("station camera %+v", sc)
	}
}

func TestBrokenStationCamerasNameTheField(t *testing.T) {
	bay := "      bay: [[0, 0], [1, 0], [1, 1]]\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"no station id", stationCamera(bay), "cameras[0].station.id: required (a station from stations)"},
		{"unknown station", stationCamera("      id: baiyun-09\n" + bay), `cameras[0].station.id: no station "baiyun-09" in stations`},
		{"no bay", stationCamera("      id: baiyun-07\n"), "cameras[0].station.bay: needs at least 3 points (got 0)"},
		{"short entrance", stationCamera("      id: baiyun-07\n" + bay + "      entrance: [[0, 0], [1, 1]]\n"), "cameras[0].station.entrance: needs at least 3 points (got 2)"},
		{"min_stop too short", stationCamera("      id: baiyun-07\n" + bay + "      min_stop: 500ms\n"), "cameras[0].station.min_stop: must be between 1s and 30m0s (got 500ms)"},
		{"leave_after too long", stationCamera("      id: baiyun-07\n" + bay + "      leave_after: 1h\n"), "cameras[0].station.leave_after: must be between 1s and 30m0s (got 1h0m0s)"},
		{"class twice", stationCamera("      id: baiyun-07\n" + bay + "      vehicle_classes: [vehicle, vehicle]\n"), `cameras[0].station.vehicle_classes[1]: must be a class name, each once (got "vehicle")`},
		{"unknown key", stationCamera("      id: baiyun-07\n" + bay + "      plate_zone: []\n"), "cameras[0].station.plate_zone: unknown field"},
		{"no model", strings.Replace(stationCamera("      id: baiyun-07\n"+bay), "  models: [{name: demo, manifest: demo.yaml}]\n", "  models: []\n", 1),
			"cameras[0].station: needs a model that detects vehicles"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestReconcileDefaultsToTheStationsWindowAndNamesBadFields(t *testing.T) {
	st := stationsCameras + "stations:\n  - {id: baiyun-07}\n"
	cfg, err := Parse([]byte(st))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Weighing.Reconcile
	if r.Before.D() != 2*time.Minute || r.After.D() != 10*time.Minute || r.MaxVisit.D() != 30*time.Minute ||
		r.Interval.D() != time.Minute || r.Lookback.D() != 48*time.Hour || r.LoadLimits != nil {
		t.Errorf("defaults %+v", r)
	}
	cfg, err = Parse([]byte(st + "weighing:\n  reconcile: {before: 1m, after: 5m, max_visit: 20m, interval: 30s, lookback: 2h, load_limits: {tricycle: 500}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Weighing.Reconcile.Window(); w.Before != time.Minute || w.After != 5*time.Minute || w.MaxVisit != 20*time.Minute ||
		cfg.Weighing.Reconcile.LoadLimits["tricycle"] != 500 {
		t.Errorf("parsed %+v", cfg.Weighing.Reconcile)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"negative before", "{before: -1m}", "weighing.reconcile.before: must not be negative"},
		{"negative after", "{after: -1m}", "weighing.reconcile.after: must not be negative"},
		{"huge visit", "{max_visit: 25h, lookback: 72h}", "weighing.reconcile.max_visit: must be between 0 and 24h"},
		{"interval too short", "{interval: 100ms}", "weighing.reconcile.interval: must be between 1s and 1h"},
		{"lookback shorter than a window", "{lookback: 30m}", "weighing.reconcile.lookback: must be at least before + after + max_visit + interval (43m0s"},
		{"load limit zero", "{load_limits: {tricycle: 0}}", "weighing.reconcile.load_limits.tricycle: must be between 0 and 100000 kg"},
		{"unknown key", "{windw: 1m}", "windw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(st + "weighing:\n  reconcile: " + tc.yaml + "\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestStationCasesTakeReviewPoliciesAndTeamsButNoZones(t *testing.T) {
	base := "cameras:\n  - id: c\n    url: rtsp://127.0.0.1/7\n"
	if _, err := Parse([]byte(base + "dispatch:\n  review:\n    unweighed_unload: {mode: required}\n  teams:\n    weighing_without_visit: 称重组\n")); err != nil {
		t.Errorf("review policy / team for a station case: %v", err)
	}
	_, err := Parse([]byte(base + "    zones:\n      - {name: z, polygon: [[0,0],[1,0],[1,1]], types: [unweighed_unload]}\n"))
	if err == nil || !strings.Contains(err.Error(), "cameras[0].zones[0].types[0]") {
		t.Errorf("a zone enforcing a station case: %v", err)
	}
}
