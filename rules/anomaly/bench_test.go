package anomaly

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
)

// BenchmarkObserve is the scoring cost of one series per evaluation.
func BenchmarkObserve(b *testing.B) {
	for _, name := range Presets() {
		b.Run(name, func(b *testing.B) {
			p := mustPreset(b, name)
			d := NewDetector(p)
			r := rand.New(rand.NewPCG(1, 2))
			vals := noise(r, 4096, 100, 5)
			for i := range vals {
				if vals[i] <= 0 {
					vals[i] = 1
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.Observe(int64(i)*15000, vals[i&4095])
			}
		})
	}
}

// BenchmarkEvaluator100k evaluates one rule over 100,000 series (the query
// is a prepared vector, so this is the evaluator's own cost: detectors,
// alert state, no appender) and reports the heap bytes per tracked series.
func BenchmarkEvaluator100k(b *testing.B) {
	const n = 100_000
	vec := make(promql.Vector, n)
	for i := range vec {
		vec[i] = promql.Sample{Metric: labels.FromStrings("__name__", "probe_duration_seconds", "instance", fmt.Sprintf("host-%06d:9100", i), "job", "icmp")}
	}
	r := rand.New(rand.NewPCG(3, 4))
	query := func(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
		for i := range vec {
			vec[i].F = 0.01 * (1 + 0.05*r.NormFloat64())
			vec[i].T = t.UnixMilli()
		}
		return vec, nil
	}
	groups, err := ParseBytes("bench.yml", []byte("groups:\n  - name: g\n    interval: 15s\n    rules:\n      - anomaly: A\n        expr: probe_duration_seconds\n        preset: latency\n"))
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Options{Groups: groups, Query: rules.QueryFunc(query), Notify: func(context.Context, string, ...*rules.Alert) {}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Unix(1.7e9, 0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 50; i++ { // past warm-up
		e.EvalAt(ctx, t0.Add(time.Duration(i)*15*time.Second))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.EvalAt(ctx, t0.Add(time.Duration(50+i)*15*time.Second))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/series")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/series")
	b.ReportMetric(float64(groups[0].Rules[0].Params.DetectorBytes()), "detectorB")
}
