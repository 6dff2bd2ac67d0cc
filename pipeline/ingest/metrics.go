package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the ingest metrics of all cameras.
type Metrics struct {
	up         *prometheus.GaugeVec
	reconnects *prometheus.CounterVec
	units      *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	lost       *prometheus.CounterVec
	rtpErrors  *prometheus.CounterVec
}

// NewMetrics creates and registers the ingest metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streetwatch_camera_up",
			Help: "1 while the camera's stream delivers media, 0 while it is disconnected or reconnecting.",
		}, []string{"camera"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_camera_reconnects_total",
			Help: "Reconnection attempts after a camera's stream failed or stalled.",
		}, []string{"camera"}),
		units: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_access_units_total",
			Help: "Encoded pictures (access units) received from the camera.",
		}, []string{"camera"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_received_bytes_total",
			Help: "RTP bytes received from the camera.",
		}, []string{"camera"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_rtp_packets_lost_total",
			Help: "RTP packets the camera sent that never arrived (sequence gaps).",
		}, []string{"camera"}),
		rtpErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_rtp_errors_total",
			Help: "Access units dropped because their RTP packets could not be depacketized.",
		}, []string{"camera"}),
	}
	if reg != nil {
		reg.MustRegister(m.up, m.reconnects, m.units, m.bytes, m.lost, m.rtpErrors)
	}
	return m
}

type cameraMetrics struct {
	up                prometheus.Gauge
	reconnects, units prometheus.Counter
	bytes, lost       prometheus.Counter
	rtpErrors         prometheus.Counter
}

func (m *Metrics) forCamera(camera string) *cameraMetrics {
	if m == nil {
		m = NewMetrics(nil)
	}
	return &cameraMetrics{
		up:         m.up.WithLabelValues(camera),
		reconnects: m.reconnects.WithLabelValues(camera),
		units:      m.units.WithLabelValues(camera),
		bytes:      m.bytes.WithLabelValues(camera),
		lost:       m.lost.WithLabelValues(camera),
		rtpErrors:  m.rtpErrors.WithLabelValues(camera),
	}
}
