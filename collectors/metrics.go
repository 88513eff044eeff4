package collectors

import "github.com/prometheus/client_golang/prometheus"

type schedulerMetrics struct {
	duration    *prometheus.HistogramVec
	collections *prometheus.CounterVec
	errors      *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	samples     *prometheus.CounterVec
	targets     *prometheus.GaugeVec
}

func newSchedulerMetrics(reg prometheus.Registerer) *schedulerMetrics {
	m := &schedulerMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetwatch_collector_duration_seconds",
			Help:    "Time one collection of one target took, by job.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"job"}),
		collections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_collector_collections_total",
			Help: "Collections run, by job.",
		}, []string{"job"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_collector_errors_total",
			Help: "Collections that failed (the target's up was 0), by job.",
		}, []string{"job"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_collector_skipped_total",
			Help: "Collections skipped because no concurrency slot freed up within the job's interval, by job.",
		}, []string{"job"}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_collector_samples_appended_total",
			Help: "Samples stored after relabeling, by job.",
		}, []string{"job"}),
		targets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetwatch_collector_targets",
			Help: "Targets configured, by job.",
		}, []string{"job"}),
	}
	if reg != nil {
		reg.MustRegister(m.duration, m.collections, m.errors, m.skipped, m.samples, m.targets)
	}
	return m
}
