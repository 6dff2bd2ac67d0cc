package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/internal/streamtest"
	"github.com/streetwatch/streetwatch/media"
)

// waitSpilled blocks until the spill writer has written everything queued,
// as it does between GOPs when the disk keeps up with the camera.
func (h *History) waitSpilled(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		idle := len(h.queue) == 0 && !h.writing
		h.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("spill writer stuck")
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// feed adds access units, waiting for the spill writer at each keyframe,
// and calls check after every Add.
func feed(t testing.TB, h *History, aus []*media.AccessUnit, check func(i int)) {
	t.Helper()
	for i, au := range aus {
		if au.Key && h.cfg.SpillDir != "" {
			h.waitSpilled(t)
		}
		h.Add(au)
		if check != nil {
			check(i)
		}
	}
	if h.cfg.SpillDir != "" {
		h.waitSpilled(t)
	}
}

func newTestHistory(t testing.TB, cfg Config) (*History, *Metrics) {
	t.Helper()
	m := NewMetrics(prometheus.NewRegistry())
	h, err := New("cam1", cfg, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h, m
}

func gaugeValue(t testing.TB, m *Metrics, tier string) int64 {
	t.Helper()
	var out dto.Metric
	if err := m.Bytes.WithLabelValues("cam1", tier).Write(&out); err != nil {
		t.Fatal(err)
	}
	return int64(out.GetGauge().GetValue())
}

// playableClip muxes aus with evidence's MP4 writer and checks that the
// clip plays and holds what the writer says (streamtest.CheckPlayable).
func playableClip(t testing.TB, aus []*media.AccessUnit) (string, evidence.ClipInfo, streamtest.ClipProbe) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "clip.mp4")
	info, err := evidence.WriteMP4File(p, aus)
	if err != nil {
		t.Fatalf("WriteMP4File: %v", err)
	}
	return p, info, streamtest.CheckPlayable(t, p, streamtest.Want{Frames: info.Frames, Keyframes: info.Keyframes, Duration: info.Duration})
}

func at(d time.Duration) time.Time { return streamtest.Epoch.Add(d) }

func sameAUs(t *testing.T, got, want []*media.AccessUnit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d access units, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.PTS != w.PTS || !g.Time.Equal(w.Time) || g.Key != w.Key || g.Gap != w.Gap || g.Codec != w.Codec ||
			g.Width != w.Width || g.Height != w.Height || g.Session != w.Session ||
			!slices.EqualFunc(g.NALUs, w.NALUs, bytes.Equal) {
			t.Fatalf("access unit %d differs:\n got %s\nwant %s", i, auString(g), auString(w))
		}
	}
}

func auString(au *media.AccessUnit) string {
	return fmt.Sprintf("PTS %d Time %s Key %v Gap %v Session %d %v %dx%d, %d NAL units, %d bytes",
		au.PTS, au.Time.Format(time.RFC3339Nano), au.Key, au.Gap, au.Session, au.Codec, au.Width, au.Height, len(au.NALUs), au.Size())
}

func TestHistoryClipStartsAtLastKeyframeBeforeFromAndEndsAtTo(t *testing.T) {
	for _, tc := range []struct {
		file     string
		from, to time.Duration
	}{
		{"h264_640x360.mp4", 4300 * time.Millisecond, 7100 * time.Millisecond},
		{"h265_640x360.mp4", 4300 * time.Millisecond, 7100 * time.Millisecond},
		{"h264_bframes_640x360.mp4", 2300 * time.Millisecond, 4710 * time.Millisecond},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s := streamtest.Load(t, tc.file)
			h, _ := newTestHistory(t, Config{})
			feed(t, h, s.AUs, nil)
			from, to := at(tc.from), at(tc.to)
			aus, err := h.Clip(from, to)
			if err != nil {
				t.Fatal(err)
			}
			first := slices.Index(s.AUs, aus[0])
			if !aus[0].Key || aus[0].Time.After(from) {
				t.Fatalf("clip starts at %v (key %v), want a keyframe at or before %v", aus[0].Time, aus[0].Key, from)
			}
			for _, au := range s.AUs[first+1:] {
				if au.Key && !au.Time.After(from) {
					t.Fatalf("keyframe at %v is nearer to %v than the clip's start %v", au.Time, from, aus[0].Time)
				}
			}
			last := first + len(aus) - 1
			if aus[len(aus)-1].Time.After(to) {
				t.Errorf("clip ends with a picture at %v, after %v", aus[len(aus)-1].Time, to)
			}
			for _, au := range s.AUs[last+1:] {
				if !au.Time.After(to) {
					t.Fatalf("picture at %v <= %v left out of the clip", au.Time, to)
				}
			}
			sameAUs(t, aus, s.AUs[first:last+1])

			p, info, pr := playableClip(t, aus)
			if info.Start.After(from.Add(-0)) || from.Sub(info.Start) > 2*time.Second {
				t.Errorf("clip starts at %v; want within one GOP (2 s) before %v", info.Start, from)
			}
			if info.End.Before(to.Add(-40*time.Millisecond)) || info.End.After(to.Add(120*time.Millisecond)) {
				t.Errorf("clip ends at %v; want %v, within reordering", info.End, to)
			}
			if want := info.End.Sub(info.Start) + 40*time.Millisecond; info.Duration != want {
				t.Errorf("Duration %v, want %v", info.Duration, want)
			}
			streamtest.CheckTimestamps(t, pr, aus)
			streamtest.CheckSamePictures(t, s.Path, p, streamtest.PresentationIndex(s.AUs, aus[0]), len(aus))
		})
	}
}

func TestHistoryClipFromDiskEqualsClipFromMemory(t *testing.T) {
	s := streamtest.Load(t, "h264_640x360.mp4")
	mem, _ := newTestHistory(t, Config{})
	dir := t.TempDir()
	disk, m := newTestHistory(t, Config{MaxMemory: 300 << 10, SpillDir: dir})
	feed(t, mem, s.AUs, nil)
	feed(t, disk, s.AUs, nil)
	if disk.dropped != 0 {
		t.Fatalf("%d GOPs dropped", disk.dropped)
	}
	disk.mu.Lock()
	spilled := len(disk.gops) > 3 && disk.gops[0].state == gopDisk && disk.gops[1].state == gopDisk
	disk.mu.Unlock()
	if !spilled || gaugeValue(t, m, "disk") == 0 {
		t.Fatal("the oldest GOPs were not spilled to disk")
	}

	from, to := at(1*time.Second), at(9*time.Second)
	want, err := mem.Clip(from, to)
	if err != nil {
		t.Fatal(err)
	}
	got, err := disk.Clip(from, to)
	if err != nil {
		t.Fatal(err)
	}
	sameAUs(t, got, want)
	var a, b bytes.Buffer
	if _, err := evidence.WriteMP4(&a, want); err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.WriteMP4(&b, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("MP4 from spilled history differs from the one from memory")
	}
	playableClip(t, got)
}

func TestHistoryBoundsMemoryAndDeletesDiskOlderThanKeep(t *testing.T) {
	s := streamtest.Load(t, "h264_640x360.mp4")
	aus := streamtest.Looped(s.AUs, 4) // 40 s
	dir := t.TempDir()
	const maxMem = 512 << 10 // about 2.5 GOPs
	keep := 12 * time.Second
	h, m := newTestHistory(t, Config{MaxMemory: maxMem, Keep: keep, SpillDir: dir})
	var firstSegment string
	feed(t, h, aus, func(i int) {
		// The spill goroutine changes memory and gauge together under
		// h.mu: read both under it.
		h.mu.Lock()
		cur := h.cur.bytes
		mem := h.memBytes
		g := gaugeValue(t, m, "memory")
		if firstSegment == "" && len(h.segs) > 0 {
			firstSegment = h.segs[0].path
		}
		h.mu.Unlock()
		if g != mem {
			t.Fatalf("unit %d: memory gauge %d, history holds %d", i, g, mem)
		}
		if mem > maxMem+cur {
			t.Fatalf("unit %d: %d bytes in memory, more than MaxMemory %d + current GOP %d", i, mem, maxMem, cur)
		}
	})
	if h.dropped != 0 {
		t.Fatalf("%d GOPs dropped", h.dropped)
	}

	newest := h.Newest()
	if oldest := h.Oldest(); newest.Sub(oldest) > keep+2*time.Second || newest.Sub(oldest) < keep {
		t.Errorf("history reaches back %v, want Keep %v up to one GOP more", newest.Sub(oldest), keep)
	}
	if _, err := os.Stat(firstSegment); !os.IsNotExist(err) {
		t.Errorf("first segment %s still there (%v) after its history expired", firstSegment, err)
	}
	var files int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, _ := e.Info()
		files += fi.Size()
	}
	if g := gaugeValue(t, m, "disk"); g != files || g == 0 {
		t.Errorf("disk gauge %d, segment files hold %d", g, files)
	}
	// Disk holds at most Keep plus a segment (Keep/4) plus a GOP.
	var bound int64
	for _, au := range aus {
		if au.Time.After(newest.Add(-keep - keep/4 - 2*time.Second)) {
			bound += int64(au.Size()) + 64
		}
	}
	if files > bound {
		t.Errorf("%d bytes on disk, want at most %d (Keep + a segment + a GOP)", files, bound)
	}

	aus2, err := h.Clip(newest.Add(-keep-10*time.Second), newest)
	var short *ShortHistoryError
	if !errors.Is(err, evidence.ErrShortHistory) || !errors.As(err, &short) || len(aus2) == 0 {
		t.Fatalf("clip reaching beyond Keep: %d units, err %v; want units and a ShortHistoryError", len(aus2), err)
	}
	if !short.Oldest.Equal(h.Oldest()) || !aus2[0].Time.Equal(short.Oldest) {
		t.Errorf("ShortHistoryError.Oldest %v, history's oldest %v, clip starts %v", short.Oldest, h.Oldest(), aus2[0].Time)
	}

	h.Close()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Close left %d files in the spill dir", len(entries))
	}
	if gaugeValue(t, m, "memory") != 0 || gaugeValue(t, m, "disk") != 0 {
		t.Error("gauges not zero after Close")
	}
	if _, err := h.Clip(newest.Add(-time.Second), newest); !errors.Is(err, ErrClosed) {
		t.Errorf("Clip after Close: %v, want ErrClosed", err)
	}
}

func TestHistoryWithoutSpillDirDropsOldestGOPs(t *testing.T) {
	s := streamtest.Load(t, "h264_640x360.mp4")
	const maxMem = 300 << 10
	h, m := newTestHistory(t, Config{MaxMemory: maxMem})
	feed(t, h, s.AUs, func(i int) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.memBytes > maxMem+h.cur.bytes {
			t.Fatalf("unit %d: %d bytes in memory, MaxMemory %d, current GOP %d", i, h.memBytes, maxMem, h.cur.bytes)
		}
	})
	if gaugeValue(t, m, "disk") != 0 {
		t.Error("disk bytes without a spill dir")
	}
	if !h.Oldest().After(streamtest.Epoch) {
		t.Fatal("nothing dropped: the test needs a smaller MaxMemory")
	}
	aus, err := h.Clip(at(0), at(9*time.Second))
	if !errors.Is(err, evidence.ErrShortHistory) || len(aus) == 0 || !aus[0].Key || !aus[0].Time.Equal(h.Oldest()) {
		t.Fatalf("err %v, %d units; want the clip from the oldest keyframe and evidence.ErrShortHistory", err, len(aus))
	}
	playableClip(t, aus)
	// RAM let video go long before Keep (10 min): what may go next is
	// within the margin of the oldest keyframe, not Keep before the newest.
	if got, want := h.LetGoWithin(5*time.Second), h.Oldest().Add(5*time.Second); !got.Equal(want) {
		t.Errorf("LetGoWithin(5s) = %v in, want %v (5 s after the oldest keyframe)", got.Sub(streamtest.Epoch), want.Sub(streamtest.Epoch))
	}
}

// A history that has let nothing go keeps all it has for Keep: video may
// go within d only once it is older than d less than Keep.
func TestHistoryStillFillingUpLetsGoOnlyByKeep(t *testing.T) {
	s := streamtest.Load(t, "h264_640x360.mp4") // 10 s
	h, _ := newTestHistory(t, Config{Keep: time.Minute})
	if !h.LetGoWithin(time.Second).IsZero() {
		t.Error("an empty history lets video go")
	}
	feed(t, h, s.AUs, nil)
	if !h.Oldest().Equal(streamtest.Epoch) {
		t.Fatalf("oldest %v in, want the start", h.Oldest().Sub(streamtest.Epoch))
	}
	if got, want := h.LetGoWithin(55*time.Second), h.Newest().Add(-5*time.Second); !got.Equal(want) {
		t.Errorf("LetGoWithin(55s) = %v in, want %v (5 s before the newest picture)", got.Sub(streamtest.Epoch), want.Sub(streamtest.Epoch))
	}
}

func TestHistoryDropsAGOPLargerThanMaxMemory(t *testing.T) {
	s := streamtest.Load(t, "h264_640x360.mp4")
	gop := s.AUs[:50]
	var size int64
	for _, au := range gop {
		size += auCost(au)
	}
	h, m := newTestHistory(t, Config{MaxMemory: size / 2})
	feed(t, h, s.AUs[:75], nil) // the first GOP, then half of the second
	if mem := gaugeValue(t, m, "memory"); mem > size/2 {
		t.Errorf("%d bytes in memory, MaxMemory %d", mem, size/2)
	}
	if _, err := h.Clip(at(0), at(3*time.Second)); !errors.Is(err, ErrNoHistory) {
		t.Errorf("clip: %v, want ErrNoHistory: no GOP fit", err)
	}
}

func TestHistoryGapEndsTheGOPAndDropsUnitsUntilTheNextKeyframe(t *testing.T) {
	s := streamtest.Load(t, "h264_640x360.mp4")
	aus := slices.Clone(s.AUs)
	c := *aus[60]
	c.Gap = true
	aus[60] = &c
	h, _ := newTestHistory(t, Config{})
	feed(t, h, aus, nil)
	got, err := h.Clip(at(0), at(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 210 || got[59] != s.AUs[59] || got[61] != s.AUs[101] {
		t.Fatalf("clip of %d units; want 0..59 and 100..249 (210)", len(got))
	}
	if !got[60].Gap || !got[60].Key || got[60].PTS != s.AUs[100].PTS || s.AUs[100].Gap {
		t.Errorf("the keyframe after the gap: Gap %v Key %v; want it marked as after a gap (on a copy)", got[60].Gap, got[60].Key)
	}
	_, info, _ := playableClip(t, got)
	if info.Frames != 210 {
		t.Errorf("%d frames, want 210", info.Frames)
	}
}

func TestHistoryDropsUnitsBeforeTheFirstKeyframe(t *testing.T) {
	s := streamtest.Load(t, "h264_640x360.mp4")
	h, _ := newTestHistory(t, Config{})
	feed(t, h, s.AUs[10:], nil)
	if !h.Oldest().Equal(s.AUs[50].Time) {
		t.Errorf("oldest %v, want the first keyframe's %v", h.Oldest(), s.AUs[50].Time)
	}
	got, err := h.Clip(at(0), at(3*time.Second))
	if !errors.Is(err, evidence.ErrShortHistory) || len(got) == 0 || got[0] != s.AUs[50] {
		t.Errorf("clip starts with %v (err %v); want the first keyframe", got[0].Time, err)
	}
}

func TestHistoryReconnectStartsANewGOP(t *testing.T) {
	s := streamtest.Load(t, "h264_640x360.mp4")
	a := s.AUs[:130] // session 1 breaks off mid-GOP at 5.2 s
	// Session 2 resumes 5 s later; its first units (mid-GOP) cannot be decoded.
	b := streamtest.Restamp(s.AUs[160:], 5*time.Second, 2)
	h, _ := newTestHistory(t, Config{MaxMemory: 300 << 10, SpillDir: t.TempDir()})
	feed(t, h, append(slices.Clip(a), b...), nil)
	got, err := h.Clip(at(0), at(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clip(a), b[40:]...) // from the keyframe at 8 s (+5 s)
	resumed := *want[130]
	resumed.Gap = true // units of session 2 before it were dropped
	want[130] = &resumed
	sameAUs(t, got, want)
	_, info, pr := playableClip(t, got)
	if info.Frames != 180 || pr.Packets[130].PTS != 13 {
		t.Errorf("%d frames, picture 130 at %vs; want 180 and 13s", info.Frames, pr.Packets[130].PTS)
	}
}

func TestHistoryClipOutsideHistoryIsAnError(t *testing.T) {
	h, _ := newTestHistory(t, Config{})
	if _, err := h.Clip(at(0), at(time.Second)); !errors.Is(err, ErrNoHistory) {
		t.Errorf("empty history: %v, want ErrNoHistory", err)
	}
	s := streamtest.Load(t, "h264_640x360.mp4")
	feed(t, h, streamtest.Restamp(s.AUs, time.Minute, 1), nil)
	if _, err := h.Clip(at(0), at(30*time.Second)); !errors.Is(err, ErrNoHistory) {
		t.Errorf("range before history: %v, want ErrNoHistory", err)
	}
	if _, err := h.Clip(at(2*time.Minute), at(time.Minute)); err == nil {
		t.Error("range ending before it starts: no error")
	}
	// A range reaching past the newest picture gives what there is so far.
	got, err := h.Clip(at(time.Minute+8*time.Second), at(2*time.Minute))
	if err != nil || got[len(got)-1] == nil || !got[len(got)-1].Time.Equal(h.Newest()) {
		t.Errorf("clip to the future: %d units, err %v; want through the newest picture", len(got), err)
	}
}

func TestHistoryReportsCorruptSpillSegments(t *testing.T) {
	s := streamtest.Load(t, "h264_640x360.mp4")
	dir := t.TempDir()
	h, _ := newTestHistory(t, Config{MaxMemory: 300 << 10, SpillDir: dir})
	feed(t, h, s.AUs, nil)
	files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(files) == 0 {
		t.Fatal("nothing spilled")
	}
	f, err := os.OpenFile(files[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xde, 0xad}, 5000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = h.Clip(at(0), at(time.Second))
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("clip from a damaged segment: %v, want a corrupt-record error", err)
	}
}

func TestNewRemovesStaleSegmentsOnly(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "history-000007.seg")
	other := filepath.Join(dir, "notes.txt")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newTestHistory(t, Config{SpillDir: dir})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale segment kept")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("unrelated file removed")
	}
}

// Add from an ingest goroutine while a recorder clips: run with -race.
func TestHistoryConcurrentAddAndClip(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := streamtest.Load(t, "h264_640x360.mp4")
	aus := streamtest.Looped(s.AUs, 3)
	h, err := New("cam1", Config{MaxMemory: 300 << 10, Keep: 8 * time.Second, SpillDir: t.TempDir()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i, au := range aus {
			h.Add(au)
			if i%25 == 0 {
				time.Sleep(time.Millisecond) // let the spill writer run now and then
			}
		}
	}()
	clips := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		newest := h.Newest()
		got, err := h.Clip(newest.Add(-3*time.Second), newest.Add(-time.Second))
		if errors.Is(err, ErrNoHistory) {
			continue
		}
		if err != nil && !errors.Is(err, evidence.ErrShortHistory) {
			t.Fatal(err)
		}
		if !got[0].Key {
			t.Fatal("clip does not start on a keyframe")
		}
		if _, err := evidence.WriteMP4(io.Discard, got); err != nil {
			t.Fatal(err)
		}
		clips++
	}
	wg.Wait()
	if clips == 0 {
		t.Error("no clip cut while adding")
	}
	t.Logf("%d clips while adding %d units; %d GOPs dropped by a lagging disk", clips, len(aus), h.dropped)
}

// History logs through the logger it is given, with the camera as a field,
// never through the process's default logger.
func TestHistoryLogsToItsLoggerWithTheCamera(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h, err := New("cam7", Config{MaxMemory: 1 << 10}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	feed(t, h, streamtest.Load(t, "h264_640x360.mp4").AUs[:10], nil) // a GOP larger than MaxMemory
	line := logs.String()
	if !strings.Contains(line, "GOP larger than the history's memory") || !strings.Contains(line, "camera=cam7") {
		t.Errorf("log %q, want the dropped GOP with camera=cam7", line)
	}
}

// The gauge is registered where the caller says, under the name the
// dashboards and alerts in deploy/ use.
func TestHistoryBytesAreExportedOnTheGivenRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, err := New("cam1", Config{}, NewMetrics(reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	feed(t, h, streamtest.Load(t, "h264_640x360.mp4").AUs[:60], nil)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	tiers := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "streetwatch_history_bytes" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["camera"] == "cam1" {
				tiers[labels["tier"]] = m.GetGauge().GetValue()
			}
		}
	}
	if _, ok := tiers["disk"]; !ok || tiers["memory"] == 0 || len(tiers) != 2 {
		t.Errorf("streetwatch_history_bytes{camera=cam1}: %v, want memory > 0 and disk", tiers)
	}
}

// A camera whose history fits in RAM never spills: its history holds no
// spill write buffer (256 KiB, borrowed per GOP written), which at 128
// cameras was 32 MiB of idle heap.
func TestAHistoryThatDoesNotSpillHoldsNoWriteBuffer(t *testing.T) {
	const n = 32
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapAlloc
	hs := make([]*History, n)
	for i := range hs {
		h, err := New(fmt.Sprint("cam", i), Config{SpillDir: t.TempDir()}, NewMetrics(nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		hs[i] = h
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	per := (int64(ms.HeapAlloc) - int64(heap0)) / n
	for _, h := range hs {
		h.Close()
	}
	if per > 64<<10 {
		t.Fatalf("each idle history holds %d KiB of heap, want under 64", per>>10)
	}
}
