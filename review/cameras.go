package review

import (
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/streetwatch/streetwatch/config"
)

// CameraStatus is one camera's state, as the cameras page shows it.
type CameraStatus struct {
	ID, Name string
	Up       bool // media arrives
	// State refines Up: connecting, starting (media, nothing decoded
	// yet), decoding or no_decode (media, but no picture decoded for a
	// long while); empty when unknown.
	State     string
	Codec     string
	Width     int
	Height    int
	Transport string
	// LastFrame is when (wall clock) the last frame was sampled.
	LastFrame  time.Time
	LastError  string
	Reconnects uint64
	// FramesSampled counts the frames sampled since start.
	FramesSampled uint64
}

// Frame rates are the rate of the sampled-frame counter over the last
// minute, from samples taken every frameRateInterval.
const (
	frameRateInterval = 5 * time.Second
	frameRateWindow   = time.Minute
)

type frameSample struct {
	at     time.Time
	counts map[string]float64
}

// frameRates keeps a minute of counter samples.
type frameRates struct {
	counts  func() map[string]float64
	mu      sync.Mutex
	samples []frameSample
}

func newFrameRates(counts func() map[string]float64) *frameRates {
	return &frameRates{counts: counts}
}

func (f *frameRates) sample(now time.Time) {
	if f.counts == nil {
		return
	}
	c := f.counts()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.samples = append(f.samples, frameSample{at: now, counts: c})
	for len(f.samples) > 1 && now.Sub(f.samples[1].at) >= frameRateWindow {
		f.samples = f.samples[1:]
	}
}

// rates returns frames per second per camera, over the oldest kept sample
// up to now (ok=false until two samples at least a second apart exist).
func (f *frameRates) rates(now time.Time) (map[string]float64, bool) {
	if f.counts == nil {
		return nil, false
	}
	f.mu.Lock()
	if len(f.samples) == 0 {
		f.mu.Unlock()
		return nil, false
	}
	first := f.samples[0]
	f.mu.Unlock()
	span := now.Sub(first.at).Seconds()
	if span < 1 {
		return nil, false
	}
	out := map[string]float64{}
	for cam, n := range f.counts() {
		out[cam] = max(0, n-first.counts[cam]) / span
	}
	return out, true
}

// sampledFrames is each camera's count of sampled frames, for the rates.
func (s *Server) sampledFrames() map[string]float64 {
	out := map[string]float64{}
	for _, c := range s.Cameras() {
		out[c.ID] = float64(c.FramesSampled)
	}
	return out
}

type cameraRow struct {
	CameraStatus
	FPS       float64
	HasFPS    bool
	LastFrame string
	// AgoSeconds is how long ago the last frame was (-1: never).
	AgoSeconds int
}

type camerasData struct {
	Cameras []cameraRow
	// Editor: the user may open the zone editor (an admin, and the
	// server has one); Reload: the user may reload the config.
	Editor, Reload bool
	// Reloaded is what the reload just asked for did.
	Reloaded *ReloadReport
}

// ReloadReport is what a config reload did: the cameras whose settings
// now run with the new config, those added, removed and connected again
// (stream settings changed), what changed but takes a restart, or why the
// new config was refused (the old one runs on).
type ReloadReport struct {
	Applied, Added, Removed, Restarted []string
	Restart                            []string
	Err                                error
}

// reloadConfig is the cameras page's reload button (admins).
func (s *Server) reloadConfig(w http.ResponseWriter, r *http.Request) {
	if u, _ := UserFrom(r.Context()); !u.can(config.RoleAdmin) || s.Reload == nil {
		s.refuse(w, r, http.StatusForbidden, "forbidden", "err.forbidden")
		return
	}
	rep := s.Reload()
	s.Log.Info("config reload asked for on the cameras page", "user", userName(r), "refused", rep.Err != nil)
	s.renderCameras(w, r, &rep)
}

func userName(r *http.Request) string {
	u, _ := UserFrom(r.Context())
	return u.Name
}

func (s *Server) camerasPage(w http.ResponseWriter, r *http.Request) {
	s.renderCameras(w, r, nil)
}

func (s *Server) renderCameras(w http.ResponseWriter, r *http.Request, reloaded *ReloadReport) {
	var cams []CameraStatus
	if s.Cameras != nil {
		cams = s.Cameras()
	}
	sort.Slice(cams, func(i, j int) bool { return cams[i].ID < cams[j].ID })
	now := s.now()
	rates, haveRates := s.fps.rates(now)
	data := camerasData{Reloaded: reloaded}
	if u, _ := UserFrom(r.Context()); u.can(config.RoleAdmin) {
		data.Editor = s.RunningConfig != nil && s.Picture != nil
		data.Reload = s.Reload != nil
	}
	for _, c := range cams {
		row := cameraRow{CameraStatus: c, AgoSeconds: -1}
		row.FPS, row.HasFPS = rates[c.ID], haveRates
		if !c.LastFrame.IsZero() {
			row.LastFrame = c.LastFrame.In(s.loc).Format("2006-01-02 15:04:05")
			row.AgoSeconds = max(0, int(now.Sub(c.LastFrame).Seconds()))
		}
		data.Cameras = append(data.Cameras, row)
	}
	s.render(w, r, http.StatusOK, "cameras", "cameras", data)
}
