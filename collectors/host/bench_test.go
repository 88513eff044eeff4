package host

import (
	"context"
	"testing"

	"github.com/fleetwatch/fleetwatch/collectors"
)

// BenchmarkCollect runs a full collection of this machine (every
// sub-collector, live /proc and /sys) into an appender that drops samples.
func BenchmarkCollect(b *testing.B) {
	c, err := New(Config{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	app := &discard{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Collect(ctx, collectors.Target{}, app); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(app.n)/float64(b.N), "series/op")
}

// BenchmarkSub measures each sub-collector alone.
func BenchmarkSub(b *testing.B) {
	for _, name := range AllCollectors() {
		b.Run(name, func(b *testing.B) {
			c, err := New(Config{Collectors: []string{name}}, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			app := &discard{}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Collect(ctx, collectors.Target{}, app); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
