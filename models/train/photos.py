"""Real photographs for training: backgrounds under rendered objects, and hard negatives.

    python3 models/train/photos.py --cache ~/.cache/streetwatch/photos   # fetch and list them

Only Debian packages are reachable offline, and none ships street footage that is not already
held out for evaluation (heldout.py). What they do ship are real photographs of walls, facades,
paving-like textures, grass, gravel, tables and rooms: real sensor noise, real textures and real
light, which the rendered streets lack. Each file is named here with its package, so the set is
the same on every machine. Photographs showing a person, a car or a motorbike are left out: they
would be unlabelled people or vehicles and teach the model to miss them.

Packages other than opencv-doc (installed by the project's setup) are not installed: their .deb
is fetched with `apt-get download` and only the listed files are unpacked into the cache.
"""

import argparse
import os
import shutil
import subprocess
import tempfile

import heldout

OPENCV_DOC = "/usr/share/doc/opencv-doc/examples/data"

# (Debian package, path inside it). Chosen by looking at each: no person or vehicle in view.
PHOTOS = [
    ("opencv-doc", OPENCV_DOC + "/building.jpg"),       # office block, lawn, pavement
    ("opencv-doc", OPENCV_DOC + "/graf1.png"),          # graffiti wall
    ("opencv-doc", OPENCV_DOC + "/graf3.png"),          # the same wall, another view
    ("opencv-doc", OPENCV_DOC + "/home.jpg"),           # palace facade, sky
    ("opencv-doc", OPENCV_DOC + "/aero1.jpg"),          # a town from the air
    ("opencv-doc", OPENCV_DOC + "/aero3.jpg"),
    ("opencv-doc", OPENCV_DOC + "/stuff.jpg"),          # things on a table
    ("opencv-doc", OPENCV_DOC + "/box_in_scene.png"),   # boxes and books in a room (grey)
    ("opencv-doc", OPENCV_DOC + "/left.jpg"),           # books on a floor
    ("opencv-doc", OPENCV_DOC + "/right.jpg"),
    ("opencv-doc", OPENCV_DOC + "/blox.jpg"),           # blocks (grey)
    ("opencv-doc", OPENCV_DOC + "/aloeL.jpg"),          # a pot plant against cloth
    ("opencv-doc", OPENCV_DOC + "/fruits.jpg"),
    ("opencv-doc", OPENCV_DOC + "/squirrel_cls.jpg"),   # a squirrel on a branch
    ("python3-skimage", "/usr/lib/python3/dist-packages/skimage/data/brick.png"),
    ("python3-skimage", "/usr/lib/python3/dist-packages/skimage/data/gravel.png"),
    ("python3-skimage", "/usr/lib/python3/dist-packages/skimage/data/grass.png"),
    ("python3-skimage", "/usr/lib/python3/dist-packages/skimage/data/text.png"),  # chalk on a wall
    ("python3-skimage", "/usr/lib/python3/dist-packages/skimage/data/coffee.png"),
    ("python3-skimage", "/usr/lib/python3/dist-packages/skimage/data/rocket.jpg"),  # launch pad at dusk
    ("python3-sklearn", "/usr/lib/python3/dist-packages/sklearn/datasets/images/china.jpg"),  # pagoda, trees
    ("python3-sklearn", "/usr/lib/python3/dist-packages/sklearn/datasets/images/flower.jpg"),
    ("mate-backgrounds", "/usr/share/backgrounds/mate/nature/Dune.jpg"),
    ("mate-backgrounds", "/usr/share/backgrounds/mate/nature/Wood.jpg"),
    ("mate-backgrounds", "/usr/share/backgrounds/mate/nature/Storm.jpg"),  # a road under cloud
    ("mate-backgrounds", "/usr/share/backgrounds/mate/nature/GreenMeadow.jpg"),
    ("mate-backgrounds", "/usr/share/backgrounds/mate/nature/Garden.jpg"),
    ("mate-backgrounds", "/usr/share/backgrounds/mate/nature/Blinds.jpg"),
]


def ensure(cache):
    """The photographs' local paths, fetching and unpacking missing packages into cache once."""
    out = []
    missing = {}
    for pkg, path in PHOTOS:
        if not heldout.usable(path):
            raise SystemExit(f"photos.py: {path} is held out for evaluation (heldout.py)")
        local = path if pkg == "opencv-doc" else os.path.join(cache, pkg, path.lstrip("/"))
        out.append(local)
        if not os.path.exists(local):
            if pkg == "opencv-doc":
                raise SystemExit(f"photos.py: {path} is missing (Debian package opencv-doc; run make setup)")
            missing.setdefault(pkg, []).append(path)
    for pkg, paths in missing.items():
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run(["apt-get", "download", pkg], cwd=tmp, capture_output=True, text=True)
            debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
            if r.returncode != 0 or not debs:
                raise SystemExit(f"photos.py: apt-get download {pkg} failed: {r.stderr.strip()[-300:]}")
            unpack = os.path.join(tmp, "x")
            subprocess.run(["dpkg-deb", "-x", os.path.join(tmp, debs[0]), unpack], check=True)
            for path in paths:
                src = os.path.join(unpack, path.lstrip("/"))
                if not os.path.exists(src):
                    raise SystemExit(f"photos.py: {pkg} has no {path}")
                dst = os.path.join(cache, pkg, path.lstrip("/"))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(src, dst)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/streetwatch/photos"))
    for path in ensure(ap.parse_args().cache):
        print(path)


if __name__ == "__main__":
    main()
