package promapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

const (
	benchSeries  = 10_000
	benchSamples = 121 // 30 minutes every 15 s
	benchStep    = 15 * time.Second
)

// benchLabels is series i of the benchmark: node_cpu_seconds_total over
// 1,250 hosts × 8 modes.
func benchLabels(i int) labels.Labels {
	modes := []string{"idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"}
	return labels.FromStrings("__name__", "node_cpu_seconds_total", "cpu", "0",
		"instance", "host-"+strconv.Itoa(i/len(modes)), "job", "node", "mode", modes[i%len(modes)])
}

func benchValue(i, j int) float64 { return float64(j*(i%7+1)) + float64(i) }

func fillBenchDB(b *testing.B, db *tsdb.DB, end time.Time) {
	b.Helper()
	start := end.Add(-benchStep * (benchSamples - 1))
	for j := 0; j < benchSamples; j++ {
		app := db.AppenderV2(context.Background())
		ts := start.Add(time.Duration(j) * benchStep).UnixMilli()
		for i := 0; i < benchSeries; i++ {
			if _, err := app.Append(0, benchLabels(i), 0, ts, benchValue(i, j), nil, nil, storage.AppendV2Options{}); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the CPU (user+system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the CPU (user+system) process pid has used, from /proc.
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the ")" closing the command name; utime and stime are
	// fields 14 and 15 of the line, in clock ticks (100 per second here).
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// BenchmarkRate5m measures rate(node_cpu_seconds_total[5m]) over 10,000
// series: in the engine alone, through fleetwatch's HTTP API (with JSON
// encoding), and through Prometheus' own HTTP API holding the same series
// (remote-written), measured by the CPU its process spends. cpu-ms/op is
// the figure to compare.
func BenchmarkRate5m(b *testing.B) {
	end := time.Now().Truncate(time.Second)
	db := openDB(b)
	fillBenchDB(b, db, end)
	const query = "rate(node_cpu_seconds_total[5m])"
	eng := NewEngine(EngineOptions{}, nil, nil)

	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		c0 := cpuTime()
		b.ResetTimer()
		for b.Loop() {
			q, err := eng.NewInstantQuery(context.Background(), db, nil, query, end)
			if err != nil {
				b.Fatal(err)
			}
			res := q.Exec(context.Background())
			if res.Err != nil {
				b.Fatal(res.Err)
			}
			if v, ok := res.Value.(promql.Vector); !ok || len(v) != benchSeries {
				b.Fatalf("got %s, want %d series", res.Value.Type(), benchSeries)
			}
			q.Close()
		}
		b.ReportMetric(float64(cpuTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})

	api := New(Options{Queryable: db, Engine: eng, Now: func() time.Time { return end }})
	mux := http.NewServeMux()
	api.Register(mux)
	fw := httpTestServer(b, mux)
	q := url.Values{"query": {query}, "time": {strconv.FormatInt(end.Unix(), 10)}}.Encode()

	b.Run("fleetwatch_http", func(b *testing.B) {
		c0 := cpuTime()
		for b.Loop() {
			benchGet(b, fw+"/api/v1/query?"+q)
		}
		b.ReportMetric(float64(cpuTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})

	b.Run("prometheus_http", func(b *testing.B) {
		testpeer.Need(b, "prometheus")
		addr := testpeer.Prometheus(b, "global: {scrape_interval: 1m}\n", "--web.enable-remote-write-receiver")
		prom := "http://" + addr
		remoteWriteBench(b, prom, end)
		pid := promPID(b, addr)
		benchGet(b, prom+"/api/v1/query?"+q) // warm up
		c0 := procCPU(b, pid)
		for b.Loop() {
			benchGet(b, prom+"/api/v1/query?"+q)
		}
		b.ReportMetric(float64(procCPU(b, pid)-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})
}

// benchGet fetches url and checks the answer has all 10,000 series.
func benchGet(b *testing.B, u string) {
	b.Helper()
	resp, err := http.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("HTTP %d %v: %.300s", resp.StatusCode, err, buf.Bytes())
	}
	if n := bytes.Count(buf.Bytes(), []byte(`"value"`)); n != benchSeries {
		b.Fatalf("%d series in the answer, want %d", n, benchSeries)
	}
}

// remoteWriteBench sends the benchmark series to Prometheus' remote-write
// receiver, 500 series per request.
func remoteWriteBench(b *testing.B, prom string, end time.Time) {
	b.Helper()
	start := end.Add(-benchStep * (benchSamples - 1))
	for lo := 0; lo < benchSeries; lo += 500 {
		var req prompb.WriteRequest
		for i := lo; i < lo+500 && i < benchSeries; i++ {
			ts := prompb.TimeSeries{}
			benchLabels(i).Range(func(l labels.Label) {
				ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
			})
			for j := 0; j < benchSamples; j++ {
				ts.Samples = append(ts.Samples, prompb.Sample{Value: benchValue(i, j), Timestamp: start.Add(time.Duration(j) * benchStep).UnixMilli()})
			}
			req.Timeseries = append(req.Timeseries, ts)
		}
		raw, err := req.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		hr, _ := http.NewRequest(http.MethodPost, prom+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, raw)))
		hr.Header.Set("Content-Encoding", "snappy")
		hr.Header.Set("Content-Type", "application/x-protobuf")
		hr.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b.Fatalf("remote write: HTTP %d", resp.StatusCode)
		}
	}
}

// promPID finds the prometheus process this benchmark started: the one
// whose command line names its (unique, freshly chosen) listen address.
func promPID(b *testing.B, addr string) int {
	b.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmd, []byte("--web.listen-address="+addr+"\x00")) {
			return pid
		}
	}
	b.Fatalf("no prometheus process listening on %s", addr)
	return 0
}
