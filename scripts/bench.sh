#!/usr/bin/env bash
# `make bench`: the media-path benchmarks recorded in BENCHMARKS.md, each
# measured against its baseline in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
SECONDS_PER_RUN=${BENCH_SECONDS:-40}
go build -o bin/streetwatch ./cmd/streetwatch

echo "== Decoder versus ffmpeg -threads 1 (same 60 s 720p25 H.264 stream, 2 s GOP)"
go test -run '^$' -bench BenchmarkDecode720p -benchtime 3x -count 3 ./pipeline/decode | grep -E '^Benchmark|^cpu'

echo
echo "== A detection keyframe (720p street) decoded with the loop filter versus without (the default)"
go test -run '^$' -bench Keyframe720p -benchtime 100x -count 4 ./pipeline/decode | grep -E '^Benchmark|^cpu'

echo
echo "== Detector stage versus a raw onnxruntime_go Run loop (demo model, CPU)"
go test -run '^$' -bench BenchmarkDetector -benchtime 40x -count 2 ./detectors | grep -E '^Benchmark|^cpu'

echo
echo "== Evidence: CPU per 30 s clip versus ffmpeg -c copy; history RAM for 120 s of 4 Mbit/s"
go test -run '^$' -bench 'Clip|History' -benchtime 20x -count 2 ./pipeline/history | grep -E '^Benchmark|^cpu'

echo
echo "== Left-object detector per sampled 720p frame versus a full-size BGR->grey conversion (same run)"
go test -run '^$' -bench 'Detect720p|Grey720pBaseline' -benchtime 300x -count 3 ./detectors/leftobject | grep -E '^Benchmark|^cpu'

echo
echo "== CPU and memory per camera through RTSP ($SECONDS_PER_RUN s per run; simulator in its own process, not counted)"
file=testdata/media/bench_720p_h264.mp4
$PY scripts/bench_cameras.py bin/streetwatch "$file" fps 4 "$SECONDS_PER_RUN"
$PY scripts/bench_cameras.py bin/streetwatch "$file" keyframes 4 "$SECONDS_PER_RUN"
$PY scripts/bench_cameras.py bin/streetwatch "$file" keyframes 16 "$SECONDS_PER_RUN"
$PY scripts/bench_cameras.py bin/streetwatch "$file" fps 16 "$SECONDS_PER_RUN"
