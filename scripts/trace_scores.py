#!/usr/bin/env python3
"""Scores of the model's detections at each true violation's place, from a
frame-by-frame trace of the real-scene evaluation or the scenario tests:

  STREETWATCH_TRACE=1 go test -tags eval -count=1 -timeout 30m \
      -run TestRealSceneEvaluation -v ./pipeline > trace.log
  python3 scripts/trace_scores.py trace.log            # real scenes
  STREETWATCH_TRACE=1 go test -count=1 -run 'TestScenarios' -v ./pipeline > trace.log
  python3 scripts/trace_scores.py trace.log            # scenarios

For each violation: how many frames detect its class at its place (IoU >= 0.3
with the truth's box), the best score, and the highest median of ten
consecutive scores (track.Track.Steady, which a pile or stall the class model
alone sees must bring to min_score). For the real scenes also the parked cars
at the top right of vtest.avi, which the demo model calls a garbage pile.
"""
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WINDOW = 10  # track.steadyWindow
PARKED_CARS = (640, 22, 763, 103)
DET = re.compile(r'(\w+):([0-9.]+)\[(\d+),(\d+),(\d+),(\d+)\]')


def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    i = ix * iy
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i
    return i / u if u else 0


def report(label, frames, cls, box, min_iou=0.3):
    scores = [max(s for c, s, b in ds if c == cls and iou(b, box) >= min_iou)
              for _, ds in frames if any(c == cls and iou(b, box) >= min_iou for c, _, b in ds)]
    if not scores:
        print(f"  {label:16s} {cls:14s} never detected there")
        return
    steady = max(statistics.median(scores[max(0, i - WINDOW + 1):i + 1]) for i in range(len(scores)))
    print(f"  {label:16s} {cls:14s} {len(scores):3d} of {len(frames)} frames, best {max(scores):.2f}, steady {steady:.2f}")


def main(path):
    frames, name, runs = [], None, {}
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.search(r'=== (?:RUN|CONT|NAME)\s+TestScenarios/(\w+)', line)
        if m:
            name = m.group(1)
            continue
        m = re.search(r'scenario_test.go:\d+:\s+([0-9.]+)s (.*)', line)
        if m:
            dets = [(c, float(s), tuple(map(int, xy))) for c, s, *xy in DET.findall(m.group(2))]
            key = ("scenarios", name) if name else None
            if key:
                runs.setdefault(key, []).append((float(m.group(1)), dets))
            else:
                frames.append((float(m.group(1)), dets))
            continue
        m = re.search(r'realscene_eval_test.go:\d+: \[.*?\] (\S+)', line)
        if m:  # a real-scene video's summary follows its frames (each video plays twice)
            runs.setdefault(("realscenes", m.group(1)), frames)
            frames = []
    for (kind, video), fr in runs.items():
        gt = json.loads((ROOT / "testdata" / kind / f"{video}.json").read_text())
        print(video)
        for v in gt.get("violations", []):
            report(v["type"], fr, v["object_class"], v["box"])
        if kind == "realscenes" and gt.get("background") == "vtest.avi":
            report("parked cars", fr, "garbage_pile", PARKED_CARS, 0.5)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: trace_scores.py TRACE_LOG")
    main(sys.argv[1])
