package history

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the history metrics of all cameras (README "Metrics").
type Metrics struct {
	Bytes *prometheus.GaugeVec // {camera, tier="memory"|"disk"}
}

// NewMetrics registers the history metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streetwatch_history_bytes", Help: "Encoded video history kept for evidence clips, per camera and tier (memory, disk).",
		}, []string{"camera", "tier"}),
	}
	if reg != nil {
		reg.MustRegister(m.Bytes)
	}
	return m
}
