package scrape

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// nodeExporterCapture is a real /metrics response of node_exporter 1.5
// (Debian's prometheus-node-exporter), 507 series.
const nodeExporterCapture = "testdata/node_exporter/metrics.txt"

// processCPU returns the user+system CPU this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCollect scrapes the recorded node_exporter output from an
// httptest server (body prepared once, plain or gzip) into a discarding
// appender. The figures include the in-process server's share.
func BenchmarkCollect(b *testing.B) {
	body, err := os.ReadFile(nodeExporterCapture)
	if err != nil {
		b.Fatal(err)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write(body)
	_ = zw.Close()
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
				if enc == "gzip" {
					w.Header().Set("Content-Encoding", "gzip")
					_, _ = w.Write(zb.Bytes())
					return
				}
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			cfg := DefaultConfig()
			cfg.EnableCompression = enc == "gzip"
			c, err := New(cfg, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			benchCollect(b, c, collectors.Target{Job: "bench", Address: strings.TrimPrefix(srv.URL, "http://")})
		})
	}
}

// BenchmarkCollectNodeExporter scrapes the real node_exporter (gzip, as by
// default). cpu-ms/op is this process' CPU only: node_exporter's own work is
// in its process.
func BenchmarkCollectNodeExporter(b *testing.B) {
	addr := testpeer.NodeExporter(b)
	c, err := New(DefaultConfig(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	benchCollect(b, c, collectors.Target{Job: "bench", Address: addr})
}

func benchCollect(b *testing.B, c *Collector, tg collectors.Target) {
	var d discard
	ctx := context.Background()
	if err := c.Collect(ctx, tg, &d); err != nil { // warm the pools and the connection
		b.Fatal(err)
	}
	d.n = 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	for b.Loop() {
		if err := c.Collect(ctx, tg, &d); err != nil {
			b.Fatal(err)
		}
	}
	cpu := processCPU(b) - cpu0
	b.ReportMetric(float64(d.n)/float64(b.N), "samples/op")
	b.ReportMetric(float64(d.n)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(d.n)/cpu.Seconds(), "samples/cpu-s")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkAppendExposition is the body → samples conversion alone on the
// recorded node_exporter output: no HTTP, no decompression.
func BenchmarkAppendExposition(b *testing.B) {
	body, err := os.ReadFile(nodeExporterCapture)
	if err != nil {
		b.Fatal(err)
	}
	body = append(body, make([]byte, 0, 1)...) // room for a final newline, as the pooled buffer has
	p := newParser()
	opts := parseOptions{honorTimestamps: true}
	var d discard
	if _, err := p.appendExposition(body, "text/plain; version=0.0.4", &opts, &d); err != nil {
		b.Fatal(err) // the first conversion fills the series cache
	}
	d.n = 0
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	cpu0 := processCPU(b)
	for b.Loop() {
		if _, err := p.appendExposition(body, "text/plain; version=0.0.4", &opts, &d); err != nil {
			b.Fatal(err)
		}
	}
	cpu := processCPU(b) - cpu0
	b.ReportMetric(float64(d.n)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(d.n)/cpu.Seconds(), "samples/cpu-s")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkPeerPrometheus measures the peer: Prometheus (Debian's, 2.42 here)
// scraping the same node_exporter every 100ms, in CPU per scrape read from
// /proc/<pid>/stat, minus an idle Prometheus' CPU over the same time. One op
// is one scrape; run it with -benchtime=100x.
func BenchmarkPeerPrometheus(b *testing.B) {
	ne := testpeer.NodeExporter(b)
	const job = `global: {scrape_interval: 100ms, scrape_timeout: 100ms}
scrape_configs:
  - job_name: node
    static_configs: [{targets: ['%s']}]
`
	idle := testpeer.Prometheus(b, "global: {scrape_interval: 100ms}\n")
	busy := testpeer.Prometheus(b, fmt.Sprintf(job, ne))
	idlePID, busyPID := promPID(b, idle), promPID(b, busy)
	start := scrapeCount(b, busy)
	for scrapeCount(b, busy) < start+5 { // warm-up: series created, chunks open
		time.Sleep(100 * time.Millisecond)
	}
	b.ResetTimer()
	idle0, busy0 := pidCPU(b, idlePID), pidCPU(b, busyPID)
	n0 := scrapeCount(b, busy)
	for scrapeCount(b, busy) < n0+b.N {
		time.Sleep(50 * time.Millisecond)
	}
	idleCPU, busyCPU := pidCPU(b, idlePID)-idle0, pidCPU(b, busyPID)-busy0
	n := scrapeCount(b, busy) - n0
	b.ReportMetric(float64((busyCPU-idleCPU).Microseconds())/1000/float64(n), "cpu-ms/scrape")
	b.ReportMetric(float64(busyCPU.Microseconds())/1000/float64(n), "cpu-ms/scrape-with-idle")
}

// promPID finds the pid of the Prometheus listening on addr from its
// command line.
func promPID(b *testing.B, addr string) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmd, []byte("--web.listen-address="+addr+"\x00")) && bytes.HasPrefix(cmd, []byte("/usr/bin/prometheus\x00")) {
			return pid
		}
	}
	b.Fatalf("no prometheus process listening on %s", addr)
	return 0
}

// pidCPU returns utime+stime of pid from /proc/<pid>/stat.
func pidCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the ")" closing the command name; utime and stime are
	// fields 14 and 15 of the line, 12 and 13 after it.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}

// scrapeCount returns how many scrapes Prometheus at addr has done, from its
// own prometheus_target_interval_length_seconds_count.
func scrapeCount(b *testing.B, addr string) int {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "prometheus_target_interval_length_seconds_count{") {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				b.Fatal(err)
			}
			return int(v)
		}
	}
	return 0
}
