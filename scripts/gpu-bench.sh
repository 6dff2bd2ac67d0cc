#!/usr/bin/env bash
# Cameras per GPU (issue 19): on an NVIDIA host, N simulated 1080p25 H.264 cameras (4 Mbit/s, 1 s
# GOP) through the whole pipeline at 1 sampled frame per second, decoding on the GPU
# (decoder.hwaccel: cuda, NVDEC), for a ladder of N:
#   decode          - decode + sample only (no model): what NVDEC carries;
#   decode+infer    - plus the demo model on the CUDA execution provider and the rules.
# A row holds when every camera delivers its frame a second (sampled >= 95% of N x seconds) with no
# frame dropped; the last N that holds is the number of cameras per GPU. Writes OUT/gpu-bench.md
# (rows for BENCHMARKS.md) and the raw scale.json of every run, with nvidia-smi's utilisation.
#
#   scripts/gpu-bench.sh [OUT]         (default tmp/gpu-bench; SECONDS=60, LADDER="16 32 64 128 256")
#
# Needs what `make setup` installs, an NVIDIA driver and an ONNX Runtime build with CUDA (the CPU
# build falls back to CPU and says so in the log). CPU_DRY_RUN=1 runs it without a GPU (the
# cameras then decode on the CPU: a check of the script, not a measurement). Never part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-tmp/gpu-bench}
SECONDS_PER_RUN=${SECONDS:-60}
LADDER=${LADDER:-16 32 64 128 256}
mkdir -p "$OUT"
if ! command -v nvidia-smi >/dev/null; then
	if [ "${CPU_DRY_RUN:-0}" != 1 ]; then
		echo "gpu-bench: no nvidia-smi: run it on an NVIDIA host (or CPU_DRY_RUN=1 to check the script)" >&2
		exit 1
	fi
	GPU="none (CPU_DRY_RUN)"
else
	GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)
fi
[ -x bin/streetwatch ] || make build
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
VIDEO="$OUT/1080p25.mp4"
if [ ! -s "$VIDEO" ]; then
	ffmpeg -v error -y -i testdata/scenarios/dumping.mp4 -vf scale=1920:1080 -r 25 -c:v libx264 -preset veryfast \
		-b:v 4M -maxrate 4M -bufsize 8M -g 25 -keyint_min 25 -sc_threshold 0 -bf 0 -an "$VIDEO"
fi

SMI_PID=
if command -v nvidia-smi >/dev/null; then
	nvidia-smi --query-gpu=timestamp,utilization.gpu,utilization.decoder,memory.used --format=csv -l 1 > "$OUT/nvidia-smi.csv" &
	SMI_PID=$!
fi
trap '[ -n "$SMI_PID" ] && kill $SMI_PID 2>/dev/null || true' EXIT

{
	echo "# GPU bench $(date -u +%Y-%m-%dT%H:%MZ): $GPU"
	echo
	echo "\`scripts/gpu-bench.sh\`: 1080p25 H.264 4 Mbit/s cameras, 1 sampled frame per second, decoder.hwaccel cuda, ${SECONDS_PER_RUN} s per row."
	echo
	echo "| mode | cameras | on NVDEC | sampled / expected | dropped | CPU (cores) | RSS | tickets | holds |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
} > "$OUT/gpu-bench.md"

for mode in decode decode+infer; do
	detect=1
	[ "$mode" = decode ] && detect=0
	for n in $LADDER; do
		dir="$OUT/$mode-$n"
		mkdir -p "$dir"
		VIDEO="$VIDEO" SAMPLING=fps:1 HWACCEL=cuda PROVIDER=cuda DETECT=$detect SKIP_LIMIT=1 BENCH_OUT="$dir" \
			"$PY" scripts/bench_scale.py bin/streetwatch "$SECONDS_PER_RUN" "$n" | tee "$dir/log.txt"
		row=$("$PY" - "$dir/scale.json" "$mode" "$SECONDS_PER_RUN" 2> "$dir/verdict" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
mode, secs = sys.argv[2], float(sys.argv[3])
expected = r["cameras"] * secs
holds = r["sampled"] >= 0.95 * expected and r["dropped"] == 0
print(f"| {mode} | {r['cameras']} | {r['cameras_on_hardware_decoder']:.0f} | {r['sampled']:.0f} / {expected:.0f} | {r['dropped']:.0f} | "
      f"{r['cpu_s'] / secs:.2f} | {r['rss_mib']:.0f} MiB | {r['tickets']} | {'yes' if holds else 'no'} |")
print("HOLDS" if holds else "FAILS", file=sys.stderr)
PYEOF
		)
		echo "$row" >> "$OUT/gpu-bench.md"
		if grep -q FAILS "$dir/verdict"; then
			break # the next rung would fail too
		fi
	done
done
echo "wrote $OUT/gpu-bench.md"
cat "$OUT/gpu-bench.md"
