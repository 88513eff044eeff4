package remotewrite

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

var (
	benchSeries  = flag.Int("bench.series", 10000, "series in the remote-write benchmarks")
	benchSamples = flag.Int("bench.samples", 100, "samples per series in the remote-write benchmarks")
)

// cpuSelf is this process's user+system CPU time.
func cpuSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf reads utime+stime of pid from /proc/<pid>/stat.
func cpuOf(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}

func benchLabels(i int) labels.Labels {
	return labels.FromStrings("__name__", "bench_series", "instance", fmt.Sprintf("srv-%05d", i), "job", "bench", "rack", fmt.Sprintf("r%03d", i%200))
}

// benchStart is the first sample's timestamp: in the future, because
// Prometheus' remote write only sends samples newer than its own start.
func benchStart() int64 { return time.Now().Add(time.Minute).Truncate(time.Second).UnixMilli() }

// vmCount asks VictoriaMetrics how many bench_series samples it has.
func vmCount(tb testing.TB, addr string, at int64) int {
	q := url.Values{"query": {`sum(count_over_time(bench_series[1h]))`}, "time": {strconv.FormatInt(at/1000+1, 10)}}
	resp, err := http.Get("http://" + addr + "/api/v1/query?" + q.Encode())
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Data.Result) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(fmt.Sprint(r.Data.Result[0].Value[1]))
	return n
}

// BenchmarkRemoteWriteVictoriaMetrics measures the CPU fleetwatch spends
// sending -bench.series × -bench.samples samples from its TSDB's WAL to
// VictoriaMetrics (reading the WAL, relabeling, encoding, HTTP): the
// samples/cpu-s figure. Appending to the TSDB is not counted.
func BenchmarkRemoteWriteVictoriaMetrics(b *testing.B) {
	vm := startVM(b)
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		store := openStore(b, dir)
		cfg := Config{URL: vm.writeURL(), Name: "bench"}
		reg := startWriterOptsStopped(b, Options{Configs: []Config{cfg}, WALDir: filepath.Join(dir, "wal")})
		t0 := benchStart() + int64(i)*int64(*benchSamples)*1000
		refs := make([]storage.SeriesRef, *benchSeries)
		for s := range *benchSamples {
			app := store.AppenderV2(context.Background())
			for j := range refs {
				ref, err := app.Append(refs[j], benchLabels(j), 0, t0+int64(s)*1000, float64(s), nil, nil, storage.AOptions{})
				if err != nil {
					b.Fatal(err)
				}
				refs[j] = ref
			}
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		total := *benchSeries * *benchSamples
		b.StartTimer()
		cpu0, wall0 := cpuSelf(), time.Now()
		r := reg.run(b)
		waitFor(b, 10*time.Minute, "every sample sent", func() bool {
			return r.metric(b, "fleetwatch_remote_write_samples_sent_total", "bench") >= float64(total)
		})
		cpu, wall := cpuSelf()-cpu0, time.Since(wall0)
		b.StopTimer()
		r.stop(b)
		store.Close()
		b.ReportMetric(float64(total)/cpu.Seconds(), "samples/cpu-s")
		b.ReportMetric(float64(total)/wall.Seconds(), "samples/s")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		want := total * (i + 1)
		waitFor(b, time.Minute, "VictoriaMetrics to have every sample", func() bool { return vmCount(b, vm.addr, t0+int64(*benchSamples)*1000) >= want })
	}
}

// stoppedWriter is a Writer created (its start position recorded) but not
// yet running, so the samples appended before run are all sent.
type stoppedWriter struct {
	w   *Writer
	reg *prometheus.Registry
}

func startWriterOptsStopped(tb testing.TB, o Options) *stoppedWriter {
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	o.Logger = slog.New(slog.DiscardHandler)
	w, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	return &stoppedWriter{w: w, reg: reg}
}

func (s *stoppedWriter) run(tb testing.TB) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: s.w, reg: s.reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.w.Run(ctx) }()
	tb.Cleanup(func() { r.stop(tb) })
	return r
}

// pushToPrometheus sends the benchmark's samples to Prometheus' remote
// write receiver in requests of 2000 samples.
func pushToPrometheus(tb testing.TB, addr string, t0 int64) {
	var req prompb.WriteRequest
	lbls := make([][]prompb.Label, *benchSeries)
	for j := range lbls {
		benchLabels(j).Range(func(l labels.Label) { lbls[j] = append(lbls[j], prompb.Label{Name: l.Name, Value: l.Value}) })
	}
	flush := func() {
		pb, _ := req.Marshal()
		resp, err := http.Post("http://"+addr+"/api/v1/write", "application/x-protobuf", bytes.NewReader(snappy.Encode(nil, pb)))
		if err != nil {
			tb.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			tb.Fatalf("Prometheus receiver: HTTP %d", resp.StatusCode)
		}
		req.Timeseries = req.Timeseries[:0]
	}
	for s := range *benchSamples {
		for j := range lbls {
			req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: lbls[j], Samples: []prompb.Sample{{Value: float64(s), Timestamp: t0 + int64(s)*1000}}})
			if len(req.Timeseries) == 2000 {
				flush()
			}
		}
	}
	if len(req.Timeseries) > 0 {
		flush()
	}
}

// BenchmarkPrometheusRemoteWrite is the peer's figure: Debian's Prometheus
// 2.42 receives the same samples through its remote-write receiver, once
// with remote_write to VictoriaMetrics and once without; the difference of
// its CPU (from /proc/<pid>/stat) is what sending cost it.
func BenchmarkPrometheusRemoteWrite(b *testing.B) {
	vm := startVM(b)
	b.StopTimer()
	total := *benchSeries * *benchSamples
	queue := `
    queue_config: {capacity: 10000, max_shards: 50, min_shards: 1, max_samples_per_send: 2000, batch_send_deadline: 5s}`
	for i := 0; i < b.N; i++ {
		run := func(withRemote bool) time.Duration {
			cfg := "global: {scrape_interval: 1h}\n"
			if withRemote {
				cfg += "remote_write:\n  - url: " + vm.writeURL() + queue + "\n"
			}
			addr := testpeer.Prometheus(b, cfg, "--web.enable-remote-write-receiver", "--log.level=warn")
			pid := promPID(b, addr)
			time.Sleep(2 * time.Second) // let its start-up settle
			t0 := benchStart() + int64(i)*int64(*benchSamples)*1000
			if withRemote {
				t0 += 500 // distinct from the run without remote write
			}
			cpu0 := cpuOf(b, pid)
			pushToPrometheus(b, addr, t0)
			if withRemote {
				want := total
				waitFor(b, 10*time.Minute, "VictoriaMetrics to have Prometheus' samples", func() bool {
					return vmCount(b, vm.addr, t0+int64(*benchSamples)*1000) >= want
				})
			}
			return cpuOf(b, pid) - cpu0
		}
		b.StartTimer()
		with := run(true)
		without := run(false)
		b.StopTimer()
		send := with - without
		b.ReportMetric(with.Seconds(), "cpu-s-with-remote-write")
		b.ReportMetric(without.Seconds(), "cpu-s-ingest-only")
		if send > 0 {
			b.ReportMetric(float64(total)/send.Seconds(), "samples/cpu-s")
		}
	}
}

// promPID finds the pid of the Prometheus listening on addr (testpeer
// keeps the process; its pid is the one whose command line names addr).
func promPID(tb testing.TB, addr string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmd, []byte("--web.listen-address="+addr)) {
			return pid
		}
	}
	tb.Fatalf("no Prometheus process listens on %s", addr)
	return 0
}
