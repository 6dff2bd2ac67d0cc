package review

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/violation"
)

// CameraPicture is a camera's current picture with what detection found
// in it (pipeline.Picture, as the zone editor shows it).
type CameraPicture struct {
	JPEG          []byte
	Width, Height int
	Time          time.Time
	Detections    []PictureDetection
}

// PictureDetection is one detection on a CameraPicture, in its pixels.
type PictureDetection struct {
	Class string     `json:"class"`
	Score float32    `json:"score"`
	Box   [4]float32 `json:"box"` // x1, y1, x2, y2
}

// pictureWait bounds how long the editor waits for a camera's next
// sampled frame: a keyframe comes every GOP (2-4 s on most cameras).
const pictureWait = 15 * time.Second

// zoneEditorData is the editor page's data; Setup goes to the page's
// script as JSON.
type zoneEditorData struct {
	Camera config.Camera
	Setup  editorSetup
}

type editorSetup struct {
	Camera string         `json:"camera"`
	Areas  editorAreas    `json:"areas"`
	Types  []string       `json:"types"`
	CSRF   string         `json:"csrf"`
	Labels map[string]any `json:"labels"`
}

// editorAreas are a camera's masks and zones as the editor's script
// sends and receives them: a zone's name, points and types (its other
// settings stay as configured).
type editorAreas struct {
	Masks []config.Polygon `json:"masks"`
	Zones []editorZone     `json:"zones"`
}

type editorZone struct {
	Name    string         `json:"name"`
	Polygon config.Polygon `json:"polygon"`
	Types   []string       `json:"types"`
}

func (a editorAreas) config() config.Areas {
	out := config.Areas{Masks: a.Masks}
	for _, z := range a.Zones {
		out.Zones = append(out.Zones, config.Zone{Name: z.Name, Polygon: z.Polygon, Types: z.Types})
	}
	return out
}

// editorCamera is the camera the request names, for an admin; otherwise
// it answers the request itself and returns false.
func (s *Server) editorCamera(w http.ResponseWriter, r *http.Request) (config.Camera, *config.Config, bool) {
	u, _ := UserFrom(r.Context())
	if !u.can(config.RoleAdmin) {
		s.refuse(w, r, http.StatusForbidden, "forbidden", "err.forbidden")
		return config.Camera{}, nil, false
	}
	if s.RunningConfig == nil {
		s.refuse(w, r, http.StatusNotFound, "not_found", "err.not_found")
		return config.Camera{}, nil, false
	}
	cfg := s.RunningConfig()
	i := slices.IndexFunc(cfg.Cameras, func(c config.Camera) bool { return c.ID == r.PathValue("id") })
	if i < 0 {
		s.refuse(w, r, http.StatusNotFound, "not_found", "err.not_found")
		return config.Camera{}, nil, false
	}
	return cfg.Cameras[i], cfg, true
}

// zoneEditorPage is the zone and mask editor of one camera (admins).
func (s *Server) zoneEditorPage(w http.ResponseWriter, r *http.Request) {
	cam, _, ok := s.editorCamera(w, r)
	if !ok {
		return
	}
	var csrf string
	if sess, _ := r.Context().Value(sessionKey{}).(*session); sess != nil {
		csrf = sess.csrf
	}
	lang := language(w, r, s.secure(r))
	labels := map[string]any{}
	for _, k := range []string{"zones.loading", "zones.no_picture", "zones.valid", "zones.invalid", "zones.zone", "zones.mask", "zones.points"} {
		labels[k], _ = s.catalogs[lang].text(k)
	}
	areas := editorAreas{Masks: cam.Masks}
	for _, z := range cam.Zones {
		areas.Zones = append(areas.Zones, editorZone{Name: z.Name, Polygon: z.Polygon, Types: z.Types})
	}
	data := zoneEditorData{Camera: cam, Setup: editorSetup{Camera: cam.ID, Areas: areas, Types: violation.TypeNames(), CSRF: csrf, Labels: labels}}
	s.render(w, r, http.StatusOK, "zones", "cameras", data)
}

// cameraPicture answers the camera's next sampled frame as JSON: the
// picture (a JPEG data URL), its size and time, and its detections.
func (s *Server) cameraPicture(w http.ResponseWriter, r *http.Request) {
	cam, _, ok := s.editorCamera(w, r)
	if !ok {
		return
	}
	if s.Picture == nil {
		s.refuse(w, r, http.StatusNotFound, "not_found", "err.not_found")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), pictureWait)
	defer cancel()
	pic, err := s.Picture(ctx, cam.ID)
	if err != nil {
		s.Log.Warn("zone editor: no picture", "camera", cam.ID, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no picture from the camera within " + pictureWait.String() + ": is it up?"})
		return
	}
	dets := pic.Detections
	if dets == nil {
		dets = []PictureDetection{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"picture":    "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(pic.JPEG),
		"width":      pic.Width,
		"height":     pic.Height,
		"time":       pic.Time.In(s.loc).Format("2006-01-02 15:04:05"),
		"detections": dets,
	})
}

// fieldError is one validation error, as the editor shows it.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// checkAreas validates masks and zones drawn for a camera with the rules
// check-config applies (in the running config, this camera's areas
// replaced) and answers the YAML block to paste under the camera, and the
// errors, each naming its field.
func (s *Server) checkAreas(w http.ResponseWriter, r *http.Request) {
	cam, cfg, ok := s.editorCamera(w, r)
	if !ok {
		return
	}
	var a editorAreas
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFormBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []fieldError{{Field: "(request)", Message: err.Error()}}})
		return
	}
	edited, err := cfg.WithAreas(cam.ID, a.config())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []fieldError{{Field: "(request)", Message: err.Error()}}})
		return
	}
	i := slices.IndexFunc(edited.Cameras, func(c config.Camera) bool { return c.ID == cam.ID })
	out := edited.Cameras[i]
	errs := []fieldError{}
	if err := edited.Validate(); err != nil {
		var list config.Errors
		if !errors.As(err, &list) {
			list = config.Errors{{Path: "(config)", Msg: err.Error()}}
		}
		prefix := fmt.Sprintf("cameras[%d].", i)
		for _, fe := range list {
			// Only what the editor changed: the running config was valid.
			if strings.HasPrefix(fe.Path, prefix+"zones") || strings.HasPrefix(fe.Path, prefix+"masks") {
				errs = append(errs, fieldError{Field: fe.Path, Message: fe.Msg})
			}
		}
	}
	block, err := config.AreasYAML(config.Areas{Masks: out.Masks, Zones: out.Zones})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"errors": []fieldError{{Field: "(yaml)", Message: err.Error()}}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"camera": cam.ID,
		"field":  fmt.Sprintf("cameras[%d]", i),
		"yaml":   string(block),
		"valid":  len(errs) == 0,
		"errors": errs,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
