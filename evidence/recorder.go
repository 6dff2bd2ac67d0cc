package evidence

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/internal/atomicfile"
	"github.com/streetwatch/streetwatch/internal/backoff"
	"github.com/streetwatch/streetwatch/internal/crashtest"
	"github.com/streetwatch/streetwatch/media"
)

// Event is a confirmed violation as the recorder needs it. The pipeline
// builds it from the confirmation stage's event. A station visit is
// recorded the same way (type violation.StationVisit): its arrival is
// FirstSeen, its departure ConfirmedAt, so the clip runs from arrival −
// pre-roll to departure + post-roll.
type Event struct {
	Violation ViolationRecord `json:"violation"`
	Camera    CameraRecord    `json:"camera"`
	Models    []ModelRecord   `json:"models,omitempty"`
	// Zone is the zone polygon in native pixels, drawn on the snapshot.
	Zone []image.Point `json:"zone,omitempty"`
	// TimeZone is the camera's local time zone, for the time burned into
	// the snapshots (empty: UTC).
	TimeZone string `json:"time_zone,omitempty"`
	// BestFrame is the object's best frame; AppearFrame (dumping) the
	// frame where it appeared, with its actor. The recorder closes both,
	// or hands them to Recycle when set (the pictures came from a pool).
	BestFrame   gocv.Mat       `json:"-"`
	BestMarks   []Mark         `json:"-"`
	AppearFrame gocv.Mat       `json:"-"`
	AppearMarks []Mark         `json:"-"`
	Recycle     func(gocv.Mat) `json:"-"`
	// AppearCaption are more caption lines for the actor's picture, under
	// its time (Violation.ActorAt); ASCII only, as OpenCV's fonts draw.
	AppearCaption []string `json:"-"`
	// Extra goes into the manifest's "extra" as it is: what an event that
	// is not a violation adds (a station visit's station and stop).
	Extra map[string]any `json:"extra,omitempty"`
}

// Stored is a violation whose evidence is safely spooled (and uploaded in
// the background): what the dispatch stage turns into a ticket.
type Stored struct {
	Violation ViolationRecord
	Camera    CameraRecord
	Prefix    string // store key prefix of the bundle
	Manifest  *Manifest
	// ManifestSHA256 is the hash of manifest.json as stored.
	ManifestSHA256 string
}

// ClipSource is a camera's video history (pipeline/history implements it,
// fed by the camera's ingest).
type ClipSource interface {
	// Clip returns the access units from the keyframe at or before from
	// through to, in decode order. When history does not reach back to
	// from, it returns what it has together with an error that wraps
	// ErrShortHistory.
	Clip(from, to time.Time) ([]*media.AccessUnit, error)
	// Newest is the time of the newest access unit.
	Newest() time.Time
}

// ErrShortHistory is wrapped by the error a ClipSource returns together
// with a usable clip that starts later than asked.
var ErrShortHistory = errors.New("evidence: history does not reach back to the clip start")

// ErrHistoryClosed is wrapped by the error a ClipSource returns once it is
// closed: the recorder then leaves the violation pending (no bundle is made
// final without its clip).
var ErrHistoryClosed = errors.New("evidence: history closed")

// RecorderConfig tunes the recorder.
type RecorderConfig struct {
	PreRoll, PostRoll time.Duration
	// PostRollGrace is how long (wall time) to wait beyond PostRoll for
	// the stream to deliver it; a camera that dropped gives a shorter clip.
	PostRollGrace time.Duration
	JPEGQuality   int
	SignKey       ed25519.PrivateKey // nil: manifests are not signed
	Version       string             // StreetWatch version for manifests
	// PendingDir keeps violations between confirmation and the spool, so
	// a crash during post-roll loses none.
	PendingDir string
}

// RecorderDeps are the parts a Recorder works with.
type RecorderDeps struct {
	Uploader *Uploader
	// History returns a camera's history (nil: no clip for that camera).
	History func(camera string) ClipSource
	// OnStored is called when a violation's bundle is spooled (the ticket
	// hand-off). Until it returns nil the violation stays pending: it is
	// retried, and after a crash called again with the same manifest, so
	// it must be idempotent by violation id.
	OnStored func(Stored) error
	Metrics  *Metrics     // nil: no metrics
	Log      *slog.Logger // nil: slog.Default()
}

// Recorder turns violation events into evidence bundles: it waits for the
// post-roll, cuts the clip from the camera's history, writes snapshots and
// the manifest, and hands the bundle to the Uploader.
//
// Lifecycle: NewRecorder, then Run until its context ends. Record may be
// called before and during Run; violations recorded after Run stopped stay
// pending for the next start.
type Recorder struct {
	cfg      RecorderConfig
	uploader *Uploader
	history  func(camera string) ClipSource
	onStored func(Stored) error
	metrics  *Metrics
	log      *slog.Logger

	mu     sync.Mutex
	state  recorderState
	queued []recordJob   // for Run to start
	wake   chan struct{} // a job was queued
}

type recorderState int

const (
	recorderIdle recorderState = iota
	recorderRunning
	recorderStopped
)

// recordJob is a pending violation to finish; live ones wait for their
// post-roll, ones left by an earlier run do not (their video went with
// that run).
type recordJob struct {
	id   string
	live bool
}

// NewRecorder prepares the pending folder: half-written entries (Record
// never returned for them) are removed, whole ones are kept for Run to
// finish.
func NewRecorder(cfg RecorderConfig, deps RecorderDeps) (*Recorder, error) {
	if deps.Uploader == nil {
		return nil, errors.New("evidence: recorder: no uploader")
	}
	r := &Recorder{cfg: cfg, uploader: deps.Uploader, history: deps.History, onStored: deps.OnStored,
		metrics: deps.Metrics, log: deps.Log, wake: make(chan struct{}, 1)}
	if r.log == nil {
		r.log = slog.Default()
	}
	if err := os.MkdirAll(cfg.PendingDir, 0o755); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	entries, err := os.ReadDir(cfg.PendingDir)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	for _, e := range entries {
		switch {
		case strings.HasSuffix(e.Name(), ".tmp"):
			_ = os.RemoveAll(filepath.Join(cfg.PendingDir, e.Name()))
		case e.IsDir():
			r.queued = append(r.queued, recordJob{id: e.Name()})
		}
	}
	return r, nil
}

const (
	pendingEvent = "event.json"
	snapBest     = "snapshot.jpg"
	snapBestAnn  = "snapshot_annotated.jpg"
	snapActor    = "actor.jpg"
	snapActorAnn = "actor_annotated.jpg"
	clipName     = "clip.mp4"
)

// Record takes a confirmed violation. It returns once the violation and
// its snapshots are on local disk; the clip follows after the post-roll.
func (r *Recorder) Record(ev *Event) error {
	defer func() {
		for _, m := range []*gocv.Mat{&ev.BestFrame, &ev.AppearFrame} {
			switch {
			case m.Ptr() == nil:
			case ev.Recycle != nil:
				ev.Recycle(*m)
				*m = gocv.Mat{}
			default:
				m.Close()
			}
		}
	}()
	id := ev.Violation.ID
	if id == "" || strings.ContainsAny(id, `/\.`) {
		return fmt.Errorf("evidence: bad violation id %q", id)
	}
	dir := filepath.Join(r.cfg.PendingDir, id)
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("evidence: pending %s: %w", id, err)
	}
	loc := time.UTC
	if l, err := time.LoadLocation(ev.TimeZone); err == nil && ev.TimeZone != "" {
		loc = l
	}
	// OpenCV's built-in fonts draw ASCII only: a Chinese camera name would
	// come out as "????", so the id (ASCII by config rules) stands in.
	camName := ev.Camera.Name
	for _, r := range camName {
		if r > 0x7e {
			camName = ev.Camera.ID
			break
		}
	}
	caption := []string{
		fmt.Sprintf("%s  %s", camName, ev.Violation.ConfirmedAt.In(loc).Format("2006-01-02 15:04:05 MST")),
		fmt.Sprintf("%s  zone %s  id %s", ev.Violation.Type, ev.Violation.Zone, id),
	}
	write := func(name string, m gocv.Mat, marks []Mark, annotated string, caption []string) error {
		if m.Ptr() == nil || m.Empty() {
			return nil
		}
		raw, err := EncodeJPEG(m, r.cfg.JPEGQuality)
		if err != nil {
			return err
		}
		if err := pendingWrite(filepath.Join(tmp, name), raw); err != nil {
			return err
		}
		// The plain picture is on disk: it is drawn on in place (Record
		// owns it and closes it when done).
		if err := Annotate(&m, marks, ev.Zone, caption); err != nil {
			return err
		}
		data, err := EncodeJPEG(m, r.cfg.JPEGQuality)
		if err != nil {
			return err
		}
		return pendingWrite(filepath.Join(tmp, annotated), data)
	}
	if err := write(snapBest, ev.BestFrame, ev.BestMarks, snapBestAnn, caption); err != nil {
		return fmt.Errorf("evidence: %s snapshot: %w", id, err)
	}
	if err := write(snapActor, ev.AppearFrame, ev.AppearMarks, snapActorAnn, actorCaption(caption, ev, loc)); err != nil {
		return fmt.Errorf("evidence: %s actor snapshot: %w", id, err)
	}
	js, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return err
	}
	if err := pendingWrite(filepath.Join(tmp, pendingEvent), js); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("evidence: pending %s: %w", id, err)
	}
	_ = atomicfile.SyncDir(r.cfg.PendingDir)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == recorderStopped {
		// Nobody would wait for it: it stays pending, and the next start
		// finishes it.
		r.log.Warn("evidence recorder stopped; violation kept pending for the next start", "violation", id)
		return nil
	}
	r.queued = append(r.queued, recordJob{id: id, live: true})
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run finishes violations left pending by an earlier run (their history
// is gone: they get snapshots and a note, and whatever clip the new
// history still covers), then serves Record until ctx ends. Then it stops
// waiting: violations in their post-roll are cut from what history holds
// now, each unfinished violation gets one more attempt to be spooled and
// handed off, and what still fails stays pending for the next start. Run
// returns once nothing it started is running, so the caller may close the
// histories and the hand-off's store after it.
func (r *Recorder) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.state != recorderIdle {
		r.mu.Unlock()
		return errors.New("evidence: recorder: Run called twice")
	}
	r.state = recorderRunning
	r.mu.Unlock()
	var wg sync.WaitGroup
	startQueued := func(stop bool) {
		r.mu.Lock()
		jobs := r.queued
		r.queued = nil
		if stop {
			r.state = recorderStopped
		}
		r.mu.Unlock()
		for _, j := range jobs {
			if !j.live {
				r.log.Warn("finishing evidence of a violation confirmed before a restart", "violation", j.id)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.finishRetrying(ctx, j)
			}()
		}
	}
	startQueued(false)
	for {
		select {
		case <-r.wake:
			startQueued(false)
		case <-ctx.Done():
			startQueued(true)
			wg.Wait()
			return nil
		}
	}
}

// finishRetrying finishes a pending violation, retrying with backoff
// until ctx ends: a full disk or a failing hand-off keeps the pending
// folder meanwhile, and the next start retries it too.
func (r *Recorder) finishRetrying(ctx context.Context, j recordJob) {
	for attempt := 1; ; attempt++ {
		err := r.finish(ctx, j.id, j.live)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			r.log.Warn("evidence not spooled before shutdown; kept pending for the next start", "violation", j.id, "err", err)
			return
		}
		wait := finishRetry.Delay(attempt)
		r.log.Error("evidence not spooled; kept pending, retrying", "violation", j.id, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// finish waits for the post-roll, cuts the clip and spools the bundle.
func (r *Recorder) finish(ctx context.Context, id string, live bool) error {
	dir := filepath.Join(r.cfg.PendingDir, id)
	raw, err := os.ReadFile(filepath.Join(dir, pendingEvent))
	if err != nil {
		return err
	}
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("pending event: %w", err)
	}
	v := ev.Violation
	prefix := Prefix(v.ConfirmedAt, ev.Camera.ID, v.ID)
	// A manifest in the pending folder means an earlier run got this far:
	// the bundle is final, only the hand-off may be missing.
	if data, err := os.ReadFile(filepath.Join(dir, ManifestName)); err == nil {
		m, err := DecodeManifest(data)
		if err != nil {
			return fmt.Errorf("pending manifest: %w", err)
		}
		return r.spool(ctx, dir, prefix, &ev, m, data)
	}
	m := &Manifest{Version: ManifestVersion, Violation: v, Camera: ev.Camera, Models: ev.Models,
		StreetWatch: r.cfg.Version, CreatedAt: time.Now().UTC(), Extra: ev.Extra}

	var src ClipSource
	if r.history != nil {
		src = r.history(ev.Camera.ID)
	}
	from, to := v.FirstSeen.Add(-r.cfg.PreRoll), v.ConfirmedAt.Add(r.cfg.PostRoll)
	if src == nil {
		m.Notes = append(m.Notes, "no video history for this camera: no clip")
	} else {
		// Post-roll arrives as the stream goes on; a camera that dropped
		// gives what was received by the deadline.
		deadline := time.Now().Add(r.cfg.PostRoll + r.cfg.PostRollGrace)
		if !live {
			deadline = time.Now()
			m.Notes = append(m.Notes, "StreetWatch restarted before the clip was cut; the video before the restart is lost")
		}
		for src.Newest().Before(to) && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				// Shutting down: cut what there is now rather than lose it.
				deadline = time.Now()
			case <-time.After(200 * time.Millisecond):
			}
		}
		clip, note, err := r.cut(src, dir, ev.Camera.ID, from, to)
		if err != nil {
			// No manifest: one would make the bundle final without its clip.
			return err
		}
		if clip != nil {
			m.Clip = clip
		}
		if note != "" {
			m.Notes = append(m.Notes, note)
		}
	}

	for _, name := range []string{clipName, snapBest, snapBestAnn, snapActor, snapActorAnn} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := m.HashFile(File{Name: name, ContentType: ContentType(name), Path: p}); err != nil {
			return err
		}
	}
	data, err := m.Encode(r.cfg.SignKey)
	if err != nil {
		return err
	}
	if err := pendingWrite(filepath.Join(dir, ManifestName), data); err != nil {
		return err
	}
	if m.Clip != nil && r.metrics != nil {
		r.metrics.Clips.WithLabelValues(ev.Camera.ID).Inc()
	}
	return r.spool(ctx, dir, prefix, &ev, m, data)
}

// spool submits a finished bundle (once: a marker records it), hands it
// on (retrying until OnStored accepts it) and clears the pending folder.
func (r *Recorder) spool(ctx context.Context, dir, prefix string, ev *Event, m *Manifest, data []byte) error {
	marker := filepath.Join(dir, ".spooled")
	if _, err := os.Stat(marker); err != nil {
		files := make([]File, 0, len(m.Files)+1)
		for _, f := range m.Files {
			files = append(files, File{Name: f.Name, ContentType: f.ContentType, Path: filepath.Join(dir, f.Name)})
		}
		files = append(files, File{Name: ManifestName, ContentType: "application/json", Data: data})
		if err := r.uploader.Submit(&Bundle{ViolationID: ev.Violation.ID, Prefix: prefix, Files: files}); err != nil {
			return err
		}
		if err := pendingWrite(marker, nil); err != nil {
			return err
		}
		crashtest.Point("evidence-spooled")
	}
	if r.onStored != nil {
		st := Stored{Violation: ev.Violation, Camera: ev.Camera, Prefix: prefix, Manifest: m, ManifestSHA256: sha256Hex(data)}
		for attempt := 1; ; attempt++ {
			err := r.onStored(st)
			if err == nil {
				break
			}
			wait := handOffRetry.Delay(attempt)
			r.log.Error("violation hand-off failed; retrying", "violation", ev.Violation.ID, "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return fmt.Errorf("hand-off: %w", err) // pending stays for the next start
			case <-time.After(wait):
			}
		}
		crashtest.Point("handed-off")
	}
	return os.RemoveAll(dir)
}

// cut writes the clip for from..to into dir. A clip that cannot be had
// is a note in the manifest. A history already closed (the recorder
// outlived it) is an error: the violation stays pending rather than
// becoming a final bundle without its clip, and the next start finishes
// it with a note saying why the video is missing.
func (r *Recorder) cut(src ClipSource, dir, camera string, from, to time.Time) (*ClipRecord, string, error) {
	camFail := func(format string, args ...any) (*ClipRecord, string, error) {
		if r.metrics != nil {
			r.metrics.ClipFailures.WithLabelValues(camera).Inc()
		}
		return nil, fmt.Sprintf(format, args...), nil
	}
	aus, err := src.Clip(from, to)
	if errors.Is(err, ErrHistoryClosed) {
		return nil, "", fmt.Errorf("clip: %w", err)
	}
	if len(aus) == 0 {
		if err == nil {
			err = errors.New("no video in the range")
		}
		return camFail("no clip: %v (history may not reach back to %s)", err, from.Format(time.RFC3339))
	}
	info, werr := WriteMP4File(filepath.Join(dir, clipName), aus)
	if werr != nil {
		return camFail("no clip: %v", werr)
	}
	rec := &ClipRecord{Codec: info.Codec.String(), Width: info.Width, Height: info.Height, Start: info.Start,
		End: info.End, Duration: info.Duration.Seconds(), Frames: info.Frames}
	var notes []string
	if info.Start.After(from) {
		rec.Truncated = true
		if !errors.Is(err, ErrShortHistory) { // that error says it already
			notes = append(notes, fmt.Sprintf("history reached back only to %s, not to %s", info.Start.Format(time.RFC3339), from.Format(time.RFC3339)))
		}
	}
	if info.End.Before(to.Add(-time.Second)) {
		rec.Truncated = true
		notes = append(notes, fmt.Sprintf("video ends at %s, before the post-roll end %s (camera stopped sending)", info.End.Format(time.RFC3339), to.Format(time.RFC3339)))
	}
	if err != nil {
		notes = append(notes, err.Error())
	}
	sort.Strings(notes)
	return rec, strings.Join(notes, "; "), nil
}

// Retries of a pending violation (a full disk, a failing spool) and of its
// hand-off (the ticket store): jittered, so that violations that failed
// together do not retry together.
var (
	finishRetry  = backoff.Policy{Min: time.Second, Max: time.Minute, Jitter: backoff.EqualJitter}
	handOffRetry = backoff.Policy{Min: time.Second, Max: 30 * time.Second, Jitter: backoff.EqualJitter}
)

// pendingWrite puts a file of a pending violation on disk whole or not at
// all: after a crash, a half-written manifest would not decode and the
// violation could never finish.
func pendingWrite(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o644)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// PendingEvents returns the violations waiting in a pending folder (their
// evidence not yet handed off): the confirmation stage treats them as
// reported, so a crash before it saved them does not report them twice.
func PendingEvents(pendingDir string) ([]Event, error) {
	entries, err := os.ReadDir(pendingDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	var out []Event
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(pendingDir, e.Name(), pendingEvent))
		if err != nil {
			continue // not a whole entry
		}
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("evidence: pending %s: %w", e.Name(), err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// actorCaption is the actor picture's caption: the common lines, then
// the time the picture was taken (it may differ from the confirmation by
// minutes) and the event's own lines.
func actorCaption(common []string, ev *Event, loc *time.Location) []string {
	lines := slices.Clip(common)
	if at := ev.Violation.ActorAt; !at.IsZero() {
		lines = append(lines, "frame at "+at.In(loc).Format("2006-01-02 15:04:05.000 MST"))
	}
	return append(lines, ev.AppearCaption...)
}
