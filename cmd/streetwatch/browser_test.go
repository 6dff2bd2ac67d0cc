package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color/palette"
	"image/draw"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/simulate"
)

// chromiumPath finds Debian's chromium. Without it the browser tests skip
// locally and fail in CI (mediatest.Missing), where a skipped test would hide that
// the review page was never tried in a browser.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("STREETWATCH_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	mediatest.Missing(t, "chromium (apt-get install chromium) for the browser tests")
	return ""
}

// artifactDir is where the browser tests leave screenshots: the
// git-ignored tmp/ folder, or $STREETWATCH_ARTIFACTS.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("STREETWATCH_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(mediatest.Root(), "tmp", "artifacts")
	}
	dir = filepath.Join(dir, "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// saveScreenshot writes a screenshot as an artifact and, with
// STREETWATCH_UPDATE_SCREENSHOTS=1, as the README's copy in docs/screenshots.
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	path := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d KB)", path, len(png)>>10)
	if os.Getenv("STREETWATCH_UPDATE_SCREENSHOTS") == "1" {
		small, err := shrinkPNG(png)
		if err != nil {
			t.Fatal(err)
		}
		docs := filepath.Join(mediatest.Root(), "docs", "screenshots", name)
		if err := os.MkdirAll(filepath.Dir(docs), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(docs, small, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s (%d KB)", docs, len(small)>>10)
	}
}

// shrinkPNG makes a screenshot small enough to commit (under 300 KB):
// best compression, and if that is not enough, 256 colours.
func shrinkPNG(data []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	var buf bytes.Buffer
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	if buf.Len() <= 300<<10 {
		return buf.Bytes(), nil
	}
	pal := image.NewPaletted(img.Bounds(), palette.WebSafe)
	draw.FloydSteinberg.Draw(pal, img.Bounds(), img, image.Point{})
	buf.Reset()
	if err := enc.Encode(&buf, pal); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// browserUser is a review user of the browser test.
type browserUser struct{ name, password, role string }

var (
	reviewer = browserUser{"李娜", "reviewer-password", "reviewer"}
	viewer   = browserUser{"wang", "viewer-password", "viewer"}
	admin    = browserUser{"ops", "admin-password", "admin"}
)

// TestReviewPageInARealBrowser drives Debian's chromium through the review
// page of a real run: a simulated camera plays the dumping scenario, the
// pipeline makes a ticket that waits for review, and staff sign in, watch
// the clip, and reject it; a viewer cannot confirm, and requests without a
// session or CSRF token are refused.
func TestReviewPageInARealBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline on a scenario video and a browser")
	}
	chromium := chromiumPath(t)
	base, stop := startReviewedRun(t)
	defer stop()
	api := &apiClient{t: t, base: base, http: &http.Client{Timeout: 10 * time.Second}}
	defer api.http.CloseIdleConnections()

	ticket := api.waitForTicket(2 * time.Minute)
	t.Logf("ticket %s pending review", ticket)

	// Signed out: the API, the pages and the evidence are refused.
	if status, _ := api.get("/api/v1/tickets", nil); status != http.StatusUnauthorized {
		t.Errorf("signed-out API request: %d, want 401", status)
	}

	ctx := newBrowser(t, chromium)
	run, eval := browserSteps(t, ctx)
	signIn := func(u browserUser) {
		t.Helper()
		run("sign in as "+u.name, 20*time.Second,
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.ID("login-form")),
			chromedp.SendKeys(chromedp.ID("name"), u.name),
			chromedp.SendKeys(chromedp.ID("password"), u.password),
			chromedp.Click(chromedp.ID("signin")),
			chromedp.WaitVisible(chromedp.CSS(`#queue tr.ticket[data-id="`+ticket+`"]`)),
		)
	}
	signOut := func() {
		t.Helper()
		run("sign out", 10*time.Second,
			chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
			chromedp.WaitVisible(chromedp.ID("login-form")))
	}

	// The browser without a session: redirected to sign in, in Chinese;
	// the API answers 401.
	run("signed-out page", 20*time.Second, chromedp.Navigate(base+"/tickets/"+ticket), chromedp.WaitVisible(chromedp.ID("login-form")))
	if got := eval("page language", `Promise.resolve(document.documentElement.lang + " " + document.title)`); !strings.HasPrefix(got, "zh-CN 登录") {
		t.Errorf("sign-in page %q, want Chinese by default", got)
	}
	if got := eval("signed-out fetch", `fetch("/api/v1/tickets").then(r => String(r.status))`); got != "401" {
		t.Errorf("signed-out API fetch from the browser: %s, want 401", got)
	}

	// A viewer sees the case but cannot confirm it, even with a valid
	// CSRF token.
	signIn(viewer)
	run("viewer opens the case", 20*time.Second,
		chromedp.Navigate(base+"/tickets/"+ticket), chromedp.WaitVisible(chromedp.ID("read-only")))
	if n := eval("viewer buttons", `Promise.resolve(String(document.querySelectorAll("#confirm-form, #reject").length))`); n != "0" {
		t.Errorf("the viewer's case page has %s decision forms", n)
	}
	got := eval("viewer confirms", `fetch("/tickets/`+ticket+`/confirm", {method: "POST",
		body: new URLSearchParams({csrf: document.querySelector('form[action="/logout"] input[name=csrf]').value, version: "1"})})
		.then(r => String(r.status))`)
	if got != "403" {
		t.Errorf("viewer confirm with a valid CSRF token: %s, want 403", got)
	}
	signOut()

	// The reviewer: the case is in the queue.
	signIn(reviewer)
	run("queue", 10*time.Second, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#queue tr.ticket[data-id="`+ticket+`"] img`)))
	eval("thumbnails", `new Promise(r => { const i = document.querySelector("#queue img"); i.complete ? r("") : i.onload = () => r(""); })`)
	saveScreenshot(t, "review-queue.png", screenshot(t, ctx))

	// The case page, opened from the keyboard ("o" opens the selected
	// case): the clip plays.
	run("open the case", 20*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#queue tr.ticket.selected[data-id="`+ticket+`"]`)),
		chromedp.KeyEvent("o"),
		chromedp.WaitVisible(chromedp.ID("clip")))
	// Playing means: enough data to play through (readyState 4,
	// HAVE_ENOUGH_DATA), not paused or ended, and the position advancing
	// with the clock: at least 1 s of video in 1.5 s of playing (the rest
	// is slack for a busy machine; a stalled or frozen clip advances 0).
	playing := eval("play the clip", `(async () => {
		const v = document.getElementById("clip");
		v.muted = true;
		await v.play();
		const t0 = v.currentTime;
		await new Promise(r => setTimeout(r, 1500));
		return JSON.stringify({readyState: v.readyState, t0, t1: v.currentTime, paused: v.paused, ended: v.ended,
			duration: v.duration, error: v.error && v.error.message, width: v.videoWidth});
	})()`)
	var clip struct {
		ReadyState int     `json:"readyState"`
		T0         float64 `json:"t0"`
		T1         float64 `json:"t1"`
		Paused     bool    `json:"paused"`
		Ended      bool    `json:"ended"`
		Duration   float64 `json:"duration"`
		Error      string  `json:"error"`
		Width      int     `json:"width"`
	}
	if err := json.Unmarshal([]byte(playing), &clip); err != nil {
		t.Fatalf("clip state %q: %v", playing, err)
	}
	t.Logf("clip: %s", playing)
	if clip.ReadyState != 4 || clip.Paused || clip.Ended || clip.T1-clip.T0 < 1.0 || clip.Error != "" || clip.Width == 0 {
		t.Fatalf("the clip does not play through (want readyState 4, playing, ≥ 1 s advanced in 1.5 s): %s", playing)
	}

	// Forged POSTs without the CSRF token are refused, the page's and the API's.
	forged := eval("forged POSTs", `Promise.all([
		fetch("/tickets/`+ticket+`/confirm", {method: "POST", body: new URLSearchParams({version: "1"})}),
		fetch("/api/v1/tickets/`+ticket+`/transitions", {method: "POST", headers: {"Content-Type": "application/json"},
			body: JSON.stringify({to: "confirmed", version: 1})}),
	]).then(rs => rs.map(r => r.status).join(","))`)
	if forged != "403,403" {
		t.Errorf("forged POSTs without the CSRF token: %s, want 403,403", forged)
	}

	// Show the moment of the act for the screenshot.
	eval("seek to the act", `new Promise(r => {
		const v = document.getElementById("clip");
		v.pause();
		v.addEventListener("seeked", () => setTimeout(() => r(""), 300), {once: true});
		v.currentTime = parseFloat(v.dataset.act || "0") + 0.5;
	})`)
	run("scroll to top", 5*time.Second, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	saveScreenshot(t, "review-case.png", screenshot(t, ctx))

	// Reject with a reason ("r" goes to the reason); the status and the
	// audit entry survive a reload.
	run("r for reject", 5*time.Second, chromedp.KeyEvent("r"))
	if id := eval("focus after r", `Promise.resolve(document.activeElement.id)`); id != "reason" {
		t.Errorf("after pressing r the focus is on %q, want the reject reason", id)
	}
	run("reject", 20*time.Second,
		chromedp.SetValue(chromedp.ID("reason"), "false_positive"),
		chromedp.SendKeys(chromedp.ID("reject-note"), "路人放下后又拿走了"),
		chromedp.Click(chromedp.ID("reject-submit")),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-status="rejected"]`)),
	)
	entry := eval("audit entry", `Promise.resolve((() => { const li = document.querySelector("#audit li");
		return li.dataset.actor + "|" + li.dataset.to + "|" + li.textContent.replace(/\s+/g, " ").trim(); })())`)
	if !strings.HasPrefix(entry, reviewer.name+"|rejected|") || !strings.Contains(entry, "误报") || !strings.Contains(entry, "路人放下后又拿走了") {
		t.Errorf("newest audit entry after reload: %q", entry)
	}
	// The same through the API, as the reviewer (basic auth).
	var audit struct {
		Entries []struct{ Actor, To, Reason, Note string } `json:"entries"`
	}
	if status, body := api.get("/api/v1/tickets/"+ticket+"/audit", &reviewer); status != http.StatusOK || json.Unmarshal(body, &audit) != nil {
		t.Fatalf("audit through the API: %d %s", status, body)
	}
	last := audit.Entries[len(audit.Entries)-1]
	if last.Actor != reviewer.name || last.To != "rejected" || last.Reason != "false_positive" {
		t.Errorf("audit log: %+v", audit.Entries)
	}
	// The cameras page: the camera is up and sampled frames per second are
	// measured (2 fps configured, stream played at 4× real time).
	run("cameras", 10*time.Second, chromedp.Navigate(base+"/cameras"), chromedp.WaitVisible(chromedp.CSS(`#cameras tr[data-camera="cam"]`)))
	row := eval("camera row", `Promise.resolve(document.querySelector('#cameras tr[data-camera="cam"]').innerText.replace(/\s+/g, " "))`)
	if !strings.Contains(row, "在线") || !strings.Contains(row, "H264 1280×720") {
		t.Errorf("camera row: %q", row)
	}
	if fps := eval("camera fps", `Promise.resolve(document.querySelector('#cameras tr[data-camera="cam"] td.num').textContent)`); fps == "-" || fps == "0.0" {
		t.Errorf("sampled fps %q, want a measured rate", fps)
	}
	saveScreenshot(t, "review-cameras.png", screenshot(t, ctx))

	// English on request.
	run("english", 10*time.Second, chromedp.Navigate(base+"/tickets/"+ticket+"?lang=en"), chromedp.WaitVisible(chromedp.ID("status")))
	if s := eval("english status", `Promise.resolve(document.getElementById("status").textContent)`); s != "rejected" {
		t.Errorf("status in English: %q", s)
	}
}

// startReviewedRun runs the pipeline in process on the dumping scenario,
// with review required and two users, and returns the HTTP base URL.
func startReviewedRun(t *testing.T) (base string, stop func()) {
	t.Helper()
	sim := &simulate.Server{Addr: "127.0.0.1:0", Speed: 4, WaitForReader: true}
	if err := sim.Add("cam", filepath.Join(mediatest.Root(), "testdata", "scenarios", "dumping.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	zone := scenarioZone(t, "dumping")
	hash := func(p string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	doc := fmt.Sprintf(`http: {listen: "127.0.0.1:0"}
state_dir: %q
detectors:
  models: [{name: demo, manifest: %q}]
cameras:
  - id: cam
    name: 白云区同和街垃圾站
    url: %q
    transport: tcp
    location: {lat: 23.2, lon: 113.3, address: 广州市白云区同和街 12 号}
    zones: [{name: pavement, polygon: %s}]
    rules: {illegal_dumping: {min_dwell: 30s}}
evidence: {post_roll: 5s}
dispatch:
  districts:
    baiyun: {cameras: [cam], team: 白云城管}
    tianhe: {team: 天河城管}
review:
  users:
    - {name: %s, password_hash: %q, role: %s}
    - {name: %s, password_hash: %q, role: %s}
    - {name: %s, password_hash: %q, role: %s}
`, filepath.Join(t.TempDir(), "state"), filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml"), sim.URL("cam"), zone,
		reviewer.name, hash(reviewer.password), reviewer.role, viewer.name, hash(viewer.password), viewer.role,
		admin.name, hash(admin.password), admin.role)
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		sim.Close()
		t.Fatalf("config: %v\n%s", err, doc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncWriter{w: &strings.Builder{}}
	go func() {
		done <- runPipeline(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), func(a string) { addr <- a })
	}()
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		cancel()
		sim.Close()
		t.Fatalf("run: %v\n%s", err, logs)
	}
	return base, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("run did not stop within 15 s")
		}
		sim.Close()
		if t.Failed() {
			t.Logf("streetwatch log:\n%s", logs)
		}
	}
}

// newBrowser starts headless chromium with a fresh profile; the test's
// cleanup closes it (and waits for it).
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "zh-CN"),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// browserSteps are the tests' two ways of driving the browser: run steps
// (failing the test with what after timeout), and eval a script that
// answers a string (awaiting a promise).
func browserSteps(t *testing.T, ctx context.Context) (run func(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]),
	eval func(what, js string) string) {
	run = func(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval = func(what, js string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	return run, eval
}

// screenshot captures the 1280x800 viewport as PNG.
func screenshot(t *testing.T, ctx context.Context) []byte {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}

// apiClient calls the JSON API with basic auth.
type apiClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func (c *apiClient) get(path string, as *browserUser) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if as != nil {
		req.SetBasicAuth(as.name, as.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// waitForTicket waits for the run's first ticket to wait for review.
func (c *apiClient) waitForTicket(limit time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		status, body := c.get("/api/v1/tickets?status=pending_review", &viewer)
		var page struct {
			Tickets []struct {
				ID       string   `json:"id"`
				Evidence struct{} `json:"evidence"`
			} `json:"tickets"`
		}
		if status == http.StatusOK && json.Unmarshal(body, &page) == nil && len(page.Tickets) > 0 {
			return page.Tickets[0].ID
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no ticket pending review after %s (last answer %d %s)", limit, status, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
