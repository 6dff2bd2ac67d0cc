// Package detectors turns sampled frames into detections with ONNX models:
// ONNX Runtime sessions, model manifests, letterbox pre-processing, YOLO
// output decoding (yolov8, yolov5, end2end), NMS, per-class thresholds,
// false-positive filters and masks, and the batcher that gathers frames
// from all cameras into one inference per batch.
//
// It must never block the stages before it (frames come from a bounded,
// drop-oldest queue) and never allocate large buffers per frame: input and
// output tensors are allocated once per batch size and reused.
package detectors
