package detectors

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the detector stage's metrics.
type Metrics struct {
	inference  *prometheus.HistogramVec
	batchSize  *prometheus.HistogramVec
	preprocess prometheus.Histogram
	detections *prometheus.CounterVec
	errors     *prometheus.CounterVec
	info       *prometheus.GaugeVec
}

// NewMetrics creates and registers the detector metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		inference: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "streetwatch_inference_seconds",
			Help:    "Time of one inference (session run) over a batch; failed runs are counted in streetwatch_inference_errors_total instead.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"model"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "streetwatch_inference_batch_size",
			Help:    "Frames per inference.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		}, []string{"model"}),
		preprocess: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "streetwatch_preprocess_seconds",
			Help:    "Time to letterbox one batch into the input tensors (in parallel with the previous inference).",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
		}),
		detections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_detections_total",
			Help: "Detections after thresholds, NMS, filters and masks.",
		}, []string{"camera", "class"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_inference_errors_total",
			Help: "Detector failures, by model and stage: letterbox (a frame could not be prepared; counted per frame), tensor (a batch's tensors could not be made) and inference (the session run failed on a batch). The frames concerned get no detections from that model.",
		}, []string{"model", "stage"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streetwatch_detector_model_info",
			Help: "Loaded models: 1 per model, with the execution provider requested and the one in use (they differ after a fallback to CPU).",
		}, []string{"model", "version", "requested_provider", "provider"}),
	}
	if reg != nil {
		reg.MustRegister(m.inference, m.batchSize, m.preprocess, m.detections, m.errors, m.info)
	}
	return m
}

// ModelInfo records a loaded model and its execution provider.
func (m *Metrics) ModelInfo(model, version, requested, provider string) {
	m.info.WithLabelValues(model, version, requested, provider).Set(1)
}
