package remediate

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's own: decisions and runs by remediation and
// status, runs in progress on this instance, and how long actions take.
type metrics struct {
	runs     *prometheus.CounterVec
	running  prometheus.Gauge
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_remediation_runs_total",
			Help: "Remediation decisions and outcomes by remediation name (action) and status (skipped, escalated, awaiting_approval, proposed, succeeded, failed, verified, verify_failed, rejected).",
		}, []string{"action", "status"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetwatch_remediation_running",
			Help: "Remediation actions running now on this instance.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetwatch_remediation_run_duration_seconds",
			Help:    "Time from an action's start to its end (success, failure or timeout), by remediation name.",
			Buckets: []float64{0.01, 0.05, 0.25, 1, 5, 15, 60, 300, 900},
		}, []string{"action"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.runs, m.running, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
