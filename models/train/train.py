"""Render data, train the StreetWatch demo detector, evaluate it, export ONNX and write its manifest.

    python3 models/train/train.py --out models/            # what `make model` runs (~30 min, 2 CPU cores)
    python3 models/train/train.py --out /tmp/m --init /tmp/streetwatch-demo.pt --iters 600 --version 0.2.0 \
        --extra dataset/                                    # fine-tune with reviewed real cases (export-dataset)

With --photos DIR (make model-realbg), real photographs from Debian packages go under 30% of the
rendered streets and 6% of the images are bare photographs (photos.py; never the evaluation
footage, heldout.py): the candidate measured in models/README.md, not the committed model.

Deterministic given --seed (data, initial weights, batch order). Needs Debian's python3-torch,
python3-numpy, python3-opencv and python3-onnx; nothing is downloaded.
"""

import os
import sys

try:
    import torch
except ImportError:  # `python3` may be a pyenv/venv interpreter without Debian's packages
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

import argparse
import copy
import math
import time

import cv2
import numpy as np
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep models/train free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import data  # noqa: E402
import evaluate  # noqa: E402
import photos  # noqa: E402
import render  # noqa: E402
from evaluate import box_iou  # noqa: E402
from model import Detector  # noqa: E402
from objects import CLASSES  # noqa: E402

NAME = "streetwatch-demo"


def giou(a, b):
    lt, rb = torch.max(a[:, :2], b[:, :2]), torch.min(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    union = (a[:, 2:] - a[:, :2]).prod(1) + (b[:, 2:] - b[:, :2]).prod(1) - inter
    iou = inter / (union + 1e-7)
    hull = (torch.max(a[:, 2:], b[:, 2:]) - torch.min(a[:, :2], b[:, :2])).prod(1)
    return iou - (hull - union) / (hull + 1e-7)


@torch.no_grad()
def assign(scores, boxes, anchors, gt, topk=10, alpha=0.5, beta=6.0):
    """Task-aligned assignment (as in YOLOv8/TOOD) for one image.

    scores [N,nc] sigmoid, boxes [N,4] xyxy predictions, anchors [N,2], gt [M,5] (class, xyxy).
    Returns target scores [N,nc], target boxes [N,4] and the foreground mask [N].
    """
    N, nc = scores.shape
    tscore = torch.zeros(N, nc)
    tbox = torch.zeros(N, 4)
    if len(gt) == 0:
        return tscore, tbox, torch.zeros(N, dtype=torch.bool)
    cls, gb = gt[:, 0].long(), gt[:, 1:]
    inside = ((anchors[None, :, 0] > gb[:, None, 0]) & (anchors[None, :, 0] < gb[:, None, 2]) &
              (anchors[None, :, 1] > gb[:, None, 1]) & (anchors[None, :, 1] < gb[:, None, 3]))
    # Boxes too small to contain a grid point get the nearest one.
    empty = ~inside.any(1)
    if empty.any():
        ctr = (gb[empty, :2] + gb[empty, 2:]) / 2
        near = torch.cdist(ctr, anchors).argmin(1)
        inside[empty.nonzero().flatten(), near] = True
    ious = box_iou(gb, boxes).clamp(min=0)
    metric = scores[:, cls].T.pow(alpha) * ious.pow(beta) * inside
    top = (metric + inside * 1e-9).topk(min(topk, N), dim=1).indices
    pos = torch.zeros_like(inside)
    pos.scatter_(1, top, True)
    pos &= inside
    multi = pos.sum(0) > 1
    if multi.any():  # an anchor claimed by several boxes goes to the one it overlaps most
        best = (ious * pos).argmax(0)
        pos[:, multi] = False
        pos[best[multi], multi.nonzero().flatten()] = True
    fg = pos.any(0)
    gi = pos.float().argmax(0)
    am = metric * pos
    norm = (am * (ious * pos).amax(1, keepdim=True) / (am.amax(1, keepdim=True) + 1e-9)).amax(0)
    tscore[fg, cls[gi[fg]]] = norm[fg]
    tbox[fg] = gb[gi[fg]]
    return tscore, tbox, fg


def loss_fn(model, cls_logits, boxes, targets):
    B = cls_logits.shape[0]
    anchors = model.anchors.T
    scores = cls_logits.detach().sigmoid()
    ts, tb, fg = [], [], []
    for b in range(B):
        g = targets[targets[:, 0] == b][:, 1:]
        s, t, f = assign(scores[b], boxes[b].detach(), anchors, g)
        ts.append(s)
        tb.append(t)
        fg.append(f)
    ts, tb, fg = torch.stack(ts), torch.stack(tb), torch.stack(fg)
    norm = ts.sum().clamp(min=1.0)
    l_cls = F.binary_cross_entropy_with_logits(cls_logits, ts, reduction="sum") / norm
    if fg.any():
        w = ts.sum(-1)[fg]
        l_box = ((1 - giou(boxes[fg], tb[fg])) * w).sum() / norm
    else:
        l_box = boxes.sum() * 0
    return l_cls + 6.0 * l_box, l_cls.item(), l_box.item()


def train(model, images, boxes, args, log):
    rng = np.random.default_rng(args.seed)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.02}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.999))
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    warm = min(300, args.iters // 10)
    order = np.array([], int)
    t0 = time.time()
    for it in range(args.iters):
        lr = args.lr * (it + 1) / warm if it < warm else \
            args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (it - warm) / max(1, args.iters - warm))))
        for g in opt.param_groups:
            g["lr"] = lr
        if len(order) < args.batch:
            order = np.concatenate([order, rng.permutation(len(images))])
        idx, order = order[:args.batch], order[args.batch:]
        x, t = data.make_batch(rng, images, boxes, idx)
        model.train()
        cls_logits, pred = model(torch.from_numpy(x))
        loss, lc, lb = loss_fn(model, cls_logits, pred, torch.from_numpy(t))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        d = 0.999 * (1 - math.exp(-(it + 1) / 200))
        with torch.no_grad():
            msd = model.state_dict()
            for k, v in ema.state_dict().items():
                if v.dtype.is_floating_point:
                    v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
                else:
                    v.copy_(msd[k])
        if it % 25 == 0 or it == args.iters - 1:
            el = time.time() - t0
            log(f"iter {it}/{args.iters} loss {loss.item():.3f} cls {lc:.3f} box {lb:.3f} lr {lr:.5f} "
                f"{el / 60:.1f} min, eta {el / (it + 1) * (args.iters - it - 1) / 60:.1f} min")
    return ema


def export(model, path, size):
    m = copy.deepcopy(model).eval()
    m.export = True
    torch.onnx.export(m, torch.zeros(1, 3, size, size), path, input_names=["images"], output_names=["output0"],
                      opset_version=13, dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}},
                      do_constant_folding=True)
    import onnx
    mo = onnx.load(path)
    # Tracing leaves the output's non-batch dims symbolic; state them so consumers can read the layout.
    dims = mo.graph.output[0].type.tensor_type.shape.dim
    for d, v in zip(dims[1:], (4 + m.nc, int(m.anchors.shape[1]))):
        d.Clear()
        d.dim_value = v
    onnx.checker.check_model(mo)
    mo.metadata_props.add(key="names", value=str({i: c for i, c in enumerate(CLASSES)}))
    mo.metadata_props.add(key="imgsz", value=f"[{size}, {size}]")
    mo.metadata_props.add(key="description", value="StreetWatch demo detector (rendered data only)")
    onnx.save(mo, path)


def figures(model, images, boxes, outdir, picks):
    """Annotated predictions on a few held-out images (small JPEGs for the README)."""
    os.makedirs(outdir, exist_ok=True)
    dets, _ = evaluate.predict(model, [images[i] for i in picks], [boxes[i] for i in picks])
    thr = 0.35
    for n, (i, d) in enumerate(zip(picks, dets)):
        img = images[i]
        h, w = img.shape[:2]
        s = 320 / max(w, h)
        px, py = (320 - round(w * s)) // 2, (320 - round(h * s)) // 2
        d = d[d[:, 1] >= thr]
        b = np.concatenate([d[:, :1], (d[:, 2:] - [px, py, px, py]) / s], 1)
        big = cv2.resize(img, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC)
        b[:, 1:] *= 2
        out = render.annotate(big, b, d[:, 1])
        cv2.imwrite(os.path.join(outdir, f"sample-{n + 1}.jpg"), cv2.cvtColor(out, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 80])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models/")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-images", type=int, default=6000)
    ap.add_argument("--val-images", type=int, default=300)
    ap.add_argument("--test-images", type=int, default=600)
    ap.add_argument("--iters", type=int, default=2600)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="", help="folder to cache rendered sets between runs")
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--photos", default="", metavar="DIR",
                    help="draw some streets on real photographs (photos.py), fetched and unpacked into DIR "
                         "(make model-realbg); default: renders only, as the committed demo model")
    ap.add_argument("--real", type=float, default=0.3, help="share of training streets drawn on a real photograph")
    ap.add_argument("--negative", type=float, default=0.06,
                    help="share of training images that are a bare real photograph (hard negative)")
    ap.add_argument("--extra", action="append", default=[], metavar="DIR",
                    help="a YOLO dataset of real cases (`streetwatch export-dataset`) added to the training images; repeatable")
    ap.add_argument("--extra-repeat", type=int, default=4, help="times each extra image is in the training set")
    ap.add_argument("--init", default="", metavar="PT",
                    help="weights to start from (a state dict this script saved): fine-tune rather than train from scratch")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()

    def log(msg):
        print(f"[{(time.time() - t_start) / 60:5.1f} min] {msg}", flush=True)

    real_photos = photos.ensure(args.photos) if args.photos else []
    log(f"rendering {args.train_images} training images (seed {args.seed}; {len(real_photos)} real photographs: "
        f"{args.real:.0%} of streets on one, {args.negative:.0%} bare as hard negatives)")
    images, boxes = data.render_set(args.seed, args.train_images, workers=args.threads, cache=args.cache,
                                    photos=real_photos, real=args.real, negative=args.negative)
    for folder in args.extra:
        ex_images, ex_boxes = data.load_yolo(folder, CLASSES)
        n_bg = sum(1 for b in ex_boxes if len(b) == 0)
        log(f"extra {folder}: {len(ex_images)} images ({n_bg} background), each used {args.extra_repeat}x")
        images, boxes = images + ex_images * args.extra_repeat, boxes + ex_boxes * args.extra_repeat
    counts = np.bincount(np.concatenate([b[:, 0] for b in boxes]).astype(int), minlength=len(CLASSES))
    log("training instances: " + ", ".join(f"{c} {n}" for c, n in zip(CLASSES, counts)))
    val = data.render_set(args.seed + 1000, args.val_images, workers=args.threads, cache=args.cache)
    test = data.render_set(args.seed + 2000, args.test_images, workers=args.threads, cache=args.cache)

    model = Detector(len(CLASSES))
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location="cpu"))
        log(f"starting from {args.init}")
    ema = train(model, images, boxes, args, log)
    t_train = time.time() - t_start
    log("evaluating")
    thresholds = evaluate.choose_thresholds(*evaluate.predict(ema, *val))
    res = evaluate.metrics(*evaluate.predict(ema, *test), thresholds)
    for r in res:
        log(f"{r['name']:14s} AP50 {r['ap50']:.3f} P {r['precision']:.3f} R {r['recall']:.3f} "
            f"thr {r['threshold']:.2f} n {r['instances']}")
    onnx_path = os.path.join(args.out, NAME + ".onnx")
    export(ema, onnx_path, ema.size)
    write_info = dict(name=NAME, version=args.version, file=NAME + ".onnx", size=ema.size,
                      anchors=int(ema.anchors.shape[1]), train_images=args.train_images, seed=args.seed,
                      iters=args.iters, test_images=args.test_images, test_seed=args.seed + 2000,
                      photos=len(real_photos), real=args.real, negative=args.negative)
    evaluate.write_manifest(os.path.join(args.out, NAME + ".yaml"), res, write_info)
    pt = os.path.join(args.cache or "/tmp", NAME + ".pt")
    torch.save(ema.state_dict(), pt)
    log(f"weights in {pt} (--init to fine-tune from them)")
    figures(ema, *test, os.path.join(args.out, "figures"), picks=_figure_picks(test))
    log(f"wrote {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.2f} MB); training took {t_train / 60:.1f} min")


def _figure_picks(test):
    """Two busy held-out images with at least three classes: one in daylight, one darker."""
    imgs, bxs = test
    busy = [i for i in range(len(imgs)) if len(np.unique(bxs[i][:, 0])) >= 3] or [0, 1]
    day = min(busy, key=lambda i: abs(imgs[i].mean() - 125))
    dark = min([i for i in busy if i != day], key=lambda i: abs(imgs[i].mean() - 60))
    return [day, dark]


if __name__ == "__main__":
    main()
