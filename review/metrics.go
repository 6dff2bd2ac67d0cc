package review

import "github.com/prometheus/client_golang/prometheus"

// metrics are the review page's; labels are bounded (results, actions).
type metrics struct {
	signIns *prometheus.CounterVec
	actions *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_review_signins_total",
			Help: "Sign-in attempts (page and basic auth) by result: ok, bad_credentials, rate_limited.",
		}, []string{"result"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_review_actions_total",
			Help: "Reviewer actions from the review page by action (confirm, reject, resolve, reassign, note) and result (ok, conflict, refused).",
		}, []string{"action", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.signIns, m.actions)
	}
	return m
}
