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
// builds it from the confirmation stage's event.
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
	// frame where it appeared, with its actor. The recorder closes both.
	BestFrame   gocv.Mat `json:"-"`
	BestMarks   []Mark   `json:"-"`
	AppearFrame gocv.Mat `json:"-"`
	AppearMarks []Mark   `json:"-"`
	// AppearCaption are more caption lines for the actor's picture, under
	// its time (Violation.ActorAt); ASCII only, as OpenCV's fonts draw.
	AppearCaption []string `json:"-"`
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

// Recorder turns violation events into evidence bundles: it waits for the
// post-roll, cuts the clip from the camera's history, writes snapshots and
// the manifest, and hands the bundle to the Uploader.
type Recorder struct {
	Config   RecorderConfig
	Uploader *Uploader
	// History returns a camera's history (nil: no clip for that camera).
	History func(camera string) ClipSource
	Metrics *Metrics
	Log     *slog.Logger
	// OnStored is called when a violation's bundle is spooled (the ticket
	// hand-off). Until it returns nil the violation stays pending: it is
	// retried, and after a crash called again with the same manifest, so
	// it must be idempotent by violation id.
	OnStored func(Stored) error

	mu       sync.Mutex
	wg       sync.WaitGroup
	ctx      context.Context
	initOnce sync.Once
	initErr  error
	leftover []string // pending from an earlier run, found by init
}

// init prepares the pending folder once, before the first Record or Run:
// half-written entries (Record never returned for them) are removed, whole
// ones are kept for Run to finish.
func (r *Recorder) init() error {
	r.initOnce.Do(func() {
		if err := os.MkdirAll(r.Config.PendingDir, 0o755); err != nil {
			r.initErr = fmt.Errorf("evidence: %w", err)
			return
		}
		entries, err := os.ReadDir(r.Config.PendingDir)
		if err != nil {
			r.initErr = fmt.Errorf("evidence: %w", err)
			return
		}
		for _, e := range entries {
			switch {
			case strings.HasSuffix(e.Name(), ".tmp"):
				_ = os.RemoveAll(filepath.Join(r.Config.PendingDir, e.Name()))
			case e.IsDir():
				r.leftover = append(r.leftover, e.Name())
			}
		}
	})
	return r.initErr
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
			if m.Ptr() != nil {
				m.Close()
			}
		}
	}()
	if err := r.init(); err != nil {
		return err
	}
	id := ev.Violation.ID
	if id == "" || strings.ContainsAny(id, `/\.`) {
		return fmt.Errorf("evidence: bad violation id %q", id)
	}
	dir := filepath.Join(r.Config.PendingDir, id)
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
		raw, err := EncodeJPEG(m, r.Config.JPEGQuality)
		if err != nil {
			return err
		}
		if err := pendingWrite(filepath.Join(tmp, name), raw); err != nil {
			return err
		}
		ann, err := Annotate(m, marks, ev.Zone, caption)
		if err != nil {
			return err
		}
		defer ann.Close()
		data, err := EncodeJPEG(ann, r.Config.JPEGQuality)
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
	_ = atomicfile.SyncDir(r.Config.PendingDir)
	r.start(id, true)
	return nil
}

// Run finishes violations left pending by an earlier run (their history
// is gone: they get snapshots and a note, and whatever clip the new
// history still covers), then serves Record until ctx ends. It returns
// after in-flight violations are spooled or ctx is done.
func (r *Recorder) Run(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	if err := r.init(); err != nil {
		return err
	}
	for _, id := range r.leftover {
		r.log().Warn("finishing evidence of a violation confirmed before a restart", "violation", id)
		r.start(id, false)
	}
	<-ctx.Done()
	r.wg.Wait()
	return nil
}

// start finishes a pending violation in the background; live ones wait
// for their post-roll, ones left by an earlier run do not (their video
// went with that run).
func (r *Recorder) start(id string, live bool) {
	r.mu.Lock()
	ctx := r.ctx
	r.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		// A full disk or a failing hand-off is retried with backoff; the
		// pending folder stays meanwhile, and the next start retries it too.
		for attempt := 1; ; attempt++ {
			err := r.finish(ctx, id, live)
			if err == nil {
				return
			}
			wait := finishRetry.Delay(attempt)
			r.log().Error("evidence not spooled; kept pending, retrying", "violation", id, "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
}

func (r *Recorder) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// finish waits for the post-roll, cuts the clip and spools the bundle.
func (r *Recorder) finish(ctx context.Context, id string, live bool) error {
	dir := filepath.Join(r.Config.PendingDir, id)
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
		StreetWatch: r.Config.Version, CreatedAt: time.Now().UTC()}

	var src ClipSource
	if r.History != nil {
		src = r.History(ev.Camera.ID)
	}
	from, to := v.FirstSeen.Add(-r.Config.PreRoll), v.ConfirmedAt.Add(r.Config.PostRoll)
	if src == nil {
		m.Notes = append(m.Notes, "no video history for this camera: no clip")
	} else {
		// Post-roll arrives as the stream goes on; a camera that dropped
		// gives what was received by the deadline.
		deadline := time.Now().Add(r.Config.PostRoll + r.Config.PostRollGrace)
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
		clip, note := r.cut(src, dir, ev.Camera.ID, from, to)
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
	data, err := m.Encode(r.Config.SignKey)
	if err != nil {
		return err
	}
	if err := pendingWrite(filepath.Join(dir, ManifestName), data); err != nil {
		return err
	}
	if m.Clip != nil && r.Metrics != nil {
		r.Metrics.Clips.WithLabelValues(ev.Camera.ID).Inc()
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
		if err := r.Uploader.Submit(&Bundle{ViolationID: ev.Violation.ID, Prefix: prefix, Files: files}); err != nil {
			return err
		}
		if err := pendingWrite(marker, nil); err != nil {
			return err
		}
		crashtest.Point("evidence-spooled")
	}
	if r.OnStored != nil {
		st := Stored{Violation: ev.Violation, Camera: ev.Camera, Prefix: prefix, Manifest: m, ManifestSHA256: sha256Hex(data)}
		for attempt := 1; ; attempt++ {
			err := r.OnStored(st)
			if err == nil {
				break
			}
			wait := handOffRetry.Delay(attempt)
			r.log().Error("violation hand-off failed; retrying", "violation", ev.Violation.ID, "err", err, "retry_in", wait)
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

// cut writes the clip for from..to into dir.
func (r *Recorder) cut(src ClipSource, dir, camera string, from, to time.Time) (*ClipRecord, string) {
	camFail := func(format string, args ...any) (*ClipRecord, string) {
		if r.Metrics != nil {
			r.Metrics.ClipFailures.WithLabelValues(camera).Inc()
		}
		return nil, fmt.Sprintf(format, args...)
	}
	aus, err := src.Clip(from, to)
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
	return rec, strings.Join(notes, "; ")
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
