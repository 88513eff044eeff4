package app

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/events"
)

// eventSink is where collectors hand their events (traps, Redfish log
// entries). It forwards them to the alerter's intake once that is set, and
// counts them by source.
type eventSink struct {
	next     atomic.Pointer[events.Sink]
	logger   *slog.Logger
	received *prometheus.CounterVec
}

func newEventSink(logger *slog.Logger, reg prometheus.Registerer) *eventSink {
	s := &eventSink{
		logger: logger,
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_events_received_total",
			Help: "Events (SNMP traps, Redfish log entries, API events) received, by source.",
		}, []string{"source"}),
	}
	reg.MustRegister(s.received)
	return s
}

// setNext routes events to sink from now on.
func (s *eventSink) setNext(sink events.Sink) { s.next.Store(&sink) }

// HandleEvent implements events.Sink.
func (s *eventSink) HandleEvent(ctx context.Context, e events.Event) error {
	s.received.WithLabelValues(e.Source).Inc()
	if next := s.next.Load(); next != nil {
		return (*next).HandleEvent(ctx, e)
	}
	s.logger.Debug("event", "source", e.Source, "kind", e.Kind, "severity", e.Severity, "summary", e.Summary)
	return nil
}
