package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/simulate"
)

// demoCamera is one simulated camera of the demo.
type demoCamera struct {
	id, file, sampling string
	scenario           string // a scenario video: zones from its ground truth
	// bay makes it a camera of demoStation, whose vehicles' visits to
	// the bay are recorded.
	bay config.Polygon
}

// demoStation is the garbage station the demo's station camera watches.
var demoStation = config.Station{ID: "baiyun-07", Name: "白云区 7号垃圾压缩站"}

var demoCameras = []demoCamera{
	// The bay: where the station video's cargo tricycle stops (8-20 s of each loop).
	{id: "station-1", file: "station.mp4", scenario: "station", bay: config.Polygon{{380, 560}, {700, 560}, {700, 700}, {380, 700}}},
	{id: "street-1", file: "dumping.mp4", scenario: "dumping"},
	{id: "market-1", file: "vending.mp4", scenario: "vending"},
	{id: "lane-1", file: "garbage_pile.mp4", scenario: "garbage_pile"},
	{id: "plaza-1", file: "vtest_h264.mp4", sampling: config.SampleKeyframes},
}

// cmdDemo starts simulated cameras (the rendered scenario videos and real
// pedestrian footage, looping) and the whole pipeline against them, all on
// localhost: violations are confirmed with shortened waits, evidence goes
// to a local folder.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	media := fs.String("media", "testdata/media", "folder with the generated test media (scripts/make-test-media.sh)")
	scenarios := fs.String("scenarios", "testdata/scenarios", "folder with the scenario videos and their ground truth")
	rtsp := fs.String("rtsp", "127.0.0.1:8554", "RTSP address of the simulated cameras")
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP address for /metrics, /healthz and evidence links")
	model := fs.String("model", "models/streetwatch-demo.yaml", "model manifest to detect with")
	state := fs.String("state", ".demo", "folder for the demo's state and evidence")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	sim := &simulate.Server{Addr: *rtsp}
	cfg := &config.Config{HTTP: config.HTTP{Listen: *listen}, StateDir: *state,
		Detectors: config.Detectors{Models: []config.ModelRef{{Name: "demo", Manifest: *model}}}}
	// Shortened waits so something happens within minutes; the scores are
	// the production ones. A pile waits longer than a dumping, as in
	// production (5 min against 60 s): garbage the model names a pile is a
	// candidate of both, the pile's wait counting from the drop and the
	// dumping's from when its actor left, and with equal waits the station
	// camera's tricycle dumping was reported as a pile.
	rules := map[string]config.RuleParams{
		"illegal_dumping": {MinDwell: config.Duration(30 * time.Second)},
		"garbage_pile":    {MinDwell: config.Duration(60 * time.Second)},
		"street_vending":  {MinDwell: config.Duration(30 * time.Second)},
	}
	// A demo reviewer with a fresh random password (printed below).
	password := demoPassword()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	cfg.Review.Users = []config.User{{Name: "demo", PasswordHash: string(hash), Role: config.RoleAdmin}}
	cfg.Review.PublicMetrics = true // a local Prometheus scrapes it (deploy/prometheus/demo.yml)
	// Tickets wait for review (the default), so the review page has work.
	for _, c := range demoCameras {
		dir := *media
		if c.scenario != "" {
			dir = *scenarios
		}
		path := filepath.Join(dir, c.file)
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("demo: %s is missing: run scripts/setup.sh (make demo does)", path)
		}
		if err := sim.Add(c.id, path); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		cam := config.Camera{ID: c.id, Sampling: config.Sampling{Mode: c.sampling}, Transport: "tcp"}
		if c.scenario != "" {
			zone, err := suggestedZone(filepath.Join(*scenarios, c.scenario+".json"))
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			cam.Zones = []config.Zone{{Name: "pavement", Polygon: zone}}
			cam.Rules = rules
		}
		if c.bay != nil {
			cam.Station = &config.StationCamera{ID: demoStation.ID, Bay: c.bay}
			cfg.Stations = []config.Station{demoStation}
		}
		cfg.Cameras = append(cfg.Cameras, cam)
	}
	if err := sim.Start(); err != nil {
		return fmt.Errorf("demo: simulated cameras: %w", err)
	}
	defer sim.Close()
	for i := range cfg.Cameras {
		cfg.Cameras[i].URL = sim.URL(cfg.Cameras[i].ID)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	log := newLogger(cfg.Log, stderr)
	return runPipeline(ctx, cfg, log, func(addr string) {
		fmt.Fprintf(stdout, "\nStreetWatch demo: %d simulated cameras at rtsp://%s/<camera>\n", len(demoCameras), sim.ListenAddr())
		fmt.Fprintf(stdout, "  review page: http://%s/   user: demo   password: %s\n", addr, password)
		fmt.Fprintf(stdout, "  tickets API: http://%s/api/v1/tickets   (basic auth, same user)\n", addr)
		fmt.Fprintf(stdout, "  metrics:     http://%s/metrics   (Prometheus: deploy/prometheus/demo.yml)\n", addr)
		fmt.Fprintf(stdout, "  health:      http://%s/healthz\n", addr)
		fmt.Fprintf(stdout, "  evidence:    %s   tickets: %s\n", cfg.Evidence.Dir, filepath.Join(cfg.StateDir, "tickets.db"))
		fmt.Fprint(stdout, "  Waits are cut to 30 s for the demo (60 s for a pile): the first cases appear within about a minute.\n")
		fmt.Fprint(stdout, "  Ctrl-C stops.\n\n")
	})
}

// demoPassword is a random password for the demo user.
func demoPassword() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// suggestedZone reads a scenario's zone from its ground truth.
func suggestedZone(path string) (config.Polygon, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var gt struct {
		Zone config.Polygon `json:"suggested_zone"`
	}
	if err := json.Unmarshal(raw, &gt); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(gt.Zone) < 3 {
		return nil, fmt.Errorf("%s: no suggested_zone", path)
	}
	return gt.Zone, nil
}
