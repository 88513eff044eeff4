package snmp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"

	"github.com/fleetwatch/fleetwatch/collectors"
	switchsim "github.com/fleetwatch/fleetwatch/simulate/switch"
)

// selfCPU is this process' user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user+system CPU time of process pid, from /proc.
func procCPU(b testing.TB, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// nullAppender drops samples, counting them.
type nullAppender struct{ n int }

func (a *nullAppender) Append(labels.Labels, int64, float64) error { a.n++; return nil }
func (a *nullAppender) SetMetadata(string, metadata.Metadata)      {}

// BenchmarkPollCPU measures the CPU one if_mib poll of one device costs
// fleetwatch and snmp_exporter 0.21, same module, same agent, one poll at a
// time, on the same run: the Arista recording served by snmpsim (~2,250
// series) and a real snmpd (~75–150 series). The figure is cpu-ms/walk;
// snmp_exporter's is read from /proc for its process (HTTP serving
// included, as it is part of what it costs).
//
//	go test -run XXX -bench BenchmarkPollCPU -benchtime 40x ./collectors/snmp/
func BenchmarkPollCPU(b *testing.B) {
	sim := startSnmpsim(b)
	snmpd := startSnmpd(b)
	cfgPath := exporterConfigPerRecording(b)
	exporter, pid := startSNMPExporter(b, cfgPath)
	c := newTestCollector(b, func(c *Config) {
		c.ModuleFiles = []string{cfgPath}
		c.Timeout = 10 * time.Second
	})
	for _, agent := range []struct{ name, addr, community string }{
		{"arista", sim, "arista-dcs-7150s-52-cl"},
		{"snmpd", snmpd, "public"},
	} {
		params := map[string]string{ParamModule: agent.community, ParamAuth: agent.community}
		b.Run(agent.name+"/fleetwatch", func(b *testing.B) {
			series := 0
			var cpu time.Duration
			for b.Loop() {
				app := &nullAppender{}
				before := selfCPU()
				err := c.Collect(context.Background(), collectors.Target{Job: "bench", Address: agent.addr, Params: params}, app)
				cpu += selfCPU() - before
				if err != nil {
					b.Fatal(err)
				}
				series = app.n
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/walk")
			b.ReportMetric(float64(series), "series")
		})
		b.Run(agent.name+"/snmp_exporter", func(b *testing.B) {
			u := "http://" + exporter + "/snmp?" + url.Values{"target": {agent.addr}, "module": {agent.community}}.Encode()
			var cpu time.Duration
			lines := 0
			for b.Loop() {
				before := procCPU(b, pid)
				resp, err := http.Get(u)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				cpu += procCPU(b, pid) - before
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %s", resp.Status, body)
				}
				lines = 0
				for _, l := range strings.Split(string(body), "\n") {
					if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "snmp_scrape_") {
						lines++
					}
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/walk")
			b.ReportMetric(float64(lines), "series")
		})
	}
}

// BenchmarkFleet polls 1,000 simulated switches replaying the Arista
// recording (if_mib: ~2,250 series, ~100 GETBULKs each) once, 128 polls at
// a time, the simulator in the same process and so on the same cores. The
// figure is the wall time of polling all of them (goal: under 30 s on 2
// cores) and the CPU per switch (collector and simulator together).
//
//	go test -run XXX -bench BenchmarkFleet -benchtime 1x ./collectors/snmp/
func BenchmarkFleet(b *testing.B) {
	const switches, concurrency = 1000, 128
	rec, err := switchsim.LoadRecording(filepath.Join("testdata", "recordings", "arista-dcs-7150s-52-cl.snmprec"))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fleet, err := switchsim.Serve(ctx, switchsim.Options{Recording: rec, Count: switches})
	if err != nil {
		b.Fatal(err)
	}
	c := newTestCollector(b, func(c *Config) { c.Timeout = 5 * time.Second; c.Retries = 2 })
	for b.Loop() {
		start, cpu0 := time.Now(), selfCPU()
		var failed, series, retried, sent atomic.Int64
		sem := make(chan struct{}, concurrency)
		var wg sync.WaitGroup
		for _, sw := range fleet.Switches {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				app := &countingAppender{}
				pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
				defer pcancel()
				if err := c.Collect(pctx, collectors.Target{Job: "fleet", Address: sw.Addr()}, app); err != nil {
					failed.Add(1)
				}
				series.Add(app.n.Load())
				retried.Add(app.retried.Load())
				sent.Add(app.sent.Load())
			}()
		}
		wg.Wait()
		wall := time.Since(start)
		b.ReportMetric(wall.Seconds(), "wall-s/fleet")
		b.ReportMetric(float64((selfCPU()-cpu0).Microseconds())/1000/switches, "cpu-ms/switch")
		b.ReportMetric(float64(failed.Load()), "failed")
		b.ReportMetric(float64(retried.Load()), "retries")
		b.ReportMetric(float64(sent.Load())/switches, "packets/switch")
		b.ReportMetric(float64(series.Load())/switches, "series/switch")
	}
}

type countingAppender struct{ n, retried, sent atomic.Int64 }

func (a *countingAppender) Append(ls labels.Labels, _ int64, v float64) error {
	a.n.Add(1)
	switch ls.Get(labels.MetricName) {
	case "snmp_scrape_packets_retried":
		a.retried.Add(int64(v))
	case "snmp_scrape_packets_sent":
		a.sent.Add(int64(v))
	}
	return nil
}
func (a *countingAppender) SetMetadata(string, metadata.Metadata) {}
