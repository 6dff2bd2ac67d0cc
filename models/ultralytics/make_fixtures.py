#!/usr/bin/python3
"""Genuine Ultralytics ONNX exports, with Ultralytics' own predictions, as detector test fixtures.

A development tool, not part of StreetWatch: `make ultralytics-fixtures` runs it (about 20 minutes
on 2 CPU cores) and rewrites testdata/ultralytics/. It

1. extracts Ultralytics at a pinned commit from a git mirror (nothing is installed or vendored:
   the source is put on sys.path for this run, with Debian's python3-torch 1.13);
2. renders a small dataset of the five StreetWatch classes with models/train/render.py;
3. builds tiny YOLOv8 and YOLO26 models from the stock YAMLs with a scaled-down width
   (a few hundred KB of weights each) and trains each for a few minutes on CPU;
4. exports each with Ultralytics' own exporter in the forms a user meets (fixed batch 1 and N,
   dynamic batch, nms=True for 1 and for 8 images, imgsz 320 and 640);
5. renders one fixed frame and stores what Ultralytics itself predicts on it with the trained
   weights (square letterbox, as StreetWatch letterboxes), per export form.

detectors/ultralytics_test.go runs every export through StreetWatch's detector stage and checks
the boxes against these predictions.

    /usr/bin/python3 models/ultralytics/make_fixtures.py \
        [--git /work/.mirror/3dEYE+ultralytics/repo] [--work /tmp/streetwatch-ultralytics-work]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")  # never reach for the network (hub, fonts, updates)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
import objects as ob  # noqa: E402
import render  # noqa: E402

COMMIT = "dfbb343547070756b68b156f4471acd1f7e01b7e"  # ultralytics 8.4.33
# depth, width, max channels: the 'n' models shrunk. YOLO26's attention block (C2PSA) needs 128
# channels at its deepest stage, hence its wider scale.
SCALES = {"v8": [0.33, 0.125, 256], "y26": [0.33, 0.125, 1024]}
FRAME_W, FRAME_H = 640, 360
TRAIN_N, VAL_N, SEED = 480, 48, 7
EPOCHS = {"v8": 40, "y26": 30}
IOU = 0.7  # Ultralytics' predict default
MIN_PREDICTIONS = 3

# name: (base model, export arguments, imgsz)
FORMS = {
    "v8-b1": ("v8", {}, 320),
    "v8-b4": ("v8", {"batch": 4}, 320),
    "v8-dynamic": ("v8", {"dynamic": True}, 320),
    "v8-nms-b1": ("v8", {"nms": True}, 320),
    "v8-nms-dynamic-b1": ("v8", {"nms": True, "dynamic": True}, 320),
    "v8-nms-dynamic-b8": ("v8", {"nms": True, "dynamic": True, "batch": 8}, 320),
    "v8-b1-640": ("v8", {}, 640),
    "y26-b1": ("y26", {}, 320),
    "y26-dynamic": ("y26", {"dynamic": True}, 320),
}
YAMLS = {"v8": "v8/yolov8.yaml", "y26": "26/yolo26.yaml"}


def extract(git_dir, work):
    src = os.path.join(work, "src")
    if not os.path.exists(os.path.join(src, "ultralytics", "__init__.py")):
        os.makedirs(src, exist_ok=True)
        archive = subprocess.run(["git", f"--git-dir={git_dir}", "archive", COMMIT], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", src], input=archive.stdout, check=True)
    sys.path.insert(0, src)
    return src


def write_dataset(work):
    """A YOLO dataset of rendered street scenes; the same seed always gives the same files."""
    root = os.path.join(work, "dataset")
    yaml_path = os.path.join(root, "data.yaml")
    if os.path.exists(yaml_path):
        return yaml_path
    rng = np.random.default_rng(SEED)
    for split, n in (("train", TRAIN_N), ("val", VAL_N)):
        os.makedirs(os.path.join(root, "images", split), exist_ok=True)
        os.makedirs(os.path.join(root, "labels", split), exist_ok=True)
        i = 0
        while i < n:
            for img, boxes in render.render_samples(rng, 4, FRAME_W, FRAME_H):
                if i >= n:
                    break
                name = f"{split}{i:04d}"
                cv2.imwrite(os.path.join(root, "images", split, name + ".jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                with open(os.path.join(root, "labels", split, name + ".txt"), "w") as f:
                    for c, x1, y1, x2, y2 in boxes:
                        f.write(f"{int(c)} {(x1 + x2) / 2 / FRAME_W:.6f} {(y1 + y2) / 2 / FRAME_H:.6f} "
                                f"{(x2 - x1) / FRAME_W:.6f} {(y2 - y1) / FRAME_H:.6f}\n")
                i += 1
    with open(yaml_path, "w") as f:
        f.write(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n")
        for i, n in enumerate(ob.CLASSES):
            f.write(f"  {i}: {n}\n")
    return yaml_path


def model_yaml(src, work, base):
    """The stock YAML with one extra scale, 'sw', so the model is a few hundred KB."""
    import yaml

    with open(os.path.join(src, "ultralytics", "cfg", "models", YAMLS[base])) as f:
        cfg = yaml.safe_load(f)
    cfg["nc"] = len(ob.CLASSES)
    cfg["scales"] = {"sw": SCALES[base]}
    cfg["reg_max"] = min(cfg.get("reg_max", 16), 4)  # fewer DFL bins: YOLOv8's box branch is most of a tiny model
    stock = os.path.basename(YAMLS[base]).replace(".yaml", "")
    path = os.path.join(work, f"{stock}-sw.yaml")  # '-sw' picks the scale, as 'n' in yolov8n.yaml
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    return path


def train(src, work, data, base):
    from ultralytics import YOLO
    from ultralytics.engine.trainer import BaseTrainer

    # The checkpoint's training log is read with polars, which Debian does not package; the
    # weights do not need it.
    BaseTrainer.read_results_csv = lambda self: {}

    best = os.path.join(work, "runs", base, "weights", "best.pt")
    if os.path.exists(best):
        return best
    model = YOLO(model_yaml(src, work, base))
    model.train(data=data, epochs=EPOCHS[base], imgsz=320, batch=16, workers=0, device="cpu", seed=0,
                deterministic=True, amp=False, plots=False, project=os.path.join(work, "runs"), name=base,
                exist_ok=True, verbose=False, patience=0, close_mosaic=5)
    return best


def render_frame():
    """A fixed rendered frame with several objects (the test's input)."""
    for seed in range(19, 200):
        rng = np.random.default_rng(seed)
        img, boxes = render.render_sample(rng, FRAME_W, FRAME_H)
        if len(boxes) >= 5 and len({int(b[0]) for b in boxes}) >= 3:
            return seed, cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    raise SystemExit("no frame with enough objects")


def predict(pt, frame, imgsz, conf):
    from ultralytics import YOLO

    r = YOLO(pt).predict(frame, imgsz=imgsz, conf=conf, iou=IOU, rect=False, device="cpu", verbose=False)[0]
    out = []
    for c, s, xyxy in zip(r.boxes.cls.tolist(), r.boxes.conf.tolist(), r.boxes.xyxy.tolist()):
        out.append({"cls": int(c), "name": r.names[int(c)], "conf": round(s, 5), "xyxy": [round(v, 2) for v in xyxy]})
    return out


def pick_conf(pt, frame, imgsz):
    """The highest of a few thresholds that leaves enough boxes to prove something."""
    for conf in (0.25, 0.15, 0.1, 0.05, 0.03, 0.01):
        preds = predict(pt, frame, imgsz, conf)
        if len(preds) >= MIN_PREDICTIONS:
            return conf, preds
    raise SystemExit(f"{pt} at {imgsz}: fewer than {MIN_PREDICTIONS} boxes even at conf 0.01; train longer")


def describe(path):
    import onnx

    m = onnx.load(path)

    def dims(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    return {
        "inputs": {v.name: dims(v) for v in m.graph.input},
        "outputs": {v.name: dims(v) for v in m.graph.output},
        "opset": max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
        "ir_version": m.ir_version,
        "metadata": {p.key: p.value for p in m.metadata_props},
        "kb": round(os.path.getsize(path) / 1024, 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--git", default="/work/.mirror/3dEYE+ultralytics/repo", help="a git dir holding the pinned commit")
    ap.add_argument("--work", default="/tmp/streetwatch-ultralytics-work")
    ap.add_argument("--out", default=os.path.join(ROOT, "testdata", "ultralytics"))
    ap.add_argument("--epochs", type=int, help="override the epochs (a quick try of the tool)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the result is the same for any count)")
    args = ap.parse_args()
    if args.epochs:
        EPOCHS.update({base: args.epochs for base in EPOCHS})

    started = time.time()
    src = extract(args.git, args.work)
    import torch

    torch.set_num_threads(args.threads)
    import ultralytics

    data = write_dataset(args.work)
    weights = {base: train(src, args.work, data, base) for base in YAMLS}
    frame_seed, frame = render_frame()
    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.out):
        if f.endswith(".onnx"):
            os.remove(os.path.join(args.out, f))
    cv2.imwrite(os.path.join(args.out, "frame.png"), frame)

    from ultralytics import YOLO

    confs, preds = {}, {}
    predictions = {
        "frame": "frame.png", "frame_render_seed": frame_seed, "frame_shape_hw": [FRAME_H, FRAME_W],
        "letterbox": "square imgsz x imgsz, centred, pad 114, cv2.INTER_LINEAR (Ultralytics LetterBox auto=False via predict(rect=False))",
        "predicted_with": "Ultralytics YOLO(<trained .pt>).predict(frame, imgsz, conf, iou, rect=False)",
        "torch": torch.__version__, "ultralytics_commit": COMMIT, "ultralytics_version": ultralytics.__version__,
        "models": {},
    }
    fixtures = {"files": {}}
    for name, (base, extra, imgsz) in FORMS.items():
        key = (base, imgsz)
        if key not in confs:
            confs[key], preds[key] = pick_conf(weights[base], frame, imgsz)
        conf = confs[key]
        export_args = {"format": "onnx", "simplify": False, "device": "cpu", "imgsz": imgsz, **extra}
        if extra.get("nms"):
            export_args.update(conf=conf, iou=IOU)  # NMS in the graph: its thresholds are baked in
        exported = YOLO(weights[base]).export(**export_args)
        dst = os.path.join(args.out, name + ".onnx")
        shutil.copyfile(exported, dst)
        end2end = base == "y26" or bool(extra.get("nms"))
        predictions["models"][name] = {
            "file": name + ".onnx", "imgsz": [imgsz, imgsz], "conf": conf, "iou": IOU,
            "end2end": end2end, "nms_in_graph": bool(extra.get("nms")), "max_det": 300, "predictions": preds[key],
        }
        fixtures["files"][name] = {
            "export_args": export_args,
            "exporter_args": {"conf": export_args.get("conf"), "iou": IOU, "max_det": 300, "agnostic_nms": False},
            **describe(dst),
        }
        print(f"{name}: {fixtures['files'][name]['kb']} KB, conf {conf}, {len(preds[key])} predictions", flush=True)
    with open(os.path.join(args.out, "predictions.json"), "w") as f:
        json.dump(predictions, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(args.out, "fixtures.json"), "w") as f:
        json.dump(fixtures, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"done in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
