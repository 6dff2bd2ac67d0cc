package decode

import (
	"os"
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

	run := func(b *testing.B, sampler func() *sample.Sampler, convertAll, keyframesOnly bool) {
		frame := &frame.Frame{}
		defer frame.Release()
		pictures := 0
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			d, err := New(Config{Codec: media.CodecH264, Threads: 1, KeyframesOnly: keyframesOnly})
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
	b.Run("full-sample5fps", func(b *testing.B) { run(b, func() *sample.Sampler { return sample.FPS(5) }, false, false) })
	b.Run("full-convert-all", func(b *testing.B) { run(b, func() *sample.Sampler { return sample.FPS(0) }, true, false) })
	b.Run("keyframes", func(b *testing.B) { run(b, sample.Keyframes, false, false) })
	// As keyframe-sampled cameras decode: drained after each keyframe and
	// the codec context opened afresh (see BenchmarkIdleDecoderMemory);
	// against "keyframes", one context kept throughout.
	b.Run("keyframes-only", func(b *testing.B) { run(b, sample.Keyframes, false, true) })
}

// BenchmarkKeyframe720p decodes the keyframes of the dumping scenario
// (720p25, 2 s GOP, about 4 Mbit/s: a street as a camera encodes it) as a
// keyframe-sampled camera's detection worker does (Keyframe, into BGR),
// with the loop
// filter ("deblocked": evidence pictures, cameras[].decoder.deblock) and
// without ("no-loop-filter": the default for detection), alternated in one
// run:
//
//	go test -run '^$' -bench Keyframe720p -benchtime 200x -count 4 ./pipeline/decode
func BenchmarkKeyframe720p(b *testing.B) {
	keys := streetKeyframes(b)
	for _, mode := range []struct {
		name string
		skip bool
	}{{"deblocked", false}, {"no-loop-filter", true}} {
		b.Run(mode.name, func(b *testing.B) {
			f := &frame.Frame{}
			defer f.Release()
			cfg := Config{Codec: media.CodecH264, SkipLoopFilter: mode.skip}
			b.ReportAllocs()
			for i := range b.N {
				if _, err := Keyframe(cfg, keys[i%len(keys)], f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdleDecoderMemory measures what 128 decoders hold between
// pictures after decoding three 720p keyframes each, as 128 keyframe-
// sampled cameras do: "keyframes-only" (the decoders sharing the
// contexts keyframeContexts keeps) against "kept-context" (one each).
// Run each sub-benchmark in a process of its own (freed memory is reused
// within one):
//
//	go test -run '^$' -bench 'IdleDecoderMemory/keyframes-only' -benchtime 1x ./pipeline/decode
//	go test -run '^$' -bench 'IdleDecoderMemory/kept-context' -benchtime 1x ./pipeline/decode
func BenchmarkIdleDecoderMemory(b *testing.B) {
	var keys []*media.AccessUnit
	for _, au := range accessUnits(media.CodecH264, readStream(b, "bench_720p.h264")) {
		if au.Key && len(keys) < 3 {
			keys = append(keys, au)
		}
	}
	for _, mode := range []struct {
		name          string
		keyframesOnly bool
	}{{"keyframes-only", true}, {"kept-context", false}} {
		b.Run(mode.name, func(b *testing.B) {
			f := &frame.Frame{}
			defer f.Release()
			for range b.N {
				before := rssMiB(b)
				var decs []Decoder
				for range 128 {
					d, err := New(Config{Codec: media.CodecH264, Threads: 1, KeyframesOnly: mode.keyframesOnly})
					if err != nil {
						b.Fatal(err)
					}
					if got := decodeInto(b, d, keys, f); len(got) != len(keys) {
						b.Fatalf("%d pictures from %d keyframes", len(got), len(keys))
					}
					decs = append(decs, d)
				}
				b.ReportMetric((rssMiB(b)-before)/128, "MiB/decoder")
				for _, d := range decs {
					d.Close()
				}
			}
		})
	}
}

// rssMiB is this process's resident memory.
func rssMiB(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(raw)
	if m == nil {
		b.Fatal("no VmRSS in /proc/self/status")
	}
	kb, _ := strconv.ParseFloat(string(m[1]), 64)
	return kb / 1024
}
