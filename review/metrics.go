package review

import "github.com/prometheus/client_golang/prometheus"

// metrics are the review page's; labels are bounded (results, actions).
type metrics struct {
	signIns         *prometheus.CounterVec
	actions         *prometheus.CounterVec
	authStoreErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_review_signins_total",
			Help: "Sign-in attempts (page and basic auth) by result: ok, bad_credentials, rate_limited, unavailable (the sign-in store failed).",
		}, []string{"result"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_review_actions_total",
			Help: "Reviewer actions from the review page by action (confirm, reject, resolve, reassign, note) and result (ok, conflict, refused).",
		}, []string{"action", "result"}),
		authStoreErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streetwatch_review_auth_store_errors_total",
			Help: "Errors of the store of sessions and sign-in limits (the ticket database) by operation: session, limit, sign_out, prune. Requests that needed it were refused.",
		}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.signIns, m.actions, m.authStoreErrors)
	}
	return m
}
