"""Render the few labelled test images the Go model test uses (testdata/models/).

    python3 models/train/testimages.py --out testdata/models

Each image shows clearly separated, unoccluded, typical objects (stalls have umbrellas) at sizes
a 720p pole camera sees; one
image is an empty street (with look-alikes such as bins and a manhole) where the model must
find nothing. The test proves the ONNX file and its conventions, not the model's accuracy.
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

sys.dont_write_bytecode = True  # keep models/train free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import objects as ob  # noqa: E402
import render  # noqa: E402
import scene as sc  # noqa: E402

# (name, width, height, lighting, seed, [(kind, foot x fraction, foot y fraction), ...])
IMAGES = [
    ("street-day.jpg", 1280, 720, "day", 11,
     [("person", 0.22, 0.80), ("garbage_bag", 0.45, 0.78), ("vending_stall", 0.70, 0.62), ("vehicle", 0.40, 0.45)]),
    ("sidewalk-overcast.jpg", 960, 540, "overcast", 12,
     [("garbage_pile", 0.30, 0.75), ("person", 0.62, 0.88), ("garbage_bag", 0.82, 0.70)]),
    ("street-dusk.jpg", 1280, 720, "dusk", 13,
     [("vehicle", 0.30, 0.70), ("person", 0.72, 0.85), ("vending_stall", 0.60, 0.45)]),
    ("empty-street.jpg", 1280, 720, "day", 14, [("bin", 0.25, 0.75), ("manhole", 0.6, 0.8)]),
]

MAKERS = {
    "person": lambda rng: (ob.PERSON, ob.make_person(rng), lambda cv, X, Z, p: ob.draw_person(cv, X, Z, p, phase=0.8)),
    "vehicle": lambda rng: (ob.VEHICLE, ob.make_vehicle(rng, "tricycle"), ob.draw_vehicle),
    "garbage_bag": lambda rng: (ob.BAG, ob.make_bag(rng, big=True), ob.draw_bag),
    "garbage_pile": lambda rng: (ob.PILE, ob.make_pile(rng, 10), ob.draw_pile),
    "vending_stall": lambda rng: (ob.STALL, dict(ob.make_stall(rng), cover="umbrella", w=2.2, h=2.3), ob.draw_stall),
    "bin": lambda rng: (None, ob.make_furniture(rng, "bin"), ob.draw_furniture),
}


def render_image(width, height, light_kind, seed, specs):
    rng = np.random.default_rng(seed)
    cam = sc.Camera(width, height, width * 1.0, 5.0, -0.25 * height, width * 0.5)
    lay = sc.random_layout(rng, cam, "open")
    light = sc.random_lighting(rng, light_kind)
    items, decals = [], []
    for kind, fx, fy in specs:
        X, Z = cam.ground_at(fx * width, fy * height)
        if kind == "manhole":
            decals.append((X, Z))
            continue
        cls, p, draw = MAKERS[kind](rng)
        items.append((X, Z, cls, p, draw))
    cv, geo, order, full = render.draw_scene(rng, cam, lay, light, items, decals=False)
    for X, Z in decals:
        ob.draw_decal(cv, rng, X, Z, "manhole")
    img = sc.apply_lighting(cv.img.astype(np.float32), cv, geo, light)
    img = sc.camera_effects(np.random.default_rng(seed), img, video=True)
    return img, render.boxes_from_ids(cv, items, order, full)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="testdata/models")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    listing = []
    for name, w, h, light, seed, specs in IMAGES:
        img, boxes = render_image(w, h, light, seed, specs)
        cv2.imwrite(os.path.join(a.out, name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
        listing.append(dict(file=name, width=w, height=h, lighting=light,
                            objects=[dict(**{"class": ob.CLASSES[int(b[0])]}, box=[int(v) for v in b[1:]]) for b in boxes]))
    with open(os.path.join(a.out, "objects.json"), "w") as f:
        text = json.dumps(dict(generator="models/train/testimages.py", classes=ob.CLASSES, images=listing), indent=1)
        f.write(re.sub(r"\[\s+([-\d,\s]+?)\s+\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]",
                       text) + "\n")


if __name__ == "__main__":
    main()
