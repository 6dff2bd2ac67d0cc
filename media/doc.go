// Package media holds the small types every stage shares: encoded access units
// as they come from a camera, their parameter sets and
// timestamps. Decoded pictures live in media/frame, so that packages which only
// move encoded video never link OpenCV.
//
// It must never depend on a stage (ingest, decode, detectors, evidence): stages
// depend on it, so that evidence can keep access units without importing the
// pipeline.
package media
