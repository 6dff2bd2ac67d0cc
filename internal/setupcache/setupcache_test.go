package setupcache

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streetwatch/streetwatch/internal/mediatest"
)

// TestDirAgreesWithSetup runs setup.sh's own cache line under each
// precedence case and compares it with Dir, so the two cannot drift.
func TestDirAgreesWithSetup(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(mediatest.Root(), "scripts", "setup.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "cache=") {
			line = l
		}
	}
	if line == "" {
		t.Fatal("scripts/setup.sh has no cache= line")
	}
	bash := mediatest.Tool(t, "bash")
	for _, tc := range []struct{ name, cache, xdg, home string }{
		{"STREETWATCH_CACHE wins", "/tmp/sw-cache", "/tmp/xdg", "/tmp/home"},
		{"XDG_CACHE_HOME next", "", "/tmp/xdg", "/tmp/home"},
		{"HOME last", "", "", "/tmp/home"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STREETWATCH_CACHE", tc.cache)
			t.Setenv("XDG_CACHE_HOME", tc.xdg)
			t.Setenv("HOME", tc.home)
			out, err := exec.Command(bash, "-c", line+`; printf %s "$cache"`).Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := Dir(); got != string(out) {
				t.Fatalf("Dir() = %q, setup.sh uses %q", got, out)
			}
		})
	}
}
