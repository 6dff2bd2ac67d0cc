package review

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/streetwatch/streetwatch/dispatch"
)

// pageNames are the templates under templates/, each rendered inside
// base.html.
var pageNames = []string{"login", "queue", "case", "cameras", "zones", "stations", "station", "stats", "error"}

// parseTemplates builds one template set per language and page, with
// "t" bound to the language's catalog.
func (s *Server) parseTemplates() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, lang := range Languages {
		cat := s.catalogs[lang]
		funcs := template.FuncMap{
			"t":       cat.text,
			"when":    s.formatTime,
			"clock":   clock,
			"percent": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
			"fps":     func(f float64) string { return fmt.Sprintf("%.1f", f) },
			"seconds": func(f float64) string { return fmt.Sprintf("%.3f", f) },
			"kg":      func(f float64) string { return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) },
			"ratio": func(f *float64) string {
				if f == nil {
					return "-"
				}
				return fmt.Sprintf("%.0f%%", *f*100)
			},
			"width":  func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
			"addf":   func(a, b float64) float64 { return a + b },
			"object": cat.object,
			"signal": cat.signal,
			"leftOnly": func(signals []string) bool {
				return len(signals) == 1 && signals[0] == dispatch.SignalLeftObject
			},
		}
		for _, page := range pageNames {
			t, err := template.New(page).Funcs(funcs).ParseFS(templateFiles, "templates/base.html", "templates/"+page+".html")
			if err != nil {
				return nil, fmt.Errorf("review: template %s: %w", page, err)
			}
			out[lang+"/"+page] = t
		}
	}
	return out, nil
}

// object names an object class for reviewers: left_object, which no
// class of the model named, is said to be an unclassified object left
// behind; other classes show as they are ("-" when unknown).
func (c catalog) object(class string) (string, error) {
	if class == "" {
		return "-", nil
	}
	if c.has("class." + class) {
		return c.text("class." + class)
	}
	return class, nil
}

// signal names a signal that confirmed a case; a name this page does not
// know (from a newer StreetWatch) shows as it is rather than failing it.
func (c catalog) signal(name string) (string, error) {
	if c.has("signal." + name) {
		return c.text("signal." + name)
	}
	return name, nil
}

func (s *Server) formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(s.loc).Format("2006-01-02 15:04:05")
}

// clock formats seconds into a clip as m:ss.s.
func clock(sec float64) string {
	if sec < 0 || math.IsNaN(sec) {
		sec = 0
	}
	m := int(sec) / 60
	return fmt.Sprintf("%d:%04.1f", m, sec-float64(m*60))
}

// view is what base.html renders around a page.
type view struct {
	Page     string
	Lang     string
	TZ       string // IANA name of the page's time zone
	Langs    []langLink
	User     User
	SignedIn bool
	CSRF     string
	// Nav marks the current menu entry: queue, cameras, stations, stats or "".
	Nav string
	// Stations shows the stations entry (garbage stations are configured),
	// Stats the statistics entry.
	Stations, Stats bool
	// Flash is a message key to show once (after an action), FlashError
	// marks it as a problem.
	Flash      string
	FlashError bool
	Data       any
}

type langLink struct {
	Lang, URL string
	Current   bool
}

type errorData struct {
	// Message is a catalog key.
	Message string
}

// render writes a page. Template errors (e.g. a missing message) are
// 500s, never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page, nav string, data any) {
	lang := language(w, r, s.secure(r))
	v := view{Page: page, Lang: lang, TZ: s.loc.String(), Nav: nav, Stations: s.stationsOn(), Stats: s.Stats != nil, Data: data}
	if u, ok := UserFrom(r.Context()); ok {
		v.User, v.SignedIn = u, true
	}
	if sess, _ := r.Context().Value(sessionKey{}).(*session); sess != nil {
		v.CSRF = sess.csrf
	}
	if f := r.URL.Query().Get("msg"); f != "" && s.catalogs[lang].has("flash."+f) {
		v.Flash, v.FlashError = "flash."+f, flashErrors[f]
	}
	for _, l := range Languages {
		q := r.URL.Query()
		q.Set("lang", l)
		q.Del("msg")
		v.Langs = append(v.Langs, langLink{Lang: l, URL: (&url.URL{Path: r.URL.Path, RawQuery: q.Encode()}).String(), Current: l == lang})
	}
	t := s.pages[lang+"/"+page]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base", v); err != nil {
		s.Log.Error("render page", "page", page, "lang", lang, "err", err)
		http.Error(w, "internal error (see the StreetWatch log)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Pages carry CSRF tokens and evidence links: never cached.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// flashErrors are the flash messages that report a problem.
var flashErrors = map[string]bool{"conflict": true, "illegal": true, "invalid": true, "note_too_long": true, "failed": true}
