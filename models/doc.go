// Package models holds StreetWatch's model files: ONNX detectors and the YAML manifests that
// describe them (format: README.md). models/train/ reproduces the demo model. The package has
// no code of its own; its tests prove the committed model and manifest follow the conventions
// the detector stage relies on. It must never download weights.
package models
