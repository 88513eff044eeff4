package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// metrics are the store's own; a nil *metrics records nothing.
type metrics struct {
	updateDuration *prometheus.HistogramVec
	conflicts      prometheus.Counter
	claims         prometheus.Counter
	finishes       *prometheus.CounterVec
	checkpoints    prometheus.Histogram
	walBehind      prometheus.Gauge
}

func (s *Store) initMetrics(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	engine := prometheus.Labels{"engine": s.dialect.String()}
	m := &metrics{
		updateDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "fleetwatch_store_update_duration_seconds",
			Help:        "Time of one store transaction (Update), commit included, by result (committed, conflict, error).",
			ConstLabels: engine,
			Buckets:     []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"result"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "fleetwatch_store_incident_conflicts_total",
			Help:        "Incident updates refused because another writer changed the incident first (optimistic concurrency).",
			ConstLabels: engine,
		}),
		claims: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "fleetwatch_store_notifications_claimed_total",
			Help:        "Outbox notifications leased to a sender.",
			ConstLabels: engine,
		}),
		finishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "fleetwatch_store_notifications_finished_total",
			Help:        "Outbox notifications finished by a sender, by outcome (sent, retry, failed).",
			ConstLabels: engine,
		}, []string{"outcome"}),
	}
	if s.dialect == dialectSQLite {
		m.checkpoints = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "fleetwatch_store_wal_checkpoint_duration_seconds",
			Help:        "Time of one background copy of SQLite's write-ahead log into the database file (runs that copied pages).",
			ConstLabels: engine,
			Buckets:     []float64{.001, .0025, .005, .01, .025, .05, .1, .25, 1, 5},
		})
		m.walBehind = prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "fleetwatch_store_wal_uncheckpointed_pages",
			Help:        "Pages of SQLite's write-ahead log not yet copied into the database file after the last background checkpoint (readers holding old snapshots keep it above 0).",
			ConstLabels: engine,
		})
	}
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "fleetwatch_store_outbox_pending_notifications",
		Help:        "Notifications waiting in the outbox (pending, due or not), counted at scrape time.",
		ConstLabels: engine,
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var n int64
		if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM notifications WHERE state = 'pending'").Scan(&n); err != nil {
			return -1
		}
		return float64(n)
	})
	cs := []prometheus.Collector{m.updateDuration, m.conflicts, m.claims, m.finishes, pending}
	if m.checkpoints != nil {
		cs = append(cs, m.checkpoints, m.walBehind)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	s.metrics = m
	return nil
}

func (m *metrics) observeUpdate(start time.Time, err error) {
	if m == nil {
		return
	}
	result := "committed"
	switch {
	case errors.Is(err, store.ErrConflict):
		result = "conflict"
	case err != nil:
		result = "error"
	}
	m.updateDuration.WithLabelValues(result).Observe(time.Since(start).Seconds())
}

func (m *metrics) conflict() {
	if m != nil {
		m.conflicts.Inc()
	}
}

func (m *metrics) claimed(n int) {
	if m != nil {
		m.claims.Add(float64(n))
	}
}

func (m *metrics) finished(outcome string) {
	if m != nil {
		m.finishes.WithLabelValues(outcome).Inc()
	}
}

// checkpointed records a checkpoint run that found new WAL pages; behind
// is what it could not copy.
func (m *metrics) checkpointed(start time.Time, behind int) {
	if m == nil || m.checkpoints == nil {
		return
	}
	m.checkpoints.Observe(time.Since(start).Seconds())
	m.walBehind.Set(float64(behind))
}
