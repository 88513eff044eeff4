package alerter

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	received        *prometheus.CounterVec
	events          *prometheus.CounterVec
	alertWrites     prometheus.Counter
	commitSeconds   prometheus.Histogram
	commitFailures  prometheus.Counter
	incidentsOpened prometheus.Counter
	notifications   *prometheus.CounterVec
	sendSeconds     *prometheus.HistogramVec
	latency         *prometheus.HistogramVec
	haActive        prometheus.Gauge
	haTakeovers     prometheus.Counter
	haLost          prometheus.Counter
}

// newMetrics registers the engine's metrics on reg (nil: not registered).
func newMetrics(reg prometheus.Registerer, e *Engine) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_alerter_alerts_received_total",
			Help: "Alerts received, by source (api: Alertmanager API v2, rules: fleetwatch's own rules).",
		}, []string{"source"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_alerter_events_received_total",
			Help: "Events (traps, Redfish log entries, API events) taken, by source.",
		}, []string{"source"}),
		alertWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetwatch_alerter_alert_writes_total",
			Help: "Alert records written to the store (a re-sent unchanged alert writes none).",
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fleetwatch_alerter_commit_duration_seconds",
			Help:    "Time to commit one engine step (alerts, incident changes, outbox) to the store.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		commitFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetwatch_alerter_commit_failures_total",
			Help: "Engine steps whose store transaction failed (the sender gets an error and re-sends).",
		}),
		incidentsOpened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetwatch_alerter_incidents_opened_total",
			Help: "Incidents opened.",
		}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_alerter_notifications_total",
			Help: "Notification attempts by receiver and result (sent, retry, failed).",
		}, []string{"receiver", "result"}),
		sendSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetwatch_alerter_notification_send_duration_seconds",
			Help:    "Duration of one delivery attempt to a receiver.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"receiver"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetwatch_alerter_notification_latency_seconds",
			Help:    "Time from the change that caused a notification being committed to its successful delivery.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 20),
		}, []string{"receiver"}),
		haActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetwatch_alerter_ha_active",
			Help: "1 when this instance is the active alerter (always for a single instance), 0 while it is a standby.",
		}),
		haTakeovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetwatch_alerter_ha_takeovers_total",
			Help: "Times this instance took the alerter's lease and became the active instance.",
		}),
		haLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetwatch_alerter_ha_lease_lost_total",
			Help: "Times this instance lost the alerter's lease (taken by another, or not renewed in time) and stepped down.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	gauges := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetwatch_alerter_alerts",
			Help: "Alerts held in memory (firing, or resolved and kept to absorb re-sends).",
		}, func() float64 { return float64(e.size(func() int { return len(e.alerts) })) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetwatch_alerter_groups",
			Help: "Aggregation groups (route + group_by values, or topology clusters).",
		}, func() float64 { return float64(e.size(func() int { return len(e.groups) })) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetwatch_alerter_incidents_open",
			Help: "Incidents triggered or acknowledged.",
		}, func() float64 { return float64(e.size(e.openIncidentsLocked)) }),
	}
	for _, c := range append([]prometheus.Collector{m.received, m.events, m.alertWrites, m.commitSeconds, m.commitFailures,
		m.incidentsOpened, m.notifications, m.sendSeconds, m.latency, m.haActive, m.haTakeovers, m.haLost}, gauges...) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
