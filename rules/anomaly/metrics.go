package anomaly

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Evaluator's self-metrics, per group.
type metrics struct {
	tracked    *prometheus.GaugeVec
	firing     *prometheus.GaugeVec
	duration   *prometheus.HistogramVec
	failures   *prometheus.CounterVec
	saveErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		tracked: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetwatch_anomaly_tracked_series",
			Help: "Series with an anomaly detector (baseline) in memory, per rule group.",
		}, []string{"group"}),
		firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetwatch_anomaly_alerts_firing",
			Help: "Anomaly alerts in the firing state after the last evaluation, per rule group.",
		}, []string{"group"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetwatch_anomaly_evaluation_duration_seconds",
			Help:    "Time one evaluation of an anomaly rule group took (queries, scoring, writing scores).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"group"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_anomaly_query_failures_total",
			Help: "Anomaly rule queries that failed, per rule group.",
		}, []string{"group"}),
		saveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetwatch_anomaly_state_save_failures_total",
			Help: "Failed writes of anomaly detector state to the state directory.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.tracked, m.firing, m.duration, m.failures, m.saveErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
