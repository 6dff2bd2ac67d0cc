// Package pipeline wires the stages for every configured camera, following
// the data: ingest (RTSP) → sample → decode → the bounded frame queue →
// the consumer (detection, from the detectors stage on).
//
// Each camera is supervised on its own: a camera that fails reconnects
// without touching the others. Ingest never waits for decoding: access units
// go through a bounded per-camera queue, and a decoder that falls behind
// skips to the next keyframe (counted as dropped frames).
package pipeline
