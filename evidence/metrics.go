package evidence

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the evidence stage's metrics (README "Metrics").
type Metrics struct {
	Clips          *prometheus.CounterVec // {camera}
	ClipFailures   *prometheus.CounterVec // {camera}
	UploadSeconds  prometheus.Histogram
	UploadFailures prometheus.Counter
	SpoolBytes     prometheus.Gauge
	SpoolBundles   prometheus.Gauge
	Deleted        prometheus.Counter // objects removed by retention
}

// NewMetrics registers the evidence metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Clips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_evidence_clips_total", Help: "Evidence clips written, per camera.",
		}, []string{"camera"}),
		ClipFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_evidence_clip_failures_total", Help: "Violations whose clip could not be cut (no history for the range), per camera.",
		}, []string{"camera"}),
		UploadSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "streetwatch_evidence_upload_seconds", Help: "Time to upload one evidence bundle to the store.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		UploadFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "streetwatch_evidence_upload_failures_total", Help: "Failed evidence upload attempts (retried from the spool).",
		}),
		SpoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "streetwatch_evidence_spool_bytes", Help: "Bytes of evidence waiting in the local spool for upload.",
		}),
		SpoolBundles: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "streetwatch_evidence_spool_bundles", Help: "Evidence bundles waiting in the local spool for upload.",
		}),
		Deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "streetwatch_evidence_deleted_total", Help: "Evidence objects deleted by retention.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Clips, m.ClipFailures, m.UploadSeconds, m.UploadFailures, m.SpoolBytes, m.SpoolBundles, m.Deleted)
	}
	return m
}
