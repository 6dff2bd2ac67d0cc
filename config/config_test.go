package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `
http:
  listen: 127.0.0.1:8080
cameras:
  - id: station-07
    name: 白云区 7号压缩站
    url: rtsp://admin:${CAM_PASSWORD}@10.0.0.7:554/Streaming/Channels/101
    transport: tcp
    location: {lat: 23.2, lon: 113.27, address: 白云区 石井街道}
    sampling: {mode: keyframes}
  - id: street-1
    url: rtsp://127.0.0.1:8554/street-1
`

func TestParseAppliesDefaultsAndExpandsEnvironment(t *testing.T) {
	t.Setenv("CAM_PASSWORD", "pa55")
	cfg, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	c0, c1 := cfg.Cameras[0], cfg.Cameras[1]
	if c0.URL != "rtsp://admin:pa55@10.0.0.7:554/Streaming/Channels/101" {
		t.Errorf("url %q: ${CAM_PASSWORD} not expanded", c0.URL)
	}
	if c0.Sampling.Mode != SampleKeyframes || c0.Location.Address != "白云区 石井街道" {
		t.Errorf("camera 0 decoded as %+v", c0)
	}
	if c1.Name != "street-1" || c1.Transport != "auto" || c1.Sampling.Mode != SampleFPS || c1.Sampling.FPS != 2 ||
		c1.StallTimeout.D() != 10*time.Second || c1.Reconnect.Min.D() != time.Second || c1.Reconnect.Max.D() != 30*time.Second ||
		c1.Decoder.Threads != 1 {
		t.Errorf("camera 1 defaults: %+v", c1)
	}
	if cfg.Pipeline.FrameQueue != 64 || cfg.Log.Level != "info" { // two cameras: the floor
		t.Errorf("pipeline/log defaults: %+v %+v", cfg.Pipeline, cfg.Log)
	}
}

// The frame queue is sized from the cameras unless set: two seconds of
// each camera's sampled frames (two for keyframe sampling), at least 64.
func TestFrameQueueIsSizedFromTheCameras(t *testing.T) {
	cams := func(n int, prefix, sampling string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "  - {id: %s-%d, url: rtsp://127.0.0.1/%s%d, sampling: %s}\n", prefix, i, prefix, i, sampling)
		}
		return b.String()
	}
	for _, c := range []struct {
		name, yaml string
		want       int
	}{
		{"few cameras", "cameras:\n" + cams(3, "k", "{mode: keyframes}"), 64},
		{"128 keyframe cameras", "cameras:\n" + cams(128, "k", "{mode: keyframes}"), 256},
		{"fps cameras", "cameras:\n" + cams(30, "a", "{mode: fps, fps: 2}") + cams(10, "b", "{mode: fps, fps: 0.5}"), 30*4 + 10*2},
		{"set by hand", "pipeline: {frame_queue: 10}\ncameras:\n" + cams(128, "k", "{mode: keyframes}"), 10},
	} {
		cfg, err := Parse([]byte(c.yaml))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cfg.Pipeline.FrameQueue != c.want {
			t.Errorf("%s: frame_queue %d, want %d", c.name, cfg.Pipeline.FrameQueue, c.want)
		}
	}
}

func TestBrokenConfigsNameTheField(t *testing.T) {
	cam := "cameras:\n  - id: cam1\n    url: rtsp://127.0.0.1/a\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"empty file", "", "(file): empty config"},
		{"comment-only file", "# nothing here yet\n", "(file): empty config"},
		{"not yaml", "cameras: [", "(file): line 1: did not find expected node content"},
		{"unknown top-level key", "camera:\n  - id: a\n", "camera: unknown field (line 1)"},
		{"unknown camera key", cam + "    fsp: 5\n", "cameras[0].fsp: unknown field (line 4)"},
		{"unknown nested key", cam + "    sampling: {mode: fps, fsp: 5}\n", "cameras[0].sampling.fsp: unknown field (line 4)"},
		{"wrong type", cam + "    decoder: {threads: many}\n", `cameras[0].decoder.threads: expected a whole number value, got "many" (line 4)`},
		{"bad duration", cam + "    stall_timeout: 10 seconds\n", `cameras[0].stall_timeout: expected a duration such as 10s or 5m, got "10 seconds" (line 4)`},
		{"list expected", "cameras: {id: a}\n", "cameras: expected a list (line 1)"},
		{"hwaccel", cam + "    decoder: {hwaccel: nvdec}\n", `cameras[0].decoder.hwaccel: must be empty (CPU) or cuda (got "nvdec")`},
		{"precision warning", "review: {precision_warning: 1.5}\n" + cam, "review.precision_warning: must be between 0 and 1 (got 1.5)"},
		{"precision reviews", "review: {precision_min_reviewed: -2}\n" + cam, "review.precision_min_reviewed: must be at least 1 (got -2)"},
		{"mapping expected", "cameras:\n  - just-a-string\n", "cameras[0]: expected a mapping of fields (line 2)"},
		{"no cameras", "http: {listen: 127.0.0.1:1}\n", "cameras: at least one camera is needed"},
		{"missing id", "cameras:\n  - url: rtsp://h/a\n", "cameras[0].id: required"},
		{"bad id", "cameras:\n  - id: Cam 1\n    url: rtsp://h/a\n", `cameras[0].id: must be 1-64 lowercase letters, digits, '_' or '-', starting with a letter or digit (got "Cam 1")`},
		{"duplicate id", cam + "  - id: cam1\n    url: rtsp://h/b\n", `cameras[1].id: "cam1" is already used by cameras[0]`},
		{"missing url", "cameras:\n  - id: a\n", "cameras[0].url: required"},
		{"http url", "cameras:\n  - id: a\n    url: http://h/a\n", `cameras[0].url: must start with rtsp:// or rtsps:// (got "http://")`},
		{"url fragment", "cameras:\n  - id: a\n    url: \"rtsp://h/a#main\"\n", "cameras[0].url: has a #fragment, which RTSP does not allow (write a '#' in the user or password as %23)"},
		{"url empty fragment", "cameras:\n  - id: a\n    url: \"rtsp://u:p@h/a#\"\n", "cameras[0].url: has a #fragment, which RTSP does not allow (write a '#' in the user or password as %23)"},
		{"unset env", "cameras:\n  - id: a\n    url: rtsp://u:${NOPE_NOT_SET}@h/a\n", "cameras[0].url: environment variable NOPE_NOT_SET is not set"},
		{"bad transport", cam + "    transport: quic\n", `cameras[0].transport: must be auto, tcp or udp (got "quic")`},
		{"evidence s3 without bucket", cam + "evidence: {s3: {endpoint: 127.0.0.1:9000, access_key: a, secret_key: b}}\n", "evidence.s3.bucket: required with evidence.s3.endpoint"},
		{"evidence s3 bad endpoint", cam + "evidence: {s3: {endpoint: minio, bucket: b, access_key: a, secret_key: b}}\n", `evidence.s3.endpoint: expected host:port or http(s)://host[:port], got "minio"`},
		{"evidence s3 ftp endpoint", cam + "evidence: {s3: {endpoint: ftp://minio:21, bucket: b, access_key: a, secret_key: b}}\n", `evidence.s3.endpoint: expected host:port or http(s)://host[:port], got "ftp://minio:21"`},
		{"evidence jpeg quality", cam + "evidence: {jpeg_quality: 101}\n", "evidence.jpeg_quality: must be between 1 and 100 (got 101)"},
		{"evidence url expiry", cam + "evidence: {url_expiry: 720h}\n", "evidence.url_expiry: must be between 1m and 168h, the longest S3 presigning allows (got 720h0m0s)"},
		{"evidence unknown key", cam + "evidence: {preroll: 5s}\n", "evidence.preroll: unknown field (line 4)"},
		{"bad mode", cam + "    sampling: {mode: all}\n", `cameras[0].sampling.mode: must be fps or keyframes (got "all")`},
		{"fps too high", cam + "    sampling: {fps: 120}\n", "cameras[0].sampling.fps: must be more than 0 and at most 60 (got 120)"},
		{"fps with keyframes", cam + "    sampling: {mode: keyframes, fps: 2}\n", "cameras[0].sampling.fps: only applies to mode fps; keyframes mode decodes every keyframe"},
		{"latitude", cam + "    location: {lat: 123}\n", "cameras[0].location.lat: must be between -90 and 90 (got 123)"},
		{"short stall", cam + "    stall_timeout: 100ms\n", "cameras[0].stall_timeout: must be at least 1s (got 100ms)"},
		{"backoff order", cam + "    reconnect: {min: 5s, max: 1s}\n", "cameras[0].reconnect.max: must not be less than reconnect.min (1s < 5s)"},
		{"listen", "http: {listen: 8080}\n" + cam, `http.listen: expected host:port, got "8080"`},
		{"log level", "log: {level: loud}\n" + cam, `log.level: must be one of debug, info, warn, error (got "loud")`},
		{"queue", "pipeline: {frame_queue: -1}\n" + cam, "pipeline.frame_queue: must be between 1 and 100000 (got -1)"},
		{"mask point", cam + "    masks: [[[0, 0], [1, 0, 3], [1, 1]]]\n", "cameras[0].masks[0][1]: expected a list of 2 values (line 4)"},
		{"mask too small", cam + "    masks: [[[0, 0], [1, 0]]]\n", "cameras[0].masks[0]: needs at least 3 points (got 2)"},
		{"unknown model", cam + "    models: [yolo]\n", `cameras[0].models[0]: no model "yolo" in detectors.models`},
		{"provider", "detectors: {runtime: {provider: rocm}}\n" + cam, `detectors.runtime.provider: must be cpu, cuda or tensorrt (got "rocm")`},
		{"max batch", "detectors: {max_batch: 100}\n" + cam, "detectors.max_batch: must be between 1 and 64 (got 100)"},
		{"model without manifest", "detectors: {models: [{name: a}]}\n" + cam, "detectors.models[0].manifest: required (the model's .yaml manifest)"},
		{"filter order", cam + "    filters: {person: {min_area: 10, max_area: 5}}\n", "cameras[0].filters.person.max_area: must not be less than min_area"},
		{"zone time zone", cam + "    zones: [{name: z, polygon: [[0, 0], [1, 0], [1, 1]], schedule: {timezone: Mars/Olympus}}]\n", `cameras[0].zones[0].schedule.timezone: unknown time zone "Mars/Olympus"`},
		{"zone window", cam + "    zones: [{name: z, polygon: [[0, 0], [1, 0], [1, 1]], schedule: {windows: [{start: 7am, end: \"21:00\"}]}}]\n", `cameras[0].zones[0].schedule.windows[0].start: expected HH:MM (got "7am")`},
		{"left objects size", cam + "    left_objects: {enabled: true, min_area: 0.5}\n", "cameras[0].left_objects.min_area: must be between 0.0001 and 0.25 of the picture (got 0.5)"},
		{"left objects time", cam + "    left_objects: {static_for: 0.5s}\n", "cameras[0].left_objects.static_for: must be between 1s and 10m (got 500ms)"},
		{"threshold range", cam + "    thresholds: {person: 2}\n", "cameras[0].thresholds.person: must be between 0 and 1 (got 2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.yaml)
			}
			if err.Error() != tt.want {
				t.Fatalf("error:\n  %s\nwant:\n  %s", err, tt.want)
			}
		})
	}
}

func TestEnvironmentExpansionKeepsPasswordsIntact(t *testing.T) {
	t.Setenv("CAM_PW", "p@ss/w#rd%")
	t.Setenv("word", "WRONG")
	tests := []struct{ in, want string }{
		{"rtsp://admin:${CAM_PW}@10.0.0.7/a", "rtsp://admin:p%40ss%2Fw%23rd%25@10.0.0.7/a"},
		{"rtsp://admin:Pa$word@10.0.0.7/a", "rtsp://admin:Pa$word@10.0.0.7/a"},
		{"rtsp://10.0.0.7/${CAM_PW}", "rtsp://10.0.0.7/p@ss/w#rd%"},
	}
	for _, tt := range tests {
		if got := expandURL(tt.in); got != tt.want {
			t.Errorf("expandURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAllProblemsAreReportedAtOnce(t *testing.T) {
	_, err := Parse([]byte("cameras:\n  - id: a\n  - id: b\n    url: ftp://x\n"))
	errs, ok := err.(Errors)
	if !ok || len(errs) != 2 {
		t.Fatalf("got %v, want two field errors", err)
	}
}

func TestInvalidURLErrorDoesNotEchoThePassword(t *testing.T) {
	_, err := Parse([]byte("cameras:\n  - id: a\n    url: \"rtsp://u:secret pw%zz@h/a\"\n"))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %v: want an error without the password", err)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sw.yaml")
	if err := os.WriteFile(p, []byte("cameras: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": cameras: at least one camera is needed") {
		t.Fatalf("Load: %v", err)
	}
}

// Left objects run unless a camera switches them off, and two settings
// that say the same make the same detector (a reload keeps what it learnt).
func TestLeftObjectsAreOnUnlessSwitchedOff(t *testing.T) {
	t.Setenv("CAM_PASSWORD", "pa55")
	cfg, err := Parse([]byte(good + "    left_objects: {enabled: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if on, off := cfg.Cameras[0].LeftObjects, cfg.Cameras[1].LeftObjects; !on.On() || off.On() {
		t.Errorf("left objects: unset camera on=%v, enabled: false on=%v; want true, false", on.On(), off.On())
	}
	same := LeftObjects{Enabled: new(true), MinArea: 0.002}
	for _, tc := range []struct {
		o    LeftObjects
		want bool
	}{
		{LeftObjects{MinArea: 0.002}, true}, // unset is on
		{LeftObjects{Enabled: new(true), MinArea: 0.002}, true},
		{LeftObjects{Enabled: new(false), MinArea: 0.002}, false},
		{LeftObjects{Enabled: new(true), MinArea: 0.003}, false},
		{LeftObjects{Enabled: new(true), MinArea: 0.002, StaticFor: Duration(time.Second)}, false},
	} {
		if got := same.Same(tc.o); got != tc.want {
			t.Errorf("%+v Same %+v = %v, want %v", same, tc.o, got, tc.want)
		}
	}
}
