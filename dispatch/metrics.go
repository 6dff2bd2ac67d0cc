package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/stations"
)

// Attempt results (the result label of streetwatch_dispatch_attempts_total).
const (
	ResultOK            = "ok"             // 2xx: delivered
	ResultHTTPError     = "http_error"     // the receiver answered, not 2xx
	ResultNetworkError  = "network_error"  // no answer: connection, TLS, timeout
	ResultEvidenceError = "evidence_error" // evidence links could not be made
)

var weighingResults = []string{stations.ResultStored, stations.ResultDuplicate, stations.ResultConflict,
	stations.ResultInvalid, stations.ResultUnauthorized}

// Metrics are the dispatch stage's Prometheus metrics.
type Metrics struct {
	// Tickets counts tickets entering a status, by violation type.
	Tickets *prometheus.CounterVec
	// Attempts counts webhook deliveries by result.
	Attempts *prometheus.CounterVec
	// OutboxDepth is how many tickets wait for delivery.
	OutboxDepth prometheus.Gauge
	// EventToTicket is the time from a violation's confirmation to its
	// ticket being stored (evidence cutting and spooling included).
	EventToTicket prometheus.Histogram
	// Weighings counts weighing records received, by station (configured
	// ids only; "unknown" otherwise) and result (stations.Result*).
	Weighings *prometheus.CounterVec
	// Reviews counts people's verdicts on tickets pending review, by
	// camera, type and verdict (confirmed, rejected); ReviewLatency is the
	// time from ticket to verdict, by type.
	Reviews       *prometheus.CounterVec
	ReviewLatency *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Tickets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_tickets_total",
			Help: "Tickets entering a status, by violation type and status.",
		}, []string{"type", "status"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_dispatch_attempts_total",
			Help: "Webhook delivery attempts by result (ok, http_error, network_error, evidence_error).",
		}, []string{"result"}),
		OutboxDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "streetwatch_dispatch_outbox_depth",
			Help: "Confirmed tickets waiting for webhook delivery.",
		}),
		EventToTicket: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "streetwatch_event_to_ticket_seconds",
			Help:    "Time from a violation's confirmation to its ticket being stored.",
			Buckets: []float64{1, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		Weighings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_weighings_received_total",
			Help: "Weighing records received, by station and result (stored, duplicate, conflict, invalid, unauthorized).",
		}, []string{"station", "result"}),
		Reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_reviews_total",
			Help: "Reviewers' verdicts on tickets pending review, by camera, violation type and verdict (confirmed, rejected).",
		}, []string{"camera", "type", "verdict"}),
		ReviewLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "streetwatch_review_latency_seconds",
			Help:    "Time from a ticket's creation to a reviewer's verdict, by violation type.",
			Buckets: []float64{60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 3 * 24 * 3600},
		}, []string{"type"}),
	}
	for _, r := range weighingResults {
		m.Weighings.WithLabelValues(unknownStation, r) // the family exists before the first post
	}
	for _, r := range []string{ResultOK, ResultHTTPError, ResultNetworkError, ResultEvidenceError} {
		m.Attempts.WithLabelValues(r) // export zeros, so rate() works from the start
	}
	if reg != nil {
		reg.MustRegister(m.Tickets, m.Attempts, m.OutboxDepth, m.EventToTicket, m.Weighings, m.Reviews, m.ReviewLatency)
	}
	return m
}
