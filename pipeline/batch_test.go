package pipeline

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"gopkg.in/yaml.v3"
)

func openTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := OpenStore(StoreOptions{Path: t.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readAll returns every sample of the series matching ms as label string → values.
func readAll(t *testing.T, s *Store, ms ...*labels.Matcher) map[string][]float64 {
	t.Helper()
	q, err := s.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), true, nil, ms...)
	out := map[string][]float64{}
	for set.Next() {
		series := set.At()
		it := series.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			_, v := it.At()
			out[series.Labels().String()] = append(out[series.Labels().String()], v)
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func relabelConfigs(t *testing.T, y string) []*relabel.Config {
	t.Helper()
	var cfgs []*relabel.Config
	if err := yaml.Unmarshal([]byte(y), &cfgs); err != nil {
		t.Fatal(err)
	}
	for _, c := range cfgs {
		if err := c.Validate(model.UTF8Validation); err != nil {
			t.Fatal(err)
		}
	}
	return cfgs
}

func TestBatchLabels(t *testing.T) {
	target := labels.FromStrings("job", "node", "instance", "h1:9100", "rack", "r12")
	tests := []struct {
		name    string
		honor   bool
		relabel string
		in      labels.Labels
		want    string // "" = dropped
	}{
		{name: "target labels added", in: labels.FromStrings("__name__", "m", "cpu", "0"),
			want: `{__name__="m", cpu="0", instance="h1:9100", job="node", rack="r12"}`},
		{name: "conflict renamed to exported_", in: labels.FromStrings("__name__", "m", "job", "inner"),
			want: `{__name__="m", exported_job="inner", instance="h1:9100", job="node", rack="r12"}`},
		{name: "honor_labels keeps the collector's", honor: true, in: labels.FromStrings("__name__", "m", "job", "inner"),
			want: `{__name__="m", instance="h1:9100", job="inner", rack="r12"}`},
		{name: "metric relabel drops", relabel: "- source_labels: [__name__]\n  regex: m\n  action: drop\n",
			in: labels.FromStrings("__name__", "m"), want: ""},
		{name: "metric relabel rewrites", relabel: "- source_labels: [cpu]\n  target_label: core\n- regex: cpu\n  action: labeldrop\n",
			in: labels.FromStrings("__name__", "m", "cpu", "3"), want: `{__name__="m", core="3", instance="h1:9100", job="node", rack="r12"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			opts := BatchOptions{TargetLabels: target, HonorLabels: tc.honor, Timestamp: 1000}
			if tc.relabel != "" {
				opts.MetricRelabel = relabelConfigs(t, tc.relabel)
			}
			b := NewBatch(s.AppenderV2(context.Background()), NewSeriesCache(), nil, opts)
			if err := b.Append(tc.in, 0, 1); err != nil {
				t.Fatal(err)
			}
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			got := readAll(t, s, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("want dropped, stored %v", got)
				}
				return
			}
			if _, ok := got[tc.want]; !ok || len(got) != 1 {
				t.Fatalf("stored %v, want %s", got, tc.want)
			}
		})
	}
}

func TestBatchStaleMarkers(t *testing.T) {
	s := openTestStore(t)
	cache := NewSeriesCache()
	collect := func(ts int64, names ...string) {
		b := NewBatch(s.AppenderV2(context.Background()), cache, nil, BatchOptions{Timestamp: ts})
		for _, n := range names {
			if err := b.Append(labels.FromStrings("__name__", n), 0, float64(ts)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	collect(1000, "a", "b")
	collect(2000, "a") // b vanished: stale marker at 2000
	collect(3000, "a", "b")
	got := readAll(t, s, labels.MustNewMatcher(labels.MatchEqual, "__name__", "b"))
	vals := got[`{__name__="b"}`]
	if len(vals) != 3 || vals[0] != 1000 || !value.IsStaleNaN(vals[1]) || vals[2] != 3000 {
		t.Fatalf("b = %v, want [1000 StaleNaN 3000]", vals)
	}

	app := s.AppenderV2(context.Background())
	MarkAllStale(app, cache, 4000)
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	got = readAll(t, s, labels.MustNewMatcher(labels.MatchEqual, "__name__", "a"))
	vals = got[`{__name__="a"}`]
	if len(vals) != 4 || !value.IsStaleNaN(vals[3]) {
		t.Fatalf("a = %v, want a stale marker last", vals)
	}
	if cache.Len() != 0 {
		t.Fatalf("cache keeps %d series after MarkAllStale", cache.Len())
	}
}

func TestBatchSampleLimitAndDuplicates(t *testing.T) {
	s := openTestStore(t)
	b := NewBatch(s.AppenderV2(context.Background()), NewSeriesCache(), nil, BatchOptions{SampleLimit: 2, Timestamp: 1})
	if err := b.Append(labels.FromStrings("__name__", "a"), 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(labels.FromStrings("__name__", "a"), 0, 1); err == nil {
		t.Fatal("duplicate series in one collection accepted")
	}
	_ = b.Append(labels.FromStrings("__name__", "b"), 0, 1)
	if err := b.Append(labels.FromStrings("__name__", "c"), 0, 1); err == nil {
		t.Fatal("third sample accepted with sample_limit 2")
	}
	_ = b.Rollback()
}

func TestMetadataStore(t *testing.T) {
	m := NewMetadataStore()
	m.Set("b_total", mdCounter("B"))
	m.Set("a", mdGauge("A"))
	m.Set("a", mdGauge("A"))
	got := m.Metadata("", 0)
	if len(got) != 2 || len(got["a"]) != 1 || got["b_total"][0].Help != "B" {
		t.Fatalf("metadata %v", got)
	}
	if got := m.Metadata("", 1); len(got) != 1 || got["a"] == nil {
		t.Fatalf("limit 1: %v", got)
	}
	if got := m.Metadata("b_total", 0); len(got) != 1 {
		t.Fatalf("by name: %v", got)
	}
}

// BenchmarkIngest measures samples per second through the pipeline (series
// cache, target labels, TSDB append and commit) for 100k series, the steady
// state of a fleet: every series already known.
func BenchmarkIngest(b *testing.B) {
	const series = 100_000
	s := openTestStore(b)
	cache := NewSeriesCache()
	target := labels.FromStrings("job", "bench", "instance", "h:1", "site", "dc1", "rack", "r1")
	lss := make([]labels.Labels, series)
	for i := range lss {
		lss[i] = labels.FromStrings("__name__", "bench_metric_"+strconv.Itoa(i%100), "id", strconv.Itoa(i), "kind", "x")
	}
	ts := time.Now().UnixMilli()
	collect := func() {
		ts += 15000
		batch := NewBatch(s.AppenderV2(context.Background()), cache, nil, BatchOptions{TargetLabels: target, Timestamp: ts})
		for i, ls := range lss {
			if err := batch.Append(ls, 0, float64(i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	collect() // series creation is not the steady state
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for range b.N {
		collect()
	}
	b.StopTimer()
	b.ReportMetric(float64(series*b.N)/b.Elapsed().Seconds(), "samples/s")
	// CPU time is what a loaded machine cannot distort: samples per
	// CPU-second of this process (all its threads, the TSDB's included).
	b.ReportMetric(float64(series*b.N)/(cpuSeconds()-cpu0), "samples/cpu-s")
}

// cpuSeconds is the user+system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

var _ storage.AppendableV2 = (*Store)(nil)

func TestBatchRollbackForgetsNewSeries(t *testing.T) {
	s := openTestStore(t)
	cache := NewSeriesCache()
	b := NewBatch(s.AppenderV2(context.Background()), cache, nil, BatchOptions{Timestamp: 1000})
	_ = b.Append(labels.FromStrings("__name__", "kept"), 0, 1)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b = NewBatch(s.AppenderV2(context.Background()), cache, nil, BatchOptions{Timestamp: 2000})
	_ = b.Append(labels.FromStrings("__name__", "kept"), 0, 2)
	_ = b.Append(labels.FromStrings("__name__", "new"), 0, 2)
	if err := b.Rollback(); err != nil {
		t.Fatal(err)
	}
	if cache.Len() != 1 {
		t.Fatalf("cache holds %d series after a rollback, want the committed one", cache.Len())
	}
	// The next collection misses "kept": it is marked stale, "new" never existed.
	b = NewBatch(s.AppenderV2(context.Background()), cache, nil, BatchOptions{Timestamp: 3000})
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, s, labels.MustNewMatcher(labels.MatchRegexp, "__name__", "kept|new"))
	if vals := got[`{__name__="kept"}`]; len(got) != 1 || len(vals) != 2 || !value.IsStaleNaN(vals[1]) {
		t.Fatalf("stored %v, want kept = [1 StaleNaN] and nothing else", got)
	}
}
