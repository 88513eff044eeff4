package pagerduty

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNotify builds and sends one trigger to the local Events API
// endpoint and back: cpu-ns/op is the process CPU per notification, the
// fake endpoint's share included.
func BenchmarkNotify(b *testing.B) {
	_, n, _ := newServerNotifier(b, func(c *Config) { c.RateLimitPerMinute = 0 })
	m := rackMessage(notify.ActionTrigger)
	ctx := context.Background()
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := n.Notify(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkBuild is the sender's own work per trigger: the event and its
// JSON body, without the HTTP exchange.
func BenchmarkBuild(b *testing.B) {
	n, _ := newNotifier(b, "http://127.0.0.1:1/v2/enqueue", nil)
	m := rackMessage(notify.ActionTrigger)
	b.ReportAllocs()
	for b.Loop() {
		evs, err := n.events(m)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(evs[0]); err != nil {
			b.Fatal(err)
		}
	}
}
