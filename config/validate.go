package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/streetwatch/streetwatch/violation"
)

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Validate checks every field and returns all problems, each naming its path.
func (c *Config) Validate() error {
	var errs Errors
	bad := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.HTTP.Listen != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
			bad("http.listen", "expected host:port, got %q", c.HTTP.Listen)
		}
	}
	c.validateHTTP(bad)
	c.validateCluster(bad)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be one of debug, info, warn, error (got %q)", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "must be text or json (got %q)", c.Log.Format)
	}
	if c.Pipeline.FrameQueue < 1 || c.Pipeline.FrameQueue > 100000 {
		bad("pipeline.frame_queue", "must be between 1 and 100000 (got %d)", c.Pipeline.FrameQueue)
	}
	if c.Pipeline.UnitQueue < 8 || c.Pipeline.UnitQueue > 100000 {
		bad("pipeline.unit_queue", "must be between 8 and 100000 (got %d)", c.Pipeline.UnitQueue)
	}
	if len(c.Cameras) == 0 {
		bad("cameras", "at least one camera is needed")
	}
	c.validateEvidence(bad)
	c.validateDispatch(bad)
	c.validateReview(bad)
	c.validateStations(bad)
	c.validateStationCameras(bad)
	models := c.validateDetectors(bad)
	seen := map[string]int{}
	for i, cam := range c.Cameras {
		p := fmt.Sprintf("cameras[%d]", i)
		checkID(bad, "cameras", i, cam.ID, seen, nil)
		validateURL(p+".url", cam.URL, bad)
		switch cam.Transport {
		case "auto", "tcp", "udp":
		default:
			bad(p+".transport", "must be auto, tcp or udp (got %q)", cam.Transport)
		}
		if cam.Location.Lat < -90 || cam.Location.Lat > 90 {
			bad(p+".location.lat", "must be between -90 and 90 (got %g)", cam.Location.Lat)
		}
		if cam.Location.Lon < -180 || cam.Location.Lon > 180 {
			bad(p+".location.lon", "must be between -180 and 180 (got %g)", cam.Location.Lon)
		}
		switch cam.Sampling.Mode {
		case SampleFPS:
			if cam.Sampling.FPS <= 0 || cam.Sampling.FPS > 60 {
				bad(p+".sampling.fps", "must be more than 0 and at most 60 (got %g)", cam.Sampling.FPS)
			}
		case SampleKeyframes:
			if cam.Sampling.FPS != 0 {
				bad(p+".sampling.fps", "only applies to mode fps; keyframes mode decodes every keyframe")
			}
		default:
			bad(p+".sampling.mode", "must be fps or keyframes (got %q)", cam.Sampling.Mode)
		}
		if cam.StallTimeout.D() < time.Second {
			bad(p+".stall_timeout", "must be at least 1s (got %v)", cam.StallTimeout)
		}
		if cam.Reconnect.Min.D() < 10*time.Millisecond {
			bad(p+".reconnect.min", "must be at least 10ms (got %v)", cam.Reconnect.Min)
		}
		if cam.Reconnect.Max < cam.Reconnect.Min {
			bad(p+".reconnect.max", "must not be less than reconnect.min (%v < %v)", cam.Reconnect.Max, cam.Reconnect.Min)
		}
		if h := cam.Decoder.HWAccel; h != "" && h != "cuda" {
			bad(p+".decoder.hwaccel", "must be empty (CPU) or cuda (got %q)", h)
		}
		if cam.Decoder.Threads < 1 || cam.Decoder.Threads > 16 {
			bad(p+".decoder.threads", "must be between 1 and 16 (got %d)", cam.Decoder.Threads)
		}
		validateCameraDetection(p, cam, models, bad)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func validateURL(path, raw string, bad func(path, format string, args ...any)) {
	if raw == "" {
		bad(path, "required")
		return
	}
	if i := strings.Index(raw, "${"); i >= 0 {
		name := raw[i+2:]
		if j := strings.IndexByte(name, '}'); j >= 0 {
			name = name[:j]
		}
		bad(path, "environment variable %s is not set", name)
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the input, which may hold a password.
		bad(path, "not a valid URL")
		return
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		bad(path, "must start with rtsp:// or rtsps:// (got %q)", u.Scheme+"://")
		return
	}
	if u.Host == "" {
		bad(path, "has no host")
	}
	// RTSP clients refuse these at connect time, so the camera would fail
	// forever; the fragment is not echoed (it may be the tail of a
	// password with an unescaped '#').
	if u.Fragment != "" || strings.Contains(raw, "#") {
		bad(path, "has a #fragment, which RTSP does not allow (write a '#' in the user or password as %%23)")
	}
}

func (c *Config) validateDetectors(bad func(path, format string, args ...any)) map[string]bool {
	d := c.Detectors
	switch d.Runtime.Provider {
	case "cpu", "cuda", "tensorrt":
	default:
		bad("detectors.runtime.provider", "must be cpu, cuda or tensorrt (got %q)", d.Runtime.Provider)
	}
	switch d.Runtime.GraphOptimization {
	case "disabled", "basic", "extended", "all":
	default:
		bad("detectors.runtime.graph_optimization", "must be disabled, basic, extended or all (got %q)", d.Runtime.GraphOptimization)
	}
	if d.Runtime.DeviceID < 0 {
		bad("detectors.runtime.device_id", "must not be negative")
	}
	if d.Runtime.IntraOpThreads < 0 || d.Runtime.InterOpThreads < 0 {
		bad("detectors.runtime", "thread counts must not be negative")
	}
	if d.MaxBatch < 1 || d.MaxBatch > 64 {
		bad("detectors.max_batch", "must be between 1 and 64 (got %d)", d.MaxBatch)
	}
	if d.MaxWait.D() < 0 || d.MaxWait.D() > time.Second {
		bad("detectors.max_wait", "must be between 0s and 1s (got %v)", d.MaxWait)
	}
	if d.Workers < 0 || d.Workers > 64 {
		bad("detectors.workers", "must be between 0 and 64 (got %d)", d.Workers)
	}
	names := map[string]bool{}
	for i, m := range d.Models {
		p := fmt.Sprintf("detectors.models[%d]", i)
		switch {
		case m.Name == "":
			bad(p+".name", "required")
		case names[m.Name]:
			bad(p+".name", "%q is used twice", m.Name)
		}
		names[m.Name] = true
		if m.Manifest == "" {
			bad(p+".manifest", "required (the model's .yaml manifest)")
		}
	}
	return names
}

func validateCameraDetection(p string, cam Camera, models map[string]bool, bad func(path, format string, args ...any)) {
	for j, m := range cam.Models {
		if !models[m] {
			bad(fmt.Sprintf("%s.models[%d]", p, j), "no model %q in detectors.models", m)
		}
	}
	for class, th := range cam.Thresholds {
		if th < 0 || th > 1 {
			bad(p+".thresholds."+class, "must be between 0 and 1 (got %g)", th)
		}
	}
	for class, f := range cam.Filters {
		fp := p + ".filters." + class
		if f.MinArea < 0 || f.MaxArea < 0 || f.MinRatio < 0 || f.MaxRatio < 0 {
			bad(fp, "values must not be negative")
		}
		if f.MaxArea > 0 && f.MinArea > f.MaxArea {
			bad(fp+".max_area", "must not be less than min_area")
		}
		if f.MaxRatio > 0 && f.MinRatio > f.MaxRatio {
			bad(fp+".max_ratio", "must not be less than min_ratio")
		}
	}
	for j, poly := range cam.Masks {
		if len(poly) < 3 {
			bad(fmt.Sprintf("%s.masks[%d]", p, j), "needs at least 3 points (got %d)", len(poly))
		}
	}
	validateRules(p+".rules", cam.Rules, bad)
	if lo := cam.LeftObjects; lo.MinArea != 0 && (lo.MinArea < 0.0001 || lo.MinArea > 0.25) {
		bad(p+".left_objects.min_area", "must be between 0.0001 and 0.25 of the picture (got %g)", lo.MinArea)
	}
	if lo := cam.LeftObjects; lo.StaticFor != 0 && (lo.StaticFor.D() < time.Second || lo.StaticFor.D() > 10*time.Minute) {
		bad(p+".left_objects.static_for", "must be between 1s and 10m (got %s)", lo.StaticFor)
	}
	names := map[string]bool{}
	for j, z := range cam.Zones {
		zp := fmt.Sprintf("%s.zones[%d]", p, j)
		if z.Name == "" {
			bad(zp+".name", "required")
		} else if names[z.Name] {
			bad(zp+".name", "%q is used twice", z.Name)
		}
		names[z.Name] = true
		if len(z.Polygon) < 3 {
			bad(zp+".polygon", "needs at least 3 points (got %d)", len(z.Polygon))
		}
		for k, t := range z.Types {
			if err := violation.CheckType(t); err != nil {
				bad(fmt.Sprintf("%s.types[%d]", zp, k), "%v (got %q)", err, t)
			}
		}
		if _, err := time.LoadLocation(z.Schedule.Timezone); err != nil {
			bad(zp+".schedule.timezone", "unknown time zone %q", z.Schedule.Timezone)
		}
		for k, w := range z.Schedule.Windows {
			wp := fmt.Sprintf("%s.schedule.windows[%d]", zp, k)
			if !clockRE.MatchString(w.Start) {
				bad(wp+".start", "expected HH:MM (got %q)", w.Start)
			}
			if !clockRE.MatchString(w.End) {
				bad(wp+".end", "expected HH:MM (got %q)", w.End)
			}
			for m, d := range w.Days {
				if _, ok := Weekdays[strings.ToLower(d)]; !ok {
					bad(fmt.Sprintf("%s.days[%d]", wp, m), "expected mon, tue, wed, thu, fri, sat or sun (got %q)", d)
				}
			}
		}
		validateRules(zp+".overrides", z.Overrides, bad)
	}
}

var (
	clockRE = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):[0-5][0-9]$|^24:00$`)
	// Weekdays maps schedule day names.
	Weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
		"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}
)

func validateRules(path string, rules map[string]RuleParams, bad func(path, format string, args ...any)) {
	for t, r := range rules {
		rp := path + "." + t
		if err := violation.CheckType(t); err != nil {
			bad(rp, "%v", err)
		}
		if r.MinDwell < 0 || r.ClearAfter < 0 {
			bad(rp, "durations must not be negative")
		}
		if r.MinScore < 0 || r.MinScore > 1 {
			bad(rp+".min_score", "must be between 0 and 1 (got %g)", r.MinScore)
		}
	}
}

func (c *Config) validateEvidence(bad func(path, format string, args ...any)) {
	ev := &c.Evidence
	if ev.PreRoll < 0 || ev.PreRoll.D() > 10*time.Minute {
		bad("evidence.pre_roll", "must be between 0 and 10m (got %s)", ev.PreRoll.D())
	}
	if ev.PostRoll < 0 || ev.PostRoll.D() > 10*time.Minute {
		bad("evidence.post_roll", "must be between 0 and 10m (got %s)", ev.PostRoll.D())
	}
	if ev.HistoryMemoryMB < 1 || ev.HistoryMemoryMB > 4096 {
		bad("evidence.history_memory_mb", "must be between 1 and 4096 (got %d)", ev.HistoryMemoryMB)
	}
	if ev.JPEGQuality < 1 || ev.JPEGQuality > 100 {
		bad("evidence.jpeg_quality", "must be between 1 and 100 (got %d)", ev.JPEGQuality)
	}
	if ev.RetentionDays < 0 {
		bad("evidence.retention_days", "must not be negative (got %d)", ev.RetentionDays)
	}
	if ev.URLExpiry.D() < time.Minute || ev.URLExpiry.D() > 7*24*time.Hour {
		bad("evidence.url_expiry", "must be between 1m and 168h, the longest S3 presigning allows (got %s)", ev.URLExpiry.D())
	}
	if s := ev.S3; s.Endpoint != "" {
		if u, err := url.Parse(s.Endpoint); strings.Contains(s.Endpoint, "://") && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "") {
			bad("evidence.s3.endpoint", "expected host:port or http(s)://host[:port], got %q", s.Endpoint)
		} else if _, _, err := net.SplitHostPort(s.Endpoint); !strings.Contains(s.Endpoint, "://") && err != nil {
			bad("evidence.s3.endpoint", "expected host:port or http(s)://host[:port], got %q", s.Endpoint)
		}
		if s.Bucket == "" {
			bad("evidence.s3.bucket", "required with evidence.s3.endpoint")
		}
		if s.AccessKey == "" || s.SecretKey == "" {
			bad("evidence.s3.access_key", "access_key and secret_key are required with evidence.s3.endpoint (use ${VAR})")
		}
	}
}

// checkID reports list[i].id when it is missing, malformed, reserved (the
// map says why) or already used, and records a good one in seen.
func checkID(bad func(path, format string, args ...any), list string, i int, id string, seen map[string]int, reserved map[string]string) {
	p := fmt.Sprintf("%s[%d].id", list, i)
	switch why, isReserved := reserved[id]; {
	case id == "":
		bad(p, "required")
	case !idRE.MatchString(id):
		bad(p, "must be 1-64 lowercase letters, digits, '_' or '-', starting with a letter or digit (got %q)", id)
	case isReserved:
		bad(p, "%q is reserved: %s", id, why)
	default:
		if j, dup := seen[id]; dup {
			bad(p, "%q is already used by %s[%d]", id, list, j)
		}
		seen[id] = i
	}
}
