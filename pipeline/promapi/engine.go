package promapi

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// EngineOptions are the limits of the PromQL engine behind the API.
type EngineOptions struct {
	// Timeout is the longest a query may run (Prometheus' --query.timeout);
	// 0 means 2 minutes, Prometheus' default.
	Timeout time.Duration
	// MaxSamples is the most samples a query may hold in memory at once
	// (--query.max-samples); 0 means 50,000,000, Prometheus' default.
	MaxSamples int
	// LookbackDelta is how far back an instant selector looks for a sample
	// (--query.lookback-delta); 0 means 5 minutes.
	LookbackDelta time.Duration
	// MaxConcurrent is the most queries evaluated at once; others wait,
	// within their timeout (--query.max-concurrency). 0 means 20.
	MaxConcurrent int
}

// Prometheus' defaults for the engine flags.
const (
	defaultTimeout       = 2 * time.Minute
	defaultMaxSamples    = 50_000_000
	defaultLookbackDelta = 5 * time.Minute
	defaultMaxConcurrent = 20
)

func (o EngineOptions) withDefaults() EngineOptions {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = defaultMaxSamples
	}
	if o.LookbackDelta <= 0 {
		o.LookbackDelta = defaultLookbackDelta
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = defaultMaxConcurrent
	}
	return o
}

// NewEngine returns a PromQL engine with Prometheus' query behaviour (@
// modifier, negative offsets, per-query lookback_delta) and the limits of o.
// Its metrics are registered on reg (if not nil) as fleetwatch_promql_*:
// the engine's own prometheus_engine_* series under fleetwatch's names.
func NewEngine(o EngineOptions, logger *slog.Logger, reg prometheus.Registerer) *promql.Engine {
	o = o.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	inner := prometheus.NewRegistry()
	eng := promql.NewEngine(promql.EngineOpts{
		Logger:               logger.With("component", "promql"),
		Reg:                  inner,
		MaxSamples:           o.MaxSamples,
		Timeout:              o.Timeout,
		LookbackDelta:        o.LookbackDelta,
		ActiveQueryTracker:   newSlotTracker(o.MaxConcurrent),
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		NoStepSubqueryIntervalFn: func(int64) int64 {
			return time.Minute.Milliseconds()
		},
		Parser: parser.NewParser(parser.Options{}),
	})
	if reg != nil {
		reg.MustRegister(&renamedGatherer{g: inner, from: "prometheus_engine_", to: "fleetwatch_promql_"})
	}
	return eng
}

// slotTracker bounds the number of queries the engine evaluates at once.
// It implements promql.QueryTracker without Prometheus' mmap'd query log.
type slotTracker struct {
	slots chan struct{}
}

func newSlotTracker(n int) *slotTracker {
	return &slotTracker{slots: make(chan struct{}, n)}
}

func (t *slotTracker) GetMaxConcurrent() int { return cap(t.slots) }

// Insert takes a free slot, or blocks until one is free or ctx ends.
func (t *slotTracker) Insert(ctx context.Context, _ string) (int, error) {
	select {
	case t.slots <- struct{}{}:
		return 0, nil
	default:
	}
	select {
	case t.slots <- struct{}{}:
		return 0, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (t *slotTracker) Delete(int) { <-t.slots }

func (t *slotTracker) Close() error { return nil }

// renamedGatherer re-exposes the metric families of g with the prefix from
// replaced by to. It is an unchecked collector: the families it exposes are
// those the engine registered, known only at gather time.
type renamedGatherer struct {
	g        prometheus.Gatherer
	from, to string
}

func (r *renamedGatherer) Describe(chan<- *prometheus.Desc) {}

func (r *renamedGatherer) Collect(ch chan<- prometheus.Metric) {
	mfs, err := r.g.Gather()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(err), err)
		return
	}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, r.from) {
			continue
		}
		name = r.to + strings.TrimPrefix(name, r.from)
		for _, m := range mf.GetMetric() {
			metric, err := constMetric(name, mf.GetHelp(), mf.GetType(), m)
			if err != nil {
				ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(err), err)
				continue
			}
			ch <- metric
		}
	}
}

// constMetric rebuilds one gathered metric under a new name.
func constMetric(name, help string, typ dto.MetricType, m *dto.Metric) (prometheus.Metric, error) {
	names := make([]string, 0, len(m.GetLabel()))
	values := make([]string, 0, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		names = append(names, lp.GetName())
		values = append(values, lp.GetValue())
	}
	desc := prometheus.NewDesc(name, help, names, nil)
	switch typ {
	case dto.MetricType_COUNTER:
		return prometheus.NewConstMetric(desc, prometheus.CounterValue, m.GetCounter().GetValue(), values...)
	case dto.MetricType_GAUGE:
		return prometheus.NewConstMetric(desc, prometheus.GaugeValue, m.GetGauge().GetValue(), values...)
	case dto.MetricType_UNTYPED:
		return prometheus.NewConstMetric(desc, prometheus.UntypedValue, m.GetUntyped().GetValue(), values...)
	case dto.MetricType_SUMMARY:
		s := m.GetSummary()
		q := make(map[float64]float64, len(s.GetQuantile()))
		for _, qv := range s.GetQuantile() {
			q[qv.GetQuantile()] = qv.GetValue()
		}
		return prometheus.NewConstSummary(desc, s.GetSampleCount(), s.GetSampleSum(), q, values...)
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		h := m.GetHistogram()
		b := make(map[float64]uint64, len(h.GetBucket()))
		for _, bk := range h.GetBucket() {
			b[bk.GetUpperBound()] = bk.GetCumulativeCount()
		}
		return prometheus.NewConstHistogram(desc, h.GetSampleCount(), h.GetSampleSum(), b, values...)
	}
	return nil, fmt.Errorf("metric %q: unsupported type %v", name, typ)
}
