// Package config is StreetWatch's one YAML configuration file: typed
// structs, defaults in one place (Defaults), strict decoding (unknown keys
// are errors) and validation whose messages name the exact field, e.g.
// "cameras[2].sampling.fps: must be between 0 and 60".
package config

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Config is the whole file.
type Config struct {
	HTTP      HTTP      `yaml:"http"`
	Log       Log       `yaml:"log"`
	Pipeline  Pipeline  `yaml:"pipeline"`
	Detectors Detectors `yaml:"detectors"`
	Cameras   []Camera  `yaml:"cameras"`
	Evidence  Evidence  `yaml:"evidence"`
	Dispatch  Dispatch  `yaml:"dispatch"`
	Review    Review    `yaml:"review"`
	// Stations are garbage compression stations; Weighing says who may
	// send their weighbridges' records (stations.go).
	Stations []Station `yaml:"stations"`
	Weighing Weighing  `yaml:"weighing"`
	// StateDir keeps what must survive a restart (open violations, the
	// evidence spool, pending violations, spilled history).
	StateDir string `yaml:"state_dir"`
	// Cluster spreads the cameras over several nodes (cluster.go).
	Cluster Cluster `yaml:"cluster"`
}

// Evidence configures clips, snapshots, manifests and where they are stored.
type Evidence struct {
	// Dir is the local evidence store, used when s3.endpoint is empty
	// (default: <state_dir>/evidence).
	Dir string `yaml:"dir"`
	S3  S3     `yaml:"s3"`
	// PreRoll and PostRoll widen the clip around first_seen..confirmed_at.
	PreRoll  Duration `yaml:"pre_roll"`
	PostRoll Duration `yaml:"post_roll"`
	// HistoryMemoryMB bounds each camera's in-memory video history; older
	// history spills to disk under state_dir.
	HistoryMemoryMB int `yaml:"history_memory_mb"`
	// JPEGQuality of the snapshots (1-100).
	JPEGQuality int `yaml:"jpeg_quality"`
	// SignKeyFile is an Ed25519 private key (PEM PKCS #8, or hex/base64
	// seed) to sign manifests with; empty: unsigned.
	SignKeyFile string `yaml:"sign_key_file"`
	// RetentionDays: evidence older than this is deleted unless its ticket
	// is open or marked keep (0: keep forever).
	RetentionDays int `yaml:"retention_days"`
	// URLExpiry is how long links handed to the review page and work-order
	// system stay valid.
	URLExpiry Duration `yaml:"url_expiry"`
}

// S3 is an S3-compatible object store (MinIO, Ceph, AWS).
type S3 struct {
	Endpoint string `yaml:"endpoint"` // host:port; empty: no S3
	Bucket   string `yaml:"bucket"`
	Region   string `yaml:"region"`
	// AccessKey and SecretKey: use ${VAR} to keep them out of the file.
	AccessKey    string `yaml:"access_key"`
	SecretKey    string `yaml:"secret_key"`
	UseSSL       bool   `yaml:"use_ssl"`
	CreateBucket bool   `yaml:"create_bucket"`
	// Prefix is prepended to every key (a folder in a shared bucket).
	Prefix string `yaml:"prefix"`
}

// String hides the secret key (configs get logged and printed).
func (s S3) String() string {
	return fmt.Sprintf("s3://%s/%s (endpoint %s)", s.Bucket, s.Prefix, s.Endpoint)
}

// Zone is a monitored area of a camera.
type Zone struct {
	Name string `yaml:"name"`
	// Polygon in native pixels, or normalised 0..1. Objects count in a zone
	// by their bottom centre (where they touch the ground).
	Polygon Polygon `yaml:"polygon"`
	// Types enforced here (default: all): garbage_pile, street_vending, illegal_dumping.
	Types []string `yaml:"types"`
	// Schedule is when the zone is enforced (default: always).
	Schedule Schedule `yaml:"schedule"`
	// Overrides per violation type.
	Overrides map[string]RuleParams `yaml:"overrides"`
	// LeftObjects: whether objects only the left-object detector saw (no
	// class from the model) count here (default true; false for a busy
	// market, where things are put down and stay all day).
	LeftObjects *bool `yaml:"left_objects"`
}

// LeftObjects configures a camera's left-object detector.
type LeftObjects struct {
	// Enabled turns it on or off (default on: on real footage it finds
	// what the class model misses, see models/README.md). Use On to read it.
	Enabled *bool `yaml:"enabled"`
	// MinArea is the smallest object, as a fraction of the picture
	// (default 0.001: about 30x30 pixels at 1280x720).
	MinArea float64 `yaml:"min_area"`
	// StaticFor is how long something new must stay still before it is
	// reported (default 6s); the rules then want their min_dwell.
	StaticFor Duration `yaml:"static_for"`
}

// On tells whether the detector runs: unless switched off, it does.
func (l LeftObjects) On() bool { return l.Enabled == nil || *l.Enabled }

// Same tells whether two settings make the same detector.
func (l LeftObjects) Same(o LeftObjects) bool {
	return l.On() == o.On() && l.MinArea == o.MinArea && l.StaticFor == o.StaticFor
}

// Schedule is a zone's enforcement hours.
type Schedule struct {
	// Timezone of the windows (default Asia/Shanghai).
	Timezone string           `yaml:"timezone"`
	Windows  []ScheduleWindow `yaml:"windows"`
}

// ScheduleWindow is a daily period, "HH:MM" to "HH:MM" (wrapping past
// midnight when end is before start), on the given days (default: all).
type ScheduleWindow struct {
	Days  []string `yaml:"days"`
	Start string   `yaml:"start"`
	End   string   `yaml:"end"`
}

// RuleParams tune one violation rule (0: the default).
type RuleParams struct {
	MinDwell   Duration `yaml:"min_dwell"`
	MinScore   float32  `yaml:"min_score"`
	ClearAfter Duration `yaml:"clear_after"`
}

// Detectors configures the detector stage. Without models, sampled frames
// are only counted.
type Detectors struct {
	Runtime Runtime    `yaml:"runtime"`
	Models  []ModelRef `yaml:"models"`
	// MaxBatch frames go into one inference; the batcher waits at most
	// MaxWait after the first frame for the batch to fill.
	MaxBatch int      `yaml:"max_batch"`
	MaxWait  Duration `yaml:"max_wait"`
	// Workers letterbox frames in parallel with inference (0: one per core).
	Workers int `yaml:"workers"`
}

// Runtime configures ONNX Runtime.
type Runtime struct {
	// Library is the libonnxruntime.so path; empty: $STREETWATCH_ORT_LIB,
	// then what scripts/setup.sh installed.
	Library string `yaml:"library"`
	// Provider is cpu, cuda or tensorrt; unavailable providers fall back to
	// cpu with a warning.
	Provider          string `yaml:"provider"`
	DeviceID          int    `yaml:"device_id"`
	IntraOpThreads    int    `yaml:"intra_op_threads"`
	InterOpThreads    int    `yaml:"inter_op_threads"`
	GraphOptimization string `yaml:"graph_optimization"`
	// Spinning lets ONNX Runtime threads busy-wait between runs (faster
	// on a dedicated box, wasteful when decoding shares the cores).
	Spinning bool `yaml:"spinning"`
}

// ModelRef names a model and its manifest (relative paths are relative to
// the config file).
type ModelRef struct {
	Name     string `yaml:"name"`
	Manifest string `yaml:"manifest"`
}

// ObjectFilter rejects implausible boxes of one class (0: not checked).
// Areas are in native pixels²; ratio is width / height.
type ObjectFilter struct {
	MinArea  float32 `yaml:"min_area"`
	MaxArea  float32 `yaml:"max_area"`
	MinRatio float32 `yaml:"min_ratio"`
	MaxRatio float32 `yaml:"max_ratio"`
}

// Polygon is a list of [x, y] points, in native pixels or, when all are
// within 0..1, normalised to the frame.
type Polygon [][2]float32

// HTTP is the server for /metrics and /healthz.
type HTTP struct {
	// Listen is host:port; empty disables the server.
	Listen string `yaml:"listen"`
	// Pprof serves Go's profiler under /debug/pprof/ (for performance work;
	// keep it off on a network others can reach).
	Pprof bool `yaml:"pprof"`
	// Timeouts and connection limits against slow or greedy clients, and
	// native TLS (see http.go).
	ReadTimeout        Duration `yaml:"read_timeout"`
	WriteTimeout       Duration `yaml:"write_timeout"`
	IdleTimeout        Duration `yaml:"idle_timeout"`
	MaxConnsPerAddress int      `yaml:"max_conns_per_address"`
	TLS                TLS      `yaml:"tls"`
	// PublicURL is where this server is reached from outside (through a
	// proxy, say): the address that serves its / ("https://streetwatch.city.gov",
	// or with a path, "https://city.gov/streetwatch"). Links to locally
	// stored evidence sent to the work-order system are made absolute on it;
	// it is required when a webhook is configured and evidence is local.
	PublicURL string `yaml:"public_url"`
}

// Log selects the log level (debug, info, warn, error) and format (text, json).
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Pipeline tunes the queues between stages.
type Pipeline struct {
	// FrameQueue is the capacity of the sampled-frame queue in front of the
	// detector; when full, the oldest frame is dropped and counted.
	FrameQueue int `yaml:"frame_queue"`
	// UnitQueue is the per-camera queue of access units in front of the
	// decoder; when full, units are skipped up to the next keyframe.
	UnitQueue int `yaml:"unit_queue"`
}

// Camera is one RTSP camera.
type Camera struct {
	// ID names the camera in metrics, logs, tickets and storage keys.
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// URL is rtsp:// or rtsps://, credentials allowed (never logged).
	// ${VAR} is replaced by the environment variable VAR, so passwords can
	// stay out of the file.
	URL       string `yaml:"url"`
	Transport string `yaml:"transport"`
	// AllowRedirectsToOtherHosts lets the camera's RTSP redirects (3xx)
	// lead to another host, credentials included. By default a redirect is
	// followed only to the configured host, so a camera or anything on its
	// network path cannot collect the password.
	AllowRedirectsToOtherHosts bool `yaml:"allow_redirects_to_other_hosts"`
	// AllowBasicAuth sends the password in clear text when a camera asks
	// for Basic authentication over plain rtsp://. By default only Digest
	// is answered there (rtsps:// may use either).
	AllowBasicAuth bool     `yaml:"allow_basic_auth"`
	Location       Location `yaml:"location"`
	Sampling       Sampling `yaml:"sampling"`
	// StallTimeout: no media for this long means reconnect.
	StallTimeout Duration  `yaml:"stall_timeout"`
	Reconnect    Reconnect `yaml:"reconnect"`
	Decoder      Decoder   `yaml:"decoder"`
	// Models this camera runs (names from detectors.models); empty: all.
	Models []string `yaml:"models"`
	// Thresholds override the models' per-class minimum scores.
	Thresholds map[string]float32 `yaml:"thresholds"`
	// Filters reject implausible boxes per class, as Frigate's do.
	Filters map[string]ObjectFilter `yaml:"filters"`
	// Masks are areas where detections are ignored (by their bottom centre).
	Masks []Polygon `yaml:"masks"`
	// Zones are where violations are enforced; none: the camera only detects.
	Zones []Zone `yaml:"zones"`
	// Rules set the camera's per-type parameters (zones may override).
	Rules map[string]RuleParams `yaml:"rules"`
	// LeftObjects finds objects that appear and stay, whatever they are,
	// beside the class model.
	LeftObjects LeftObjects `yaml:"left_objects"`
	// Station makes it a garbage station's camera: vehicles that stop in
	// its unloading bay are recorded as visits (nil: not a station camera).
	Station *StationCamera `yaml:"station"`
}

// Location is where the camera looks, for tickets and dispatch.
type Location struct {
	Lat     float64 `yaml:"lat"`
	Lon     float64 `yaml:"lon"`
	Address string  `yaml:"address"`
}

// Sampling modes.
const (
	SampleFPS       = "fps"       // decode everything, keep N frames per second of stream time
	SampleKeyframes = "keyframes" // decode only keyframes: the cheap mode for many cameras
)

// Sampling decides which pictures are decoded and handed to detection.
type Sampling struct {
	Mode string  `yaml:"mode"`
	FPS  float64 `yaml:"fps"`
}

// Reconnect bounds the exponential backoff between connection attempts.
type Reconnect struct {
	Min Duration `yaml:"min"`
	Max Duration `yaml:"max"`
}

// Decoder tunes the software decoder.
type Decoder struct {
	Threads int `yaml:"threads"`
	// Deblock runs the codec's in-loop deblocking filter on the keyframes
	// decoded for detection in keyframes sampling (false: skipped, about a
	// fifth of their decoding CPU; evidence pictures and fps sampling
	// always keep it).
	Deblock bool `yaml:"deblock"`
	// HWAccel decodes on a hardware device: "cuda" (NVIDIA NVDEC through
	// FFmpeg), Device naming which GPU ("" the first, or "1", ...). When
	// the device cannot be used the camera decodes on the CPU, says why in
	// the log and shows 0 in streetwatch_decoder_hardware.
	HWAccel string `yaml:"hwaccel"`
	Device  string `yaml:"device"`
}

// Defaults fills every unset field. It is the one place defaults live.
func (c *Config) Defaults() {
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Pipeline.UnitQueue == 0 {
		c.Pipeline.UnitQueue = 256
	}
	if c.StateDir == "" {
		c.StateDir = "streetwatch-state"
	}
	ev := &c.Evidence
	if ev.Dir == "" && ev.S3.Endpoint == "" {
		ev.Dir = filepath.Join(c.StateDir, "evidence")
	}
	if ev.PreRoll == 0 {
		ev.PreRoll = Duration(10 * time.Second)
	}
	if ev.PostRoll == 0 {
		ev.PostRoll = Duration(10 * time.Second)
	}
	if ev.HistoryMemoryMB == 0 {
		ev.HistoryMemoryMB = 16
	}
	if ev.JPEGQuality == 0 {
		ev.JPEGQuality = 90
	}
	if ev.URLExpiry == 0 {
		ev.URLExpiry = Duration(24 * time.Hour)
	}
	c.defaultsDispatch()
	c.defaultsReview()
	c.defaultsStations()
	c.defaultsHTTP()
	if c.Detectors.Runtime.Provider == "" {
		c.Detectors.Runtime.Provider = "cpu"
	}
	if c.Detectors.Runtime.GraphOptimization == "" {
		c.Detectors.Runtime.GraphOptimization = "all"
	}
	if c.Detectors.MaxBatch == 0 {
		c.Detectors.MaxBatch = 8
	}
	if c.Detectors.MaxWait == 0 {
		c.Detectors.MaxWait = Duration(20 * time.Millisecond)
	}
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		if cam.Name == "" {
			cam.Name = cam.ID
		}
		if cam.Transport == "" {
			cam.Transport = "auto"
		}
		if cam.Sampling.Mode == "" {
			cam.Sampling.Mode = SampleFPS
		}
		if cam.Sampling.Mode == SampleFPS && cam.Sampling.FPS == 0 {
			cam.Sampling.FPS = 2
		}
		if cam.StallTimeout == 0 {
			cam.StallTimeout = Duration(10 * time.Second)
		}
		if cam.Reconnect.Min == 0 {
			cam.Reconnect.Min = Duration(time.Second)
		}
		if cam.Reconnect.Max == 0 {
			cam.Reconnect.Max = Duration(30 * time.Second)
		}
		if cam.Decoder.Threads == 0 {
			cam.Decoder.Threads = 1
		}
		for j := range cam.Zones {
			cam.Zones[j].defaults()
		}
	}
	if c.Cluster.Nodes == 0 {
		c.Cluster.Nodes = 1
	}
	if c.Pipeline.FrameQueue == 0 {
		c.Pipeline.FrameQueue = c.autoFrameQueue()
	}
}

// autoFrameQueue sizes the frame queue from the cameras: two seconds of
// each camera's sampled frames (keyframe sampling: two frames, about one
// GOP's worth twice over), at least 64. Cameras that come up together (a
// power cut, a switch reboot, NTP-aligned GOPs) send their keyframes
// within the same moment; the queue must hold that burst while detection
// works through it, not drop it while a core sits idle.
func (c *Config) autoFrameQueue() int {
	n := 0
	for _, cam := range c.Cameras {
		perCam := 2
		if cam.Sampling.Mode == SampleFPS {
			perCam = max(perCam, int(math.Ceil(2*cam.Sampling.FPS)))
		}
		n += perCam
	}
	return min(max(n, 64), 100000)
}

// Load reads, decodes, defaults and validates a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.resolvePaths(filepath.Dir(path))
	return cfg, nil
}

// Parse decodes, defaults and validates a config document.
func Parse(data []byte) (*Config, error) {
	var cfg Config
	if err := DecodeStrict(data, &cfg); err != nil {
		return nil, err
	}
	cfg.expandEnv()
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// resolvePaths makes relative file paths relative to dir (the config file's).
func (c *Config) resolvePaths(dir string) {
	stateDir := c.StateDir
	if !filepath.IsAbs(c.StateDir) {
		c.StateDir = filepath.Join(dir, c.StateDir)
	}
	if c.Evidence.Dir == filepath.Join(stateDir, "evidence") {
		c.Evidence.Dir = filepath.Join(c.StateDir, "evidence") // the default follows state_dir
	} else if c.Evidence.Dir != "" && !filepath.IsAbs(c.Evidence.Dir) {
		c.Evidence.Dir = filepath.Join(dir, c.Evidence.Dir)
	}
	if c.Dispatch.Database != "" && !IsPostgresURL(c.Dispatch.Database) && !filepath.IsAbs(c.Dispatch.Database) {
		c.Dispatch.Database = filepath.Join(dir, c.Dispatch.Database)
	}
	c.HTTP.TLS.resolvePaths(dir)
	if c.Evidence.SignKeyFile != "" && !filepath.IsAbs(c.Evidence.SignKeyFile) {
		c.Evidence.SignKeyFile = filepath.Join(dir, c.Evidence.SignKeyFile)
	}
	for i, m := range c.Detectors.Models {
		if m.Manifest != "" && !filepath.IsAbs(m.Manifest) {
			c.Detectors.Models[i].Manifest = filepath.Join(dir, m.Manifest)
		}
	}
}

func (c *Config) expandEnv() {
	for i := range c.Cameras {
		c.Cameras[i].URL = expandURL(c.Cameras[i].URL)
	}
	s3 := &c.Evidence.S3
	s3.AccessKey, s3.SecretKey = expandVars(s3.AccessKey), expandVars(s3.SecretKey)
	if IsPostgresURL(c.Dispatch.Database) {
		// The password can come from the environment, like a camera's.
		c.Dispatch.Database = expandURL(c.Dispatch.Database)
	}
	c.Cluster.Node = expandVars(c.Cluster.Node) // a StatefulSet pod's name from its environment
}

// expandVars replaces ${NAME} with the environment variable NAME (unset:
// left as is).
func expandVars(s string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := os.LookupEnv(m[2 : len(m)-1]); ok {
			return v
		}
		return m
	})
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandURL replaces ${NAME} (only that form: a bare $ in a password stays)
// with the environment variable, escaped when it lands in the user-info
// part so a password with '@', '/', '#' or '%' keeps the URL valid. Unset
// variables stay as they are; validation reports them.
func expandURL(raw string) string {
	userinfoEnd := -1
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if j := strings.LastIndex(rest[:strings.IndexAny(rest+"/", "/")], "@"); j >= 0 {
			userinfoEnd = i + 3 + j
		}
	}
	var b strings.Builder
	last := 0
	for _, m := range envRef.FindAllStringSubmatchIndex(raw, -1) {
		b.WriteString(raw[last:m[0]])
		last = m[1]
		v, ok := os.LookupEnv(raw[m[2]:m[3]])
		if !ok {
			b.WriteString(raw[m[0]:m[1]])
			continue
		}
		if m[0] < userinfoEnd {
			v = strings.TrimPrefix(url.UserPassword("", v).String(), ":")
		}
		b.WriteString(v)
	}
	b.WriteString(raw[last:])
	return b.String()
}
