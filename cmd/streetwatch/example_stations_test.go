package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/streetwatch/streetwatch/internal/mediatest"
)

// The example's weighing sources are commented out so that check-config
// passes without their variables; uncommented, with the variables set,
// they must pass too (and stay secret).
func TestExampleWeighingSourcesPassCheckConfigOnceUncommented(t *testing.T) {
	const token, secret = "example-weighbridge-token-0123", "example-city-scales-secret-0123"
	t.Setenv("STATION07_PASSWORD", "x")
	t.Setenv("WEIGHBRIDGE07_TOKEN", token)
	t.Setenv("CITY_SCALES_SECRET", secret)
	root := mediatest.Root()
	raw, err := os.ReadFile(filepath.Join(root, "streetwatch.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?m)^  # (sources:|  - id: |    [a-z_]+: )`)
	uncommented := block.ReplaceAllString(string(raw), "  $1")
	if strings.Count(uncommented, "\n  sources:\n") != 1 || !strings.Contains(uncommented, "\n      token: ${WEIGHBRIDGE07_TOKEN}") {
		t.Fatalf("the example's commented weighing sources were not found: update this test with the example\n%s", uncommented[strings.Index(uncommented, "stations:"):])
	}
	// The copy sits beside the example so its relative paths still resolve.
	path := filepath.Join(root, ".example-weighing-test.yaml")
	if err := os.WriteFile(path, []byte(uncommented), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	var out, errOut bytes.Buffer
	if code := run([]string{"check-config", "--config", path}, &out, &errOut); code != 0 {
		t.Fatalf("uncommented example: exit %d: %s", code, errOut.String())
	}
	if s := out.String() + errOut.String(); strings.Contains(s, token) || strings.Contains(s, secret) {
		t.Errorf("check-config printed a credential: %s", s)
	}
	os.Unsetenv("WEIGHBRIDGE07_TOKEN")
	errOut.Reset()
	if code := run([]string{"check-config", "--config", path}, &out, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), "weighing.sources[0].token: environment variable WEIGHBRIDGE07_TOKEN is not set") {
		t.Errorf("without the variable: exit %d: %s", code, errOut.String())
	}
}
