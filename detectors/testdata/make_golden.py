#!/usr/bin/env python3
"""Writes tiny ONNX models whose output is a known constant, one per output
layout, for the golden decoding tests (detectors/decode_test.go).

Each model takes `images` [B, 3, 192, 320] and returns the same boxes for
every image of the batch, in model-input pixels. Run from the repo root:
  /usr/bin/python3 detectors/testdata/make_golden.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

H, W = 192, 320
CLASSES = ["person", "vehicle", "garbage_bag"]
# (cx, cy, w, h, class, score) in model-input pixels.
BOXES = [
    (160.0, 96.0, 64.0, 32.0, 0, 0.90),
    (40.0, 60.0, 20.0, 40.0, 1, 0.80),
    (300.0, 170.0, 30.0, 30.0, 2, 0.70),
    (161.0, 97.0, 62.0, 30.0, 0, 0.60),  # overlaps the first: NMS removes it
    (100.0, 100.0, 10.0, 10.0, 1, 0.10),  # below every threshold
]
HERE = os.path.dirname(os.path.abspath(__file__))


def constant_model(name, const, batch="batch", liar=False, metadata=None):
    """images -> Expand(const, [B] + const.shape[1:]). An int batch fixes
    the batch axis (an export without a dynamic batch). A liar declares a
    dynamic batch but reshapes its output to batch 1, as a broken export
    might: it runs one image and fails on two."""
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, H, W])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch] + list(const.shape[1:]))
    nodes = [
        helper.make_node("Shape", ["images"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
        helper.make_node("Concat", ["batch", "rest"], ["target"], axis=0),
        helper.make_node("Expand", ["const", "target"], ["expanded" if liar else "output0"]),
    ]
    if liar:
        nodes.append(helper.make_node("Reshape", ["expanded", "one_shape"], ["output0"]))
    inits = [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        numpy_helper.from_array(np.array(const.shape[1:], dtype=np.int64), "rest"),
        numpy_helper.from_array(const.astype(np.float32), "const"),
    ]
    if liar:
        inits.append(numpy_helper.from_array(np.array([1] + list(const.shape[1:]), dtype=np.int64), "one_shape"))
    graph = helper.make_graph(nodes, name, [images], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        p = model.metadata_props.add()
        p.key, p.value = k, str(v)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name + ".onnx"))


def main():
    nc = len(CLASSES)
    # yolov8: [1, 4+nc, N], attribute-major, per-class scores.
    v8 = np.zeros((1, 4 + nc, len(BOXES)), dtype=np.float32)
    # yolov5: [1, N, 5+nc]: objectness × class score = score.
    v5 = np.zeros((1, len(BOXES), 5 + nc), dtype=np.float32)
    # end2end: [1, N, 6]: x1, y1, x2, y2, score, class.
    e2e = np.zeros((1, len(BOXES), 6), dtype=np.float32)
    for i, (cx, cy, w, h, c, s) in enumerate(BOXES):
        v8[0, 0:4, i] = (cx, cy, w, h)
        v8[0, 4 + c, i] = s
        v5[0, i, 0:5] = (cx, cy, w, h, 0.5)
        v5[0, i, 5 + c] = s / 0.5
        e2e[0, i] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, s, c)
    constant_model("golden_yolov8", v8)
    constant_model("golden_yolov5", v5)
    constant_model("golden_end2end", e2e)
    # A yolov8-like output with the wrong number of attributes for 3 classes.
    constant_model("golden_badshape", np.zeros((1, 6, 10), dtype=np.float32))
    # The yolov8 output from a model exported with a fixed batch of 1: it
    # runs one frame at a time.
    constant_model("golden_batch1", v8, batch=1)
    # A broken export: it says its batch is dynamic, loads (the warm-up
    # runs one image) and fails on every larger batch.
    constant_model("golden_liar", v8, liar=True)
    # The yolov8 constants with the metadata an Ultralytics export writes
    # (values are Python's str() of each): class names among them.
    # A one-class export with NMS in the graph: [1, N, 6] fits both the
    # end2end and the yolov5 layout (5 + 1 columns); the metadata says
    # which.
    person = e2e[:, [i for i, b in enumerate(BOXES) if b[4] == 0]]
    constant_model("golden_oneclass_nms", person, metadata={
        "author": "Ultralytics", "task": "detect", "batch": 1, "imgsz": [H, W], "names": {0: "person"},
        "args": {"batch": 1, "dynamic": False, "nms": True}, "end2end": False,
    })
    constant_model("golden_ultralytics", v8, metadata={
        "description": "Ultralytics YOLOv8n model trained on streets.yaml",
        "author": "Ultralytics",
        "version": "8.4.33",
        "stride": 32,
        "task": "detect",
        "batch": 1,
        "imgsz": [H, W],
        "names": dict(enumerate(CLASSES)),
        "args": {"batch": 1, "dynamic": True, "half": False, "opset": None, "simplify": False, "nms": False},
        "channels": 3,
        "end2end": False,
    })


if __name__ == "__main__":
    main()
