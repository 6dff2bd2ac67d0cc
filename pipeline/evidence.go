package pipeline

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"image"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/rules"
	"github.com/streetwatch/streetwatch/confirm/track"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/internal/atomicfile"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/history"
)

// Version is StreetWatch's version, written into evidence manifests (set
// by the binary).
var Version = "dev"

// evidenceStage keeps each camera's video history and turns violations
// into evidence bundles.
type evidenceStage struct {
	cfg        config.Evidence
	pendingDir string
	store      evidence.Store
	local      *evidence.LocalStore        // nil for S3
	histories  map[string]*history.History // under mu: cameras are added while running
	uploader   *evidence.Uploader
	recorder   *evidence.Recorder
	retention  *evidence.Retention
	models     []evidence.ModelRecord
	cameras    map[string]config.Camera // under mu: a reload changes them
	log        *slog.Logger
	mu         sync.Mutex
	// what addCamera needs
	stateDir string
	hm       *history.Metrics
	metrics  *evidence.Metrics
	// pictures takes back the events' pictures once recorded (a nil pool
	// closes them): the frame pool they came from.
	pictures *frame.Pool
}

// historyMargin is kept beyond the longest dwell plus pre- and post-roll.
const historyMargin = 30 * time.Second

// newEvidenceStage builds the evidence stage; onStored is the hand-off of
// each spooled violation, keep tells retention which evidence to keep
// whatever its age. On error it frees what it built.
func newEvidenceStage(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, models []evidence.ModelRecord,
	onStored func(evidence.Stored) error, keep func(violationID string) bool) (_ *evidenceStage, err error) {
	ec := cfg.Evidence
	m := evidence.NewMetrics(reg)
	// Each camera's clip counters exist from the start at 0: a failure
	// is then an increase Prometheus can alert on, not a new series.
	for _, cc := range cfg.Cameras {
		m.Clips.WithLabelValues(cc.ID)
		m.ClipFailures.WithLabelValues(cc.ID)
	}
	hm := history.NewMetrics(reg)
	s := &evidenceStage{cfg: ec, pendingDir: filepath.Join(cfg.StateDir, "pending"), histories: map[string]*history.History{},
		models: models, cameras: map[string]config.Camera{}, log: log, stateDir: cfg.StateDir, hm: hm, metrics: m}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if ec.S3.Endpoint != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := evidence.NewS3Store(ctx, evidence.S3Config{Endpoint: ec.S3.Endpoint, Bucket: ec.S3.Bucket,
			Region: ec.S3.Region, AccessKey: ec.S3.AccessKey, SecretKey: ec.S3.SecretKey, UseSSL: ec.S3.UseSSL,
			CreateBucket: ec.S3.CreateBucket, Prefix: ec.S3.Prefix})
		if err != nil {
			// Down at start is an outage like any other: the spool keeps
			// evidence until the store is back. A wrong bucket or key is not.
			return nil, fmt.Errorf("evidence store: %w", err)
		}
		s.store = st
	} else {
		key, err := urlKey(filepath.Join(cfg.StateDir, "evidence-url.key"))
		if err != nil {
			return nil, err
		}
		s.local = &evidence.LocalStore{Dir: ec.Dir, SignKey: key, BaseURL: "/evidence/"}
		s.store = s.local
	}
	var signKey ed25519.PrivateKey
	if ec.SignKeyFile != "" {
		raw, err := os.ReadFile(ec.SignKeyFile)
		if err != nil {
			return nil, fmt.Errorf("evidence.sign_key_file: %w", err)
		}
		if signKey, err = evidence.ParsePrivateKey(raw); err != nil {
			return nil, fmt.Errorf("evidence.sign_key_file %s: %w", ec.SignKeyFile, err)
		}
	}
	for _, cam := range cfg.Cameras {
		if !confirms(cam) {
			continue
		}
		if _, err := s.addCamera(cam); err != nil {
			return nil, err
		}
	}
	if s.uploader, err = evidence.NewUploader(evidence.UploaderConfig{Dir: filepath.Join(cfg.StateDir, "spool")},
		evidence.UploaderDeps{Store: s.store, Metrics: m, Log: log}); err != nil {
		return nil, err
	}
	s.recorder, err = evidence.NewRecorder(evidence.RecorderConfig{PreRoll: ec.PreRoll.D(), PostRoll: ec.PostRoll.D(),
		PostRollGrace: 30 * time.Second, JPEGQuality: ec.JPEGQuality, SignKey: signKey, Version: Version, PendingDir: s.pendingDir},
		evidence.RecorderDeps{
			Uploader: s.uploader,
			History: func(camera string) evidence.ClipSource {
				if h := s.history(camera); h != nil {
					return h
				}
				return nil
			},
			OnStored: onStored,
			Metrics:  m, Log: log,
		})
	if err != nil {
		return nil, err
	}
	if ec.RetentionDays > 0 {
		if s.retention, err = evidence.NewRetention(evidence.RetentionConfig{Days: ec.RetentionDays, Every: time.Hour},
			evidence.RetentionDeps{Store: s.store, Keep: keep, Metrics: m, Log: log}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// longestDwell is the longest min_dwell a camera's rules and zones use.
func longestDwell(cam config.Camera) time.Duration {
	var d time.Duration
	for _, t := range rules.Types {
		p := rules.DefaultParams(t)
		if o, ok := cam.Rules[string(t)]; ok {
			p = override(p, o)
		}
		d = max(d, p.MinDwell)
		for _, z := range cam.Zones {
			if o, ok := z.Overrides[string(t)]; ok && o.MinDwell > 0 {
				d = max(d, o.MinDwell.D())
			}
		}
	}
	return d
}

// visitClip is how long a station visit's clip may run (arrival to the
// visit's end, which is LeaveAfter after its departure) and still start at
// its arrival: history keeps that much for a station camera. A longer
// visit's clip starts later (the manifest says so).
const visitClip = 15 * time.Minute

// longestVisit is the history a station camera's visits need (0 for
// other cameras).
func longestVisit(cam config.Camera) time.Duration {
	if cam.Station == nil {
		return 0
	}
	return max(visitClip, cam.Station.MinStop.D()+cam.Station.LeaveAfter.D())
}

// urlKey loads (or makes) the key that signs local evidence links, kept
// so links stay valid across restarts.
func urlKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	key := evidence.NewSignKey()
	if err := atomicfile.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	return key, nil
}

func (s *evidenceStage) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := s.uploader.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("evidence uploader stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := s.recorder.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("evidence recorder stopped", "err", err)
		}
	}()
	if s.retention != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.retention.Run(ctx)
		}()
	}
	wg.Wait()
}

// close frees what newEvidenceStage built, once run has returned.
func (s *evidenceStage) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.histories {
		h.Close()
	}
}

// addCamera starts keeping a confirming camera's history and knowing its
// config; a camera added again (removed and added back by reloads) gets
// its history back, with what it kept.
func (s *evidenceStage) addCamera(cam config.Camera) (*history.History, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cameras[cam.ID] = cam
	if h, ok := s.histories[cam.ID]; ok {
		return h, nil
	}
	s.metrics.Clips.WithLabelValues(cam.ID)
	s.metrics.ClipFailures.WithLabelValues(cam.ID)
	h, err := history.New(cam.ID, history.Config{
		MaxMemory: int64(s.cfg.HistoryMemoryMB) << 20,
		Keep:      max(longestDwell(cam), longestVisit(cam)) + s.cfg.PreRoll.D() + s.cfg.PostRoll.D() + historyMargin,
		SpillDir:  filepath.Join(s.stateDir, "history", cam.ID),
	}, s.hm, s.log)
	if err != nil {
		return nil, fmt.Errorf("camera %q: evidence history: %w", cam.ID, err)
	}
	s.histories[cam.ID] = h
	return h, nil
}

// setCamera replaces a camera's config (name, location, zones) for the
// evidence recorded from now on.
func (s *evidenceStage) setCamera(cam config.Camera) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cameras[cam.ID] = cam
}

func (s *evidenceStage) camera(id string) config.Camera {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cameras[id]
}

func (s *evidenceStage) history(camera string) *history.History {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.histories[camera]
}

// record hands a violation event to the recorder (which owns its frames
// from here on).
func (s *evidenceStage) record(ev ViolationEvent, width, height int) error {
	return s.recorder.Record(s.event(ev, width, height))
}

// actorSlack is how far from the picture's time an actor's sample may be
// taken and still be drawn on it: a fraction of a second, in which a
// person moves less than a step.
const actorSlack = 250 * time.Millisecond

// event is the evidence recorder's form of a violation event. On the
// actor's picture, the actor's box is its sample in that very frame (or
// one taken within actorSlack of it); ActorAt is the picture's time.
func (s *evidenceStage) event(ev ViolationEvent, width, height int) *evidence.Event {
	v := ev.Violation
	cam := s.camera(v.Camera)
	rec := &evidence.Event{
		Violation: evidence.ViolationRecord{Record: v.Record, BestAt: ev.BestAt},
		Camera: evidence.CameraRecord{ID: cam.ID, Name: cam.Name, Location: cam.Location.Address,
			LatLon: [2]float64{cam.Location.Lat, cam.Location.Lon}},
		Models:      s.models,
		Zone:        zonePixels(cam, v.Zone, width, height),
		TimeZone:    zoneTimezone(cam, v.Zone),
		BestFrame:   ev.BestFrame,
		AppearFrame: ev.AppearFrame,
		Recycle:     s.pictures.Recycle,
	}
	if rec.Violation.BestAt.IsZero() { // no picture kept
		rec.Violation.BestAt = v.Best.Time
	}
	label := func(class string, score float32) string { return fmt.Sprintf("%s %.2f", class, score) }
	rec.BestMarks = []evidence.Mark{{Rect: v.Best.Box.Rect(), Label: label(v.Class, v.Best.Score), Color: evidence.ColorObject}}
	if v.Parts > 0 {
		// The picture is the confirming frame (see ViolationEvent): the
		// pile's whole box, as the ticket carries it.
		rec.BestMarks = []evidence.Mark{{Rect: v.Box.Rect(), Label: fmt.Sprintf("%s %.2f + %d next to it", v.Class, v.Best.Score, v.Parts), Color: evidence.ColorObject}}
	}
	if len(v.Timeline) == 0 || v.Type != rules.IllegalDumping || ev.AppearFrame.Ptr() == nil || ev.AppearFrame.Empty() {
		return rec
	}
	obj, _ := nearest(v.Timeline, ev.AppearAt)
	rec.AppearMarks = []evidence.Mark{{Rect: obj.Box.Rect(), Label: label(v.Class, obj.Score), Color: evidence.ColorObject}}
	rec.Violation.ActorAt = ev.AppearAt
	actor, ok := ev.ActorSample, !ev.ActorSample.Time.IsZero()
	if !ok {
		actor, ok = nearest(v.Actor, ev.AppearAt)
		ok = ok && absDur(actor.Time.Sub(ev.AppearAt)) <= actorSlack
	}
	if ok && v.ActorClass != "" {
		rec.AppearMarks = append(rec.AppearMarks, evidence.Mark{Rect: actor.Box.Rect(), Label: "actor: " + v.ActorClass, Color: evidence.ColorActor})
	} else if v.ActorClass != "" {
		rec.AppearCaption = []string{"actor not in this frame: see the clip"}
	}
	return rec
}

// nearest is the sample taken closest to at.
func nearest(samples []track.Sample, at time.Time) (track.Sample, bool) {
	var best track.Sample
	found := false
	for _, s := range samples {
		if !found || absDur(s.Time.Sub(at)) < absDur(best.Time.Sub(at)) {
			best, found = s, true
		}
	}
	return best, found
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// zoneTimezone is the time zone of a zone's enforcement hours (the city's).
func zoneTimezone(cam config.Camera, name string) string {
	for _, z := range cam.Zones {
		if z.Name == name && z.Schedule.Timezone != "" {
			return z.Schedule.Timezone
		}
	}
	return "Asia/Shanghai"
}

// zonePixels is a zone's polygon in the frame's pixels.
func zonePixels(cam config.Camera, name string, w, h int) []image.Point {
	for _, z := range cam.Zones {
		if z.Name == name {
			return pixels(z.Polygon, w, h)
		}
	}
	return nil
}

// pixels is a polygon (pixels or normalised) in the frame's pixels.
func pixels(p config.Polygon, w, h int) []image.Point {
	var out []image.Point
	for _, pt := range polygon(p).Scaled(w, h) {
		out = append(out, image.Pt(int(pt.X+0.5), int(pt.Y+0.5)))
	}
	return out
}

// EvidenceHandler serves local evidence links (nil with an S3 store,
// whose links are presigned).
func (p *Pipeline) EvidenceHandler() http.Handler {
	if p.evidence == nil || p.evidence.local == nil {
		return nil
	}
	return p.evidence.local.Handler()
}

// EvidenceURL is a link to a stored evidence object, valid for the
// configured url_expiry.
func (p *Pipeline) EvidenceURL(ctx context.Context, key string) (string, error) {
	if p.evidence == nil {
		return "", fmt.Errorf("no evidence store")
	}
	return p.evidence.store.URL(ctx, key, p.evidence.cfg.URLExpiry.D())
}

// EvidenceStore is where evidence is kept (nil without cameras with zones).
func (p *Pipeline) EvidenceStore() evidence.Store {
	if p.evidence == nil {
		return nil
	}
	return p.evidence.store
}

// FlushEvidence waits until every spooled bundle is stored (tests, shutdown).
func (p *Pipeline) FlushEvidence(ctx context.Context) error {
	if p.evidence == nil {
		return nil
	}
	return p.evidence.uploader.Flush(ctx)
}
