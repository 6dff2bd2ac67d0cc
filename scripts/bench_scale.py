#!/usr/bin/env python3
"""Scale benchmark: N simulated 720p25 cameras through the full pipeline.

For each N, `streetwatch simulate` (its own process, not measured) serves N
copies of the `dumping` scenario video (720p25 H.264, 2 s GOP, a bag dropped
at 10.5 s) as live RTSP cameras; `streetwatch run` watches them with
`keyframes` sampling, the demo model, the rules (dumping wait cut to 30 s),
evidence on local disk and tickets in SQLite, for SECONDS. Reported per N:
StreetWatch's CPU (process user+system) and RSS, sampled frames and drops,
tickets, and latency from the act (the bag's first sighting) and from the
confirmation to the ticket being stored (p50/p95 over the N tickets).

In the same run, the limit: single-thread ffmpeg decoding only the
keyframes of the same video, plus a raw ONNX Runtime loop (the detector
benchmark's raw batch-8 loop), per sampled frame; times the frames the
pipeline sampled. The ratio pipeline CPU / limit CPU says what the rest of
the pipeline (RTSP ingest of every packet, history, letterboxing,
scheduling, tracking, evidence) costs on top of decode + inference. The
pipeline decodes its detection keyframes without the loop filter (unless
DEBLOCK=1), ffmpeg's default keeps it: cpu_x_limit_same_decode divides by a
limit whose ffmpeg skips it too.

usage: [FRAME_QUEUE=n] [PPROF=seconds] [LEFT_OBJECTS=1] [DEBLOCK=1] bench_scale.py BIN SECONDS N [N ...]   (writes BENCH_OUT/scale.json and scale.png)
       bench_scale.py --plot scale.json out.png

Environment knobs (scripts/gpu-bench.sh sets them): VIDEO (another H.264/H.265 file to serve),
SAMPLING (keyframes, or fps:F), HWACCEL (cameras[].decoder.hwaccel, e.g. cuda), PROVIDER
(detectors.runtime.provider), DETECT=0 (no model, no rules: decoding and sampling only),
SKIP_LIMIT=1 (do not measure the CPU limit: it is the CPU's, meaningless on a GPU host).
"""
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime

from bench_cameras import free_port, rss_kib  # same folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIDEO = os.environ.get("VIDEO") or os.path.join(ROOT, "testdata", "scenarios", "dumping.mp4")
MODEL = os.path.join(ROOT, "models", "streetwatch-demo.yaml")


def metric_sum(text, name):
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(name + "{") or l.startswith(name + " "))


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def parse_time(s):
    # RFC 3339 with up to nanoseconds; Python wants at most microseconds.
    s = re.sub(r"(\.\d{6})\d+", r"\1", s.replace("Z", "+00:00"))
    return datetime.fromisoformat(s)


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def run_n(binary, n, seconds, zone):
    rtsp, http = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    state = tempfile.mkdtemp(prefix=f"sw-scale-{n}-")
    sim = subprocess.Popen([binary, "simulate", "--addr", rtsp] + [f"cam{i}={VIDEO}" for i in range(n)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0 + n / 64)
    sampling = os.environ.get("SAMPLING", "keyframes")
    sampling = f"{{mode: fps, fps: {sampling[4:]}}}" if sampling.startswith("fps:") else "{mode: keyframes}"
    hwaccel = os.environ.get("HWACCEL", "")
    # DEBLOCK=1: detection keyframes go through the loop filter (cameras[].decoder.deblock).
    dec = ([f"hwaccel: {hwaccel}"] if hwaccel else []) + (["deblock: true"] if os.environ.get("DEBLOCK") == "1" else [])
    decoder = f", decoder: {{{', '.join(dec)}}}" if dec else ""
    detect = os.environ.get("DETECT", "1") != "0"
    confirm = (f", zones: [{{name: pavement, polygon: {json.dumps(zone)}}}],"
               f" rules: {{illegal_dumping: {{min_dwell: 30s, min_score: 0.35}}}}" if detect else "")
    # LEFT_OBJECTS=0: no camera runs the left-object detector (on by default); =1 says it is on.
    lo = os.environ.get("LEFT_OBJECTS", "")
    left = f", left_objects: {{enabled: {'false' if lo == '0' else 'true'}}}" if detect and lo in ("0", "1") else ""
    cams = "".join(
        f"  - {{id: cam{i}, url: rtsp://{rtsp}/cam{i}, transport: tcp, sampling: {sampling}{decoder}{confirm}{left}}}\n"
        for i in range(n))
    queue = os.environ.get("FRAME_QUEUE")  # pipeline.frame_queue (default: from the cameras)
    provider = os.environ.get("PROVIDER", "")
    runtime = f"runtime: {{provider: {provider}}}, " if provider else ""
    # PPROF=S: take an S-second CPU profile from the middle of the run and a heap profile at
    # its end (cpu-N.pprof, heap-N.pprof beside the metrics; read them with
    # `go tool pprof -top BINARY FILE`).
    profile = int(os.environ.get("PPROF", "0"))
    pprof = ", pprof: true" if profile else ""
    cfg = (f"http: {{listen: {http}{pprof}}}\nlog: {{level: warn}}\nstate_dir: {state}\n"
           + (f"pipeline: {{frame_queue: {queue}}}\n" if queue else "")
           + (f"detectors: {{{runtime}models: [{{name: demo, manifest: {MODEL}}}]}}\n" if detect else "")
           + f"cameras:\n{cams}")
    path = os.path.join(state, "sw.yaml")
    with open(path, "w") as f:
        f.write(cfg)
    before = children_cpu()
    run = subprocess.Popen([binary, "run", "--config", path], stderr=subprocess.DEVNULL)
    try:
        if profile:
            time.sleep(max(0, (seconds - profile) / 2))
            data = urllib.request.urlopen(f"http://{http}/debug/pprof/profile?seconds={profile}",
                                          timeout=profile + 30).read()
            with open(os.path.join(os.environ.get("BENCH_OUT", state), f"cpu-{n}.pprof"), "wb") as f:
                f.write(data)
            time.sleep(max(0, seconds - profile - (seconds - profile) / 2))
        else:
            time.sleep(seconds)
        rss, hwm = rss_kib(run.pid)
        if profile:  # and what the Go heap holds at the end (heap-N.pprof)
            data = urllib.request.urlopen(f"http://{http}/debug/pprof/heap", timeout=30).read()
            with open(os.path.join(os.environ.get("BENCH_OUT", state), f"heap-{n}.pprof"), "wb") as f:
                f.write(data)
        text = urllib.request.urlopen(f"http://{http}/metrics", timeout=10).read().decode()
        with open(os.path.join(os.environ.get("BENCH_OUT", state), f"metrics-{n}.txt"), "w") as f:
            f.write(text)  # Go's memory and every counter, for a closer look
        with open(f"/proc/{run.pid}/smaps_rollup") as src, open(os.path.join(os.environ.get("BENCH_OUT", state), f"smaps-{n}.txt"), "w") as f:
            f.write(src.read())
        tickets = json.load(urllib.request.urlopen(f"http://{http}/api/v1/tickets?limit=500", timeout=10))["tickets"] \
            if detect else []
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        cpu = children_cpu() - before
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=60)
    act = [(parse_time(t["created_at"]) - parse_time(t["first_seen"])).total_seconds() for t in tickets]
    conf = [(parse_time(t["created_at"]) - parse_time(t["confirmed_at"])).total_seconds() for t in tickets]
    return {
        "cameras": n, "seconds": seconds, "cpu_s": cpu, "cpu_s_per_camera_minute": cpu / (n * seconds / 60),
        "rss_mib": rss / 1024, "peak_rss_mib": hwm / 1024,
        "access_units": metric_sum(text, "streetwatch_access_units_total"),
        "sampled": metric_sum(text, "streetwatch_frames_sampled_total"),
        "dropped": metric_sum(text, "streetwatch_frames_dropped_total"),
        "dropped_by_reason": {reason: sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                                          if l.startswith("streetwatch_frames_dropped_total{") and f'reason="{reason}"' in l)
                              for reason in ("decoder_behind", "overload")},
        "detector_queue_depth_at_end": metric_sum(text, "streetwatch_detector_queue_depth"),
        "cameras_on_hardware_decoder": metric_sum(text, "streetwatch_decoder_hardware"),
        "tickets": len(tickets),
        "act_to_ticket_p50": pct(act, 50), "act_to_ticket_p95": pct(act, 95),
        "confirm_to_ticket_p50": pct(conf, 50), "confirm_to_ticket_p95": pct(conf, 95),
    }


def ffmpeg_cpu_per_keyframe(*opts):
    """CPU of single-thread ffmpeg decoding only the keyframes, per keyframe
    (opts: more input options, such as -skip_loop_filter all)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey", "-count_frames",
                          "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", VIDEO],
                         capture_output=True, text=True, check=True).stdout
    keyframes = int(out.strip().split(",")[0])
    reps = 20
    before = children_cpu()
    for _ in range(reps):
        subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", "-skip_frame", "nokey", *opts, "-i", VIDEO, "-f", "null", "-"],
                       check=True)
    return (children_cpu() - before) / (reps * keyframes)


def ort_cpu_per_image(binary_dir):
    """Marginal CPU per image of the raw ONNX Runtime batch-8 loop: two runs
    of the benchmark with different lengths, so start-up cancels out."""
    test_bin = os.path.join(binary_dir, "detectors.test")
    subprocess.run(["go", "test", "-c", "-o", test_bin, "./detectors"], cwd=ROOT, check=True)

    def cpu(times):
        before = children_cpu()
        subprocess.run([test_bin, "-test.run", "^$", "-test.bench", "BenchmarkDetector/raw/batch8$",
                        "-test.benchtime", f"{times}x"], cwd=os.path.join(ROOT, "detectors"), check=True,
                       stdout=subprocess.DEVNULL)
        return children_cpu() - before
    short, long = cpu(10), cpu(60)
    return (long - short) / (50 * 8)


def plot(rows, path):
    """CPU and latency against camera count, drawn with OpenCV (no matplotlib here)."""
    import cv2
    import numpy as np
    w, h, m = 900, 420, 70
    img = np.full((h, w, 3), 255, np.uint8)
    ns = [r["cameras"] for r in rows]
    series = [("pipeline CPU, % of one core", [100 * r["cpu_s"] / r["seconds"] for r in rows], (200, 80, 30)),
              ("limit CPU (ffmpeg keyframes + raw ORT), %", [100 * r["limit_cpu_s"] / r["seconds"] for r in rows], (60, 160, 60)),
              ("confirmed -> ticket stored p95, s x 10 (10 s is the post-roll)",
               [10 * r["confirm_to_ticket_p95"] if r["tickets"] else 0 for r in rows], (30, 30, 220))]
    ymax = max(max(v) for _, v, _ in series) * 1.15 or 1
    xs = lambda n: int(m + (w - 2 * m) * (ns.index(n) / max(1, len(ns) - 1)))
    ys = lambda v: int(h - m - (h - 2 * m) * v / ymax)
    cv2.line(img, (m, h - m), (w - m, h - m), (0, 0, 0), 1)
    cv2.line(img, (m, m), (m, h - m), (0, 0, 0), 1)
    for n in ns:
        cv2.putText(img, str(n), (xs(n) - 10, h - m + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "cameras (720p25, keyframes sampling)", (w // 2 - 150, h - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    for k in range(5):
        v = ymax * k / 4
        cv2.putText(img, f"{v:.0f}", (8, ys(v) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (90, 90, 90), 1, cv2.LINE_AA)
    for i, (label, vals, col) in enumerate(series):
        pts = [(xs(n), ys(v)) for n, v in zip(ns, vals)]
        for a, b in zip(pts, pts[1:]):
            cv2.line(img, a, b, col, 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, p, 4, col, -1, cv2.LINE_AA)
        cv2.putText(img, label, (m + 10, 22 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, col, 1, cv2.LINE_AA)
    cv2.imwrite(path, img)


def main():
    if sys.argv[1] == "--plot":  # redraw from a scale.json
        rows = json.load(open(sys.argv[2]))["runs"]
        plot(rows, sys.argv[3])
        return
    binary, seconds, ns = sys.argv[1], float(sys.argv[2]), [int(a) for a in sys.argv[3:]]
    out = os.environ.get("BENCH_OUT", os.path.join(ROOT, "tmp", "bench-scale"))
    os.makedirs(out, exist_ok=True)
    zone = json.load(open(os.path.join(ROOT, "testdata", "scenarios", "dumping.json")))["suggested_zone"]
    if os.environ.get("SKIP_LIMIT") == "1":
        per_key = per_key_nlf = per_img = 0.0
    else:
        # The limit decodes as ffmpeg does by default (with the loop filter); the pipeline skips
        # the loop filter on detection keyframes unless DEBLOCK=1, so the same decode without it
        # is measured too: the ratio to that limit is what the rest of the pipeline costs.
        per_key = ffmpeg_cpu_per_keyframe()
        per_key_nlf = ffmpeg_cpu_per_keyframe("-skip_loop_filter", "all")
        per_img = ort_cpu_per_image(out)
        print(f"limit per sampled frame: ffmpeg keyframe decode {1000 * per_key:.2f} ms "
              f"({1000 * per_key_nlf:.2f} ms without the loop filter) + raw ORT {1000 * per_img:.2f} ms CPU")
    rows = []
    for n in ns:
        r = run_n(binary, n, seconds, zone)
        r["limit_cpu_s"] = r["sampled"] * (per_key + per_img)
        r["cpu_x_limit"] = r["cpu_s"] / r["limit_cpu_s"] if r["limit_cpu_s"] else float("nan")
        same = per_key if os.environ.get("DEBLOCK") == "1" or os.environ.get("HWACCEL") else per_key_nlf
        r["limit_same_decode_cpu_s"] = r["sampled"] * (same + per_img)
        r["cpu_x_limit_same_decode"] = r["cpu_s"] / r["limit_same_decode_cpu_s"] if r["limit_same_decode_cpu_s"] else float("nan")
        rows.append(r)
        print(f"cameras={n} cpu_s={r['cpu_s']:.1f} ({100 * r['cpu_s'] / seconds:.0f}% of a core) "
              f"cpu_s/camera-min={r['cpu_s_per_camera_minute']:.3f} rss={r['rss_mib']:.0f}MiB peak={r['peak_rss_mib']:.0f}MiB "
              f"access_units={r['access_units']:.0f} sampled={r['sampled']:.0f} dropped={r['dropped']:.0f} {r['dropped_by_reason']} tickets={r['tickets']} "
              f"act->ticket p50/p95={r['act_to_ticket_p50']:.1f}/{r['act_to_ticket_p95']:.1f}s "
              f"confirm->ticket p50/p95={r['confirm_to_ticket_p50']:.1f}/{r['confirm_to_ticket_p95']:.1f}s "
              f"limit_cpu_s={r['limit_cpu_s']:.1f} cpu_x_limit={r['cpu_x_limit']:.2f} "
              f"cpu_x_limit_same_decode={r['cpu_x_limit_same_decode']:.2f}", flush=True)
    json.dump({"limit_ms_per_frame": {"ffmpeg_keyframe": 1000 * per_key, "ffmpeg_keyframe_no_loop_filter": 1000 * per_key_nlf,
                                      "raw_ort": 1000 * per_img}, "runs": rows},
              open(os.path.join(out, "scale.json"), "w"), indent=1)
    try:
        plot(rows, os.path.join(out, "scale.png"))
    except ImportError as e:  # a python3 without OpenCV: the numbers are in scale.json
        print(f"no plot ({e}); run it with /usr/bin/python3 --plot {out}/scale.json {out}/scale.png")
    print(f"wrote {out}/scale.json")


if __name__ == "__main__":
    main()
