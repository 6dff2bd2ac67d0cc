// Package evidence turns a confirmed violation into evidence a reviewer,
// and later a court, can trust: a clip cut from the camera's own stream
// (no re-encoding), the best frame as an untouched and an annotated JPEG,
// and a manifest with the SHA-256 of every file, optionally signed.
//
// The pieces:
//
//   - ClipSource is a camera's recent video, GOP-aligned, as the recorder
//     cuts clips from it; pipeline/history keeps it, fed by ingest.
//   - WriteMP4 muxes a range of access units to a faststart MP4.
//   - Store is where evidence lives: a local directory or S3/MinIO.
//   - Uploader puts bundles into a Store through a local spool, so a store
//     outage or a crash loses nothing.
//   - Retention deletes old evidence unless its ticket says to keep it.
//   - Recorder ties them together for each violation event.
package evidence
