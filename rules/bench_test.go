package rules

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// BenchmarkEvaluate1000AlertsOver100kSeries: 1,000 alerting rules in 10
// groups over 100,000 series (100 metrics × 1,000 instances, 5 minutes of
// samples at 30 s) in a TSDB; one op evaluates every group once, as one
// evaluation interval does, groups concurrently as rules.Manager runs them. Each rule reads 1,000 series; 1–10 % of them
// alert (pending, so ALERTS and ALERTS_FOR_STATE are written).
//
//	go test -run XXX -bench Evaluate1000 -benchtime 5x ./rules/
func BenchmarkEvaluate1000AlertsOver100kSeries(b *testing.B) {
	const metrics, instances, groups, perGroup = 100, 1000, 10, 100
	db := openTSDB(b, b.TempDir())
	defer db.Close()
	end := time.Now().Truncate(time.Minute)
	start := end.Add(-5 * time.Minute)
	for m := range metrics {
		app := db.AppenderV2(context.Background())
		for i := range instances {
			lset := labels.FromStrings("__name__", fmt.Sprintf("bench_metric_%03d", m), "instance", fmt.Sprintf("host-%04d", i), "job", "bench")
			v := float64((i*7 + m) % 100)
			for ts := start; !ts.After(end); ts = ts.Add(30 * time.Second) {
				if _, err := app.Append(0, lset, 0, ts.UnixMilli(), v, nil, nil, storage.AppendV2Options{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	var sb strings.Builder
	sb.WriteString("groups:\n")
	for g := range groups {
		fmt.Fprintf(&sb, "  - name: bench-%02d\n    rules:\n", g)
		for r := range perGroup {
			i := g*perGroup + r
			fmt.Fprintf(&sb, "      - alert: Bench%04d\n        expr: avg_over_time(bench_metric_%03d[5m]) > %d\n        for: 5m\n        labels:\n          severity: warning\n        annotations:\n          summary: '{{ $labels.instance }} at {{ $value | humanize }}'\n",
				i, i%metrics, 90+i%10)
		}
	}
	file := writeFile(b, b.TempDir(), "bench.yml", sb.String())
	e, err := New(Options{Queryable: db, Appendable: db, Engine: newPromQLEngine(), EvaluationInterval: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Load([]string{file}); err != nil {
		b.Fatal(err)
	}
	gs := e.Manager().RuleGroups()
	if len(gs) != groups {
		b.Fatalf("%d groups", len(gs))
	}
	for _, g := range gs {
		for _, r := range g.AlertingRules() {
			r.SetRestored(true)
		}
	}
	ctx := context.Background()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		// rules.Manager runs each group in its own goroutine: so does this.
		ts := end.Add(time.Duration(n+1) * time.Second)
		var wg sync.WaitGroup
		for _, g := range gs {
			wg.Go(func() { g.Eval(ctx, ts) })
		}
		wg.Wait()
	}
	b.StopTimer()
	alerts := 0
	for _, g := range gs {
		for _, r := range g.Rules() {
			if r.LastError() != nil {
				b.Fatalf("%s: %v", r.Name(), r.LastError())
			}
			if ar, ok := r.(*promrules.AlertingRule); ok {
				alerts += len(ar.ActiveAlerts())
			}
		}
	}
	b.ReportMetric(float64(alerts), "alerts")
	b.ReportMetric(1000, "rules")
}
