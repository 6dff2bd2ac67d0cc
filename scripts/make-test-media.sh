#!/usr/bin/env bash
# Generates the small test videos the tests and benchmarks use into testdata/media
# (git-ignored). Deterministic and idempotent: existing files are kept. Set
# FORCE=1 to regenerate.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/testdata/media"
mkdir -p "$out"

ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }

make_one() { # name, then ffmpeg arguments
	local name=$1
	shift
	if [ -s "$out/$name" ] && [ -z "${FORCE:-}" ]; then return; fi
	echo "make-test-media: $name"
	ff "$@" "$out/.$name.tmp.${name##*.}"
	mv "$out/.$name.tmp.${name##*.}" "$out/$name"
}

# Camera-like streams: constant 25 fps, 2 s GOP (keyframe every 50 frames), no B-frames.
x264=(-c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p -bf 0 -g 50 -keyint_min 50 -sc_threshold 0 -threads 1)
x265=(-c:v libx265 -preset veryfast -pix_fmt yuv420p -x265-params "bframes=0:keyint=50:min-keyint=50:scenecut=0:pools=1:frame-threads=1:log-level=error")
src() { echo "testsrc2=size=$1:rate=25:duration=$2"; }

make_one h264_640x360.mp4 -f lavfi -i "$(src 640x360 10)" "${x264[@]}" -movflags +faststart
make_one h265_640x360.mp4 -f lavfi -i "$(src 640x360 10)" "${x265[@]}" -tag:v hvc1
make_one h264_640x360.ts -f lavfi -i "$(src 640x360 10)" "${x264[@]}" -f mpegts
make_one h265_640x360.ts -f lavfi -i "$(src 640x360 10)" "${x265[@]}" -f mpegts
# A stream with B-frames, as some cameras and all NVRs' transcodes produce.
make_one h264_bframes_640x360.mp4 -f lavfi -i "$(src 640x360 6)" -c:v libx264 -preset veryfast -bf 2 -g 50 -pix_fmt yuv420p -threads 1

# Real pedestrian footage from Debian's opencv-doc (768x576, 10 fps), re-encoded to H.264.
vtest=/usr/share/doc/opencv-doc/examples/data/vtest.avi
[ -f "$vtest" ] || vtest=$vtest.gz
if [ ! -f "$vtest" ]; then
	echo "make-test-media: $vtest is missing (Debian package opencv-doc)" >&2
	exit 1
fi
if true; then
	if [ "${vtest%.gz}" != "$vtest" ]; then
		tmp=$(mktemp --suffix=.avi)
		gunzip -c "$vtest" >"$tmp"
		vtest=$tmp
	fi
	make_one vtest_h264.mp4 -i "$vtest" -c:v libx264 -preset veryfast -pix_fmt yuv420p -bf 0 -g 20 -threads 1 -movflags +faststart
fi

# Benchmark stream: 720p, 25 fps, 2 s GOP, about 2 Mbit/s, 60 s.
make_one bench_720p_h264.mp4 -f lavfi -i "$(src 1280x720 60)" "${x264[@]}" -b:v 2M -maxrate 2M -bufsize 4M

# A stream whose resolution changes mid-stream (new SPS), as when an
# operator changes a camera's settings: two TS segments back to back.
if [ ! -s "$out/h264_resize.ts" ] || [ -n "${FORCE:-}" ]; then
	echo "make-test-media: h264_resize.ts"
	tmp=$(mktemp -d)
	ff -f lavfi -i "$(src 640x360 4)" "${x264[@]}" -f mpegts "$tmp/a.ts"
	ff -f lavfi -i "$(src 320x240 4)" "${x264[@]}" -output_ts_offset 4 -f mpegts "$tmp/b.ts"
	cat "$tmp/a.ts" "$tmp/b.ts" >"$out/.h264_resize.tmp.ts"
	mv "$out/.h264_resize.tmp.ts" "$out/h264_resize.ts"
	rm -rf "$tmp"
fi

# Tiny raw Annex-B streams: seeds for the decoder and depacketizer fuzz tests.
make_one tiny.h264 -f lavfi -i "testsrc2=size=64x48:rate=10:duration=1" -c:v libx264 -preset veryfast -bf 0 -g 5 -pix_fmt yuv420p -threads 1 -f h264
make_one tiny.h265 -f lavfi -i "testsrc2=size=64x48:rate=10:duration=1" "${x265[@]}" -x265-params "keyint=5:bframes=0:log-level=error" -f hevc

# The benchmark stream as raw Annex-B, for decoder benchmarks without a demuxer.
if [ ! -s "$out/bench_720p.h264" ] || [ -n "${FORCE:-}" ]; then
	ff -i "$out/bench_720p_h264.mp4" -c copy -bsf:v h264_mp4toannexb -f h264 "$out/.bench_720p.tmp.h264"
	mv "$out/.bench_720p.tmp.h264" "$out/bench_720p.h264"
fi

# Pictures cut into many slices (many NAL units per access unit), as some IP
# cameras send for error resilience: H.264 with 32 slices per picture (720p
# has 45 macroblock rows), H.265 with 12 slices (x265 here cannot cut a 720p
# picture finer) plus 16 SEI messages per picture, 29+ NAL units each.
make_one h264_slices32_1280x720.mp4 -f lavfi -i "$(src 1280x720 4)" "${x264[@]}" -x264-params slices=32 -movflags +faststart
if [ ! -s "$out/h265_slices_1280x720.ts" ] || [ -n "${FORCE:-}" ]; then
	echo "make-test-media: h265_slices_1280x720.ts"
	tmp=$(mktemp -d)
	ff -f lavfi -i "$(src 1280x720 4)" -c:v libx265 -preset ultrafast -pix_fmt yuv420p \
		-x265-params "bframes=0:keyint=50:min-keyint=50:scenecut=0:slices=12:log-level=error" -f hevc "$tmp/a.h265"
	python3 "$here/scripts/hevc_add_sei.py" 16 <"$tmp/a.h265" >"$tmp/b.h265"
	ff -r 25 -i "$tmp/b.h265" -c copy -f mpegts "$out/.h265_slices.tmp.ts"
	mv "$out/.h265_slices.tmp.ts" "$out/h265_slices_1280x720.ts"
	rm -rf "$tmp"
fi

# A file whose timestamps restart: two 4 s recordings concatenated, both
# starting at 0 (as when an NVR export joins two segments).
if [ ! -s "$out/h264_restart.ts" ] || [ -n "${FORCE:-}" ]; then
	echo "make-test-media: h264_restart.ts"
	tmp=$(mktemp -d)
	ff -f lavfi -i "$(src 640x360 4)" "${x264[@]}" -f mpegts "$tmp/a.ts"
	cat "$tmp/a.ts" "$tmp/a.ts" >"$out/.h264_restart.tmp.ts"
	mv "$out/.h264_restart.tmp.ts" "$out/h264_restart.ts"
	rm -rf "$tmp"
fi
