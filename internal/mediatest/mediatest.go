// Package mediatest helps tests find the generated test media and the
// third-party tools they talk to. Missing is the one place that decides what
// an absent dependency means: in CI (see InCI) it fails the test, because an
// integration test must never pass by skipping; elsewhere it skips.
// TestEverySkipOnAMissingDependencyGoesThroughMissing keeps it the only place.
package mediatest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// InCI reports whether the tests run in CI: $CI is set to anything but ""
// "0" or "false" (GitHub, GitLab and .ci/run set CI=true; some runners set
// CI=1 or their own name). It is the only reading of $CI in the tests.
func InCI() bool {
	switch os.Getenv("CI") {
	case "", "0", "false":
		return false
	}
	return true
}

// Missing stops the test because a dependency is absent: a failure in CI, a
// skip on a developer's machine that has not run scripts/setup.sh.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("missing dependency (scripts/setup.sh installs it): "+format, args...)
	}
	t.Skipf("missing dependency (run scripts/setup.sh): "+format, args...)
}

// File returns the path of a generated test video in testdata/media.
func File(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Root(), "testdata", "media", name)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "test video %s", p)
	}
	return p
}

// Tool returns the path of an executable.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not on PATH", name)
	}
	return p
}

// PacketInfo is what ffprobe reports about a file's video packets: an
// independent account of how many pictures and keyframes it holds.
type PacketInfo struct {
	Packets, Keyframes int
}

// Probe counts a file's video packets and keyframes with ffprobe.
func Probe(t testing.TB, file string) PacketInfo {
	t.Helper()
	out, err := exec.Command(Tool(t, "ffprobe"), "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=flags", "-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var info PacketInfo
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue // MPEG-TS side data prints empty lines
		}
		info.Packets++
		if bytes.HasPrefix(line, []byte("K")) {
			info.Keyframes++
		}
	}
	return info
}

// StreamInfo is ffprobe's view of a stream's first video track.
type StreamInfo struct {
	Codec         string
	Width, Height int
}

// ProbeStream asks ffprobe about the first video stream of a file or URL.
func ProbeStream(t testing.TB, input string, extra ...string) StreamInfo {
	t.Helper()
	args := append(append([]string{"-v", "error"}, extra...), "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height", "-of", "default=nw=1", input)
	out, err := exec.Command(Tool(t, "ffprobe"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", input, err, out)
	}
	var si StreamInfo
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "codec_name":
			si.Codec = v
		case "width":
			si.Width, _ = strconv.Atoi(v)
		case "height":
			si.Height, _ = strconv.Atoi(v)
		}
	}
	return si
}

// FreeAddr returns a free 127.0.0.1 TCP address.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// FreeUDPPair returns a 127.0.0.1 address with an even UDP port whose
// successor is free too (RTP and RTCP).
func FreeUDPPair(t testing.TB) string {
	t.Helper()
	for range 100 {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		a.Close()
		if port%2 != 0 || port > 65000 {
			continue
		}
		b, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port+1))
		if err != nil {
			continue
		}
		b.Close()
		return "127.0.0.1:" + strconv.Itoa(port)
	}
	t.Fatal("no free UDP port pair")
	return ""
}

// Python returns Debian's Python, which has the packages setup installs
// (python3-gi, python3-opencv...); a pyenv or venv python3 earlier on PATH
// would not.
func Python(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return Tool(t, "python3")
}
