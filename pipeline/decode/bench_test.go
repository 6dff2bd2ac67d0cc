package decode

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/pipeline/sample"
)

// BenchmarkDecode720p compares, in one run, the pipeline's decoder with
// ffmpeg's single-thread decode of the same 60 s 720p25 stream (2 s GOP).
// Each reports pictures/s (frames decoded per second of wall time) and
// cpu-ms/stream-s. `make bench` runs it; BENCHMARKS.md has results.
func BenchmarkDecode720p(b *testing.B) {
	aus := accessUnits(media.CodecH264, readStream(b, "bench_720p.h264"))
	streamSeconds := float64(len(aus)) / 25

	run := func(b *testing.B, sampler func() *sample.Sampler, convertAll bool) {
		frame := &frame.Frame{}
		defer frame.Release()
		pictures := 0
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			d, err := New(Config{Codec: media.CodecH264, Threads: 1})
			if err != nil {
				b.Fatal(err)
			}
			s := sampler()
			for _, au := range aus {
				if !s.Decode(au) {
					continue
				}
				if err := d.Send(au); err != nil {
					b.Fatal(err)
				}
				for {
					pts, ok, err := d.Receive()
					if err != nil {
						b.Fatal(err)
					}
					if !ok {
						break
					}
					pictures++
					if convertAll || s.Keep(pts) {
						if err := d.Convert(frame); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			d.Close()
		}
		el := time.Since(start)
		b.ReportMetric(float64(pictures)/el.Seconds(), "pictures/s")
		b.ReportMetric(el.Seconds()*1000/float64(b.N)/streamSeconds, "ms/stream-s")
	}
	b.Run("ffmpeg-threads1", func(b *testing.B) {
		ffmpeg := mediatest.Tool(b, "ffmpeg")
		file := mediatest.File(b, "bench_720p.h264")
		re := regexp.MustCompile(`utime=([0-9.]+)s stime=([0-9.]+)s rtime=([0-9.]+)s`)
		var rtime float64
		for range b.N {
			out, err := exec.Command(ffmpeg, "-hide_banner", "-benchmark", "-threads", "1", "-i", file, "-f", "null", "-").CombinedOutput()
			if err != nil {
				b.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			m := re.FindSubmatch(out)
			if m == nil {
				b.Fatalf("no -benchmark line in ffmpeg output:\n%s", out)
			}
			r, _ := strconv.ParseFloat(string(m[3]), 64)
			rtime += r
		}
		b.ReportMetric(float64(len(aus)*b.N)/rtime, "pictures/s")
		b.ReportMetric(rtime*1000/float64(b.N)/streamSeconds, "ms/stream-s")
	})
	b.Run("full-sample5fps", func(b *testing.B) { run(b, func() *sample.Sampler { return sample.FPS(5) }, false) })
	b.Run("full-convert-all", func(b *testing.B) { run(b, func() *sample.Sampler { return sample.FPS(0) }, true) })
	b.Run("keyframes", func(b *testing.B) { run(b, sample.Keyframes, false) })
}
