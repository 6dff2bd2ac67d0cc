"""The real-scene evaluation set: rendered violations composited onto real footage, held out of training.

    python3 models/train/realscenes.py --out testdata/realscenes            # make realscenes
    python3 models/train/realscenes.py --out /tmp/r --json-only              # ground truth only (fast)
    python3 models/train/realscenes.py --set b --out testdata/realscenes-b  # make realscenes-b

Real material, all from Debian's opencv-doc (/usr/share/doc/opencv-doc/examples/data/):

- vtest.avi: 79.5 s of real pedestrians on a campus path (768x576, 10 fps), the live background
  of the vtest_* scenes and, untouched, violation-free footage;
- leuvenA.jpg, leuvenB.jpg: two real photographs of a cobbled street in Leuven (751x563), each
  played as a static camera with sensor noise, a slow light drift and a one-pixel shake;
- tree.avi: 29.6 s of a real tree seen through a window (320x240, 15 fps): violation-free
  footage of foliage moving in the wind (not a street).

These files are EVALUATION ONLY (heldout.HELD_OUT): no training code may read them
(models/realscenes_test.go checks that no other script in models/train names them). The objects (bags, piles,
stalls, the people who leave them) come from the training renderer (objects.py, scenarios.py),
so the set measures how the detector and the rules hold on real backgrounds, light and people.

Every scene is written at its source's size and frame rate as H.264 MP4 (2 s GOPs, no
B-frames) with NAME.json beside it in the format of testdata/scenarios/*.json. Output is
deterministic. Only ~109 s of real violation-free footage exists offline (vtest 79.5 s, tree
29.6 s): less than the 5 minutes the evaluation wants; nothing is looped to pad it.
"""

import os
import sys

try:
    import cv2
    import numpy as np
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

import argparse
import gzip
import json
import shutil
import subprocess
import tempfile
from multiprocessing import get_context

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import heldout  # noqa: E402
import objects as ob  # noqa: E402
import scenarios as sn  # noqa: E402
import scene as sc  # noqa: E402

DATA = "/usr/share/doc/opencv-doc/examples/data"
SECONDS = 55  # a left object must stay 30 s (the scenario tests' dwell) plus the evidence post-roll


def source(name):
    """Path of a held-out opencv-doc file (Debian may ship it gzipped), or None."""
    p = os.path.join(DATA, name)
    if os.path.exists(p):
        return p
    return p + ".gz" if os.path.exists(p + ".gz") else None


def ungz(path, tmp):
    if not path.endswith(".gz"):
        return path
    out = os.path.join(tmp, os.path.basename(path)[:-3])
    if not os.path.exists(out):
        with gzip.open(path, "rb") as f, open(out, "wb") as g:
            shutil.copyfileobj(f, g)
    return out


# A pole camera for each background, fitted by eye so a rendered person is as tall as the real
# ones at the same place in the picture (vtest) or as the doors (Leuven).
BACKGROUNDS = {
    "vtest": dict(file="vtest.avi", w=768, h=576, fps=10, cam=(700, 6.0, 20, 384)),
    # The photographs are 751x563; H.264 wants even sizes, so the last column and row go.
    "leuvenA": dict(file="leuvenA.jpg", w=750, h=562, fps=10, cam=(650, 3.0, 260, 375)),
    "leuvenB": dict(file="leuvenB.jpg", w=750, h=562, fps=10, cam=(650, 3.0, 260, 375)),
}


class RealScene:
    def __init__(self, name, bg, seed, about, offset=0.0, seconds=SECONDS):
        self.name, self.bg, self.seed, self.about = name, bg, seed, about
        self.offset, self.seconds = offset, seconds
        b = BACKGROUNDS[bg]
        self.W, self.H, self.fps = b["w"], b["h"], b["fps"]
        f, ch, hor, vx = b["cam"]
        self.cam = sc.Camera(self.W, self.H, f, ch, hor, vx)
        self.rng = np.random.default_rng(seed)
        self.actors, self.violations, self.zone_xz = [], [], None

    def ground(self, fx, fy):
        return self.cam.ground_at(fx * self.W, fy * self.H)

    def add(self, a):
        self.actors.append(a)
        return a

    def solo_box(self, actor, t):
        cv = sc.Canvas(np.zeros((self.H, self.W, 3), np.uint8), self.cam)
        cv.cur = 1
        actor.draw(cv, t)
        ys, xs = np.nonzero(cv.ids == 1)
        if len(xs) == 0:
            return None
        return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]

    def violation(self, kind, obj, start, actor=None, **extra):
        end = self.seconds
        v = {"type": kind, "object_class": ob.CLASSES[obj.cls], "box": self.solo_box(obj, end - 0.5),
             "start_s": round(start, 2), "end_s": end}
        if actor is not None:
            track = []
            for t in np.arange(0, self.seconds, 0.5):
                b = self.solo_box(actor, t)
                if b:
                    track.append({"t": float(t), "box": b})
            v["actor"] = {"class": ob.CLASSES[actor.cls], "track": track}
        v.update(extra)
        self.violations.append(v)

    def zone(self, X, Z, half_x=2.5, near=2.0, far=3.0):
        pts = [(X - half_x, Z - near), (X + half_x, Z - near), (X + half_x, Z + far), (X - half_x, Z + far)]
        x, y = self.cam.project([p[0] for p in pts], [0] * 4, [max(p[1], 2.0) for p in pts])
        self.zone_xz = [[int(np.clip(a, 0, self.W - 1)), int(np.clip(b, 0, self.H - 1))] for a, b in zip(x, y)]

    def ground_truth(self):
        return {"video": self.name + ".mp4", "width": self.W, "height": self.H, "fps": self.fps,
                "duration_s": self.seconds, "lighting": "real", "background": BACKGROUNDS[self.bg]["file"],
                "description": self.about, "violations": self.violations, "suggested_zone": self.zone_xz,
                "generator": "models/train/realscenes.py"}


# --------------------------------------------------------------------------------------------- scenes


def dumping(name, bg, seed, fx, fy, drop=9.0, offset=0.0, from_left=True):
    """A rendered person walks in carrying a bag, puts it down at `drop` and walks away."""
    s = RealScene(name, bg, seed, f"A person walks in carrying a bag, leaves it on the ground at {drop:g} s and "
                  "walks away; the bag stays to the end.", offset)
    X, Z = s.ground(fx, fy)
    d = -1 if from_left else 1
    p = ob.make_person(s.rng, "carrier")
    p["bag"] = ob.pick(s.rng, ob.BAG_COLS)
    keys = [(drop - 8.0, X + d * 8, Z + 1.0), (drop - 1.5, X + d * 0.5, Z), (drop + 1.5, X + d * 0.5, Z),
            (drop + 10.0, X - d * 9, Z + 1.5)]
    person = s.add(sn.walker("dumper", p, keys, crouches=[drop], carry=lambda t: t < drop))
    bp = ob.make_bag(s.rng, big=True)
    bp.update(col=p["bag"])
    bag = s.add(sn.thing("bag", ob.BAG, bp, ob.draw_bag, X + 0.05, Z - 0.15, drop, s.seconds))
    s.violation("illegal_dumping", bag, drop, person)
    s.zone(X, Z)
    return s


def pile(name, bg, seed, fx, fy, first=3.0, every=4.0, n=9, offset=0.0):
    """Bags and boxes appear one by one (nobody is seen leaving them) and the pile stays."""
    s = RealScene(name, bg, seed, f"A garbage pile grows item by item from {first:g} s to {first + every * (n - 1):g} s "
                  "(nobody seen leaving it) and stays to the end.", offset)
    X, Z = s.ground(fx, fy)
    pp = ob.make_pile(s.rng, n)
    reveal = [first + every * i for i in range(n)]

    def count(t):
        return int(sum(t >= r for r in reveal))
    obj = s.add(sn.Actor("pile", ob.PILE, lambda cv, t: ob.draw_pile(cv, X, Z, pp, count=count(t)) if count(t) else None,
                         lambda t: (X, Z) if count(t) else None, (pp["w"], pp["h"])))
    s.violation("garbage_pile", obj, first, complete_s=reveal[-1])
    s.zone(X, Z)
    return s


def stall(name, bg, seed, fx, fy, stop=6.0, offset=0.0, from_left=True):
    """A vendor pushes a stall in, stops at `stop`, opens it and stays beside it."""
    s = RealScene(name, bg, seed, f"A vendor pushes a stall onto the street, stops at {stop:g} s, sets it up by "
                  f"{stop + 6:g} s and stays beside it to the end.", offset)
    X, Z = s.ground(fx, fy)
    d = -1 if from_left else 1
    sp = ob.make_stall(s.rng)
    keys = [(0.0, X + d * 10, Z), (stop, X, Z)]

    def draw(cv, t):
        x, z, _, _ = sn.at(keys, min(t, stop))
        ob.draw_stall(cv, x, z, sp, open_frac=0.0 if t < stop else min(1.0, 0.3 + (t - stop) / 6))
    obj = s.add(sn.Actor("stall", ob.STALL, draw, lambda t: sn.at(keys, min(t, stop))[:2], (sp["w"], sp["h"])))
    vp = ob.make_person(s.rng, "vendor")
    u = sp["tw"] / 2 + 0.4
    s.add(sn.walker("vendor", vp, [(0.0, X + d * (10 + u), Z + 0.1), (stop, X + d * u, Z + 0.1),
                                   (stop + 1.0, X + d * u, Z - 0.3), (s.seconds, X + d * u, Z - 0.3)]))
    s.violation("street_vending", obj, stop, complete_s=stop + 6)
    s.zone(X, Z + 0.5, half_x=3.0)
    return s


def violation_scenes():
    return [
        dumping("vtest_dumping_1", "vtest", 201, 0.72, 0.62, drop=9.0, offset=0.0),
        dumping("vtest_dumping_2", "vtest", 202, 0.40, 0.46, drop=8.0, offset=16.0, from_left=False),
        pile("vtest_pile_1", "vtest", 203, 0.80, 0.66, offset=8.0),
        pile("vtest_pile_2", "vtest", 204, 0.30, 0.44, offset=24.0),
        stall("vtest_stall_1", "vtest", 205, 0.80, 0.52, offset=4.0, from_left=False),
        stall("vtest_stall_2", "vtest", 206, 0.40, 0.42, offset=20.0),
        dumping("leuvenA_dumping", "leuvenA", 211, 0.30, 0.84, drop=10.0),
        pile("leuvenA_pile", "leuvenA", 212, 0.55, 0.93),
        stall("leuvenA_stall", "leuvenA", 213, 0.22, 0.82),
        dumping("leuvenB_dumping", "leuvenB", 221, 0.80, 0.90, drop=9.0, from_left=False),
        pile("leuvenB_pile", "leuvenB", 222, 0.30, 0.92),
        stall("leuvenB_stall", "leuvenB", 223, 0.62, 0.84, from_left=False),
    ]


def fresh_scenes():
    """A second set on the same real backgrounds (--set b): other places, times, directions and
    objects, chosen once (2026-12-06) and written down before any run, and never used to develop a
    rule. The first set's failures found most of the rules (models/README.md); this one measures
    them on events they never met. The backgrounds are the same held-out footage: it tests the
    rules' fit to twelve events, not to the places."""
    return [
        dumping("b_vtest_dumping_1", "vtest", 301, 0.60, 0.56, drop=10.0, offset=2.0, from_left=False),
        dumping("b_vtest_dumping_2", "vtest", 302, 0.50, 0.70, drop=8.0, offset=12.0),
        pile("b_vtest_pile_1", "vtest", 303, 0.65, 0.48, first=4.0, every=3.0, offset=6.0),
        pile("b_vtest_pile_2", "vtest", 304, 0.45, 0.60, first=3.0, every=5.0, n=8, offset=18.0),
        stall("b_vtest_stall_1", "vtest", 305, 0.55, 0.45, stop=7.0, offset=10.0),
        stall("b_vtest_stall_2", "vtest", 306, 0.70, 0.70, stop=5.0, offset=22.0, from_left=False),
        dumping("b_leuvenA_dumping", "leuvenA", 311, 0.60, 0.88, drop=11.0, from_left=False),
        pile("b_leuvenA_pile", "leuvenA", 312, 0.25, 0.86, first=5.0, every=4.0),
        stall("b_leuvenA_stall", "leuvenA", 313, 0.50, 0.80, stop=8.0),
        dumping("b_leuvenB_dumping", "leuvenB", 321, 0.45, 0.86, drop=9.0),
        pile("b_leuvenB_pile", "leuvenB", 322, 0.70, 0.90, first=4.0, every=4.0, n=7),
        stall("b_leuvenB_stall", "leuvenB", 323, 0.30, 0.82, stop=6.0, from_left=False),
    ]


def reserved_scenes():
    """A third set (--set c), chosen and committed on 2026-12-06 and not run that day: set b's
    failures were traced then, so a rule changed for them must be measured on events nobody has
    looked at. Run it once per such change, and say so."""
    return [
        dumping("c_vtest_dumping_1", "vtest", 401, 0.35, 0.62, drop=9.0, offset=4.0),
        dumping("c_vtest_dumping_2", "vtest", 402, 0.80, 0.44, drop=11.0, offset=20.0, from_left=False),
        pile("c_vtest_pile_1", "vtest", 403, 0.20, 0.50, first=5.0, every=4.0, offset=14.0),
        pile("c_vtest_pile_2", "vtest", 404, 0.62, 0.64, first=3.0, every=3.0, n=10, offset=0.0),
        stall("c_vtest_stall_1", "vtest", 405, 0.62, 0.36, stop=6.0, offset=8.0, from_left=False),
        stall("c_vtest_stall_2", "vtest", 406, 0.85, 0.60, stop=8.0, offset=16.0),
        dumping("c_leuvenA_dumping", "leuvenA", 411, 0.45, 0.92, drop=8.0),
        pile("c_leuvenA_pile", "leuvenA", 412, 0.75, 0.88, first=3.0, every=5.0, n=8),
        stall("c_leuvenA_stall", "leuvenA", 413, 0.70, 0.80, stop=7.0, from_left=False),
        dumping("c_leuvenB_dumping", "leuvenB", 421, 0.20, 0.88, drop=10.0, from_left=False),
        pile("c_leuvenB_pile", "leuvenB", 422, 0.50, 0.86, first=5.0, every=3.0),
        stall("c_leuvenB_stall", "leuvenB", 423, 0.80, 0.82, stop=5.0),
    ]


def later_scenes():
    """A fourth set (--set d), chosen and committed on 2026-12-06 before any run, after set c was
    used: set c's failures were traced, and the next change made for what they showed (colour in
    the left-object detector) is measured here, once."""
    return [
        dumping("d_vtest_dumping_1", "vtest", 501, 0.25, 0.58, drop=10.0, offset=10.0),
        dumping("d_vtest_dumping_2", "vtest", 502, 0.68, 0.40, drop=9.0, offset=24.0, from_left=False),
        pile("d_vtest_pile_1", "vtest", 503, 0.12, 0.66, first=4.0, every=4.0, offset=2.0),
        pile("d_vtest_pile_2", "vtest", 504, 0.52, 0.38, first=3.0, every=4.0, n=8, offset=20.0),
        stall("d_vtest_stall_1", "vtest", 505, 0.30, 0.70, stop=6.0, offset=12.0, from_left=False),
        stall("d_vtest_stall_2", "vtest", 506, 0.50, 0.52, stop=7.0, offset=0.0),
        dumping("d_leuvenA_dumping", "leuvenA", 511, 0.80, 0.92, drop=9.0),
        pile("d_leuvenA_pile", "leuvenA", 512, 0.38, 0.90, first=4.0, every=4.0),
        stall("d_leuvenA_stall", "leuvenA", 513, 0.85, 0.84, stop=6.0, from_left=False),
        dumping("d_leuvenB_dumping", "leuvenB", 521, 0.62, 0.93, drop=10.0),
        pile("d_leuvenB_pile", "leuvenB", 522, 0.88, 0.88, first=3.0, every=4.0, n=8),
        stall("d_leuvenB_stall", "leuvenB", 523, 0.45, 0.80, stop=7.0),
    ]


def fifth_scenes():
    """A fifth set (--set e), chosen and committed on 2026-12-06 before any run, after set d was
    used and sets c and d traced: the change made for what they showed (who unloaded a vehicle,
    when a stall rolled in stood) is measured here, once."""
    return [
        dumping("e_vtest_dumping_1", "vtest", 601, 0.15, 0.48, drop=9.0, offset=6.0),
        dumping("e_vtest_dumping_2", "vtest", 602, 0.90, 0.56, drop=10.0, offset=14.0, from_left=False),
        pile("e_vtest_pile_1", "vtest", 603, 0.35, 0.72, first=4.0, every=3.0, offset=10.0),
        pile("e_vtest_pile_2", "vtest", 604, 0.75, 0.40, first=3.0, every=4.0, n=8, offset=22.0),
        stall("e_vtest_stall_1", "vtest", 605, 0.22, 0.36, stop=7.0, offset=2.0, from_left=False),
        stall("e_vtest_stall_2", "vtest", 606, 0.92, 0.36, stop=6.0, offset=18.0),
        dumping("e_leuvenA_dumping", "leuvenA", 611, 0.15, 0.90, drop=10.0),
        pile("e_leuvenA_pile", "leuvenA", 612, 0.62, 0.84, first=4.0, every=4.0),
        stall("e_leuvenA_stall", "leuvenA", 613, 0.35, 0.78, stop=6.0, from_left=False),
        dumping("e_leuvenB_dumping", "leuvenB", 621, 0.35, 0.93, drop=9.0, from_left=False),
        pile("e_leuvenB_pile", "leuvenB", 622, 0.09, 0.84, first=3.0, every=4.0, n=7),
        stall("e_leuvenB_stall", "leuvenB", 623, 0.70, 0.78, stop=8.0),
    ]


def sixth_scenes():
    """A sixth set (--set f), chosen and committed on 2026-12-06 before any run, after set e was
    used and traced: the change made for what it showed (a vehicle is an actor only where it stood
    to be unloaded) is measured here, once."""
    return [
        dumping("f_vtest_dumping_1", "vtest", 701, 0.55, 0.36, drop=9.0, offset=8.0, from_left=False),
        dumping("f_vtest_dumping_2", "vtest", 702, 0.20, 0.68, drop=10.0, offset=22.0),
        pile("f_vtest_pile_1", "vtest", 703, 0.75, 0.80, first=4.0, every=4.0, offset=4.0),
        pile("f_vtest_pile_2", "vtest", 704, 0.42, 0.54, first=3.0, every=3.0, n=9, offset=16.0),
        stall("f_vtest_stall_1", "vtest", 705, 0.10, 0.56, stop=6.0, offset=0.0),
        stall("f_vtest_stall_2", "vtest", 706, 0.55, 0.80, stop=7.0, offset=12.0, from_left=False),
        dumping("f_leuvenA_dumping", "leuvenA", 711, 0.90, 0.90, drop=9.0, from_left=False),
        pile("f_leuvenA_pile", "leuvenA", 712, 0.88, 0.97, first=3.0, every=4.0, n=7),
        stall("f_leuvenA_stall", "leuvenA", 713, 0.30, 0.70, stop=7.0),
        dumping("f_leuvenB_dumping", "leuvenB", 721, 0.55, 0.94, drop=10.0),
        pile("f_leuvenB_pile", "leuvenB", 722, 0.55, 0.97, first=4.0, every=3.0),
        stall("f_leuvenB_stall", "leuvenB", 723, 0.52, 0.70, stop=6.0, from_left=False),
    ]


def seventh_scenes():
    """A seventh set (--set g), chosen and committed on 2026-12-06 before any run, after set f was
    used: the change made for what sets d and f showed (a bag or piece of a reported pile reported
    as a pile of its own) is measured here, once."""
    return [
        dumping("g_vtest_dumping_1", "vtest", 801, 0.30, 0.76, drop=10.0, offset=4.0, from_left=False),
        dumping("g_vtest_dumping_2", "vtest", 802, 0.62, 0.30, drop=9.0, offset=18.0),
        pile("g_vtest_pile_1", "vtest", 803, 0.50, 0.90, first=3.0, every=4.0, offset=12.0),
        pile("g_vtest_pile_2", "vtest", 804, 0.92, 0.70, first=4.0, every=3.0, n=8, offset=0.0),
        stall("g_vtest_stall_1", "vtest", 805, 0.75, 0.30, stop=6.0, offset=6.0, from_left=False),
        stall("g_vtest_stall_2", "vtest", 806, 0.25, 0.88, stop=7.0, offset=20.0),
        dumping("g_leuvenA_dumping", "leuvenA", 811, 0.50, 0.97, drop=10.0, from_left=False),
        pile("g_leuvenA_pile", "leuvenA", 812, 0.60, 0.74, first=3.0, every=4.0, n=7),
        stall("g_leuvenA_stall", "leuvenA", 813, 0.48, 0.60, stop=6.0, from_left=False),
        dumping("g_leuvenB_dumping", "leuvenB", 821, 0.93, 0.97, drop=9.0),
        pile("g_leuvenB_pile", "leuvenB", 822, 0.62, 0.74, first=4.0, every=4.0),
        stall("g_leuvenB_stall", "leuvenB", 823, 0.40, 0.66, stop=7.0, from_left=False),
    ]


def eighth_scenes():
    """An eighth set (--set h), chosen and committed on 2026-12-06 before any run, after set g was
    used and traced: the change made for what it showed (a phantom vehicle the model sees on the
    scene from the camera's first seconds taken for a dumper) is measured here, once."""
    return [
        dumping("h_vtest_dumping_1", "vtest", 901, 0.08, 0.62, drop=9.0, offset=14.0),
        dumping("h_vtest_dumping_2", "vtest", 902, 0.45, 0.86, drop=10.0, offset=2.0, from_left=False),
        pile("h_vtest_pile_1", "vtest", 903, 0.28, 0.60, first=4.0, every=3.0, offset=20.0),
        pile("h_vtest_pile_2", "vtest", 904, 0.65, 0.92, first=3.0, every=4.0, n=8, offset=8.0),
        stall("h_vtest_stall_1", "vtest", 905, 0.40, 0.30, stop=7.0, offset=16.0, from_left=False),
        stall("h_vtest_stall_2", "vtest", 906, 0.92, 0.84, stop=6.0, offset=4.0),
        dumping("h_leuvenA_dumping", "leuvenA", 911, 0.38, 0.98, drop=9.0),
        pile("h_leuvenA_pile", "leuvenA", 912, 0.55, 0.66, first=4.0, every=3.0),
        stall("h_leuvenA_stall", "leuvenA", 913, 0.12, 0.96, stop=7.0, from_left=False),
        dumping("h_leuvenB_dumping", "leuvenB", 921, 0.70, 0.98, drop=10.0, from_left=False),
        pile("h_leuvenB_pile", "leuvenB", 922, 0.25, 0.72, first=3.0, every=4.0, n=7),
        stall("h_leuvenB_stall", "leuvenB", 923, 0.60, 0.64, stop=6.0),
    ]


def ninth_scenes():
    """A ninth set (--set i), chosen and committed on 2026-12-07 before any run, after set h was
    used and traced: the change made for what it showed (a pile put down item by item reported with
    the box of its first item) is measured here, once."""
    return [
        dumping("i_vtest_dumping_1", "vtest", 1001, 0.62, 0.74, drop=8.0, offset=6.0),
        dumping("i_vtest_dumping_2", "vtest", 1002, 0.18, 0.50, drop=9.0, offset=18.0, from_left=False),
        pile("i_vtest_pile_1", "vtest", 1003, 0.50, 0.70, first=3.0, every=3.0, offset=12.0),
        pile("i_vtest_pile_2", "vtest", 1004, 0.85, 0.48, first=4.0, every=4.0, n=7, offset=0.0),
        stall("i_vtest_stall_1", "vtest", 1005, 0.08, 0.40, stop=6.0, offset=10.0),
        stall("i_vtest_stall_2", "vtest", 1006, 0.65, 0.40, stop=7.0, offset=22.0, from_left=False),
        dumping("i_leuvenA_dumping", "leuvenA", 1011, 0.08, 0.97, drop=10.0, from_left=False),
        pile("i_leuvenA_pile", "leuvenA", 1012, 0.10, 0.70, first=3.0, every=4.0),
        stall("i_leuvenA_stall", "leuvenA", 1013, 0.78, 0.72, stop=6.0),
        dumping("i_leuvenB_dumping", "leuvenB", 1021, 0.06, 0.98, drop=9.0),
        pile("i_leuvenB_pile", "leuvenB", 1022, 0.80, 0.66, first=4.0, every=3.0),
        stall("i_leuvenB_stall", "leuvenB", 1023, 0.20, 0.80, stop=7.0, from_left=False),
    ]


def tenth_scenes():
    """A tenth set (--set j), chosen and committed on 2026-12-07 before any run, after set i was
    used and traced: the change made for what it showed (the model's phantom person on a façade
    credited with a pile, which it then held back for good) is measured here, once. Placements
    were drawn at random among those clear of sets a-i (IoU at most 0.15; 0.28 for vtest's stalls,
    where no place was that clear)."""
    return [
        dumping("j_vtest_dumping_1", "vtest", 1101, 0.18, 0.74, drop=8.0, offset=4.0),
        dumping("j_vtest_dumping_2", "vtest", 1102, 0.26, 0.68, drop=10.0, offset=20.0, from_left=False),
        pile("j_vtest_pile_1", "vtest", 1103, 0.34, 0.50, first=3.0, every=3.5, offset=8.0),
        pile("j_vtest_pile_2", "vtest", 1104, 0.74, 0.44, first=4.0, every=4.0, n=7, offset=16.0),
        stall("j_vtest_stall_1", "vtest", 1105, 0.90, 0.48, stop=6.0, offset=2.0),
        stall("j_vtest_stall_2", "vtest", 1106, 0.26, 0.36, stop=7.0, offset=14.0, from_left=False),
        dumping("j_leuvenA_dumping", "leuvenA", 1111, 0.82, 0.68, drop=9.0),
        pile("j_leuvenA_pile", "leuvenA", 1112, 0.18, 0.62, first=3.0, every=3.0),
        stall("j_leuvenA_stall", "leuvenA", 1113, 0.82, 0.56, stop=6.0, from_left=False),
        dumping("j_leuvenB_dumping", "leuvenB", 1121, 0.26, 0.62, drop=10.0, from_left=False),
        pile("j_leuvenB_pile", "leuvenB", 1122, 0.82, 0.56, first=4.0, every=4.0),
        stall("j_leuvenB_stall", "leuvenB", 1123, 0.18, 0.62, stop=7.0),
    ]


def eleventh_scenes():
    """An eleventh set (--set k), chosen and committed on 2026-12-07 before any run, after set j was
    used and set i traced again: the change made for what that showed (the model's "person" on a
    façade, there from the camera's second second and never moving, taken for a pile's dumper) is
    measured here, once. Placements were drawn at random among those clear of sets a-j (IoU at
    most 0.15; 0.28 for vtest's second pile and its stalls, where no place was that clear)."""
    return [
        dumping("k_vtest_dumping_1", "vtest", 1201, 0.90, 0.50, drop=9.0, offset=10.0),
        dumping("k_vtest_dumping_2", "vtest", 1202, 0.66, 0.92, drop=8.0, offset=22.0, from_left=False),
        pile("k_vtest_pile_1", "vtest", 1203, 0.10, 0.92, first=4.0, every=3.0, offset=6.0),
        pile("k_vtest_pile_2", "vtest", 1204, 0.58, 0.56, first=3.0, every=4.0, n=6, offset=22.0),
        stall("k_vtest_stall_1", "vtest", 1205, 0.18, 0.44, stop=7.0, offset=12.0),
        stall("k_vtest_stall_2", "vtest", 1206, 0.42, 0.86, stop=6.0, offset=18.0, from_left=False),
        dumping("k_leuvenA_dumping", "leuvenA", 1211, 0.90, 0.56, drop=10.0, from_left=False),
        pile("k_leuvenA_pile", "leuvenA", 1212, 0.10, 0.62, first=4.0, every=3.5),
        stall("k_leuvenA_stall", "leuvenA", 1213, 0.18, 0.56, stop=7.0),
        dumping("k_leuvenB_dumping", "leuvenB", 1221, 0.34, 0.74, drop=9.0),
        pile("k_leuvenB_pile", "leuvenB", 1222, 0.34, 0.56, first=3.0, every=3.0),
        stall("k_leuvenB_stall", "leuvenB", 1223, 0.10, 0.56, stop=6.0, from_left=False),
    ]


def twelfth_scenes():
    """A twelfth set (--set l), chosen and committed on 2026-12-07 before any run, after set k was
    used and traced: the change made for what it showed (stalls the model cannot name in the
    whole frame, found by the left-object detector and reported as piles or as dumped; named on
    a closer look) is measured here, once. Placements were drawn at random among those clear of
    sets a-k (IoU at most 0.15; 0.28 for vtest's piles and stalls, where no place was that
    clear)."""
    return [
        dumping("l_vtest_dumping_1", "vtest", 1301, 0.10, 0.50, drop=10.0, offset=16.0),
        dumping("l_vtest_dumping_2", "vtest", 1302, 0.66, 0.56, drop=9.0, offset=2.0, from_left=False),
        pile("l_vtest_pile_1", "vtest", 1303, 0.42, 0.44, first=3.0, every=4.0, offset=12.0),
        pile("l_vtest_pile_2", "vtest", 1304, 0.58, 0.50, first=4.0, every=3.0, n=7, offset=20.0),
        stall("l_vtest_stall_1", "vtest", 1305, 0.26, 0.44, stop=6.0, offset=8.0),
        stall("l_vtest_stall_2", "vtest", 1306, 0.90, 0.62, stop=7.0, offset=24.0, from_left=False),
        dumping("l_leuvenA_dumping", "leuvenA", 1311, 0.90, 0.74, drop=9.0),
        pile("l_leuvenA_pile", "leuvenA", 1312, 0.10, 0.56, first=3.0, every=4.0),
        stall("l_leuvenA_stall", "leuvenA", 1313, 0.74, 0.62, stop=6.0, from_left=False),
        dumping("l_leuvenB_dumping", "leuvenB", 1321, 0.42, 0.80, drop=10.0, from_left=False),
        pile("l_leuvenB_pile", "leuvenB", 1322, 0.42, 0.56, first=4.0, every=3.5),
        stall("l_leuvenB_stall", "leuvenB", 1323, 0.10, 0.62, stop=7.0),
    ]


def thirteenth_scenes():
    """A thirteenth set (--set m), chosen and committed on 2026-12-07 before any run, after sets
    b, k and l were used for sessions 53-55's changes (the model's phantoms on façades no longer
    hide what is put down beside them; a person who came on foot, not the van beside, is the
    dumper; the actor followed across a lost track): those changes are measured here, once.
    Placements were drawn at random (numpy seed 1400, fy from 0.40 on vtest and 0.56 on the
    photographs, as earlier sets) among those clear of sets a-l (IoU at most 0.15; 0.28 for
    vtest's first stall, where no place was that clear)."""
    return [
        dumping("m_vtest_dumping_1", "vtest", 1401, 0.38, 0.92, drop=10.0, offset=14.0),
        dumping("m_vtest_dumping_2", "vtest", 1402, 0.09, 0.92, drop=9.0, offset=4.0, from_left=False),
        pile("m_vtest_pile_1", "vtest", 1403, 0.63, 0.42, first=3.0, every=4.0, offset=18.0),
        pile("m_vtest_pile_2", "vtest", 1404, 0.80, 0.60, first=4.0, every=3.0, n=7, offset=6.0),
        stall("m_vtest_stall_1", "vtest", 1405, 0.48, 0.54, stop=6.0, offset=20.0),
        stall("m_vtest_stall_2", "vtest", 1406, 0.84, 0.41, stop=7.0, offset=10.0, from_left=False),
        dumping("m_leuvenA_dumping", "leuvenA", 1411, 0.71, 0.57, drop=9.0, from_left=False),
        pile("m_leuvenA_pile", "leuvenA", 1412, 0.41, 0.68, first=3.0, every=4.0),
        stall("m_leuvenA_stall", "leuvenA", 1413, 0.68, 0.69, stop=6.0),
        dumping("m_leuvenB_dumping", "leuvenB", 1421, 0.34, 0.58, drop=10.0),
        pile("m_leuvenB_pile", "leuvenB", 1422, 0.14, 0.58, first=4.0, every=3.5),
        stall("m_leuvenB_stall", "leuvenB", 1423, 0.86, 0.63, stop=7.0, from_left=False),
    ]


SETS = {"a": violation_scenes, "b": fresh_scenes, "c": reserved_scenes, "d": later_scenes, "e": fifth_scenes, "f": sixth_scenes, "g": seventh_scenes, "h": eighth_scenes, "i": ninth_scenes, "j": tenth_scenes, "k": eleventh_scenes, "l": twelfth_scenes, "m": thirteenth_scenes}


# Real footage with no violation, transcoded as it is.
CLEAN = [
    ("real_vtest", "vtest.avi", "Real pedestrians on a campus path (opencv-doc vtest.avi); nothing is left behind."),
    ("real_tree", "tree.avi", "A real tree moving in the wind seen through a window (opencv-doc tree.avi); not a street."),
]

X264 = ["-c:v", "libx264", "-preset", "superfast", "-crf", "26", "-bf", "0", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
        "-threads", "1", "-movflags", "+faststart", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact"]


# --------------------------------------------------------------------------------------------- video


class Background:
    """The real picture behind a scene at frame i: vtest's frames from the offset, or a still with noise."""

    def __init__(self, s, tmp):
        self.s = s
        path = source(BACKGROUNDS[s.bg]["file"])
        if s.bg == "vtest":
            self.cap = cv2.VideoCapture(ungz(path, tmp))
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, int(round(s.offset * s.fps)))
        else:
            self.cap = None
            self.still = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)[:s.H, :s.W].copy()
            rng = np.random.default_rng(s.seed + 1)
            # Gray sensor noise (sigma 2) as a bank of frames, split into what it adds and
            # what it takes away so saturating uint8 arithmetic applies it (fast).
            self.bank = []
            for _ in range(8):
                n = np.repeat(np.round(rng.normal(0, 2.0, (s.H, s.W, 1))), 3, 2)
                self.bank.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))
            self.shake = rng.integers(-1, 2, (64, 2))

    def frame(self, i):
        if self.cap is not None:
            ok, img = self.cap.read()
            if not ok:
                raise RuntimeError(f"{self.s.name}: vtest.avi ended at frame {i} (offset {self.s.offset} s)")
            return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        t = i / self.s.fps
        gain = 1.0 + 0.04 * np.sin(2 * np.pi * t / 40.0)  # clouds: a slow light drift
        dx, dy = self.shake[(i // 7) % len(self.shake)]  # a pole's small shake
        img = cv2.convertScaleAbs(np.roll(self.still, (int(dy), int(dx)), (0, 1)), alpha=gain)
        up, down = self.bank[i % len(self.bank)]
        return cv2.subtract(cv2.add(img, up), down)


def compose(s, bg, cv, i):
    t = i / s.fps
    cv.img = bg.frame(i).copy()
    live = sorted([(a.where(t), a) for a in s.actors if a.where(t) is not None], key=lambda v: -v[0][1])
    for (X, Z), a in live:  # contact shadow under everything standing on the ground
        w, _ = a.size
        sn.darken(cv.img, s.cam, [(X - w / 2, Z - 0.1), (X + w / 2, Z - 0.1), (X + w / 2 + 0.2, Z + 0.5),
                                   (X - w / 2 + 0.2, Z + 0.5)], 0.75)
    for _, a in live:
        a.draw(cv, t)
    return cv.img


def render(s, out, tmp):
    bg = Background(s, tmp)
    cv = sc.Canvas(np.zeros((s.H, s.W, 3), np.uint8), s.cam)
    cv.ids = None
    path = os.path.join(out, s.name + ".mp4")
    cmd = ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{s.W}x{s.H}",
           "-r", str(s.fps), "-i", "-", "-g", str(2 * s.fps), "-keyint_min", str(2 * s.fps)] + X264 + [path + ".tmp.mp4"]
    enc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for i in range(int(round(s.seconds * s.fps))):
        enc.stdin.write(compose(s, bg, cv, i).tobytes())
    enc.stdin.close()
    if enc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed for {s.name}")
    os.replace(path + ".tmp.mp4", path)


def clean_truth(name, fname, about, tmp):
    cap = cv2.VideoCapture(ungz(source(fname), tmp))
    fps, n = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    return {"video": name + ".mp4", "width": w, "height": h, "fps": round(fps, 3), "duration_s": round(n / fps, 2) if fps else 0,
            "lighting": "real", "background": fname, "description": about, "violations": [],
            "suggested_zone": [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], "generator": "models/train/realscenes.py"}


def transcode(name, fname, out, tmp):
    src = ungz(source(fname), tmp)
    fps = cv2.VideoCapture(src).get(cv2.CAP_PROP_FPS)
    g = str(int(round(2 * fps)))
    path = os.path.join(out, name + ".mp4")
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", src, "-an", "-g", g, "-keyint_min", g] + X264 +
                   [path + ".tmp.mp4"], check=True)
    os.replace(path + ".tmp.mp4", path)


_JOBS = []  # (kind, item): set before the worker processes fork (scenes hold closures, which do not pickle)


def _job(args):
    k, out, tmp = args
    kind, item = _JOBS[k]
    if kind == "scene":
        render(item, out, tmp)
        return item.name
    transcode(item[0], item[1], out, tmp)
    return item[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="testdata/realscenes")
    ap.add_argument("--only", default="", help="comma-separated scene names")
    ap.add_argument("--json-only", action="store_true", help="write the ground truth, no videos")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--set", default="a", choices=sorted(SETS),
                    help="a: the set the rules were developed on; b: fresh events on the same backgrounds; "
                    "c: for measuring changes made for b's failures; d: for changes made for c's")
    a = ap.parse_args()
    missing = [f for f in heldout.HELD_OUT if source(f) is None]
    if missing:
        sys.exit(f"realscenes.py: {', '.join(missing)} missing from {DATA} (Debian package opencv-doc)")
    if not a.json_only and not shutil.which("ffmpeg"):
        sys.exit("realscenes.py needs ffmpeg with libx264")
    os.makedirs(a.out, exist_ok=True)
    only = set(n for n in a.only.split(",") if n)
    scenes = [s for s in SETS[a.set]() if not only or s.name in only]
    clean = [c for c in CLEAN if not only or c[0] in only]
    with tempfile.TemporaryDirectory() as tmp:
        for s in scenes:
            with open(os.path.join(a.out, s.name + ".json"), "w") as f:
                f.write(sn.dump_json(s.ground_truth()) + "\n")
        for name, fname, about in clean:
            with open(os.path.join(a.out, name + ".json"), "w") as f:
                f.write(sn.dump_json(clean_truth(name, fname, about, tmp)) + "\n")
        if a.json_only:
            return
        _JOBS[:] = [("clean", c) for c in clean] + [("scene", s) for s in scenes]
        jobs = [(k, a.out, tmp) for k in range(len(_JOBS))]
        if a.jobs > 1:
            with get_context("fork").Pool(a.jobs) as pool:
                for name in pool.imap_unordered(_job, jobs):
                    print(f"{os.path.join(a.out, name)}.mp4", flush=True)
        else:
            for j in jobs:
                print(f"{os.path.join(a.out, _job(j))}.mp4", flush=True)


if __name__ == "__main__":
    main()
