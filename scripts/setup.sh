#!/usr/bin/env bash
# Installs what StreetWatch needs on a fresh Debian machine that has only Go, gcc,
# git, node/npm and Python. Idempotent: when everything is present it returns in
# well under a second. Called by `make demo`, `make test` and `make bench`.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${STREETWATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streetwatch}
ort_version=1.24.1

# Debian packages, grouped by the feature that needs them.
pkgs=(
	# media path: cgo decoder, gocv, test media, third-party RTSP peers
	pkg-config libavcodec-dev libavformat-dev libavutil-dev libswscale-dev ffmpeg
	libopencv-dev opencv-doc
	gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-tools
	# demo model: renderer, training, ONNX export and golden test models
	python3-numpy python3-opencv python3-torch python3-onnx
	# review page browser tests (chromedp): the browser, and a CJK font for readable screenshots
	chromium fonts-noto-cjk
	# deploy/ tests: promtool checks and unit-tests the alert rules
	prometheus
	# PostgreSQL ticket store: its tests start a throwaway server from these binaries
	postgresql-15
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	echo "setup: installing Debian packages: ${missing[*]}"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime shared library, taken from the npm package (no other source is reachable).
ort_dir="$cache/onnxruntime-$ort_version"
if [ ! -f "$ort_dir/libonnxruntime.so" ]; then
	echo "setup: extracting ONNX Runtime $ort_version from npm onnxruntime-node@$ort_version"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "onnxruntime-node@$ort_version" >/dev/null)
	tar -xzf "$tmp"/onnxruntime-node-*.tgz -C "$tmp" package/bin/napi-v6/linux/x64
	mkdir -p "$ort_dir"
	cp "$tmp"/package/bin/napi-v6/linux/x64/libonnxruntime.so.1* "$ort_dir/"
	lib=$(ls "$ort_dir"/libonnxruntime.so.1* | head -n1)
	ln -sf "$(basename "$lib")" "$ort_dir/libonnxruntime.so"
fi

# MinIO server for the S3 evidence store's integration tests (internal/miniotest), built
# from source once: MinIO ships no binary through a registry we reach, and the module proxy
# serves exact versions only (no @latest). Keep in sync with miniotest.Version.
minio_version=v0.0.0-20250422221226-0d7408fc9969 # RELEASE.2025-04-22T22-12-26Z
minio_dir="$cache/minio-$minio_version"
if [ ! -x "$minio_dir/minio" ]; then
	echo "setup: building MinIO $minio_version into $minio_dir (a few minutes, once)"
	mkdir -p "$minio_dir"
	(cd "$minio_dir" && GOBIN="$minio_dir" CGO_ENABLED=0 go install "github.com/minio/minio@$minio_version")
fi

# Test media: generated, never committed.
"$here/scripts/make-test-media.sh"
