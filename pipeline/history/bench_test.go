package history

// Benchmarks of the evidence clip path. Reproduce with
//
//	go test ./pipeline/history/ -run '^$' -bench 'Clip|History' -benchtime 20x
//
// Clip CPU is measured as process user+system time (getrusage), so the GC
// and the spill goroutine count too; ffmpeg's is its process's user+system
// time, start-up included, for the same range of the same file.

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/internal/streamtest"
	"github.com/streetwatch/streetwatch/media"
)

// processCPU is this process's user+system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ffmpegCut runs `ffmpeg -ss from -to to -i file -c copy out` and returns
// its CPU time.
func ffmpegCut(b *testing.B, file string, from, to time.Duration, out string) time.Duration {
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
	cmd := exec.Command(mediatest.Tool(b, "ffmpeg"), "-v", "error", "-nostdin", "-y", "-ss", secs(from), "-to", secs(to),
		"-i", file, "-c", "copy", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, msg)
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

func msPer(d time.Duration, n int) float64 { return float64(d) / float64(n) / 1e6 }

// BenchmarkClip cuts a 30 s clip (20 s..50 s) of the 60 s 720p benchmark
// stream: from a History holding it in memory, from one that spilled most
// of it to disk, and with ffmpeg stream copy from the file.
func BenchmarkClip(b *testing.B) {
	s := streamtest.Load(b, "bench_720p_h264.mp4")
	from, to := 20*time.Second, 50*time.Second
	dir := b.TempDir()

	// ffmpeg's CPU per clip, measured in this run as the reference.
	const refRuns = 5
	var ref time.Duration
	for range refRuns {
		ref += ffmpegCut(b, s.Path, from, to, filepath.Join(dir, "ref.mp4"))
	}
	refPer := ref / refRuns

	for _, tc := range []struct {
		name   string
		maxMem int64
	}{{"history-memory", 0}, {"history-disk", 4 << 20}} {
		b.Run(tc.name, func(b *testing.B) {
			h, err := New("bench", Config{MaxMemory: tc.maxMem, SpillDir: b.TempDir()}, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			feed(b, h, s.AUs, nil)
			out := filepath.Join(b.TempDir(), "clip.mp4")
			var info evidence.ClipInfo
			n := 0
			b.ReportAllocs()
			cpu0 := processCPU(b)
			for b.Loop() {
				aus, err := h.Clip(at(from), at(to))
				if err != nil {
					b.Fatal(err)
				}
				if info, err = evidence.WriteMP4File(out, aus); err != nil {
					b.Fatal(err)
				}
				n++
			}
			cpu := processCPU(b) - cpu0
			b.ReportMetric(msPer(cpu, n), "cpu-ms/clip")
			b.ReportMetric(float64(cpu)/float64(n)/float64(refPer), "cpu-x-ffmpeg")
			b.ReportMetric(msPer(refPer, 1), "ffmpeg-cpu-ms/clip")
			b.ReportMetric(float64(info.Frames), "frames/clip")
			b.ReportMetric(float64(info.Bytes)/(1<<20), "MiB/clip")
		})
	}
	b.Run("ffmpeg-copy", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "clip.mp4")
		var cpu time.Duration
		n := 0
		for b.Loop() {
			cpu += ffmpegCut(b, s.Path, from, to, out)
			n++
		}
		b.ReportMetric(msPer(cpu, n), "cpu-ms/clip")
		b.ReportMetric(float64(mediatest.Probe(b, out).Packets), "frames/clip")
	})
}

// BenchmarkHistoryAdd is the ingest goroutine's cost per access unit: one
// op adds the whole 60 s stream (1500 units, 30 GOPs) to a memory-only
// History whose bound drops the oldest GOPs.
func BenchmarkHistoryAdd(b *testing.B) {
	s := streamtest.Load(b, "bench_720p_h264.mp4")
	h, err := New("bench", Config{MaxMemory: 8 << 20}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		for _, au := range s.AUs {
			h.Add(au)
		}
		n += len(s.AUs)
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(n), "ns/add")
}

// BenchmarkHistoryRAM120s keeps 120 s of a 4 Mbit/s 720p camera with the
// default memory bound and a spill directory, and reports what it holds:
// the history's memory and disk tiers and the Go heap it retains.
func BenchmarkHistoryRAM120s(b *testing.B) {
	src := filepath.Join(b.TempDir(), "4mbit.mp4")
	start := time.Now()
	out, err := exec.Command(mediatest.Tool(b, "ffmpeg"), "-v", "error", "-nostdin", "-y", "-f", "lavfi",
		"-i", "testsrc2=size=1280x720:rate=25:duration=20", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
		"-bf", "0", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-threads", "1",
		"-b:v", "4M", "-minrate", "4M", "-maxrate", "4M", "-bufsize", "4M", "-x264-params", "nal-hrd=cbr", src).CombinedOutput()
	if err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	b.Logf("encoded the 20 s 4 Mbit/s source in %v", time.Since(start).Round(time.Millisecond))
	one := streamtest.Demux(b, src)
	span := streamtest.Span(one)
	var srcBytes int
	for _, au := range one {
		srcBytes += au.Size()
	}
	const loops = 6 // 120 s
	for b.Loop() {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap0 := ms.HeapAlloc

		m := NewMetrics(nil)
		h, err := New("cam1", Config{SpillDir: b.TempDir()}, m, nil)
		if err != nil {
			b.Fatal(err)
		}
		var addTime time.Duration
		adds := 0
		for l := range loops {
			shift := media.DurationToTicks(time.Duration(l) * span)
			for _, au := range one {
				// A fresh copy, as ingest allocates each unit.
				c := streamtest.NewAU(au.Codec, au.NALUs, au.PTS+shift, au.Key, au.Width, au.Height, 1)
				if c.Key {
					h.waitSpilled(b) // the disk keeps up with a real-time camera
				}
				t0 := time.Now()
				h.Add(c)
				addTime += time.Since(t0)
				adds++
			}
		}
		h.waitSpilled(b)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap := int64(ms.HeapAlloc) - int64(heap0)
		mem, disk := gaugeValue(b, m, "memory"), gaugeValue(b, m, "disk")
		if h.dropped != 0 {
			b.Errorf("%d GOPs dropped", h.dropped)
		}
		h.Close()

		const mib = 1 << 20
		b.ReportMetric(float64(srcBytes*8)/span.Seconds()/1e6, "Mbit/s")
		b.ReportMetric(float64(mem)/mib, "memory-MiB")
		b.ReportMetric(float64(disk)/mib, "disk-MiB")
		b.ReportMetric(float64(heap)/mib, "heap-MiB")
		b.ReportMetric(float64(addTime.Nanoseconds())/float64(adds), "ns/add")
	}
}
