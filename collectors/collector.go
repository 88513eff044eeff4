package collectors

import (
	"context"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
)

// Collector gathers the samples of one target. Collect honours ctx (the
// scheduler cancels it at the job's timeout) and writes every sample through
// app. A Collector is called by one goroutine at a time per target, but the same
// Collector value may be shared by several targets, so it must not keep
// per-call state in its fields without locking.
//
// An error means the target is down: the scheduler records up=0 and counts the
// error, and discards what was appended during this call.
type Collector interface {
	Collect(ctx context.Context, t Target, app Appender) error
}

// CollectorFunc adapts a function to the Collector interface.
type CollectorFunc func(ctx context.Context, t Target, app Appender) error

// Collect calls f.
func (f CollectorFunc) Collect(ctx context.Context, t Target, app Appender) error {
	return f(ctx, t, app)
}

// Appender receives the samples of one collection. The scheduler adds the
// target's labels, applies metric relabeling and commits them together when
// Collect returns nil.
//
// Append takes the series' labels including __name__. A timestamp of 0 means
// "the time of this collection" (the scheduler's start time), as Prometheus does
// for exposition samples without a timestamp. The appender does not keep ls after
// Append returns, so callers may reuse a labels.Builder.
//
// SetMetadata records the type, help and unit of a metric family for
// /api/v1/metadata; calling it once per family per collection is enough.
type Appender interface {
	Append(ls labels.Labels, t int64, v float64) error
	SetMetadata(family string, md metadata.Metadata)
}

// Target is one thing a job collects from: a host, an exporter URL, a switch,
// a BMC. Address is what the collector connects to; Labels are the target's
// labels after relabeling (job, instance and inventory topology labels such as
// site and rack), which the scheduler attaches to every sample. Params carries
// collector-specific settings from the config (e.g. the scrape path).
type Target struct {
	Job     string
	Address string
	Labels  labels.Labels
	Params  map[string]string
}

// Instance returns the target's instance label.
func (t Target) Instance() string { return t.Labels.Get("instance") }
