"""Procedural street scenes with exact boxes for the five StreetWatch classes.

    python3 models/train/render.py --out /tmp/samples --n 16 --seed 1   # write annotated previews

render_sample(rng, width, height) returns an RGB uint8 image and a float32 array of
[class, x1, y1, x2, y2] rows in image pixels. Everything is deterministic given the rng.
"""

import argparse
import os

import cv2
import numpy as np

import objects as ob
import scene as sc

MIN_VISIBLE = 0.35  # an object hidden more than this is not labelled (but still drawn)


def place(rng, cam, lay, where, min_px, size_h):
    """A ground point (X, Z) for an object of height size_h that is at least min_px tall on screen."""
    for _ in range(40):
        y = rng.uniform(max(cam.horizon + 2, 0.05 * cam.h), cam.h * 0.99)  # feet inside the frame
        if y <= cam.horizon + 1:
            continue
        Z = cam.f * cam.ch / (y - cam.horizon)
        if Z < 1.5 or size_h * cam.f / Z < min_px:
            continue
        if where == "walk" and lay["kind"] != "open":
            a, b = sorted(lay["walk"])
            X = rng.uniform(a + 0.4, b - 0.4) if b - a > 1 else (a + b) / 2
        elif where == "road":
            a, b = sorted(lay["road"])
            X = rng.uniform(a + 1, b - 1)
        else:
            x = rng.uniform(-0.05, 1.05) * cam.w
            X = (x - cam.vx) * Z / cam.f
        if lay["kind"] == "along" and (X * lay["side"]) > abs(lay["wall_x"]) - 0.3:
            continue
        if lay["kind"] == "facing" and Z > lay["wall_z"] - 0.5:
            continue
        x = cam.vx + cam.f * X / Z
        if 0.02 * cam.w < x < 0.98 * cam.w:
            return X, Z
    return None


def scene_objects(rng, cam, lay, min_px):
    """A list of (X, Z, class or None, params, draw) for one random scene."""
    items = []

    def add(cls, p, draw, where, size_h=None):
        at = place(rng, cam, lay, where, min_px, size_h or p["h"])
        if at is not None:
            items.append((at[0], at[1], cls, p, draw))

    for _ in range(rng.poisson(2.2)):
        add(ob.PERSON, ob.make_person(rng, "carrier" if rng.random() < 0.2 else "walker"),
            lambda cv, X, Z, p, r=rng.uniform(0, 6.28): ob.draw_person(cv, X, Z, p, phase=r), "any")
    if rng.random() < 0.55:
        for _ in range(rng.integers(1, 3)):
            p = ob.make_vehicle(rng)
            add(ob.VEHICLE, p, ob.draw_vehicle, rng.choice(["road", "walk", "any"]), size_h=1.0)
            if p["kind"] in ("tricycle", "motorcart") and rng.random() < 0.6 and items and items[-1][3] is p:
                X, Z = items[-1][0], items[-1][1]
                rider = ob.make_person(rng)
                rider["side"], rider["facing"] = p["side"], p["facing"]
                du = p["facing"] * (p["w"] / 2 - 0.75) if p["side"] else 0.0
                dz = 0.45 if p["side"] else 1.4
                items.append((X + du, Z + dz - 0.001, ob.PERSON, rider,
                              lambda cv, X, Z, r: _rider(cv, X, Z, r)))
    if rng.random() < 0.6:
        for _ in range(rng.integers(1, 5)):
            add(ob.BAG, ob.make_bag(rng), ob.draw_bag, rng.choice(["walk", "any"]), size_h=0.6)
    if rng.random() < 0.45:
        add(ob.PILE, ob.make_pile(rng), ob.draw_pile, rng.choice(["walk", "walk", "any"]), size_h=0.8)
    if rng.random() < 0.45:
        p = ob.make_stall(rng)
        add(ob.STALL, p, ob.draw_stall, "walk", size_h=1.5)
        if rng.random() < 0.7 and items and items[-1][3] is p:
            X, Z = items[-1][0], items[-1][1]
            v = ob.make_person(rng, "vendor")
            v["side"] = False
            items.append((X + rng.uniform(-0.5, 0.5), Z + p["d"] + 0.3, ob.PERSON, v,
                          lambda cv, X, Z, p: ob.draw_person(cv, X, Z, p)))
    # Hard negatives, unlabelled.
    for _ in range(rng.integers(1, 6)):
        p = ob.make_furniture(rng)
        add(None, p, ob.draw_furniture, rng.choice(["walk", "any"]) if p["kind"] != "car" else "road", size_h=0.8)
        # Bags next to legal bins are still garbage bags.
        if p["kind"] in ("bin", "dumpster") and rng.random() < 0.3 and items and items[-1][3] is p:
            X, Z = items[-1][0], items[-1][1]
            items.append((X + p["w"] / 2 + 0.4, Z - 0.2, ob.BAG, ob.make_bag(rng), ob.draw_bag))
    return items


def _rider(cv, X, Z, p):
    """A person sitting on a tricycle saddle: the legs hidden, upper body above the seat."""
    seat = 0.85
    cv.local(X, Z, [(-0.18, seat - 0.15), (0.18, seat - 0.15), (0.2, seat + 0.5), (-0.2, seat + 0.5)], p["shirt"])
    cv.local(X, Z, [(-0.16, 0.35), (0.16, 0.35), (0.16, seat - 0.15), (-0.16, seat - 0.15)], p["pants"])
    cv.local(X, Z, ob.ellipse(0, seat + 0.65, 0.1, 0.12, 12), p["skin"])
    cv.local(X, Z, ob.ellipse(0, seat + 0.72, 0.105, 0.07, 10, 0, np.pi), p["hair"])


def draw_scene(rng, cam, lay, light, items, decals=True, background=None):
    """Background, decals, shadows and objects. Returns the canvas and per-item instance ids."""
    bg, glow, ground, geo = background or sc.render_background(rng, cam, lay)
    cv = sc.Canvas(np.clip(bg, 0, 255).astype(np.uint8), cam)
    cv.emissive = glow.copy()
    if decals:
        for _ in range(rng.poisson(1.5)):
            at = place(rng, cam, lay, "any", 3, 0.5)
            if at:
                ob.draw_decal(cv, rng, at[0], at[1], rng.choice(["manhole", "puddle", "stain"]))
        if light["sun"] is not None and rng.random() < 0.5:  # building or tree shadows
            for _ in range(rng.integers(1, 4)):
                at = place(rng, cam, lay, "any", 3, 0.5)
                if at:
                    pts = ob.ellipse(at[0], at[1], rng.uniform(1, 4), rng.uniform(1, 4), 12) + rng.uniform(-0.6, 0.6, (12, 2))
                    x, y = cam.project(pts[:, 0], np.zeros(12), np.maximum(pts[:, 1], 0.5))
                    q = np.round(np.stack([x, y], 1) * 16).astype(np.int32)
                    cv2.fillPoly(cv.shadow, [q], float(rng.uniform(0.45, 0.7)), cv2.LINE_AA, 4)
    for X, Z, cls, p, _ in items:
        cv.cast_shadow(X, Z + p.get("d", 0.3) / 2, p["w"], p["h"], light["sun"], 0.55)
    cv.shadow = cv2.GaussianBlur(cv.shadow, (0, 0), 1.0)
    cv.img = (cv.img.astype(np.float32) * cv.shadow[..., None]).astype(np.uint8)
    cv.shadow[:] = 1.0
    order = sorted(range(len(items)), key=lambda i: -items[i][1])
    full = {}
    for k, i in enumerate(order, start=1):
        X, Z, cls, p, draw = items[i]
        cv.cur = k if cls is not None else 0
        draw(cv, X, Z, p)
        if cls is not None:
            full[k] = int((cv.ids == k).sum())
    return cv, geo, order, full


def boxes_from_ids(cv, items, order, full, min_side=6):
    out = []
    for k, i in enumerate(order, start=1):
        cls = items[i][2]
        if cls is None or full.get(k, 0) == 0:
            continue
        ys, xs = np.nonzero(cv.ids == k)
        if len(xs) < MIN_VISIBLE * full[k] or len(xs) < 12:
            continue
        x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        if min(x2 - x1, y2 - y1) < min_side:
            continue
        out.append([cls, x1, y1, x2, y2])
    return np.array(out, np.float32).reshape(-1, 5)


def render_samples(rng, n, width=640, height=360, min_px=14, photo=None):
    """n samples sharing one street (camera, layout, background) with different objects and light.
    With photo (an RGB image), the street's picture is a random crop of that real photograph: the
    rendered objects, shadows and light go on a real background."""
    cam = sc.random_camera(rng, width, height)
    lay = sc.random_layout(rng, cam)
    background = sc.render_background(rng, cam, lay)
    if photo is not None:
        _, glow, ground, geo = background
        background = (photo_crop(rng, photo, width, height).astype(np.float32), glow * 0, ground, geo)
    return [render_sample(rng, width, height, min_px, (cam, lay, background)) for _ in range(n)]


def photo_crop(rng, photo, width, height):
    """A random window of a real photograph at the frame's aspect, scaled to width x height,
    sometimes mirrored, with its colour balance and brightness jittered."""
    h, w = photo.shape[:2]
    aspect = width / height
    cw = min(w, h * aspect) * rng.uniform(0.45, 1.0)
    ch = cw / aspect
    x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
    crop = photo[int(y0):int(y0 + ch), int(x0):int(x0 + cw)]
    out = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA if cw > width else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    gain = rng.uniform(0.75, 1.2) * rng.uniform(0.92, 1.08, 3)
    return np.clip(out.astype(np.float32) * gain[None, None], 0, 255).astype(np.uint8)


def photo_negative(rng, photo, width=640, height=360):
    """A hard negative: a crop of a real photograph through the camera effects, with no objects."""
    img = photo_crop(rng, photo, width, height).astype(np.float32)
    return sc.camera_effects(rng, img, night=False), np.zeros((0, 5), np.float32)


def render_sample(rng, width=640, height=360, min_px=14, street=None):
    if street is None:
        cam = sc.random_camera(rng, width, height)
        lay = sc.random_layout(rng, cam)
        background = None
    else:
        cam, lay, background = street
    light = sc.random_lighting(rng)
    items = scene_objects(rng, cam, lay, min_px)
    cv, geo, order, full = draw_scene(rng, cam, lay, light, items, background=background)
    img = sc.apply_lighting(cv.img.astype(np.float32), cv, geo, light)
    img = sc.camera_effects(rng, img, night=light["kind"] == "night")
    return img, boxes_from_ids(cv, items, order, full)


def letterbox(img, boxes, size=320, interp=cv2.INTER_LINEAR):
    h, w = img.shape[:2]
    s = size / max(w, h)
    nw, nh = int(round(w * s)), int(round(h * s))
    out = np.full((size, size, 3), 114, np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    out[py:py + nh, px:px + nw] = cv2.resize(img, (nw, nh), interpolation=interp)
    b = boxes.copy()
    b[:, 1:] = b[:, 1:] * s + np.array([px, py, px, py], np.float32)
    return out, b


COLORS = [(255, 60, 60), (60, 160, 255), (255, 220, 0), (255, 120, 0), (80, 220, 80)]


def annotate(img, boxes, scores=None):
    out = img.copy()
    for i, b in enumerate(boxes):
        c = int(b[0])
        p1, p2 = (int(b[1]), int(b[2])), (int(b[3]), int(b[4]))
        cv2.rectangle(out, p1, p2, COLORS[c], 1 if out.shape[0] <= 400 else 2)
        label = ob.CLASSES[c] + ("" if scores is None else f" {scores[i]:.2f}")
        cv2.putText(out, label, (p1[0], max(8, p1[1] - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.3 if out.shape[0] <= 400 else 0.5,
                    COLORS[c], 1, cv2.LINE_AA)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    for i in range(a.n):
        img, boxes = render_sample(rng, a.width, a.height)
        cv2.imwrite(os.path.join(a.out, f"sample_{i:03d}.jpg"), cv2.cvtColor(annotate(img, boxes), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
