package review

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Languages the pages speak; the first is the default.
var Languages = []string{"zh-CN", "en"}

const langCookie = "streetwatch_lang"

//go:embed locales/*.json
var localeFiles embed.FS

// catalog maps message keys to text; text may hold fmt verbs for
// arguments.
type catalog map[string]string

// loadCatalogs reads every language's messages and checks that they all
// have the same keys, so no page shows a key instead of text.
func loadCatalogs() (map[string]catalog, error) {
	out := map[string]catalog{}
	for _, lang := range Languages {
		raw, err := localeFiles.ReadFile("locales/" + lang + ".json")
		if err != nil {
			return nil, fmt.Errorf("review: catalog %s: %w", lang, err)
		}
		var c catalog
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("review: catalog %s: %w", lang, err)
		}
		out[lang] = c
	}
	base := out[Languages[0]]
	for _, lang := range Languages[1:] {
		for k := range base {
			if _, ok := out[lang][k]; !ok {
				return nil, fmt.Errorf("review: catalog %s lacks %q", lang, k)
			}
		}
		for k := range out[lang] {
			if _, ok := base[k]; !ok {
				return nil, fmt.Errorf("review: catalog %s has %q, which %s lacks", lang, k, Languages[0])
			}
		}
	}
	return out, nil
}

// text returns the message for key, formatted with args. A missing key
// is an error, which fails the template: tests render every page in
// every language, so a typo cannot reach a reviewer.
func (c catalog) text(key string, args ...any) (string, error) {
	msg, ok := c[key]
	if !ok {
		return "", fmt.Errorf("review: no message %q", key)
	}
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	return msg, nil
}

// has reports whether key is a message (for values such as reject
// reasons that may come from outside the page).
func (c catalog) has(key string) bool { _, ok := c[key]; return ok }

// language picks the request's language: ?lang= (remembered in a cookie),
// else the cookie, else the default.
func language(w http.ResponseWriter, r *http.Request, secure bool) string {
	if l := r.URL.Query().Get("lang"); slices.Contains(Languages, l) {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil && slices.Contains(Languages, c.Value) {
		return c.Value
	}
	return Languages[0]
}
