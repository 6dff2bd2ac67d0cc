"""Rendered datasets: deterministic chunks rendered in parallel, letterboxed batches with light augmentation."""

import multiprocessing as mp
import os

import cv2
import numpy as np

import render

CHUNK = 40  # samples per deterministic chunk; 2 per street


_PHOTOS = []  # real photographs (RGB) for the workers, set by render_set before they fork


def _chunk(args):
    seed, index, n, width, real, negative = args
    rng = np.random.default_rng([seed, index])
    out = []
    while len(out) < n:
        height = int(width * (9 / 16 if rng.random() < 0.7 else 3 / 4))
        photo, u = None, 1.0
        if _PHOTOS:  # no draw without photos: the rendered-only sets stay as they were
            photo, u = _PHOTOS[rng.integers(len(_PHOTOS))], rng.random()
        if photo is not None and u < negative:
            out.append(render.photo_negative(rng, photo, width, height))
        elif photo is not None and u < negative + real:
            out.extend(render.render_samples(rng, 2, width, height, min_px=15, photo=photo))
        else:
            out.extend(render.render_samples(rng, 2, width, height, min_px=15))
    return out[:n]


def render_set(seed, n, width=480, workers=2, cache=None, photos=(), real=0.3, negative=0.05):
    """n (image, boxes) pairs; the same seed always gives the same set, whatever the worker count.
    With photos (paths of real photographs), a share `real` of the streets are drawn on a crop of
    one of them and a share `negative` of the draws are a bare crop with no object (a hard
    negative)."""
    global _PHOTOS
    tag = f"_real{len(photos)}_{real}_{negative}" if photos else ""
    if cache:
        path = os.path.join(cache, f"set_{seed}_{n}_{width}{tag}.npz")
        if os.path.exists(path):
            z = np.load(path, allow_pickle=True)
            return list(z["images"]), list(z["boxes"])
    _PHOTOS = [cv2.cvtColor(_read(p), cv2.COLOR_BGR2RGB) for p in photos]
    jobs = [(seed, i, min(CHUNK, n - i * CHUNK), width, real, negative) for i in range((n + CHUNK - 1) // CHUNK)]
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            chunks = pool.map(_chunk, jobs)
    else:
        chunks = [_chunk(j) for j in jobs]
    images = [s[0] for c in chunks for s in c]
    boxes = [s[1] for c in chunks for s in c]
    if cache:
        os.makedirs(cache, exist_ok=True)
        arr_i, arr_b = np.empty(len(images), object), np.empty(len(boxes), object)
        arr_i[:], arr_b[:] = images, boxes
        np.savez(path, images=arr_i, boxes=arr_b)
    return images, boxes


def _read(path, longest=1280):
    """A photograph, scaled down so its longer side is at most longest pixels."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"{path}: not an image")
    s = longest / max(img.shape[:2])
    return cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else img


def load_yolo(folder, classes, width=480):
    """A YOLO dataset folder (`streetwatch export-dataset`: images/, labels/, data.yaml) as (image,
    boxes) pairs like render_set's: images scaled to width, boxes [class, x1, y1, x2, y2] in pixels.
    Its classes must be the model's, in the same order; an image without a label file, or with an
    empty one, is a background image."""
    names = {}
    with open(os.path.join(folder, "data.yaml")) as f:
        in_names = False
        for line in f:
            if line.startswith("names:"):
                in_names = True
            elif in_names and line.startswith("  ") and ":" in line:
                k, v = line.strip().split(":", 1)
                names[int(k)] = v.strip()
            elif in_names and line.strip():
                in_names = False
    got = [names[i] for i in sorted(names)]
    if got != list(classes):
        raise SystemExit(f"{folder}/data.yaml: classes {got} are not the model's {list(classes)}")
    images, boxes = [], []
    for name in sorted(os.listdir(os.path.join(folder, "images"))):
        stem, ext = os.path.splitext(name)
        if ext.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        img = cv2.imread(os.path.join(folder, "images", name), cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit(f"{folder}/images/{name}: not an image")
        h, w = img.shape[:2]
        s = width / w
        img = cv2.resize(img, (width, int(round(h * s))), interpolation=cv2.INTER_AREA)
        rows = []
        label = os.path.join(folder, "labels", stem + ".txt")
        if os.path.exists(label):
            with open(label) as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    parts = line.split()
                    if len(parts) != 5 or not parts[0].isdigit() or int(parts[0]) >= len(classes):
                        raise SystemExit(f"{label}:{n}: want 'class cx cy w h' with a class below {len(classes)}")
                    c, cx, cy, bw, bh = int(parts[0]), *map(float, parts[1:])
                    H, W = img.shape[:2]
                    rows.append([c, (cx - bw / 2) * W, (cy - bh / 2) * H, (cx + bw / 2) * W, (cy + bh / 2) * H])
        images.append(img)
        boxes.append(np.array(rows, np.float32).reshape(-1, 5))
    return images, boxes


def zoom_crop(rng, img, boxes, min_scale=0.5, keep=0.45):
    """Crop a random window of the image (same aspect) so objects appear larger."""
    h, w = img.shape[:2]
    s = rng.uniform(min_scale, 1.0)
    cw, ch = int(w * s), int(h * s)
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    b = boxes.copy()
    if len(b):
        area = (b[:, 3] - b[:, 1]) * (b[:, 4] - b[:, 2])
        b[:, [1, 3]] = np.clip(b[:, [1, 3]] - x0, 0, cw)
        b[:, [2, 4]] = np.clip(b[:, [2, 4]] - y0, 0, ch)
        kept = (b[:, 3] - b[:, 1]) * (b[:, 4] - b[:, 2]) >= keep * area
        b = b[kept]
    return img[y0:y0 + ch, x0:x0 + cw], b


def make_batch(rng, images, boxes, idx, size=320, augment=True):
    """Letterboxed float batch [B,3,S,S] in [0,1] (RGB) and targets [K,6] = (image, class, x1, y1, x2, y2)."""
    xs = np.empty((len(idx), size, size, 3), np.uint8)
    targets = []
    for j, i in enumerate(idx):
        img, b = images[i], boxes[i]
        if augment and rng.random() < 0.5:
            img, b = zoom_crop(rng, img, b)
        interp = cv2.INTER_AREA if augment and rng.random() < 0.3 else cv2.INTER_LINEAR
        lb, b = render.letterbox(img, b, size, interp)
        if augment and rng.random() < 0.5:
            lb = lb[:, ::-1]
            b = b.copy()
            b[:, [1, 3]] = size - b[:, [3, 1]]
        xs[j] = lb
        b = b[np.minimum(b[:, 3] - b[:, 1], b[:, 4] - b[:, 2]) >= 2]
        targets.append(np.concatenate([np.full((len(b), 1), j, np.float32), b], 1))
    x = np.ascontiguousarray(xs.transpose(0, 3, 1, 2)).astype(np.float32) / 255.0
    return x, np.concatenate(targets, 0) if targets else np.zeros((0, 6), np.float32)
