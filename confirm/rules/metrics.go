package rules

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the confirmation metrics of all cameras.
type Metrics struct {
	TracksActive *prometheus.GaugeVec
	violations   *prometheus.CounterVec
	confirm      *prometheus.HistogramVec
}

// NewMetrics creates and registers the metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		TracksActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streetwatch_tracks_active",
			Help: "Objects being tracked on the camera.",
		}, []string{"camera"}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_violations_total",
			Help: "Confirmed violations.",
		}, []string{"camera", "type"}),
		confirm: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "streetwatch_violation_confirm_seconds",
			Help:    "Time from the object first seen to the violation confirmed.",
			Buckets: []float64{10, 30, 60, 90, 120, 180, 300, 450, 600, 900, 1800},
		}, []string{"type"}),
	}
	if reg != nil {
		reg.MustRegister(m.TracksActive, m.violations, m.confirm)
	}
	return m
}

func (m *Metrics) confirmed(camera string, t Type, after time.Duration) {
	m.violations.WithLabelValues(camera, string(t)).Inc()
	m.confirm.WithLabelValues(string(t)).Observe(after.Seconds())
}
