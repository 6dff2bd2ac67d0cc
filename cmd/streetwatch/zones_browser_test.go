package main

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/streetwatch/streetwatch/config"
)

// TestZoneEditorInARealBrowser: an admin opens the zone editor of a
// running camera in Debian's chromium, sees the camera's current picture
// with the configured zone and the live detections, draws a new zone by
// clicking on the picture, and gets a YAML block that check-config's rules
// accept and that parses back to the points clicked; a mask of two points
// is refused with an error naming its field. Reviewers cannot open it.
func TestZoneEditorInARealBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline on a scenario video and a browser")
	}
	chromium := chromiumPath(t)
	base, stop := startReviewedRun(t)
	defer stop()
	api := &apiClient{t: t, base: base, http: &http.Client{Timeout: 30 * time.Second}}
	defer api.http.CloseIdleConnections()

	for _, path := range []string{"/cameras/cam/zones", "/cameras/cam/picture"} {
		if status, _ := api.get(path, &reviewer); status != http.StatusForbidden {
			t.Errorf("a reviewer GET %s: %d, want 403", path, status)
		}
	}
	if status, _ := api.get("/cameras/nope/zones", &admin); status != http.StatusNotFound {
		t.Errorf("the editor of an unknown camera: %d, want 404", status)
	}
	// The picture is the camera's next frame, decoded at its native size.
	var pic struct {
		Picture       string
		Width, Height int
		Detections    []struct{ Class string }
	}
	if status, body := api.get("/cameras/cam/picture", &admin); status != http.StatusOK || json.Unmarshal(body, &pic) != nil {
		t.Fatalf("picture: %d %.200s", status, body)
	}
	if !strings.HasPrefix(pic.Picture, "data:image/jpeg;base64,/9j/") || pic.Width != 1280 || pic.Height != 720 {
		t.Errorf("picture %dx%d %.40s", pic.Width, pic.Height, pic.Picture)
	}

	ctx := newBrowser(t, chromium)
	run, eval := browserSteps(t, ctx)
	// waitCheck waits for the server's answer to the edit just made.
	checked := 0
	waitCheck := func(what string) (valid bool, yaml string, errs string) {
		t.Helper()
		checked++
		run(what, 20*time.Second, chromedp.WaitVisible(chromedp.CSS(`body[data-checked]`)))
		deadline := time.Now().Add(20 * time.Second)
		for {
			n, _ := strconv.Atoi(eval("check count", `Promise.resolve(document.body.dataset.checked || "0")`))
			if n >= checked {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no check answer (%d of %d)", what, n, checked)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return eval("verdict", `Promise.resolve(document.getElementById("zone-verdict").dataset.valid)`) == "true",
			eval("yaml", `Promise.resolve(document.getElementById("zone-yaml").textContent)`),
			eval("errors", `Promise.resolve(document.getElementById("zone-errors").innerText)`)
	}

	run("sign in as admin", 20*time.Second,
		chromedp.Navigate(base+"/login?lang=en"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("name"), admin.name),
		chromedp.SendKeys(chromedp.ID("password"), admin.password),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS(`nav.menu`)),
		chromedp.Navigate(base+"/cameras"),
		chromedp.Click(chromedp.CSS(`#cameras tr[data-camera="cam"] a.zones-link`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-picture]`)),
	)
	// The configured zone is listed and drawn; the first check answers it.
	if valid, yaml, errs := waitCheck("first check"); !valid || !strings.Contains(yaml, "name: pavement") {
		t.Fatalf("the configured areas: valid %v, errors %q, yaml:\n%s", valid, errs, yaml)
	}
	if n := eval("areas drawn", `Promise.resolve(String(document.querySelectorAll("#zone-svg polygon.area.zone").length))`); n != "1" {
		t.Errorf("%s zones drawn, want the configured one", n)
	}
	// Live detections are drawn, one box each.
	run("live", 5*time.Second, chromedp.Click(chromedp.ID("zone-live")))
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := eval("detections", `Promise.resolve(document.body.dataset.detections + "/" + document.querySelectorAll("#zone-svg rect.det").length)`)
		if a, b, _ := strings.Cut(n, "/"); a == b && a != "0" && a != "undefined" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no detection drawn on the live picture (detections/boxes %s)", n)
		}
		time.Sleep(500 * time.Millisecond)
	}
	run("live off", 5*time.Second, chromedp.Click(chromedp.ID("zone-live")))

	// Draw a zone "kerb" by four clicks at known native pixels.
	want := [][2]float64{{200, 520}, {1000, 520}, {1000, 700}, {200, 700}}
	rect := eval("picture rect", `Promise.resolve((r => [r.left, r.top, r.width, r.height].join(","))(document.getElementById("zone-svg").getBoundingClientRect()))`)
	var r [4]float64
	for i, f := range strings.Split(rect, ",") {
		r[i], _ = strconv.ParseFloat(f, 64)
	}
	run("new zone", 10*time.Second,
		chromedp.SendKeys(chromedp.ID("zone-name"), "kerb"),
		chromedp.Click(chromedp.ID("zone-new")))
	waitCheck("new zone")
	var valid bool
	var yaml, errs string
	for i, p := range want {
		run("click point "+strconv.Itoa(i), 5*time.Second,
			chromedp.MouseClickXY(r[0]+p[0]*r[2]/1280, r[1]+p[1]*r[3]/720))
		valid, yaml, errs = waitCheck("point " + strconv.Itoa(i))
	}
	if !valid {
		t.Fatalf("the drawn zone refused: %s\n%s", errs, yaml)
	}
	saveScreenshot(t, "zone-editor.png", screenshot(t, ctx))
	// The YAML, pasted under the camera, is a valid config with both zones.
	doc := "cameras:\n  - id: cam\n    url: rtsp://127.0.0.1:8554/cam\n"
	for line := range strings.SplitSeq(strings.TrimRight(yaml, "\n"), "\n") {
		doc += "    " + line + "\n"
	}
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("the editor's YAML does not parse: %v\n%s", err, doc)
	}
	zones := cfg.Cameras[0].Zones
	if len(zones) != 2 || zones[0].Name != "pavement" || zones[1].Name != "kerb" || len(zones[1].Polygon) != len(want) {
		t.Fatalf("zones from the YAML: %+v", zones)
	}
	for i, p := range zones[1].Polygon {
		if math.Abs(float64(p[0])-want[i][0]) > 3 || math.Abs(float64(p[1])-want[i][1]) > 3 {
			t.Errorf("point %d at %v, clicked at %v", i, p, want[i])
		}
	}

	// A mask of two points is refused, naming the field.
	run("new mask", 10*time.Second, chromedp.Click(chromedp.ID("mask-new")))
	waitCheck("new mask")
	for i, p := range want[:2] {
		run("mask point", 5*time.Second, chromedp.MouseClickXY(r[0]+p[0]*r[2]/1280, r[1]+(p[1]-300)*r[3]/720))
		valid, _, errs = waitCheck("mask point " + strconv.Itoa(i))
	}
	if valid || !strings.Contains(errs, "cameras[0].masks[0]: needs at least 3 points (got 2)") {
		t.Errorf("a two-point mask: valid %v, errors %q", valid, errs)
	}
}
