package notify

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results counted by fleetwatch_notify_requests_total.
const (
	ResultSent    = "sent"    // the receiving end accepted the message
	ResultRetry   = "retry"   // failed, worth trying again
	ResultFailed  = "failed"  // failed, not worth trying again
	ResultSkipped = "skipped" // the integration does not send this action (e.g. send_resolved: false)
)

// Metrics are the self-metrics every integration records. Build them once
// per registerer with NewMetrics; building them again on the same
// registerer (a config reload) returns collectors that share the series
// already registered.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers fleetwatch_notify_requests_total and
// fleetwatch_notify_request_duration_seconds on reg, or reuses them if reg
// already holds them. A nil reg gives metrics that are counted but not
// exposed.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_notify_requests_total",
			Help: "Notifications handed to a receiver's integration, by result: sent, retry (failed, worth retrying), failed (not worth retrying), skipped (the integration does not send this action).",
		}, []string{"receiver", "integration", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetwatch_notify_request_duration_seconds",
			Help:    "Time to deliver one notification to an integration, request and response, whatever the result (skips excluded).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"receiver", "integration"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("notify metrics: %w", err)
	}
	return c, nil
}

// Observe records one notification. d is ignored for skips.
func (m *Metrics) Observe(receiver, integration, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(receiver, integration, result).Inc()
	if result != ResultSkipped {
		m.duration.WithLabelValues(receiver, integration).Observe(d.Seconds())
	}
}

// Result names the outcome of Notify's (retry, err) for Observe.
func Result(retry bool, err error) string {
	switch {
	case err == nil:
		return ResultSent
	case retry:
		return ResultRetry
	default:
		return ResultFailed
	}
}
