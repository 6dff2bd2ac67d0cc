package streamtest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media"
)

var hashCache sync.Map // file path -> []string

// RunTool runs a tool found on PATH and returns its standard output; a
// failure fails the test with its standard error.
func RunTool(t testing.TB, tool string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(mediatest.Tool(t, tool), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// ClipProbe is ffprobe's view of a clip.
type ClipProbe struct {
	Codec         string
	Width, Height int
	Duration      float64 // seconds, from the container
	Packets       []Packet
}

// Packet is one video packet as ffprobe reports it.
type Packet struct {
	PTS, DTS, Dur float64 // seconds
	Key           bool
}

func ProbeClip(t testing.TB, path string) ClipProbe {
	t.Helper()
	out := RunTool(t, "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_packets", "-show_streams",
		"-show_format", "-of", "json", path)
	var raw struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
			Width     int    `json:"width"`
			Height    int    `json:"height"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
		Packets []struct {
			PTS   string `json:"pts_time"`
			DTS   string `json:"dts_time"`
			Dur   string `json:"duration_time"`
			Flags string `json:"flags"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	if len(raw.Streams) != 1 {
		t.Fatalf("ffprobe %s: %d video streams", path, len(raw.Streams))
	}
	f := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("ffprobe %s: number %q", path, s)
		}
		return v
	}
	p := ClipProbe{Codec: raw.Streams[0].CodecName, Width: raw.Streams[0].Width, Height: raw.Streams[0].Height,
		Duration: f(raw.Format.Duration)}
	for _, pk := range raw.Packets {
		p.Packets = append(p.Packets, Packet{PTS: f(pk.PTS), DTS: f(pk.DTS), Dur: f(pk.Dur), Key: strings.HasPrefix(pk.Flags, "K")})
	}
	return p
}

// DecodeErrors decodes a file with ffmpeg and returns what it complains about.
func DecodeErrors(t testing.TB, path string) string {
	t.Helper()
	out, err := exec.Command(mediatest.Tool(t, "ffmpeg"), "-v", "error", "-nostdin", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// FrameHashes decodes a file and returns the MD5 of every picture in
// presentation order.
func FrameHashes(t testing.TB, path string) []string {
	t.Helper()
	if h, ok := hashCache.Load(path); ok {
		return h.([]string)
	}
	out := RunTool(t, "ffmpeg", "-v", "error", "-nostdin", "-i", path, "-map", "0:v:0", "-fps_mode", "passthrough",
		"-pix_fmt", "yuv420p", "-f", "framemd5", "-")
	var hashes []string
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Split(line, ",")
		hashes = append(hashes, strings.TrimSpace(fields[len(fields)-1]))
	}
	hashCache.Store(path, hashes)
	return hashes
}

// IndexOfRun returns where sub occurs in full as a contiguous run (-1: nowhere).
func IndexOfRun(full, sub []string) int {
	if len(sub) == 0 {
		return -1
	}
outer:
	for i := 0; i+len(sub) <= len(full); i++ {
		for j := range sub {
			if full[i+j] != sub[j] {
				continue outer
			}
		}
		return i
	}
	return -1
}

// TopBoxes lists the top-level box types of an MP4 file.
func TopBoxes(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for len(data) >= 8 {
		size := uint64(binary.BigEndian.Uint32(data))
		typ := string(data[4:8])
		if size == 1 {
			size = binary.BigEndian.Uint64(data[8:])
		}
		if size < 8 || size > uint64(len(data)) {
			t.Fatalf("%s: bad box %q of size %d with %d bytes left", path, typ, size, len(data))
		}
		types = append(types, typ)
		data = data[size:]
	}
	if len(data) != 0 {
		t.Fatalf("%s: %d trailing bytes", path, len(data))
	}
	return types
}

// Want is what the muxer says a clip holds.
type Want struct {
	Frames, Keyframes int
	Duration          time.Duration
}

// CheckPlayable asserts what every clip must be: faststart, starting on a
// keyframe, DTS strictly increasing, cleanly decodable, with the frame
// count and duration the muxer reported (evidence.ClipInfo, which this
// package cannot name: evidence's own tests import it).
func CheckPlayable(t testing.TB, path string, info Want) ClipProbe {
	t.Helper()
	if boxes := TopBoxes(t, path); strings.Join(boxes, ",") != "ftyp,moov,mdat" {
		t.Errorf("top-level boxes %v, want ftyp,moov,mdat (faststart)", boxes)
	}
	if msg := DecodeErrors(t, path); msg != "" {
		t.Errorf("ffmpeg decoding the clip: %s", msg)
	}
	p := ProbeClip(t, path)
	if len(p.Packets) != info.Frames {
		t.Errorf("ffprobe: %d packets, Frames %d", len(p.Packets), info.Frames)
	}
	if len(p.Packets) == 0 {
		t.Fatal("no packets")
	}
	if !p.Packets[0].Key {
		t.Error("first packet is not a keyframe")
	}
	keys := 0
	minPTS := p.Packets[0].PTS
	for i, pk := range p.Packets {
		if pk.Key {
			keys++
		}
		if i > 0 && pk.DTS <= p.Packets[i-1].DTS {
			t.Fatalf("packet %d: DTS %v after %v: not strictly increasing", i, pk.DTS, p.Packets[i-1].DTS)
		}
		if pk.PTS < pk.DTS {
			t.Fatalf("packet %d: PTS %v before DTS %v", i, pk.PTS, pk.DTS)
		}
		minPTS = min(minPTS, pk.PTS)
	}
	if keys != info.Keyframes {
		t.Errorf("ffprobe: %d keyframes, Keyframes %d", keys, info.Keyframes)
	}
	if minPTS != 0 {
		t.Errorf("first picture shown at %vs, want 0", minPTS)
	}
	if d := info.Duration.Seconds(); abs(p.Duration-d) > 0.0015 {
		t.Errorf("container duration %.4fs, Duration %.4fs", p.Duration, d)
	}
	return p
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// PresentationIndex is where au shows among aus: how many pictures come before it.
func PresentationIndex(aus []*media.AccessUnit, au *media.AccessUnit) int {
	n := 0
	for _, x := range aus {
		if x.PTS < au.PTS {
			n++
		}
	}
	return n
}

// CheckSamePictures asserts that the clip decodes to exactly the source's
// pictures from presentation index at on, count of them.
func CheckSamePictures(t testing.TB, src, clip string, at, count int) {
	t.Helper()
	want := FrameHashes(t, src)
	got := FrameHashes(t, clip)
	if len(got) != count {
		t.Errorf("clip decodes to %d pictures, want %d", len(got), count)
	}
	if i := IndexOfRun(want, got); i != at {
		t.Errorf("clip pictures are the source's from index %d, want %d (-1: not a run of the source)", i, at)
	}
}

// CheckTimestamps asserts the clip shows every picture at its PTS.
func CheckTimestamps(t testing.TB, p ClipProbe, aus []*media.AccessUnit) {
	t.Helper()
	var want, got []int64
	base := aus[0].PTS
	for _, au := range aus {
		base = min(base, au.PTS)
	}
	for i, au := range aus {
		want = append(want, au.PTS-base)
		got = append(got, int64(p.Packets[i].PTS*media.ClockRate+0.5))
	}
	if !slices.Equal(got, want) {
		t.Errorf("presentation times (ticks) differ from the access units' PTS:\n got %v\nwant %v", head(got), head(want))
	}
}

func head[T any](s []T) []T { return s[:min(len(s), 12)] }
