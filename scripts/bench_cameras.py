#!/usr/bin/env python3
"""Measures StreetWatch's CPU and memory per simulated camera.

Starts `streetwatch simulate` (its own process, not measured) with N copies of
a 720p25 stream (2 s GOP), then `streetwatch run` over them with the given
sampling mode for a fixed time, and reports the run process's CPU-seconds per
camera-minute of stream and its resident memory.

usage: [PPROF=S] [DEBLOCK=1] bench_cameras.py BIN FILE MODE N SECONDS

Two figures per camera-minute: the whole process's CPU from its start (start-up
and the cameras connecting included), and the steady state (from WARMUP
seconds, default 5, to the end; read from /proc), which is what each more
camera costs a running server.

PPROF=S takes an S-second CPU profile from the middle of the run and writes it
to cpu-MODE-N.pprof in BENCH_OUT (default: the current folder).
"""
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)), int(re.search(r"VmHWM:\s+(\d+)", status).group(1))


def proc_cpu_s(pid):
    """user+system CPU-seconds of a running process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric_sum(url, name):
    total = 0.0
    for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
        if line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    binary, file, mode, n, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    rtsp = f"127.0.0.1:{free_port()}"
    http = f"127.0.0.1:{free_port()}"
    sim = subprocess.Popen([binary, "simulate", "--addr", rtsp] + [f"cam{i}={file}" for i in range(n)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    sampling = "{mode: keyframes}" if mode == "keyframes" else "{mode: fps, fps: 5}"
    # DEBLOCK=1: keyframes decoded for detection keep the loop filter (cameras[].decoder.deblock).
    decoder = ", decoder: {deblock: true}" if os.environ.get("DEBLOCK") == "1" else ""
    profile = int(os.environ.get("PPROF", "0"))
    pprof = ", pprof: true" if profile else ""
    cfg = f"http: {{listen: {http}{pprof}}}\nlog: {{level: warn}}\ncameras:\n" + "".join(
        f"  - {{id: cam{i}, url: rtsp://{rtsp}/cam{i}, transport: tcp, sampling: {sampling}{decoder}}}\n" for i in range(n))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(cfg)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.Popen([binary, "run", "--config", f.name], stderr=subprocess.DEVNULL)
    warmup = float(os.environ.get("WARMUP", "5"))
    try:
        time.sleep(warmup)
        warm_cpu, warm_at = proc_cpu_s(run.pid), time.monotonic()
        left = seconds - warmup
        if profile:
            time.sleep(max(0, (left - profile) / 2))
            data = urllib.request.urlopen(f"http://{http}/debug/pprof/profile?seconds={profile}",
                                          timeout=profile + 30).read()
            with open(os.path.join(os.environ.get("BENCH_OUT", "."), f"cpu-{mode}-{n}.pprof"), "wb") as out:
                out.write(data)
            time.sleep(max(0, left - profile - (left - profile) / 2))
        else:
            time.sleep(left)
        rss, hwm = rss_kib(run.pid)
        metrics = f"http://{http}/metrics"
        decoded = metric_sum(metrics, "streetwatch_frames_decoded_total")
        sampled = metric_sum(metrics, "streetwatch_frames_sampled_total")
        dropped = metric_sum(metrics, "streetwatch_frames_dropped_total")
        units = metric_sum(metrics, "streetwatch_access_units_total")
        steady = (proc_cpu_s(run.pid) - warm_cpu) / (n * (time.monotonic() - warm_at) / 60)
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)
        os.unlink(f.name)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    camera_minutes = n * seconds / 60
    print(f"mode={mode} cameras={n} seconds={seconds:.0f} cpu_s={cpu:.2f} "
          f"cpu_s_per_camera_minute={cpu / camera_minutes:.3f} steady={steady:.3f} rss_mib={rss / 1024:.1f} peak_rss_mib={hwm / 1024:.1f} "
          f"access_units={units:.0f} decoded={decoded:.0f} sampled={sampled:.0f} dropped={dropped:.0f}")


if __name__ == "__main__":
    main()
