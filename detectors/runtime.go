package detectors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/streetwatch/streetwatch/internal/setupcache"
)

// ORTVersion is the ONNX Runtime release setup installs.
const ORTVersion = "1.24.1"

// LibraryEnv overrides the ONNX Runtime library path.
const LibraryEnv = "STREETWATCH_ORT_LIB"

// LibraryCandidates lists, in order, where the ONNX Runtime shared library
// is looked for: the configured path, $STREETWATCH_ORT_LIB, setup's cache,
// then system folders.
func LibraryCandidates(configured string) []string {
	var c []string
	if configured != "" {
		c = append(c, configured)
	}
	if env := os.Getenv(LibraryEnv); env != "" {
		c = append(c, env)
	}
	if cache := setupcache.Dir(); cache != "" {
		c = append(c, filepath.Join(cache, "onnxruntime-"+ORTVersion, "libonnxruntime.so"))
	}
	return append(c, "/usr/local/lib/libonnxruntime.so", "/usr/lib/libonnxruntime.so", "/opt/onnxruntime/lib/libonnxruntime.so")
}

// FindLibrary returns the first candidate that exists. When the configured
// path is set it is the only one tried: a wrong explicit path must not be
// papered over by another library.
func FindLibrary(configured string) (string, error) {
	candidates := LibraryCandidates(configured)
	if configured != "" {
		candidates = candidates[:1]
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("ONNX Runtime library not found; looked in: %s. "+
		"Run scripts/setup.sh (it installs ONNX Runtime %s), or set detectors.runtime.library in the config or $%s",
		strings.Join(candidates, ", "), ORTVersion, LibraryEnv)
}

var (
	runtimeMu   sync.Mutex
	runtimePath string
)

// InitRuntime loads ONNX Runtime once per process. Later calls with the same
// or an empty path are no-ops; another path is an error (the runtime is
// process-wide).
func InitRuntime(configured string) (string, error) {
	runtimeMu.Lock()
	defer runtimeMu.Unlock()
	if runtimePath != "" {
		if configured != "" && configured != runtimePath {
			return "", fmt.Errorf("ONNX Runtime already loaded from %s; cannot switch to %s", runtimePath, configured)
		}
		return runtimePath, nil
	}
	path, err := FindLibrary(configured)
	if err != nil {
		return "", err
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return "", fmt.Errorf("load ONNX Runtime from %s: %w (is it ONNX Runtime %s for this CPU? scripts/setup.sh installs it)",
			path, err, ORTVersion)
	}
	runtimePath = path
	return path, nil
}

// ErrProviderUnavailable marks an execution provider the loaded runtime
// cannot use (e.g. CUDA with the CPU build of ONNX Runtime).
var ErrProviderUnavailable = errors.New("execution provider unavailable")
