package redfish

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"

	"github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/simulate/bmc"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countApp counts samples and drops them.
type countApp struct{ n atomic.Int64 }

func (a *countApp) Append(labels.Labels, int64, float64) error { a.n.Add(1); return nil }
func (a *countApp) SetMetadata(string, metadata.Metadata)      {}

// BenchmarkFleetPoll polls a fleet of simulated BMCs on loopback (one port
// each, all four mockups in turn, 20 ms added to every answer, sessions)
// once per iteration, with and without $expand. ns/op is the wall time of a
// full poll of the fleet; cpu-ms/bmc is the process CPU (collector and
// simulator together) per BMC poll. REDFISH_BENCH_BMCS sets the fleet size
// (default 5000), REDFISH_BENCH_CONCURRENCY the BMCs polled at once
// (default 256).
//
//	go test ./collectors/redfish/ -run XXX -bench FleetPoll -benchtime 2x
func BenchmarkFleetPoll(b *testing.B) {
	n := envInt("REDFISH_BENCH_BMCS", 5000)
	conc := envInt("REDFISH_BENCH_CONCURRENCY", 256)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fleet, err := bmc.Serve(ctx, bmc.Options{Count: n, BMC: bmc.HandlerOptions{
		Latency: 20 * time.Millisecond, Drift: 0.02, Username: "monitor", Password: "pw"}})
	if err != nil {
		b.Fatal(err)
	}
	defer fleet.Close()
	os.Setenv("REDFISH_BENCH_PW", "pw")
	for _, expand := range []string{"auto", "off"} {
		b.Run("expand="+expand, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Scheme, cfg.Username, cfg.PasswordEnv, cfg.Expand = "http", "monitor", "REDFISH_BENCH_PW", expand
			c, err := New(cfg, nil, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(context.Background())
			targets := make([]collectors.Target, n)
			for i, a := range fleet.Addresses() {
				targets[i] = collectors.Target{Address: a, Labels: labels.FromStrings("instance", a)}
			}
			pollAll := func() (int64, int) {
				var wg sync.WaitGroup
				sem := make(chan struct{}, conc)
				var failed atomic.Int64
				app := &countApp{}
				for _, t := range targets {
					wg.Add(1)
					sem <- struct{}{}
					go func() {
						defer wg.Done()
						defer func() { <-sem }()
						pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
						defer cancel()
						if err := c.Collect(pctx, t, app); err != nil {
							if failed.Add(1) == 1 {
								b.Logf("BMC %s: %v", t.Address, err)
							}
						}
					}()
				}
				wg.Wait()
				return app.n.Load(), int(failed.Load())
			}
			pollAll() // logins and log cursors: measure the steady state
			req0 := totalRequests(fleet)
			cpu0 := cpuTime()
			b.ResetTimer()
			var samples int64
			var failed int
			for range b.N {
				s, f := pollAll()
				samples += s
				failed += f
			}
			b.StopTimer()
			polls := float64(b.N * n)
			b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/polls, "cpu-ms/bmc")
			b.ReportMetric(float64(totalRequests(fleet)-req0)/polls, "requests/bmc")
			b.ReportMetric(float64(samples)/polls, "samples/bmc")
			b.ReportMetric(float64(failed), "failed")
		})
	}
}

func totalRequests(f *bmc.Fleet) int64 {
	var n int64
	for i := range f.Len() {
		n += f.BMC(i).Requests()
	}
	return n
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// handlerTransport serves requests from an http.Handler in memory.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// BenchmarkCollect is one poll of one BMC of each mockup with the simulator
// in memory (no sockets, no latency): the CPU cost of a poll, mostly the
// collector's JSON decoding.
//
//	go test ./collectors/redfish/ -run XXX -bench 'Collect$' -benchmem
func BenchmarkCollect(b *testing.B) {
	for _, name := range bmc.MockupNames() {
		for _, expand := range []string{"auto", "off"} {
			b.Run(fmt.Sprintf("%s/expand=%s", name, expand), func(b *testing.B) {
				m, err := bmc.LoadMockup(name)
				if err != nil {
					b.Fatal(err)
				}
				sim := bmc.NewBMC(m, bmc.HandlerOptions{Index: 1, Drift: 0.02})
				cfg := DefaultConfig()
				cfg.Scheme, cfg.Expand = "http", expand
				c, err := New(cfg, nil, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				c.transport = handlerTransport{sim}
				t := collectors.Target{Address: "http://bmc.test", Labels: labels.FromStrings("instance", "bmc.test")}
				if err := c.Collect(context.Background(), t, &countApp{}); err != nil {
					b.Fatal(err)
				}
				r0 := sim.Requests()
				b.ResetTimer()
				for range b.N {
					if err := c.Collect(context.Background(), t, &countApp{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(sim.Requests()-r0)/float64(b.N), "requests/poll")
			})
		}
	}
}
