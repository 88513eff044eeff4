package remotewrite

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	promrules "github.com/prometheus/prometheus/rules"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
	"github.com/fleetwatch/fleetwatch/rules"
)

// victoriaMetrics is Debian's victoria-metrics on loopback.
type victoriaMetrics struct {
	addr, dir string
	proc      *testpeer.Process
}

func startVM(t testing.TB) *victoriaMetrics {
	t.Helper()
	testpeer.Need(t, "victoria-metrics")
	vm := &victoriaMetrics{addr: "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t)), dir: t.TempDir()}
	vm.start(t)
	return vm
}

func (vm *victoriaMetrics) start(t testing.TB) {
	t.Helper()
	vm.proc = testpeer.Start(t, "victoria-metrics",
		"-storageDataPath="+vm.dir,
		"-httpListenAddr="+vm.addr,
		"-retentionPeriod=1",
		"-search.latencyOffset=0s",
		"-search.disableCache",
		"-loggerLevel=WARN",
	)
	testpeer.WaitHTTP(t, "http://"+vm.addr+"/health", 30*time.Second)
}

// stop ends the process (SIGINT) and waits for it.
func (vm *victoriaMetrics) stop(t testing.TB) {
	t.Helper()
	_ = vm.proc.Cmd.Process.Signal(os.Interrupt)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := http.Get("http://" + vm.addr + "/health"); err != nil {
			// Give it a moment to finish writing its parts.
			time.Sleep(500 * time.Millisecond)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("victoria-metrics did not stop")
}

func (vm *victoriaMetrics) writeURL() string { return "http://" + vm.addr + "/api/v1/write" }

// export returns every raw sample VictoriaMetrics stores for match, by
// series (sorted name=value pairs) with timestamps in order.
func (vm *victoriaMetrics) export(t testing.TB, match string) map[string][]int64 {
	t.Helper()
	resp, err := http.Get("http://" + vm.addr + "/api/v1/export?match[]=" + url.QueryEscape(match))
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export: HTTP %d", resp.StatusCode)
	}
	out := map[string][]int64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var line struct {
			Metric     map[string]string `json:"metric"`
			Timestamps []int64           `json:"timestamps"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("export line: %v", err)
		}
		parts := make([]string, 0, len(line.Metric))
		for k, v := range line.Metric {
			parts = append(parts, k+"="+v)
		}
		sort.Strings(parts)
		key := strings.Join(parts, ",")
		out[key] = append(out[key], line.Timestamps...)
	}
	for _, ts := range out {
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	}
	return out
}

// waitExport polls the export until it has want's sample count, then
// compares series and timestamps exactly (a duplicate or a gap fails).
func (vm *victoriaMetrics) waitExport(t testing.TB, match string, want map[string][]int64, timeout time.Duration) {
	t.Helper()
	total := 0
	for _, ts := range want {
		total += len(ts)
	}
	var got map[string][]int64
	count := 0
	for deadline := time.Now().Add(timeout); ; {
		got = vm.export(t, match)
		count = 0
		for _, ts := range got {
			count += len(ts)
		}
		if count >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(got) != len(want) || count != total {
		t.Errorf("VictoriaMetrics has %d series and %d samples, want %d and %d", len(got), count, len(want), total)
	}
	bad := 0
	for key, ts := range want {
		g := got[key]
		if fmt.Sprint(g) != fmt.Sprint(ts) {
			if bad++; bad <= 3 {
				t.Errorf("series %s: VictoriaMetrics has %d samples, want %d (first difference shown by count only)", key, len(g), len(ts))
			}
		}
	}
}

func vmQueue(url string) Config {
	c := fastQueue(url)
	c.Name = "vm"
	c.QueueConfig.MaxSamplesPerSend = 2000
	c.QueueConfig.Capacity = 10000
	return c
}

// TestVictoriaMetricsEverySampleAndRestart sends 1000 series × 30 samples
// to VictoriaMetrics, restarts fleetwatch (writer and TSDB) with samples
// written while it was down, and finds every sample there exactly once.
func TestVictoriaMetricsEverySampleAndRestart(t *testing.T) {
	vm := startVM(t)
	dir := t.TempDir()
	f := newFleet(1000)
	t0 := time.Now().Add(-30 * time.Minute).UnixMilli()

	store := openStore(t, dir)
	w := startWriter(t, dir, nil, vmQueue(vm.writeURL()))
	for i := range 20 {
		f.append(t, store, t0+int64(i)*15000)
	}
	vm.waitExport(t, `{__name__="fleet_temp_celsius"}`, f.wantKeys(), 30*time.Second)
	w.stop(t)
	for i := 20; i < 25; i++ {
		f.append(t, store, t0+int64(i)*15000)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store = openStore(t, dir)
	defer store.Close()
	startWriter(t, dir, nil, vmQueue(vm.writeURL()))
	for i := 25; i < 30; i++ {
		f.append(t, store, t0+int64(i)*15000)
	}
	vm.waitExport(t, `{__name__="fleet_temp_celsius"}`, f.wantKeys(), 30*time.Second)
}

// TestVictoriaMetricsOutage stops VictoriaMetrics for 60 s while samples
// keep coming, starts it again on the same port and data, and finds every
// sample there.
func TestVictoriaMetricsOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("60 s outage; run without -short")
	}
	vm := startVM(t)
	dir := t.TempDir()
	store := openStore(t, dir)
	defer store.Close()
	w := startWriter(t, dir, nil, vmQueue(vm.writeURL()))
	f := newFleet(1000)
	t0 := time.Now().Add(-20 * time.Minute).UnixMilli()
	i := 0
	appendNext := func() { f.append(t, store, t0+int64(i)*1000); i++ }
	for range 5 {
		appendNext()
	}
	vm.waitExport(t, `{__name__="fleet_temp_celsius"}`, f.wantKeys(), 30*time.Second)

	vm.stop(t)
	outageEnd := time.Now().Add(60 * time.Second)
	for time.Now().Before(outageEnd) {
		appendNext()
		time.Sleep(2 * time.Second)
	}
	if got := w.metric(t, "fleetwatch_remote_write_samples_retried_total", "vm"); got == 0 {
		t.Error("no retries counted during the outage")
	}
	pending := w.metric(t, "fleetwatch_remote_write_samples_pending", "vm")
	t.Logf("outage: %d samples written, %v pending in the shards when the receiver came back", f.total(), pending)
	vm.start(t)
	for range 5 {
		appendNext()
	}
	vm.waitExport(t, `{__name__="fleet_temp_celsius"}`, f.wantKeys(), 60*time.Second)
	if got := w.metric(t, "fleetwatch_remote_write_samples_failed_total", "vm"); got != 0 {
		t.Errorf("samples_failed_total = %v, want 0", got)
	}
}

// TestRulesOnVictoriaMetricsMatchEmbedded evaluates the same alerting and
// recording rules with rules.RemoteQueryFunc against VictoriaMetrics and
// with prometheus' engine against the embedded TSDB, over the samples the
// writer sent: the alerts and the recorded series must be equal.
// (VictoriaMetrics keeps __name__ on some functions' results, e.g.
// max_over_time, where Prometheus drops it; rules drop or replace the name,
// so what they produce is the same.)
func TestRulesOnVictoriaMetricsMatchEmbedded(t *testing.T) {
	vm := startVM(t)
	dir := t.TempDir()
	store := openStore(t, dir)
	defer store.Close()
	startWriter(t, dir, nil, vmQueue(vm.writeURL()))
	f := newFleet(50, "rack", "r1")
	g := newFleet(50, "rack", "r2")
	t0 := time.Now().Add(-15 * time.Minute).Truncate(time.Minute).UnixMilli()
	for i := range 40 {
		ts := t0 + int64(i)*15000
		f.append(t, store, ts)
		g.append(t, store, ts+1) // another rack, same instances
	}
	want := f.wantKeys()
	for k, v := range g.wantKeys() {
		want[k] = v
	}
	vm.waitExport(t, `{__name__="fleet_temp_celsius"}`, want, 30*time.Second)

	engine := promql.NewEngine(promql.EngineOpts{
		MaxSamples: 1e7, Timeout: time.Minute, LookbackDelta: 5 * time.Minute,
		Parser: parser.NewParser(parser.Options{}),
	})
	embedded := promrules.EngineQueryFunc(engine, store)
	remote := rules.RemoteQueryFunc("http://"+vm.addr, &http.Client{Timeout: 10 * time.Second})
	at := time.UnixMilli(t0 + 39*15000 + 1)
	for _, expr := range []string{
		`fleet_temp_celsius{instance="srv-00007"}`,
		`fleet_temp_celsius > 1e12`,
		`sum by (rack) (fleet_temp_celsius)`,
		`max_over_time(fleet_temp_celsius{rack="r1"}[5m])`,
		`count(fleet_temp_celsius{rack="r2"} > scalar(avg(fleet_temp_celsius{rack="r2"})))`,
		`avg by (job) (fleet_temp_celsius) > 0`,
	} {
		t.Run(expr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p := parser.NewParser(parser.Options{})
			parsed, err := p.ParseExpr(expr)
			if err != nil {
				t.Fatal(err)
			}
			// Each side gets its own rules: they keep state between evaluations.
			eval := func(q promrules.QueryFunc) (alerts, recorded promql.Vector) {
				t.Helper()
				ar := promrules.NewAlertingRule("FleetCheck", parsed, 0, 0, labels.FromStrings("severity", "page"),
					labels.EmptyLabels(), labels.EmptyLabels(), "", true, slog.New(slog.DiscardHandler))
				rr := promrules.NewRecordingRule("fleet:check", parsed, labels.FromStrings("source", "rule"))
				alerts, err := ar.Eval(ctx, 0, at, q, nil, 0)
				if err != nil {
					t.Fatalf("alerting rule: %v", err)
				}
				recorded, err = rr.Eval(ctx, 0, at, q, nil, 0)
				if err != nil {
					t.Fatalf("recording rule: %v", err)
				}
				return alerts, recorded
			}
			ea, er := eval(embedded)
			ra, rr := eval(remote)
			if len(ea) == 0 {
				t.Fatal("the rule does not fire on the embedded TSDB; the comparison would prove nothing")
			}
			if d := diffVectors(ea, ra); d != "" {
				t.Errorf("alerting rule:\n%s", d)
			}
			if d := diffVectors(er, rr); d != "" {
				t.Errorf("recording rule:\n%s", d)
			}
		})
	}
}

// diffVectors compares two instant vectors by labels and value.
func diffVectors(a, b promql.Vector) string {
	index := func(v promql.Vector) map[string]float64 {
		m := map[string]float64{}
		for _, s := range v {
			m[s.Metric.String()] = s.F
		}
		return m
	}
	ma, mb := index(a), index(b)
	var diffs []string
	for k, va := range ma {
		vb, ok := mb[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s = %v on the embedded TSDB, missing on VictoriaMetrics", k, va))
		case math.Abs(va-vb) > 1e-9*math.Max(1, math.Abs(va)):
			diffs = append(diffs, fmt.Sprintf("%s = %v on the embedded TSDB, %v on VictoriaMetrics", k, va, vb))
		}
	}
	for k, vb := range mb {
		if _, ok := ma[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s = %v on VictoriaMetrics, missing on the embedded TSDB", k, vb))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("... %d differences", len(diffs)))
	}
	return strings.Join(diffs, "\n")
}
