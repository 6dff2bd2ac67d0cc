// Package pipeline wires the stages for every configured camera, following
// the data: ingest (RTSP) → sample → decode → the bounded frame queue →
// detection → confirmation (tracker and rules; on station cameras also
// visits) → evidence (history, clip, snapshots, manifest, spool, upload)
// → tickets (dispatch), or, for a station visit, the visits table.
//
// Each camera is supervised on its own: a camera that fails reconnects
// without touching the others. Ingest never waits for decoding: access units
// go through a bounded per-camera queue, and a decoder that falls behind
// skips to the next keyframe (counted as dropped frames).
//
// # Lifecycle of a stage
//
// Every stage has the same shape, and so has the Pipeline itself:
//
//   - New (NewX(cfg, deps) (*X, error)) checks the config, applies its
//     defaults and builds what the stage needs (sessions, files, goroutines
//     that must outlive Run). On error it frees what it built, through one
//     deferred cleanup.
//   - Run(ctx) error does the stage's work until ctx ends and returns once
//     every goroutine it started has ended. It never writes defaults or
//     anything else into the stage's exported fields.
//   - Close() error frees what New built, after Run has returned (or
//     instead of Run). Stages whose New builds nothing to free have no
//     Close.
//
// Stages built this way: Pipeline, evidence.Uploader, evidence.Recorder,
// evidence.Retention, dispatch.Service (Open or New, Run, Close),
// dispatch.Reconciler (NewReconciler, Run; it frees nothing).
// ingest.Source and detectors.Batcher are plain structs their parent fills,
// whose Run keeps its defaults in copies of its own. Not yet converted:
// review.Server (Initialize, Run) and simulate.Server (Start, Close).
//
// # Shutdown
//
// Pipeline.Run stops the stages in the data's order, soft before hard, so
// nothing is lost between two of them: the cameras first; then detection
// and confirmation work through the frames still queued (for at most
// drainGrace, then the rest is dropped); then the evidence stage, which
// has run on a context of its own until now, stops: violations in their
// post-roll are cut from what history holds, spooled and handed off, or
// stay pending for the next start; the ticket sender and the stations'
// reconciler stop with it. Only
// then does Close free the histories and the ticket database, which the
// evidence stage uses up to its end.
package pipeline
