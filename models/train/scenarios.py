"""Scenario videos with known ground truth, animated with the training renderer.

    python3 models/train/scenarios.py --out testdata/scenarios            # all scenarios
    python3 models/train/scenarios.py --out /tmp/s --only dumping --seconds 20

Each scenario is 1280x720 at 25 fps, H.264 (libx264, closed 2 s GOPs, no B-frames) in MP4, with
NAME.json beside it: the violations a correct pipeline reports (type, box of the object that
stays in native pixels, start/end seconds, the actor's box track) and a suggested zone polygon.
Output is deterministic: the same script gives the same frames (and, with the same ffmpeg, the
same files).
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
import json
import re
import shutil
import subprocess

sys.dont_write_bytecode = True  # keep models/train free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import objects as ob  # noqa: E402
import render  # noqa: E402
import scene as sc  # noqa: E402

W, H, FPS = 1280, 720, 25
MAX_BYTES = 3_000_000


# --------------------------------------------------------------------------------------------- motion


def at(keys, t):
    """Position (X, Z) and velocity on a piecewise-linear path [(t, X, Z), ...]; None outside it."""
    if t < keys[0][0] or t > keys[-1][0]:
        return None
    for (t0, x0, z0), (t1, x1, z1) in zip(keys, keys[1:]):
        if t0 <= t <= t1:
            a = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
            dt = max(t1 - t0, 1e-6)
            return x0 + a * (x1 - x0), z0 + a * (z1 - z0), (x1 - x0) / dt, (z1 - z0) / dt
    return keys[-1][1], keys[-1][2], 0.0, 0.0


def heading(keys, t):
    """Velocity of the segment at t, or of the nearest moving segment when standing still."""
    segs = list(zip(keys, keys[1:]))
    moving = [(abs(a[0] - t) if t < a[0] else max(0.0, t - b[0]), b[1] - a[1], b[2] - a[2])
              for a, b in segs if (b[1] - a[1]) ** 2 + (b[2] - a[2]) ** 2 > 1e-6]
    if not moving:
        return 0.0, 0.0
    _, dx, dz = min(moving, key=lambda m: m[0])
    return dx, dz


def walked(keys, t):
    d = 0.0
    for (t0, x0, z0), (t1, x1, z1) in zip(keys, keys[1:]):
        if t <= t0:
            break
        a = min(1.0, (t - t0) / max(t1 - t0, 1e-6))
        d += a * np.hypot(x1 - x0, z1 - z0)
    return d


def bump(t, centres, half=0.9):
    return max([float(np.clip(1 - abs(t - c) / half, 0, 1)) for c in centres] + [0.0])


class Actor:
    """Something in the scene over time: draw(cv, t) paints it; where(t) is its ground point or None."""

    def __init__(self, name, cls, draw, where, size):
        self.name, self.cls, self.draw, self.where, self.size = name, cls, draw, where, size


def walker(name, p, keys, crouches=(), carry=lambda t: False):
    def pose(t):
        s = at(keys, t)
        if s is None:
            return None
        dx, dz = heading(keys, t)
        q = dict(p)
        q["side"] = abs(dx) >= abs(dz)
        q["facing"] = 1 if (dx >= 0 if q["side"] else dz < 0) else -1
        return s, q

    def draw(cv, t):
        st = pose(t)
        if st:
            (X, Z, _, _), q = st
            ob.draw_person(cv, X, Z, q, phase=walked(keys, t) * 2 * np.pi / 1.3, crouch=bump(t, crouches),
                           carry=carry(t))

    def where(t):
        s = at(keys, t)
        return None if s is None else s[:2]

    return Actor(name, ob.PERSON, draw, where, (p["w"], p["h"]))


def thing(name, cls, p, draw, X, Z, t0, t1, **kw):
    """A still object present from t0 to t1; kw values may be functions of t."""
    def d(cv, t):
        if t0 <= t <= t1:
            draw(cv, X, Z, p, **{k: (v(t) if callable(v) else v) for k, v in kw.items()})
    return Actor(name, cls, d, lambda t: (X, Z) if t0 <= t <= t1 else None, (p["w"], p["h"]))


def ridden(name, p, keys, rider, ride):
    """A vehicle on a path; `ride(t)` says whether its rider sits on it."""
    def draw(cv, t):
        s = at(keys, t)
        if s is None:
            return
        X, Z = s[0], s[1]
        ob.draw_vehicle(cv, X, Z, p)
        if rider is not None and ride(t):
            du = p["facing"] * (p["w"] / 2 - 0.75) if p["side"] else 0.0
            render._rider(cv, X + du, Z + 0.45 - 0.001, rider)

    def where(t):
        s = at(keys, t)
        return None if s is None else s[:2]

    return Actor(name, ob.VEHICLE, draw, where, (p["w"], p["h"]))


# --------------------------------------------------------------------------------------------- scenes


class Scenario:
    def __init__(self, name, seconds, seed, light, layout="along", about=""):
        self.name, self.seconds, self.seed, self.about = name, seconds, seed, about
        self.rng = np.random.default_rng(seed)
        self.cam = sc.Camera(W, H, W * 1.0, 5.0, -0.2 * H, W * 0.5) if layout != "facing" else \
            sc.Camera(W, H, W * 0.9, 5.0, 0.05 * H, W * 0.5)
        self.lay = sc.random_layout(self.rng, self.cam, layout)
        if layout == "along":  # pavement in the middle of the view, road to the right, shops to the left
            curb, wall = 3.5, -4.5
            self.lay.update(side=-1, curb_x=curb, walk=(curb, wall), wall_x=wall, road=(curb + 9.0, curb))
        self.light = sc.random_lighting(self.rng, light)
        self.actors = []
        self.violations = []
        self.zone_xz = None
        self.notes = []

    def add(self, actor):
        self.actors.append(actor)
        return actor

    def person(self, role="walker"):
        return ob.make_person(self.rng, role)

    def ground(self, fx, fy):
        return self.cam.ground_at(fx * W, fy * H)

    def solo_box(self, actor, t):
        """The unoccluded box of one actor at time t, in native pixels."""
        cv = sc.Canvas(np.zeros((H, W, 3), np.uint8), self.cam)
        cv.cur = 1
        actor.draw(cv, t)
        ys, xs = np.nonzero(cv.ids == 1)
        if len(xs) == 0:
            return None
        return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]

    def violation(self, kind, obj, start, end, actor=None, **extra):
        v = {"type": kind, "object_class": ob.CLASSES[obj.cls], "box": self.solo_box(obj, end - 0.5),
             "start_s": round(start, 2), "end_s": round(end, 2)}
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
        """A ground rectangle around (X, Z), as an image polygon clipped to the frame."""
        pts = [(X - half_x, Z - near), (X + half_x, Z - near), (X + half_x, Z + far), (X - half_x, Z + far)]
        x, y = self.cam.project([p[0] for p in pts], [0] * 4, [max(p[1], 6.0) for p in pts])
        self.zone_xz = [[int(np.clip(a, 0, W - 1)), int(np.clip(b, 0, H - 1))] for a, b in zip(x, y)]


def passers(s, n, t_max, seed_shift=0):
    """People (and sometimes a tricycle or truck) walking through without stopping."""
    rng = np.random.default_rng(s.seed * 100 + seed_shift)
    for i in range(n):
        t0 = rng.uniform(0, t_max)
        if rng.random() < 0.6:  # across the frame
            z = rng.uniform(9, 22)
            x0, x1 = (-4.2, 12) if rng.random() < 0.5 else (12, -4.2)  # wall to far side of the road
            if s.lay["kind"] != "along":
                x0, x1 = x0 * 2.5, x1
            keys = [(t0, x0, z), (t0 + abs(x1 - x0) / rng.uniform(1.1, 1.6), x1, z + rng.uniform(-1, 1))]
        else:  # along the street, towards or away from the camera
            x = rng.uniform(-3, 3)
            z0, z1 = (40, 7) if rng.random() < 0.5 else (7, 40)
            keys = [(t0, x, z0), (t0 + abs(z1 - z0) / rng.uniform(1.1, 1.6), x + rng.uniform(-1, 1), z1)]
        s.add(walker(f"passer{i}", ob.make_person(rng), keys))


def vehicles_passing(s, n, t_max, seed_shift=0):
    rng = np.random.default_rng(s.seed * 200 + seed_shift)
    road = sorted(s.lay["road"])
    for i in range(n):
        p = ob.make_vehicle(rng, rng.choice(["tricycle", "truck", "motorcart"]))
        # Along the road, seen from behind or in front.
        p["side"] = False
        p["w"], p["d"] = dict(truck=(1.9, 4.5), tricycle=(0.95, 2.0), motorcart=(1.2, 2.6))[p["kind"]]
        x = rng.uniform(road[0] + 1.5, road[1] - 1.5)
        z = (45.0, 7.0) if rng.random() < 0.5 else (7.0, 45.0)
        t0 = rng.uniform(0, t_max)
        rider = None
        keys = [(t0, x, z[0]), (t0 + 38 / rng.uniform(3, 6), x, z[1])]
        s.add(ridden(f"vehicle{i}", p, keys, rider, lambda t: True))
    return road


def furniture(s, specs):
    for kind, fx, fy in specs:
        X, Z = s.ground(fx, fy)
        p = ob.make_furniture(s.rng, kind)
        s.add(thing(kind, None, p, ob.draw_furniture, X, Z, 0, s.seconds))


def scenario_dumping(seconds=100):
    s = Scenario("dumping", seconds, 101, "day", about="A person walks in carrying a bag, leaves it on the "
                 "pavement at 10.5 s and walks away; the bag stays to the end.")
    furniture(s, [("bench", 0.85, 0.55), ("bin", 0.12, 0.5)])
    X, Z = s.ground(0.48, 0.72)
    p = s.person("carrier")
    p["bag"] = (28, 28, 30)
    keys = [(1.0, X - 9, Z + 1.5), (9.0, X - 0.5, Z), (12.0, X - 0.5, Z), (21.0, X + 9, Z + 3)]
    person = s.add(walker("dumper", p, keys, crouches=[10.5], carry=lambda t: t < 10.5))
    bag_p = ob.make_bag(s.rng, big=True)
    bag_p.update(col=p["bag"], woven=False)
    bag = s.add(thing("bag", ob.BAG, bag_p, ob.draw_bag, X + 0.05, Z - 0.15, 10.5, seconds))
    # 100 s: long enough for the production default (60 s after the person left at 19 s, plus the
    # 10 s post-roll); the passers keep the timing they had in the 90 s version.
    passers(s, 6, 75)
    s.violation("illegal_dumping", bag, 10.5, seconds, person)
    s.zone(X, Z)
    return s


def scenario_dumping_tricycle(seconds=90):
    s = Scenario("dumping_tricycle", seconds, 102, "overcast", about="A cargo tricycle stops, its rider gets off, "
                 "puts a big bag on the pavement at 14 s, rides away; the bag stays.")
    furniture(s, [("bin", 0.88, 0.6), ("planter", 0.1, 0.45)])
    X, Z = s.ground(0.5, 0.62)
    tp = ob.make_vehicle(s.rng, "tricycle")
    tp.update(side=True, facing=1, w=2.0, d=0.9, load=[(30, 30, 30), (220, 220, 215)])
    rider = s.person()
    tkeys = [(0.0, X - 16, Z + 2.5), (8.0, X - 1.0, Z + 2.0), (22.0, X - 1.0, Z + 2.0), (30.0, X + 16, Z + 4)]
    tri = s.add(ridden("tricycle", tp, tkeys, rider, lambda t: t < 9.0 or t > 21.0))
    rp = dict(rider)
    rp["bag"] = (225, 225, 220)
    wkeys = [(9.0, X - 0.3, Z + 1.6), (11.0, X - 0.3, Z + 0.6), (15.5, X - 0.3, Z + 0.6), (21.0, X - 0.3, Z + 1.6)]
    s.add(walker("rider", rp, wkeys, crouches=[14.0], carry=lambda t: 10.0 < t < 14.0))
    bag_p = ob.make_bag(s.rng, big=True)
    bag_p.update(col=(225, 225, 220), woven=True)
    bag = s.add(thing("bag", ob.BAG, bag_p, ob.draw_bag, X + 0.3, Z, 14.0, seconds))
    passers(s, 5, seconds - 15)
    s.violation("illegal_dumping", bag, 14.0, seconds, tri)
    s.zone(X, Z)
    return s


def scenario_dumping_negative(seconds=100):
    # The owner stays beside the bag longer than the default dwell (60 s),
    # waiting (as for the collection truck), then takes it away: a rule that
    # counted the dwell from the drop, or forgot who stands there, would
    # report it.
    s = Scenario("dumping_negative", seconds, 103, "day", about="A person puts a bag down at 10 s, waits beside "
                 "it for 70 s, picks it up again at 80 s and leaves with it: no violation.")
    furniture(s, [("bicycle", 0.2, 0.6), ("bin", 0.8, 0.5)])
    X, Z = s.ground(0.5, 0.7)
    p = s.person("carrier")
    p["bag"] = (35, 70, 40)
    keys = [(1.0, X + 9, Z + 2), (9.0, X + 0.5, Z), (11.5, X + 0.5, Z), (12.5, X + 1.2, Z + 0.3),
            (79.0, X + 1.2, Z + 0.3), (79.5, X + 0.5, Z), (81.0, X + 0.5, Z), (90.0, X - 9, Z + 2)]
    owner = s.add(walker("owner", p, keys, crouches=[10.0, 80.0], carry=lambda t: t < 10.0 or t > 80.0))
    bag_p = ob.make_bag(s.rng, big=True)
    bag_p.update(col=p["bag"], woven=False)
    bag = s.add(thing("bag", ob.BAG, bag_p, ob.draw_bag, X + 0.05, Z - 0.15, 10.0, 80.0))
    passers(s, 6, seconds - 15)
    s.notes.append({"event": "bag put down, its owner waits beside it for 70 s and picks it up again",
                    "object_class": "garbage_bag", "box": s.solo_box(bag, 40.0), "start_s": 10.0, "end_s": 80.0,
                    "actor": {"class": "person", "box_at_40s": s.solo_box(owner, 40.0)}})
    s.zone(X, Z)
    return s


def scenario_vending(seconds=100):
    s = Scenario("vending", seconds, 104, "day", about="A vendor pushes a stall cart onto the pavement, stops at "
                 "6 s, lays out goods and opens the umbrella by 12 s and stays; customers come and go.")
    furniture(s, [("bin", 0.1, 0.55)])
    X, Z = s.ground(0.55, 0.55)
    sp = ob.make_stall(s.rng)
    sp.update(kind="cart", cover="umbrella")
    ckeys = [(0.0, X - 12, Z), (6.0, X, Z)]
    cart = s.add(Actor("stall", ob.STALL, lambda cv, t: _stall(cv, t, sp, ckeys, seconds),
                       lambda t: at(ckeys, min(t, 6.0))[:2], (sp["w"], sp["h"])))
    vp = s.person("vendor")
    s.add(walker("vendor", vp, [(0.0, X - 12.8, Z + 0.1), (6.0, X - 0.8, Z + 0.1), (7.0, X, Z + sp["d"] + 0.4),
                                (seconds, X + 0.1, Z + sp["d"] + 0.4)]))
    rng = np.random.default_rng(7)
    for i, t0 in enumerate([18, 35, 52, 70]):
        side = 1 if i % 2 else -1
        c = s.person()
        keys = [(t0, X + side * 10, Z - 1.5), (t0 + 6, X + side * 0.4, Z - 0.6), (t0 + 6 + rng.uniform(4, 9), X + side * 0.4, Z - 0.6),
                (t0 + 20, X - side * 10, Z - 2.5)]
        s.add(walker(f"customer{i}", c, keys))
    passers(s, 3, seconds - 15)
    s.violation("street_vending", cart, 6.0, seconds, None, complete_s=12.0)
    s.zone(X, Z + 0.5, half_x=3.0)
    return s


def _stall(cv, t, sp, keys, seconds):
    X, Z, _, _ = at(keys, min(t, keys[-1][0]))
    ob.draw_stall(cv, X, Z, sp, open_frac=0.0 if t < 6 else min(1.0, 0.3 + (t - 6) / 6))


def scenario_garbage_pile(seconds=100):
    # The pile is there from the first frame (left overnight): nobody is seen
    # leaving it, so it is a garbage pile, not a dumping. Two people add bags
    # to it later; adding to a known pile is not a new violation.
    s = Scenario("garbage_pile", seconds, 105, "overcast", about="A garbage pile left overnight lies on the pavement "
                 "from the first frame; two people add bags to it at 35 s and 55 s.")
    furniture(s, [("bench", 0.15, 0.55), ("bicycle", 0.9, 0.6)])
    X, Z = s.ground(0.5, 0.62)
    pile_p = ob.make_pile(s.rng, 13)
    reveal = [0] * 9 + [35, 35.5, 55, 55.5]

    def count(t):
        return int(sum(t >= r for r in reveal))
    pile = s.add(Actor("pile", ob.PILE, lambda cv, t: ob.draw_pile(cv, X, Z, pile_p, count=count(t)) if count(t) else None,
                       lambda t: (X, Z) if count(t) else None, (pile_p["w"], pile_p["h"])))
    for i, t0 in enumerate([28.0, 48.0]):
        q = s.person("carrier")
        q["bag"] = (25, 25, 28)
        d = 1 if i == 0 else -1
        s.add(walker(f"adder{i}", q, [(t0, X + d * 10, Z + 1), (t0 + 6.5, X + d * 0.9, Z + 0.5), (t0 + 8.0, X + d * 0.9, Z + 0.5),
                                       (t0 + 16, X + d * 10, Z + 2)], crouches=[t0 + 7.2], carry=lambda t, c=t0 + 7.2: t < c))
    passers(s, 4, seconds - 15)
    s.violation("garbage_pile", pile, 0.0, seconds)
    s.notes.append({"event": "two people add bags to the known pile at 35 s and 55 s", "object_class": "garbage_bag",
                    "why": "the pile is already reported; adding to it is no new violation"})
    s.zone(X, Z)
    return s


def scenario_walkers(seconds=80):
    s = Scenario("walkers", seconds, 106, "day", about="People, tricycles and a truck pass through; nothing stays: "
                 "no violation.")
    furniture(s, [("bin", 0.15, 0.55), ("bench", 0.8, 0.6), ("sitting", 0.8, 0.62)])
    passers(s, 14, seconds - 15, 1)
    vehicles_passing(s, 4, seconds - 15, 1)
    X, Z = s.ground(0.5, 0.65)
    s.zone(X, Z, half_x=4.0)
    return s


def station_set(s):
    """The garbage compression station: its wall and sign, three containers in the open bay, bins."""
    s.lay["wall_z"] = 13.0
    s.lay["wall_h"] = 7.0
    s.lay["shops"] = dict(edges=np.array([-40.0, -8.0, -4.5, 4.5, 8.0, 40.0]), kind=np.array([2, 0, 4, 0, 2]),
                          sign=np.array([[200, 200, 200], [40, 90, 170], [40, 90, 170], [40, 90, 170], [200, 200, 200]], float),
                          text=np.array([[30, 30, 30], [245, 245, 245], [245, 245, 245], [245, 245, 245], [30, 30, 30]], float),
                          floor_h=5.0, seed=7)
    s.lay["wall_col"] = np.array([200, 200, 195], np.float32)
    # Legal containers inside the bay and a row of bins at the side.
    for u in (-2.6, 0.0, 2.6):
        p = ob.make_furniture(s.rng, "dumpster")
        p["col"] = (60, 110, 70)
        s.add(thing("container", None, p, ob.draw_furniture, u, 12.0, 0, s.seconds))
    p = ob.make_furniture(s.rng, "bin")
    p["n"], p["w"], p["col"] = 3, 2.0, (50, 120, 60)
    s.add(thing("bins", None, p, ob.draw_furniture, 5.6, 11.8, 0, s.seconds))


def scenario_station(seconds=100):
    s = Scenario("station", seconds, 107, "day", layout="facing", about="Garbage compression station entrance: a "
                 "cargo tricycle stops and its rider unloads bags beside the open bay (not inside it) at 12-16 s, "
                 "then rides away; the bags stay.")
    station_set(s)
    X, Z = -5.0, 11.6  # beside the bay, against the station wall
    tp = ob.make_vehicle(s.rng, "tricycle")
    tp.update(side=True, facing=-1, w=2.0, d=0.9, load=[(30, 30, 30), (30, 30, 30), (225, 225, 220)])
    rider = s.person()
    tkeys = [(0.0, 14.0, 9.8), (8.0, -1.0, 9.8), (20.0, -1.0, 9.8), (30.0, 14.0, 9.0)]
    s.add(ridden("tricycle", tp, tkeys, rider, lambda t: t < 9.0 or t > 19.0))
    rp = dict(rider)
    rp["bag"] = (30, 30, 30)
    rider_w = s.add(walker("rider", rp, [(9.0, -2.0, 10.4), (10.5, -3.9, 11.1), (17.5, -3.9, 11.1),
                               (19.0, -2.0, 10.4)], crouches=[12.0, 14.0, 16.0],
                 carry=lambda t: 10.0 < t < 16.0))
    pile_p = ob.make_pile(s.rng, 3)
    for i, it in enumerate(pile_p["items"]):
        it.update(kind="bag", u=-0.5 + 0.45 * i, dz=0.1 * (i % 2), v0=0.0)
    pile_p.update(w=1.6, stain=False)
    reveal = [12.0, 14.0, 16.0]
    bags = s.add(Actor("bags", ob.PILE, lambda cv, t: ob.draw_pile(cv, X, Z, pile_p, count=sum(t >= r for r in reveal))
                       if t >= 12.0 else None, lambda t: (X, Z) if t >= 12.0 else None, (1.6, 0.7)))
    passers(s, 3, seconds - 15)
    # The tricycle stops 4 m from where the bags are put: the rider who carries them there is the actor.
    s.violation("illegal_dumping", bags, 12.0, seconds, rider_w, note="three bags left beside the station entrance (a small "
                "pile) by the rider, who walks them over from the tricycle stopped 4 m away")
    s.zone(X + 1.0, Z, half_x=3.0, near=2.5, far=1.5)
    return s


def scenario_station_day(seconds=155):
    """Four vehicles unload at the station bay one after another; the weighbridge's records are in
    station_day_weighings.csv (written beside the video): the third vehicle was never weighed, and one
    record (W-0002) matches no vehicle."""
    s = Scenario("station_day", seconds, 211, "day", layout="facing", about="Garbage compression station bay: "
                 "four cargo vehicles arrive from the right, stop in front of the bay for 14 s each and leave to "
                 "the left, one at a time (stops at 8-22, 48-62, 88-102 and 128-142 s).")
    station_set(s)
    s.visits = []
    colours = [(40, 90, 170), (190, 50, 40), (60, 130, 60), (220, 180, 50)]
    for i, t0 in enumerate((0.0, 40.0, 80.0, 120.0)):
        vp = ob.make_vehicle(s.rng, "tricycle")
        vp.update(side=True, facing=-1, w=2.0, d=0.9, col=colours[i], load=[(30, 30, 30), (225, 225, 220), (35, 70, 40)])
        keys = [(t0, 14.0, 9.8), (t0 + 8.0, -1.0, 9.8), (t0 + 22.0, -1.0, 9.8), (t0 + 32.0, -16.0, 9.8)]
        v = s.add(ridden(f"vehicle{i + 1}", vp, keys, s.person(), lambda t: True))
        seen = [t for t in np.arange(t0, t0 + 32.0, 0.5) if s.solo_box(v, t)]
        s.visits.append({"vehicle": v.name, "class": "vehicle", "first_seen_s": float(seen[0]),
                         "stop_s": t0 + 8.0, "leave_s": t0 + 22.0, "last_seen_s": float(seen[-1]),
                         "box_at_stop": s.solo_box(v, t0 + 15.0)})
    # The weighbridge's records (seconds into the video): vehicles 1, 2 and 4 weighed, vehicle 3 not;
    # W-0002 at 34 s, when the bay was empty; W-0006 long after the video (nothing watched then).
    s.weighings = [("W-0001", 15.0, 310.5, "粤A·T1001"), ("W-0002", 34.0, 280.0, ""),
                   ("W-0003", 65.0, 295.0, "粤A·T1002"), ("W-0005", 125.0, 330.0, "粤A·T1004"),
                   ("W-0006", seconds + 600.0, 300.0, "")]
    s.about += (" Weighing records (station_day_weighings.csv): vehicle3 has none, an unweighed unload; W-0002 "
                "(34 s) matches no vehicle while the camera watched; W-0006 is 10 minutes after the video ends.")
    return s


SCENARIOS = {
    "dumping": scenario_dumping,
    "dumping_tricycle": scenario_dumping_tricycle,
    "dumping_negative": scenario_dumping_negative,
    "vending": scenario_vending,
    "garbage_pile": scenario_garbage_pile,
    "walkers": scenario_walkers,
    "station": scenario_station,
    "station_day": scenario_station_day,
}


# --------------------------------------------------------------------------------------------- video


def darken(img, cam, pts_xz, k):
    """Darken a ground polygon in place (a moving object's shadow)."""
    p = np.asarray(pts_xz, np.float64)
    if (p[:, 1] < 0.5).any():
        return
    x, y = cam.project(p[:, 0], np.zeros(len(p)), p[:, 1])
    q = np.stack([x, y], 1)
    x0, y0 = np.floor(q.min(0)).astype(int)
    x1, y1 = np.ceil(q.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, img.shape[1]), min(y1, img.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(m, [np.round((q - [x0, y0]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    m = cv2.GaussianBlur(m, (0, 0), 1.5).astype(np.float32) / 255.0
    roi = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (roi * (1 - (1 - k) * m[..., None])).astype(np.uint8)


class Frames:
    """Renders a scenario's frames: a static street (lit once) with the actors drawn per frame."""

    def __init__(self, s):
        self.s = s
        rng = np.random.default_rng(s.seed + 1)
        bg, glow, ground, geo = sc.render_background(rng, s.cam, s.lay)
        cv = sc.Canvas(np.clip(bg, 0, 255).astype(np.uint8), s.cam)
        cv.emissive = glow
        for _ in range(3):
            at_ = render.place(rng, s.cam, s.lay, "any", 3, 0.5)
            if at_:
                ob.draw_decal(cv, rng, at_[0], at_[1], rng.choice(["manhole", "stain", "puddle"]))
        self.base = cv.img.copy()
        light = dict(s.light, ir=False)
        self.factor = sc.apply_lighting(np.ones((H, W, 3), np.float32), cv, geo, light).astype(np.float32)
        fixed = rng.normal(0, 1.5, (H, W, 1)).astype(np.float32)  # fixed-pattern sensor noise
        # Temporal noise stays mild and cycles through a small bank so the H.264 files stay small.
        self.bank = [rng.normal(0, 0.8, (H, W, 1)).astype(np.float32) + fixed for _ in range(6)]
        cv.ids = None
        self.cv = cv

    def frame(self, i):
        s, cv, t = self.s, self.cv, i / FPS
        cv.img = self.base.copy()
        live = [(a.where(t), j) for j, a in enumerate(s.actors)]
        live = sorted([(p, j) for p, j in live if p is not None], key=lambda v: -v[0][1])
        if s.light["sun"] is not None:
            sx, sz = s.light["sun"]
            for (X, Z), j in live:
                w, h = s.actors[j].size
                Z += 0.1
                darken(cv.img, s.cam, [(X - w / 2, Z), (X + w / 2, Z), (X + w / 2 + h * sx, Z + h * sz),
                                       (X - w / 2 + h * sx, Z + h * sz)], 0.6)
        for _, j in live:
            s.actors[j].draw(cv, t)
        frame = cv.img.astype(np.float32) * self.factor + self.bank[i % len(self.bank)]
        return np.clip(frame, 0, 255).astype(np.uint8)


def render_video(s, out_dir, seconds=None, crf=30):
    seconds = seconds or s.seconds
    frames = Frames(s)
    path = os.path.join(out_dir, s.name + ".mp4")
    tmp = path + ".tmp.mp4"
    cmd = ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(FPS),
           "-i", "-", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-bf", "0", "-g", "50",
           "-keyint_min", "50", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-threads", "2",
           "-movflags", "+faststart", "-metadata", f"title=StreetWatch scenario {s.name}", "-map_metadata", "-1",
           "-fflags", "+bitexact", "-flags:v", "+bitexact", tmp]
    enc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for i in range(int(round(seconds * FPS))):
        enc.stdin.write(frames.frame(i).tobytes())
    enc.stdin.close()
    if enc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed for {s.name}")
    # Re-encode harder if the file is over budget (rare; keeps commits small).
    while os.path.getsize(tmp) > MAX_BYTES and crf < 40:
        crf += 3
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", tmp, "-c:v", "libx264", "-preset", "medium",
                        "-crf", str(crf), "-bf", "0", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
                        "-pix_fmt", "yuv420p", "-threads", "2", "-movflags", "+faststart", "-map_metadata", "-1",
                        "-fflags", "+bitexact", "-flags:v", "+bitexact", tmp + ".2.mp4"], check=True)
        os.replace(tmp + ".2.mp4", tmp)
    os.replace(tmp, path)
    return path, crf


def ground_truth(s, seconds):
    vs = []
    for v in s.violations:
        v = dict(v)
        v["end_s"] = min(v["end_s"], seconds)
        if v["start_s"] < seconds:
            if "actor" in v:
                v["actor"] = dict(v["actor"], track=[p for p in v["actor"]["track"] if p["t"] < seconds])
            vs.append(v)
    gt = {"video": s.name + ".mp4", "width": W, "height": H, "fps": FPS, "duration_s": seconds,
          "lighting": s.light["kind"], "description": s.about, "violations": vs, "suggested_zone": s.zone_xz,
          "generator": "models/train/scenarios.py"}
    if s.notes:
        gt["not_violations"] = s.notes
    if getattr(s, "visits", None):
        gt["visits"] = s.visits
    return gt


def dump_json(obj):
    """JSON with short arrays (boxes, points) kept on one line."""
    text = json.dumps(obj, indent=1)
    text = re.sub(r'\{\s+"t": ([\d.]+),\s+"box": \[\s*([-\d,\s]+?)\s*\]\s+\}',
                  lambda m: '{"t": ' + m.group(1) + ', "box": [' + ", ".join(x.strip() for x in m.group(2).split(",")) + "]}",
                  text)
    return re.sub(r"\[\s+([-\d.,\s]+?)\s+\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)


# The video's first frame, for a scenario's weighing records: tests shift the times by when the
# camera's first frame really came.
VIDEO_START = "2026-12-03T08:00:00+08:00"


def write_weighings(s, path):
    """The weighbridge's CSV export for a station scenario (the columns import-weighings reads)."""
    import datetime

    start = datetime.datetime.fromisoformat(VIDEO_START)
    with open(path, "w") as f:
        f.write("record_id,time,net_kg,plate\n")
        for rid, sec, kg, plate in s.weighings:
            f.write(f"{rid},{(start + datetime.timedelta(seconds=sec)).isoformat()},{kg},{plate}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="testdata/scenarios")
    ap.add_argument("--only", default="", help="comma-separated scenario names")
    ap.add_argument("--seconds", type=float, default=0, help="shorten every video (previews)")
    ap.add_argument("--crf", type=int, default=30)
    ap.add_argument("--json-only", action="store_true", help="rewrite the ground truth, keep the videos")
    a = ap.parse_args()
    if not shutil.which("ffmpeg"):
        sys.exit("scenarios.py needs ffmpeg with libx264")
    os.makedirs(a.out, exist_ok=True)
    names = [n for n in a.only.split(",") if n] or list(SCENARIOS)
    for name in names:
        s = SCENARIOS[name]()
        seconds = a.seconds or s.seconds
        if not a.json_only:
            path, crf = render_video(s, a.out, seconds, a.crf)
            print(f"{path}: {seconds:.0f} s, {os.path.getsize(path) / 1e6:.2f} MB (crf {crf})", flush=True)
        with open(os.path.join(a.out, name + ".json"), "w") as f:
            f.write(dump_json(ground_truth(s, seconds)) + "\n")
        if getattr(s, "weighings", None):
            write_weighings(s, os.path.join(a.out, name + "_weighings.csv"))


if __name__ == "__main__":
    main()
