package collectors

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/fleetwatch/fleetwatch/pipeline"
)

func target(job, addr string) Target {
	return Target{Job: job, Address: addr, Labels: labels.FromStrings("job", job, "instance", addr)}
}

// lastValue returns the newest value of the series selected by ms.
func lastValue(t *testing.T, s *pipeline.Store, ms ...*labels.Matcher) (float64, bool) {
	t.Helper()
	q, err := s.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, ms...)
	var v float64
	found := false
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			_, v = it.At()
			found = true
		}
	}
	return v, found
}

func eq(n, v string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchEqual, n, v) }

func TestSchedulerIsolatesBadTargets(t *testing.T) {
	store, err := pipeline.OpenStore(pipeline.StoreOptions{Path: t.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	s := NewScheduler(SchedulerOptions{Storage: store, Metadata: store.Metadata(), Concurrency: 4, Registerer: reg})

	var goodRuns atomic.Int32
	good := CollectorFunc(func(ctx context.Context, tg Target, app Appender) error {
		goodRuns.Add(1)
		return app.Append(labels.FromStrings("__name__", "good_metric"), 0, 42)
	})
	failing := CollectorFunc(func(ctx context.Context, tg Target, app Appender) error {
		_ = app.Append(labels.FromStrings("__name__", "partial_metric"), 0, 1)
		return errors.New("agent said no")
	})
	release := make(chan struct{})
	hung := CollectorFunc(func(ctx context.Context, tg Target, app Appender) error {
		<-release // ignores ctx, like a broken driver
		return app.Append(labels.FromStrings("__name__", "late_metric"), 0, 1)
	})
	defer close(release)
	panicking := CollectorFunc(func(ctx context.Context, tg Target, app Appender) error { panic("boom") })

	jobs := []Job{
		{Name: "good", Collector: good, Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, Targets: []Target{target("good", "g1")}},
		{Name: "failing", Collector: failing, Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, Targets: []Target{target("failing", "f1")}},
		{Name: "hung", Collector: hung, Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, Targets: []Target{target("hung", "h1")}},
		{Name: "panic", Collector: panicking, Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, Targets: []Target{target("panic", "p1")}},
	}
	s.Update(jobs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	// The good target keeps its pace while the hung one blocks for seconds.
	time.Sleep(2500 * time.Millisecond)
	if n := goodRuns.Load(); n < 15 {
		t.Errorf("good target collected %d times in 2.5 s at a 100 ms interval", n)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("scheduler did not stop within 5 s with a hung collector")
	}

	for _, tc := range []struct {
		job  string
		want float64
	}{{"good", 1}, {"failing", 0}, {"hung", 0}, {"panic", 0}} {
		if v, ok := lastValue(t, store, eq("__name__", "up"), eq("job", tc.job)); !ok || v != tc.want {
			t.Errorf("up{job=%q} = %v (found %v), want %v", tc.job, v, ok, tc.want)
		}
	}
	if v, _ := lastValue(t, store, eq("__name__", "good_metric")); v != 42 {
		t.Errorf("good_metric = %v", v)
	}
	if _, ok := lastValue(t, store, eq("__name__", "partial_metric")); ok {
		t.Error("samples of a failed collection were stored")
	}
	if _, ok := lastValue(t, store, eq("__name__", "late_metric")); ok {
		t.Error("samples written after the deadline were stored")
	}
	statuses := map[string]TargetStatus{}
	for _, st := range s.Targets() {
		statuses[st.Job] = st
	}
	if st := statuses["failing"]; st.Health != "down" || st.LastError != "agent said no" {
		t.Errorf("failing target status %+v", st)
	}
	if st := statuses["panic"]; st.Health != "down" || st.LastError == "" {
		t.Errorf("panicking target status %+v", st)
	}
	if got := testutil.ToFloat64(s.metrics.errors.WithLabelValues("failing")); got < 10 {
		t.Errorf("fleetwatch_collector_errors_total{job=failing} = %v", got)
	}
}

func TestSchedulerUpdateMarksRemovedTargetsStale(t *testing.T) {
	store, err := pipeline.OpenStore(pipeline.StoreOptions{Path: t.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s := NewScheduler(SchedulerOptions{Storage: store})
	c := CollectorFunc(func(ctx context.Context, tg Target, app Appender) error {
		return app.Append(labels.FromStrings("__name__", "m"), 0, 1)
	})
	job := Job{Name: "j", Collector: c, Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond,
		Targets: []Target{target("j", "a"), target("j", "b")}}
	s.Update([]Job{job})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	time.Sleep(300 * time.Millisecond)
	job.Targets = job.Targets[:1]
	s.Update([]Job{job})
	if v, ok := lastValue(t, store, eq("__name__", "m"), eq("instance", "b")); !ok || !math.IsNaN(v) {
		t.Fatalf("removed target's series last value %v (found %v), want a stale marker", v, ok)
	}
	if n := len(s.Targets()); n != 1 {
		t.Fatalf("%d targets after removing one of two", n)
	}
}
