"""Detection metrics (precision, recall, AP@0.5 per class) and the model manifest writer.

Evaluation runs the exported-layout output ([B, 4+nc, N], cx cy w h + sigmoid scores) exactly as
a consumer of the ONNX file would: per-class NMS, then greedy matching at IoU >= 0.5.
"""

import numpy as np
import torch

import data
from objects import CLASSES


def box_iou(a, b):
    """Pairwise IoU of xyxy boxes: [M,4] x [N,4] -> [M,N]."""
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(1)
    return inter / (area_a[:, None] + area_b[None] - inter + 1e-9)


def nms(boxes, scores, iou=0.6):
    order = scores.argsort(descending=True)
    keep = []
    while order.numel():
        i = order[0]
        keep.append(int(i))
        if order.numel() == 1:
            break
        ious = box_iou(boxes[i:i + 1], boxes[order[1:]])[0]
        order = order[1:][ious < iou]
    return keep


def postprocess(out, conf=0.001, iou=0.6, max_det=100):
    """out: [B, 4+nc, N] -> list of [K, 6] (class, score, x1, y1, x2, y2)."""
    res = []
    for o in out:
        o = o.T
        boxes = torch.cat([o[:, :2] - o[:, 2:4] / 2, o[:, :2] + o[:, 2:4] / 2], 1)
        scores, cls = o[:, 4:].max(1)
        m = scores > conf
        boxes, scores, cls = boxes[m], scores[m], cls[m]
        top = scores.argsort(descending=True)[:1000]
        boxes, scores, cls = boxes[top], scores[top], cls[top]
        dets = []
        for c in cls.unique():
            k = (cls == c).nonzero().flatten()
            for i in nms(boxes[k], scores[k], iou):
                dets.append([float(c), float(scores[k[i]])] + boxes[k[i]].tolist())
        dets.sort(key=lambda d: -d[1])
        res.append(np.array(dets[:max_det], np.float32).reshape(-1, 6))
    return res


@torch.no_grad()
def predict(model, images, boxes, size=320, batch=32):
    """Letterbox each image, run the model in export mode, return (detections, letterboxed gts)."""
    was = model.export
    model.export = True
    model.eval()
    dets, gts = [], []
    for s in range(0, len(images), batch):
        idx = list(range(s, min(len(images), s + batch)))
        x, t = data.make_batch(None, images, boxes, idx, size, augment=False)
        out = model(torch.from_numpy(x))
        dets.extend(postprocess(out))
        for j in range(len(idx)):
            gts.append(t[t[:, 0] == j][:, 1:])
    model.export = was
    return dets, gts


def match(dets, gts, c, thr=0.0):
    """Scores and true-positive flags of class-c detections, and the class-c ground-truth count."""
    scores, tps, n_gt = [], [], 0
    for d, g in zip(dets, gts):
        d = d[(d[:, 0] == c) & (d[:, 1] >= thr)]
        g = g[g[:, 0] == c]
        n_gt += len(g)
        used = np.zeros(len(g), bool)
        ious = box_iou(torch.from_numpy(d[:, 2:]), torch.from_numpy(g[:, 1:])).numpy() if len(d) and len(g) else None
        for k in range(len(d)):
            tp = False
            if ious is not None:
                cand = np.where(~used, ious[k], 0)
                j = int(cand.argmax())
                if cand[j] >= 0.5:
                    used[j] = tp = True
            scores.append(d[k, 1])
            tps.append(tp)
    return np.array(scores), np.array(tps, bool), n_gt


def average_precision(scores, tps, n_gt):
    if n_gt == 0:
        return 0.0
    o = np.argsort(-scores, kind="stable")
    tp = np.cumsum(tps[o])
    fp = np.cumsum(~tps[o])
    rec = tp / n_gt
    prec = tp / np.maximum(tp + fp, 1)
    # COCO-style 101-point interpolated AP.
    mprec = np.concatenate([[0], prec, [0]])
    mrec = np.concatenate([[0], rec, [1]])
    mprec = np.flip(np.maximum.accumulate(np.flip(mprec)))
    xs = np.linspace(0, 1, 101)
    return float(np.mean(mprec[np.searchsorted(mrec, xs, side="left").clip(0, len(mprec) - 1)]))


def pr_at(scores, tps, n_gt, thr):
    m = scores >= thr
    tp = int(tps[m].sum())
    return tp / max(int(m.sum()), 1), tp / max(n_gt, 1)


def choose_thresholds(dets, gts, lo=0.2, hi=0.7):
    """Per-class score threshold maximising F1 on a validation set."""
    out = []
    for c in range(len(CLASSES)):
        s, t, n = match(dets, gts, c)
        best = (0.0, 0.35)
        for thr in np.arange(lo, hi + 1e-6, 0.05):
            p, r = pr_at(s, t, n, thr)
            f1 = 2 * p * r / max(p + r, 1e-9)
            if f1 > best[0] + 1e-6:
                best = (f1, round(float(thr), 2))
        out.append(best[1])
    return out


def metrics(dets, gts, thresholds):
    res = []
    for c, name in enumerate(CLASSES):
        s, t, n = match(dets, gts, c)
        p, r = pr_at(s, t, n, thresholds[c])
        res.append(dict(name=name, ap50=average_precision(s, t, n), precision=p, recall=r, instances=n,
                        threshold=thresholds[c]))
    return res


def write_manifest(path, res, info):
    """The manifest every StreetWatch model ships with (format documented in models/README.md)."""
    lines = [
        "# StreetWatch model manifest (format: models/README.md). Written by models/train/train.py.",
        f"name: {info['name']}",
        f"version: {info['version']}",
        f"file: {info['file']}",
        "layout: yolov8",
        "input:",
        "  name: images",
        f"  width: {info['size']}",
        f"  height: {info['size']}",
        "  format: rgb_float01_nchw",
        "  letterbox: {pad_value: 114, centered: true}",
        "output:",
        "  name: output0",
        f"  shape: [-1, {4 + len(CLASSES)}, {info['anchors']}]",
        "classes:",
    ]
    lines += [f"  - {c}" for c in CLASSES]
    lines += ["thresholds:"]
    lines += [f"  {r['name']}: {r['threshold']:.2f}" for r in res]
    lines += [
        "nms_iou: 0.6",
        "license: Apache-2.0",
        "training_data: >-",
        "  Procedurally rendered street scenes only (models/train/render.py, numpy + OpenCV), seen from",
        "  a pole-mounted camera: day, overcast, dusk and night (with street lamps and IR), sensor noise,",
        "  blur and JPEG artefacts, with unlabelled look-alikes (bins, containers, benches, bicycles,",
        "  parked cars, seated people, shadows, puddles, manhole covers, signs). No real footage.",
    ]
    if info.get("photos"):
        lines[-4] = lines[-4].replace("scenes only", "scenes")
        lines[-1] = lines[-1].replace(" No real footage.", "")
        lines += [
            f"  {info['real']:.0%} of the streets are drawn on a crop of one of {info['photos']} real photographs from",
            "  Debian packages (models/train/photos.py: walls, facades, grass, gravel, rooms; no people or",
            f"  vehicles) and {info['negative']:.0%} of the images are bare crops of them (hard negatives). No real",
            "  street footage: the only real street material offline is held out for evaluation.",
        ]
    lines += [
        f"  {info['train_images']} training images (seed {info['seed']}), trained {info['iters']} iterations.",
        "evaluation:",
        f"  dataset: {info['test_images']} held-out rendered images (seed {info['test_seed']}), letterboxed to {info['size']}",
        "  iou: 0.5",
        f"  map50: {np.mean([r['ap50'] for r in res]):.3f}",
        "  per_class:",
    ]
    for r in res:
        lines.append(f"    {r['name']}: {{ap50: {r['ap50']:.3f}, precision: {r['precision']:.3f}, "
                     f"recall: {r['recall']:.3f}, instances: {r['instances']}}}")
    lines += [
        "notes: >-",
        "  Demo model: trained on rendered scenes to demonstrate and test the StreetWatch pipeline.",
        "  Its numbers are measured on rendered images and say nothing about real cameras; real",
        "  deployments need a model trained on real footage.",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
