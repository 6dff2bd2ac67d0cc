package evidence

import (
	"fmt"
	"image"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// BenchmarkSnapshots measures what the recorder spends on a confirmed
// case's pictures (two 720p street pictures, each written plain and
// annotated, into the pending folder) against its irreducible part, four
// JPEG encodes of the same picture, in the same run: the ratio is the
// drawing, copying and file writing on top. Each reports the process's CPU
// per case (cpu-ms/op; ns/op also waits for the disk's fsyncs). `make
// bench` does not run it; BENCHMARKS.md ("Scale") has results.
//
//	go test -run '^$' -bench Snapshots -benchtime 100x -count 3 ./evidence
func BenchmarkSnapshots(b *testing.B) {
	street := gocv.IMRead(filepath.Join("..", "testdata", "models", "street-day.jpg"), gocv.IMReadColor)
	if street.Empty() {
		b.Fatal("no test picture")
	}
	defer street.Close()
	// cpu is the process's user+system CPU time so far; the timer is
	// stopped around what is not measured, so it is read there too.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	const quality = 90 // evidence.jpeg_quality's default
	b.Run("jpeg-x4", func(b *testing.B) {
		start := cpu()
		defer func() { b.ReportMetric(float64(cpu()-start)/1e6/float64(b.N), "cpu-ms/op") }()
		for range b.N {
			for range 4 {
				if _, err := EncodeJPEG(street, quality); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("record", func(b *testing.B) {
		rec := newRecorder(b, RecorderConfig{PostRoll: time.Hour, JPEGQuality: quality, PendingDir: b.TempDir()},
			RecorderDeps{Uploader: newUploader(b, UploaderConfig{Dir: b.TempDir()}, UploaderDeps{Store: &LocalStore{Dir: b.TempDir()}}),
				History: func(string) ClipSource { return &unitHistory{} }})
		var used time.Duration
		defer func() { b.ReportMetric(float64(used)/1e6/float64(b.N), "cpu-ms/op") }()
		for i := range b.N {
			b.StopTimer()
			ev := testEvent(fmt.Sprintf("01BENCH%06d", i))
			ev.BestFrame.Close()
			ev.AppearFrame.Close()
			ev.BestFrame, ev.AppearFrame = street.Clone(), street.Clone()
			ev.Zone = []image.Point{{0, 360}, {1280, 360}, {1280, 720}, {0, 720}}
			runtime.GC()
			b.StartTimer()
			start := cpu()
			if err := rec.Record(ev); err != nil {
				b.Fatal(err)
			}
			used += cpu() - start
		}
	})
}
