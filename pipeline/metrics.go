package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons of streetwatch_frames_dropped_total.
const (
	DropDecoderBehind = "decoder_behind" // the decoder's unit queue was full: skipped to the next keyframe
	DropOverload      = "overload"       // the frame queue was full: the oldest sampled frame was dropped
)

type metrics struct {
	decoded   *prometheus.CounterVec
	sampled   *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	errors    *prometheus.CounterVec
	decodeSec prometheus.Histogram
	decoding  *prometheus.GaugeVec
	hardware  *prometheus.GaugeVec
	viewMoved *prometheus.GaugeVec
	looks     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		decoded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_frames_decoded_total",
			Help: "Pictures decoded from the camera's stream.",
		}, []string{"camera"}),
		sampled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_frames_sampled_total",
			Help: "Decoded pictures chosen by the sampling policy and queued for detection.",
		}, []string{"camera"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_frames_dropped_total",
			Help: "Pictures lost to back-pressure, by reason (decoder_behind: skipped before decoding; overload: sampled frame dropped from the full detection queue).",
		}, []string{"camera", "reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_decode_errors_total",
			Help: "Access units the decoder rejected or that found no decoder (one could not be opened for the codec), and pictures it flagged corrupt; decoding resumes at the next keyframe.",
		}, []string{"camera"}),
		decoding: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streetwatch_camera_decoding",
			Help: "1 while the camera's pictures are decoded, 0 otherwise; with streetwatch_camera_up 1 for long, media arrives but nothing decodes.",
		}, []string{"camera"}),
		hardware: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streetwatch_decoder_hardware",
			Help: "1 while the camera decodes on its decoder.hwaccel device, 0 when it decodes on the CPU (none configured, or the device cannot be used: see the log).",
		}, []string{"camera"}),
		viewMoved: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streetwatch_camera_view_moved_pixels",
			Help: "How far the camera's view has moved from where its left-object detector learnt the background, in pixels of the picture (the larger of the two directions), which the detector follows up to 3% of the width. It comes and goes while a pole sways; if it stays after a knock, the camera points elsewhere and its zones may no longer match the scene. A larger move starts the background again (0).",
		}, []string{"camera"}),
		looks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_closer_looks_total",
			Help: "Closer looks the class model took at objects only the left-object detector found (their part of the frame, enlarged), by outcome: named (the model named an object class there), unnamed, failed (see the log). Each costs one inference.",
		}, []string{"camera", "outcome"}),
		decodeSec: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "streetwatch_decode_seconds",
			Help:    "Time to decode one access unit, including the BGR conversion of sampled pictures.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.decoded, m.sampled, m.dropped, m.errors, m.decodeSec, m.decoding, m.hardware, m.viewMoved, m.looks)
	}
	return m
}
