"""Object models for the street renderer: the five labelled classes and unlabelled look-alikes.

Each object is a parameter dict made by a `make_*` function (so a video can keep it across
frames) and a `draw_*` function that paints it standing at ground point (X, Z) on a Canvas.
Local shapes are given in metres in a vertical plane facing the camera: u to the right, v up.
Every make_* dict has w (width), h (height) and d (depth) for placement and shadows.
"""

import numpy as np

from scene import shade

CLASSES = ["person", "vehicle", "garbage_bag", "garbage_pile", "vending_stall"]
PERSON, VEHICLE, BAG, PILE, STALL = range(5)

CLOTHES = [[30, 30, 35], [200, 200, 205], [40, 60, 120], [120, 30, 30], [60, 90, 60], [180, 150, 110],
           [90, 90, 95], [220, 180, 40], [30, 110, 170], [150, 80, 140], [240, 240, 240], [200, 90, 40]]
SKIN = [[225, 185, 150], [200, 150, 110], [160, 110, 80], [110, 75, 55]]
BAG_COLS = [[25, 25, 28], [25, 25, 28], [35, 70, 40], [40, 60, 140], [215, 215, 210], [200, 60, 40],
            [230, 200, 60], [120, 120, 125]]


def pick(rng, cols, jitter=12):
    c = np.array(cols[rng.integers(len(cols))], np.float64) + rng.uniform(-jitter, jitter, 3)
    return tuple(np.clip(c, 0, 255))


def ellipse(cu, cv, ru, rv, n=18, a0=0.0, a1=2 * np.pi):
    t = np.linspace(a0, a1, n)
    return np.stack([cu + ru * np.cos(t), cv + rv * np.sin(t)], 1)


def wheel(cv, X, Z, u, r, col=(25, 25, 25), side=True):
    if side:
        cv.local(X, Z, ellipse(u, r, r, r, 16), col)
        cv.local(X, Z, ellipse(u, r, r * 0.45, r * 0.45, 10), (150, 150, 150))
    else:
        cv.local(X, Z, [(u - 0.05, 0), (u + 0.05, 0), (u + 0.05, 2 * r), (u - 0.05, 2 * r)], col)


# --------------------------------------------------------------------------------------------- people


def make_person(rng, role="walker"):
    h = rng.uniform(1.5, 1.88)
    return dict(h=h, w=0.5 * h / 1.7, d=0.3, shirt=pick(rng, CLOTHES), pants=pick(rng, CLOTHES),
                skin=pick(rng, SKIN, 8), hair=pick(rng, [[20, 20, 20], [60, 40, 30], [140, 140, 140]], 5),
                side=rng.random() < 0.55, facing=rng.choice([-1, 1]), hat=rng.random() < 0.15,
                backpack=rng.random() < 0.2, apron=role == "vendor" or rng.random() < 0.05,
                bag=pick(rng, BAG_COLS) if (role == "carrier" or rng.random() < 0.15) else None)


def draw_person(cv, X, Z, p, phase=0.0, crouch=0.0, carry=True):
    h, f = p["h"], p["facing"]
    k = 1.0 - 0.38 * crouch
    hip = 0.5 * h * (1 - 0.45 * crouch)
    sh_v = hip + 0.32 * h
    head_v = sh_v + 0.1 * h
    lean = f * 0.22 * h * crouch if p["side"] else 0.0
    leg_w, arm_w = 0.12, 0.08
    swing = 0.32 * np.sin(phase) * (1 - crouch)
    if p["side"]:
        feet = [(-swing * h * 0.5, 0.0), (swing * h * 0.5, 0.0)]
        hips = [(0.0, hip), (0.0, hip)]
    else:
        lift = 0.04 * h * np.abs(np.sin(phase))
        feet = [(-0.1, lift * (np.sin(phase) > 0)), (0.1, lift * (np.sin(phase) <= 0))]
        hips = [(-0.08, hip), (0.08, hip)]
    for (fu, fv), (hu, hv) in zip(feet, hips):
        knee = ((fu + hu) / 2 + f * 0.12 * crouch, (fv + hv) / 2 + 0.05 * crouch)
        cv.line((X + hu, hv, Z), (X + knee[0], knee[1], Z), p["pants"], leg_w)
        cv.line((X + knee[0], knee[1], Z), (X + fu, fv + 0.03, Z), p["pants"], leg_w)
        cv.local(X, Z, [(fu - 0.07, 0), (fu + 0.09 * (f if p["side"] else 1), 0), (fu + 0.05, 0.06), (fu - 0.05, 0.06)],
                 (30, 30, 30))
    sw = 0.22 if p["side"] else 0.42
    hw = 0.2 if p["side"] else 0.32
    torso = [(-hw / 2, hip - 0.03), (hw / 2, hip - 0.03), (lean + sw / 2, sh_v), (lean - sw / 2, sh_v)]
    cv.local(X, Z, torso, p["shirt"])
    if p["apron"]:
        cv.local(X, Z, [(-hw / 2.2, hip - 0.15), (hw / 2.2, hip - 0.15), (lean + sw / 3, sh_v - 0.12),
                        (lean - sw / 3, sh_v - 0.12)], (210, 120, 60))
    if p["backpack"]:
        bu = -f * 0.14 if p["side"] else 0.0
        cv.local(X, Z, ellipse(lean + bu, (hip + sh_v) / 2 + 0.05, 0.14, 0.2, 10), (50, 50, 70))
    # Arms swing opposite to the legs; the hand holding a bag hangs down.
    for s in (-1, 1):
        su = lean + (s * sw / 2 if not p["side"] else 0.0)
        hand = (su + (s * 0.05 if not p["side"] else -s * swing * h * 0.3), hip - 0.05 + 0.1 * crouch)
        if crouch > 0.3:
            hand = (lean + f * 0.25 * crouch * h, 0.25 * h * (1 - crouch) + 0.1)
        cv.line((X + su, sh_v - 0.03, Z), (X + hand[0], hand[1], Z), p["shirt"], arm_w)
        cv.local(X, Z, ellipse(hand[0], hand[1], 0.04, 0.05, 8), p["skin"])
        if carry and p["bag"] is not None and s == 1:
            bw = 0.35
            cv.local(X, Z, ellipse(hand[0] + (f * 0.05 if p["side"] else 0.05), max(hand[1] - 0.17, 0.16), bw / 2, 0.18, 12),
                     p["bag"])
    cv.local(X, Z, ellipse(lean, head_v + 0.02, 0.04, 0.06, 8), p["skin"])  # neck
    cv.local(X, Z, ellipse(lean, head_v + 0.08, 0.1, 0.12, 14), p["skin"])
    cv.local(X, Z, ellipse(lean - (f * 0.02 if p["side"] else 0), head_v + 0.13, 0.105, 0.075, 12, 0, np.pi),
             p["hair"] if not p["hat"] else (200, 60, 40))
    if p["hat"]:
        cv.local(X, Z, [(lean - 0.15, head_v + 0.14), (lean + 0.15, head_v + 0.14), (lean, head_v + 0.28)], (210, 190, 120))


def draw_sitting(cv, X, Z, p, stool=True):
    """A seated person (an unlabelled hard negative): on a stool or a kerb."""
    seat = 0.42
    if stool:
        cv.box3d(X, Z + 0.05, 0.35, 0.3, seat, (70, 70, 160))
    f = p["facing"]
    if p["side"]:
        cv.line((X, seat + 0.05, Z), (X + f * 0.42, seat + 0.02, Z), p["pants"], 0.14)
        cv.line((X + f * 0.42, seat + 0.02, Z), (X + f * 0.45, 0.03, Z), p["pants"], 0.12)
    else:
        for s in (-1, 1):
            cv.line((X + s * 0.1, seat + 0.05, Z - 0.05), (X + s * 0.14, 0.05, Z - 0.05), p["pants"], 0.13)
    cv.local(X, Z, [(-0.17, seat), (0.17, seat), (0.2, seat + 0.55), (-0.2, seat + 0.55)], p["shirt"])
    cv.local(X, Z, ellipse(0, seat + 0.7, 0.1, 0.12, 12), p["skin"])
    cv.local(X, Z, ellipse(0, seat + 0.75, 0.105, 0.07, 10, 0, np.pi), p["hair"])


# --------------------------------------------------------------------------------------------- vehicles


def make_vehicle(rng, kind=None):
    kind = kind or rng.choice(["tricycle", "tricycle", "truck", "handcart", "motorcart"])
    side = rng.random() < 0.6
    col = pick(rng, [[40, 90, 170], [200, 200, 200], [60, 130, 60], [190, 50, 40], [220, 180, 50], [90, 90, 95]])
    p = dict(kind=kind, side=side, facing=rng.choice([-1, 1]), col=col, rider=None,
             load=[pick(rng, BAG_COLS) for _ in range(rng.integers(0, 4))])
    if kind == "tricycle":
        p.update(w=2.0 if side else 0.95, h=1.1, d=0.9 if side else 2.0, box=(1.1, 0.75, 0.45))
    elif kind == "motorcart":
        p.update(w=2.6 if side else 1.2, h=1.6, d=1.1 if side else 2.6, box=(1.5, 1.1, 0.4))
    elif kind == "truck":
        p.update(w=rng.uniform(4.0, 5.5) if side else 1.9, h=rng.uniform(2.2, 2.8), d=1.9 if side else 4.5,
                 box_col=pick(rng, [[220, 220, 220], [60, 90, 150], [150, 60, 50], [100, 120, 100]]))
    else:
        p.update(w=1.7 if side else 0.9, h=0.8, d=0.8 if side else 1.7)
    return p


def draw_vehicle(cv, X, Z, p, phase=0.0):
    k, s, f = p["kind"], p["side"], p["facing"]
    if k in ("tricycle", "motorcart"):
        bl, bd, bh = p["box"]
        y0 = 0.45
        if s:
            bx = X - f * (p["w"] / 2 - bl / 2)
            wheel(cv, X, Z + bd, -f * (p["w"] / 2 - bl / 2), 0.28)
            cv.box3d(bx, Z, bl, bd, bh, p["col"], y0=y0)
            for i, c in enumerate(p["load"]):
                cv.local(bx, Z + 0.2, ellipse(-bl / 3 + i * bl / 3, y0 + bh + 0.15, 0.2, 0.18, 10), c)
            front = X + f * (p["w"] / 2 - 0.3)
            if k == "motorcart":
                cv.box3d(front - f * 0.05, Z + 0.1, 0.7, bd - 0.2, 1.0, shade(p["col"], 0.9), y0=0.4)
                cv.local(front, Z + 0.09, [(-0.25, 0.95), (0.25, 0.95), (0.22, 1.3), (-0.22, 1.3)], (60, 80, 100))
            else:
                cv.line((bx + f * bl / 2, y0 + 0.1, Z + bd / 2), (front, 0.3, Z + bd / 2), (40, 40, 40), 0.05)
                cv.line((front, 0.3, Z + bd / 2), (front - f * 0.1, 1.0, Z + bd / 2), (40, 40, 40), 0.05)
                cv.line((front - f * 0.1, 1.0, Z + bd / 2), (front - f * 0.25, 1.0, Z + bd / 2), (30, 30, 30), 0.04)
            wheel(cv, X, Z, -f * (p["w"] / 2 - bl / 2), 0.28)
            wheel(cv, X, Z, f * (p["w"] / 2 - 0.3), 0.28)
        else:
            cv.box3d(X, Z + 0.3, p["w"], bl, bh, p["col"], y0=y0)
            for i, c in enumerate(p["load"]):
                cv.local(X, Z + 0.3, ellipse(-0.25 + i * 0.25, y0 + bh + 0.12, 0.18, 0.16, 10), c)
            wheel(cv, X, Z + 0.29, -p["w"] / 2 + 0.05, 0.28, side=False)
            wheel(cv, X, Z + 0.29, p["w"] / 2 - 0.05, 0.28, side=False)
            if k == "motorcart":
                cv.box3d(X, Z + 0.3 + bl, 1.0, 0.6, 1.05, shade(p["col"], 0.9), y0=0.45)
    elif k == "truck":
        w, h = p["w"], p["h"]
        if s:
            cab = 1.6
            cargo_x = X - f * cab / 2
            cv.box3d(cargo_x, Z, w - cab, 1.9, h - 0.6, p["box_col"], y0=0.65)
            cx = X + f * (w / 2 - cab / 2)
            cv.box3d(cx, Z, cab, 1.9, h - 0.75, p["col"], y0=0.55)
            cv.local(cx + f * 0.2, Z - 0.01, [(-0.45, 1.4), (0.5, 1.4), (0.5, h - 0.35), (-0.45, h - 0.35)], (70, 90, 110))
            cv.local(X, Z - 0.01, [(-w / 2, 0.35), (w / 2, 0.35), (w / 2, 0.65), (-w / 2, 0.65)], (40, 40, 40))
            for u in (-f * (w / 2 - 0.9), f * (w / 2 - 0.8)):
                wheel(cv, X, Z - 0.02, u, 0.45)
        else:
            cv.box3d(X, Z + 0.1, w, p["d"] - 0.1, h - 0.65, p["box_col"], y0=0.65)
            cv.local(X, Z + 0.09, [(-w / 2, 0.35), (w / 2, 0.35), (w / 2, 0.65), (-w / 2, 0.65)], (40, 40, 40))
            for u in (-w / 2 + 0.25, w / 2 - 0.25):
                cv.local(X, Z + 0.08, [(u - 0.18, 0), (u + 0.18, 0), (u + 0.18, 0.85), (u - 0.18, 0.85)], (25, 25, 25))
            cv.local(X, Z + 0.07, [(-w / 2 + 0.05, 0.7), (-w / 2 + 0.3, 0.7), (-w / 2 + 0.3, 0.85), (-w / 2 + 0.05, 0.85)], (200, 30, 30))
            cv.local(X, Z + 0.07, [(w / 2 - 0.3, 0.7), (w / 2 - 0.05, 0.7), (w / 2 - 0.05, 0.85), (w / 2 - 0.3, 0.85)], (200, 30, 30))
    else:  # hand cart: a flat platform with two wheels and a handle, usually loaded
        wood = (150, 110, 70)
        if s:
            cv.box3d(X, Z, p["w"] - 0.3, 0.7, 0.06, wood, y0=0.35)
            cv.line((X + f * (p["w"] / 2 - 0.15), 0.4, Z + 0.35), (X + f * p["w"] / 2, 0.95, Z + 0.35), (60, 60, 60), 0.04)
            wheel(cv, X, Z - 0.01, -0.2, 0.2)
        else:
            cv.box3d(X, Z + 0.2, p["w"], p["d"] - 0.3, 0.06, wood, y0=0.35)
            for u in (-p["w"] / 2, p["w"] / 2):
                wheel(cv, X, Z + 0.5, u, 0.2, side=False)
        for i, c in enumerate(p["load"][:3]):
            cv.box3d(X - 0.35 + i * 0.35, Z + 0.1, 0.3, 0.4, 0.3, (170, 130, 80) if i % 2 else c, y0=0.41)


def draw_car(cv, X, Z, p):
    """A parked car: an unlabelled hard negative (the vehicle class is tricycles, carts and trucks)."""
    col = p["col"]
    if p["side"]:
        L = 4.3
        cv.box3d(X, Z, L, 1.75, 0.6, col, y0=0.3)
        cv.local(X, Z - 0.01, [(-1.3, 0.9), (1.1, 0.9), (0.6, 1.45), (-1.0, 1.45)], shade(col, 0.95))
        cv.local(X, Z - 0.02, [(-1.15, 0.95), (0.95, 0.95), (0.55, 1.38), (-0.9, 1.38)], (60, 75, 90))
        for u in (-1.35, 1.35):
            wheel(cv, X, Z - 0.02, u, 0.32)
    else:
        cv.box3d(X, Z + 0.2, 1.8, 4.0, 0.65, col, y0=0.3)
        cv.box3d(X, Z + 1.0, 1.5, 2.0, 0.5, (60, 75, 90), y0=0.95)
        cv.local(X, Z + 0.19, [(-0.85, 0.75), (-0.55, 0.75), (-0.55, 0.85), (-0.85, 0.85)], (220, 40, 40))
        cv.local(X, Z + 0.19, [(0.55, 0.75), (0.85, 0.75), (0.85, 0.85), (0.55, 0.85)], (220, 40, 40))
        for u in (-0.75, 0.75):
            cv.local(X, Z + 0.3, [(u - 0.12, 0), (u + 0.12, 0), (u + 0.12, 0.35), (u - 0.12, 0.35)], (25, 25, 25))


def draw_bicycle(cv, X, Z, p):
    col, r = p["col"], 0.33
    for u in (-0.5, 0.5):
        pts = ellipse(u, r, r, r, 14)
        for a, b in zip(pts[:-1], pts[1:]):
            cv.line((X + a[0], a[1], Z), (X + b[0], b[1], Z), (30, 30, 30), 0.035)
    for a, b in [((-0.5, r), (0.0, r)), ((0.0, r), (0.25, 0.8)), ((-0.5, r), (-0.15, 0.8)), ((-0.15, 0.8), (0.25, 0.8)),
                 ((0.0, r), (-0.15, 0.8)), ((0.5, r), (0.3, 0.95)), ((0.2, 0.97), (0.42, 0.97)), ((-0.22, 0.85), (-0.05, 0.85))]:
        cv.line((X + a[0], a[1], Z), (X + b[0], b[1], Z), col, 0.04)


# --------------------------------------------------------------------------------------------- garbage


def make_bag(rng, big=False):
    w = rng.uniform(0.4, 0.75) * (1.3 if big else 1.0)
    h = w * rng.uniform(0.7, 1.3)
    n = 16
    rad = rng.uniform(0.85, 1.12, n)
    woven = rng.random() < 0.2
    col = (220, 220, 215) if woven else pick(rng, BAG_COLS)
    return dict(w=w, h=h, d=w * 0.8, rad=rad, col=col, woven=woven, stripe=pick(rng, [[40, 80, 180], [190, 40, 40]]),
                knot=rng.random() < 0.7, tilt=rng.uniform(-0.25, 0.25))


def bag_outline(p):
    n = len(p["rad"])
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    u = p["w"] / 2 * p["rad"] * np.cos(t)
    v = p["h"] / 2 * p["rad"] * np.sin(t) + p["h"] / 2
    u = u + p["tilt"] * (v - p["h"] / 2)
    v = np.maximum(v, 0.0)
    pts = np.stack([u, v], 1)
    if p["knot"]:
        top = np.argmax(v)
        tuft = np.array([[-0.05, 0], [0.0, 0.12], [0.05, 0]]) * p["w"] / 0.5 + [u[top], v[top] - 0.01]
        pts = np.concatenate([pts[:top], tuft, pts[top + 1:]])
    return pts


def draw_bag(cv, X, Z, p, v0=0.0, du=0.0):
    pts = bag_outline(p) + [du, v0]
    cv.local(X, Z, pts, p["col"])
    w, h = p["w"], p["h"]
    dark = shade(p["col"], 0.65)
    cv.local(X, Z - 0.001, ellipse(du, v0 + h * 0.12, w * 0.42, h * 0.1, 10), dark)
    if p["woven"]:
        for fv in (0.35, 0.65):
            cv.line((X + du - w * 0.42, v0 + h * fv, Z - 0.002), (X + du + w * 0.42, v0 + h * fv, Z - 0.002), p["stripe"], 0.04)
    light = shade(p["col"], 1.6) if sum(p["col"]) < 300 else shade(p["col"], 1.1)
    a = ellipse(du + w * 0.05, v0 + h * 0.55, w * 0.28, h * 0.3, 5, 2.2, 3.4)
    for q0, q1 in zip(a[:-1], a[1:]):
        cv.line((X + q0[0], q0[1], Z - 0.003), (X + q1[0], q1[1], Z - 0.003), light, 0.02)


def make_pile(rng, n=None):
    n = n or int(rng.integers(7, 16))
    W = rng.uniform(1.4, 3.4)
    D = rng.uniform(0.6, 1.6)
    items = []
    for _ in range(n):
        u = rng.uniform(-0.5, 0.5) * W * 0.8
        dz = rng.uniform(0, D)
        kind = rng.choice(["bag", "bag", "bag", "box", "debris"])
        base = 0.35 * (1 - abs(u) / (W / 2)) * rng.uniform(0, 1.2)  # heap higher in the middle
        items.append(dict(kind=kind, u=u, dz=dz, v0=max(0.0, base),
                          bag=make_bag(rng), box=(rng.uniform(0.3, 0.6), rng.uniform(0.25, 0.5),
                                                  rng.uniform(0.2, 0.5)), col=pick(rng, [[170, 130, 80], [200, 170, 120],
                                                                                         [220, 220, 220], [120, 90, 60]]),
                          debris=rng.uniform(-0.25, 0.25, (6, 2)), dcol=pick(rng, CLOTHES + [[160, 120, 70]])))
    items.sort(key=lambda it: -it["dz"])
    h = max([it["v0"] + (it["bag"]["h"] if it["kind"] == "bag" else it["box"][2]) for it in items] + [0.5])
    return dict(w=W, h=h, d=D, items=items, stain=rng.random() < 0.8)


def draw_pile(cv, X, Z, p, count=None):
    items = p["items"] if count is None else sorted(p["items"][:count], key=lambda it: -it["dz"])
    if p["stain"]:
        cv.ground_poly(ellipse(X, Z + p["d"] / 2, p["w"] * 0.6, p["d"] * 0.7, 14), (60, 55, 45))
    for it in items:
        z = Z + it["dz"]
        if it["kind"] == "bag":
            draw_bag(cv, X + it["u"], z, it["bag"], v0=it["v0"] * 0.6)
        elif it["kind"] == "box":
            bw, bd, bh = it["box"]
            cv.box3d(X + it["u"], z, bw, bd, bh, it["col"], y0=it["v0"] * 0.4)
        else:
            pts = it["debris"] + [X + it["u"], z]
            cv.poly([(x, 0.02 + 0.05 * i, zz) for i, (x, zz) in enumerate(pts[:3])], it["dcol"])
            cv.local(X + it["u"], z, [(-0.2, 0), (0.25, 0), (0.15, 0.12), (-0.1, 0.18)], it["dcol"])


# --------------------------------------------------------------------------------------------- vending


def make_stall(rng):
    w = rng.uniform(1.1, 2.2)
    d = rng.uniform(0.6, 1.0)
    cover = rng.choice(["umbrella", "umbrella", "awning", "none"])
    cols = [pick(rng, [[210, 40, 40], [40, 90, 200], [240, 200, 40], [40, 150, 70], [240, 240, 240], [230, 120, 30]])
            for _ in range(2)]
    goods = [(rng.uniform(-0.45, 0.45) * w, rng.uniform(0.1, 0.9) * d, pick(rng, [[220, 60, 40], [240, 170, 40],
             [90, 170, 60], [200, 200, 80], [150, 60, 140], [230, 230, 230], [170, 120, 70]]), rng.uniform(0.06, 0.14))
             for _ in range(int(rng.integers(8, 30)))]
    kind = rng.choice(["table", "table", "cart"])
    h = 2.3 if cover != "none" else 1.0
    return dict(w=max(w, 2.2 if cover == "umbrella" else w), tw=w, d=d, h=h, cover=cover, cols=cols, goods=goods,
                cloth=pick(rng, CLOTHES), kind=kind, crates=int(rng.integers(0, 3)), ur=rng.uniform(0.9, 1.3))


def draw_stall(cv, X, Z, p, open_frac=1.0):
    """A vending stall; open_frac < 1 draws it part-way through being set up."""
    tw, d = p["tw"], p["d"]
    for i in range(p["crates"]):
        cv.box3d(X - tw / 2 - 0.25 + i * 0.05, Z + 0.1, 0.4, 0.3, 0.3 * (i + 1), (40, 120, 170))
    if p["kind"] == "cart":
        cv.box3d(X, Z, tw, d, 0.7, p["cloth"], y0=0.25)
        for u in (-tw / 2 + 0.2, tw / 2 - 0.2):
            wheel(cv, X, Z - 0.01, u, 0.22)
        top = 0.95
    else:
        for u in (-tw / 2 + 0.05, tw / 2 - 0.05):
            cv.line((X + u, 0.0, Z + 0.02), (X + u, 0.75, Z + 0.02), (60, 60, 60), 0.04)
        cv.box3d(X, Z, tw, d, 0.08, p["cloth"], y0=0.67)
        cv.local(X, Z - 0.005, [(-tw / 2, 0.35), (tw / 2, 0.35), (tw / 2, 0.75), (-tw / 2, 0.75)], p["cloth"])
        top = 0.75
    n = int(len(p["goods"]) * min(1.0, open_frac * 1.5))
    for (u, dz, col, r) in sorted(p["goods"][:n], key=lambda g: -g[1]):
        cv.local(X + u, Z + dz, ellipse(0, top + r * 0.8, r, r * 0.8, 8), col)
    if open_frac < 0.5:
        return
    if p["cover"] == "umbrella":
        pole_u = 0.0
        cv.line((X + pole_u, 0.0, Z + d / 2), (X + pole_u, 2.25, Z + d / 2), (90, 90, 90), 0.05)
        r = p["ur"]
        segs = 8
        for i in range(segs):  # striped canopy segments from the pole tip to the rim
            pts = [(0, 2.4), (-r + 2 * r * i / segs, 1.9 + 0.08 * np.sin(np.pi * i / segs)),
                   (-r + 2 * r * (i + 1) / segs, 1.9 + 0.08 * np.sin(np.pi * (i + 1) / segs))]
            cv.local(X + pole_u, Z + d / 2 - 0.01, pts, p["cols"][i % 2])
        cv.local(X + pole_u, Z + d / 2 - 0.012, ellipse(0, 1.9, r, 0.08, 14, np.pi, 2 * np.pi), shade(p["cols"][0], 0.7))
    elif p["cover"] == "awning":
        for u in (-tw / 2, tw / 2):
            cv.line((X + u, 0.0, Z + d), (X + u, 2.1, Z + d), (80, 80, 80), 0.04)
        n = 6
        for i in range(n):
            u0, u1 = -tw / 2 - 0.1 + (tw + 0.2) * i / n, -tw / 2 - 0.1 + (tw + 0.2) * (i + 1) / n
            cv.poly([(X + u0, 2.15, Z + d), (X + u1, 2.15, Z + d), (X + u1, 1.85, Z - 0.3), (X + u0, 1.85, Z - 0.3)],
                    p["cols"][i % 2])


# --------------------------------------------------------------------------------------------- street furniture


def make_furniture(rng, kind=None):
    kind = kind or rng.choice(["bin", "bin", "bin", "dumpster", "bench", "bicycle", "car", "sitting", "board",
                               "planter", "cone", "bollard"])
    col = pick(rng, [[40, 120, 60], [40, 80, 160], [110, 110, 115], [60, 60, 65], [200, 140, 40], [180, 50, 40]])
    p = dict(kind=kind, col=col, side=rng.random() < 0.6, facing=rng.choice([-1, 1]), person=make_person(rng),
             n=int(rng.integers(1, 4)))
    size = dict(bin=(0.6 * p["n"] + 0.1 * (p["n"] - 1), 1.05, 0.7), dumpster=(1.8, 1.3, 1.0), bench=(1.6, 0.9, 0.5),
                bicycle=(1.6, 1.0, 0.1), car=(4.3, 1.45, 1.8) if p["side"] else (1.8, 1.45, 4.0),
                sitting=(0.5, 1.3, 0.6), board=(0.6, 1.0, 0.5), planter=(1.2, 1.1, 0.6), cone=(0.35, 0.7, 0.35),
                bollard=(0.2, 0.8, 0.2))[kind]
    p.update(w=size[0], h=size[1], d=size[2], sign=pick(rng, [[200, 30, 30], [240, 240, 240], [30, 80, 180], [250, 200, 40]]))
    return p


def draw_furniture(cv, X, Z, p):
    k = p["kind"]
    if k == "bin":
        for i in range(p["n"]):
            u = X - p["w"] / 2 + 0.3 + i * 0.7
            cv.box3d(u, Z, 0.58, 0.7, 0.95, p["col"])
            cv.box3d(u, Z - 0.03, 0.62, 0.76, 0.06, shade(p["col"], 0.8), y0=0.95)
            cv.local(u, Z - 0.01, [(-0.1, 0.5), (0.1, 0.5), (0.1, 0.7), (-0.1, 0.7)], (235, 235, 235))
    elif k == "dumpster":
        cv.box3d(X, Z, 1.8, 1.0, 1.15, p["col"], y0=0.12)
        cv.box3d(X, Z - 0.02, 1.84, 1.04, 0.08, shade(p["col"], 0.7), y0=1.2)
        for u in (-0.7, 0.7):
            cv.local(X, Z - 0.01, ellipse(u, 0.08, 0.08, 0.08, 8), (30, 30, 30))
    elif k == "bench":
        wood = (140, 100, 60) if p["col"][1] > 100 else (120, 120, 125)
        for u in (-0.65, 0.65):
            cv.box3d(X + u, Z + 0.1, 0.06, 0.4, 0.45, (60, 60, 60))
        cv.box3d(X, Z + 0.35, 1.6, 0.08, 0.4, wood, y0=0.5)
        cv.box3d(X, Z, 1.6, 0.45, 0.05, wood, y0=0.45)
    elif k == "bicycle":
        draw_bicycle(cv, X, Z, p)
    elif k == "car":
        draw_car(cv, X, Z, p)
    elif k == "sitting":
        draw_sitting(cv, X, Z, p["person"], stool=p["n"] != 1)
    elif k == "board":
        cv.local(X, Z, [(-0.3, 0), (-0.25, 0), (0, 1.0), (-0.05, 1.0)], (70, 70, 70))
        cv.local(X, Z - 0.01, [(-0.28, 0.15), (0.28, 0.15), (0.28, 0.95), (-0.28, 0.95)], p["sign"])
        for i in range(3):
            cv.local(X, Z - 0.02, [(-0.2, 0.3 + 0.2 * i), (0.15, 0.3 + 0.2 * i), (0.15, 0.4 + 0.2 * i), (-0.2, 0.4 + 0.2 * i)],
                     (30, 30, 30))
    elif k == "planter":
        cv.box3d(X, Z, 1.2, 0.6, 0.5, (150, 145, 140))
        cv.local(X, Z + 0.3, ellipse(0, 0.5, 0.6, 0.55, 16, 0, np.pi), (50, 110, 50))
    elif k == "cone":
        cv.local(X, Z, [(-0.17, 0), (0.17, 0), (0.03, 0.7), (-0.03, 0.7)], (240, 110, 30))
        cv.local(X, Z - 0.01, [(-0.1, 0.3), (0.1, 0.3), (0.08, 0.4), (-0.08, 0.4)], (240, 240, 240))
    else:
        cv.box3d(X, Z, 0.18, 0.18, 0.8, (90, 90, 95))


def draw_decal(cv, rng, X, Z, kind):
    """Ground decals: manhole covers, puddles and stains (unlabelled)."""
    if kind == "manhole":
        r = rng.uniform(0.3, 0.45)
        cv.ground_poly(ellipse(X, Z, r, r, 20), (70, 70, 72))
        cv.ground_poly(ellipse(X, Z, r * 0.8, r * 0.8, 20), (95, 95, 98))
        for i in range(-2, 3):
            cv.ground_poly([(X - r * 0.7, Z + i * r * 0.25), (X + r * 0.7, Z + i * r * 0.25),
                            (X + r * 0.7, Z + i * r * 0.25 + 0.03), (X - r * 0.7, Z + i * r * 0.25 + 0.03)], (60, 60, 62))
    elif kind == "puddle":
        pts = ellipse(X, Z, rng.uniform(0.5, 2.0), rng.uniform(0.4, 1.5), 14)
        pts += rng.uniform(-0.15, 0.15, pts.shape)
        cv.ground_poly(pts, (70, 78, 90))
        cv.ground_poly(pts[:6] * 0.3 + np.array([X, Z]) * 0.7, (120, 130, 145))
    else:
        pts = ellipse(X, Z, rng.uniform(0.3, 1.2), rng.uniform(0.3, 1.0), 12) + rng.uniform(-0.1, 0.1, (12, 2))
        cv.ground_poly(pts, tuple(rng.uniform(40, 80, 3)))
