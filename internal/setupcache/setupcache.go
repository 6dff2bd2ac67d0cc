// Package setupcache names the folder scripts/setup.sh installs third-party
// binaries into (ONNX Runtime, MinIO). The runtime and the tests look there
// through this one function, so a redirected cache is honoured everywhere or
// nowhere. It must never download or install anything.
package setupcache

import (
	"os"
	"path/filepath"
)

// Dir is setup's cache folder, with the same precedence as scripts/setup.sh:
// $STREETWATCH_CACHE, else $XDG_CACHE_HOME/streetwatch, else
// ~/.cache/streetwatch. It is "" only when none of them can be known.
func Dir() string {
	if dir := os.Getenv("STREETWATCH_CACHE"); dir != "" {
		return dir
	}
	if xdg := os.Getenv("XDG_CACHE_HOME"); xdg != "" {
		return filepath.Join(xdg, "streetwatch")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "streetwatch")
}
