package acceptance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/notify/pagerduty/pdtest"
)

// The figures side by side: every benchmark starts Debian's Alertmanager
// 0.25 and the fleetwatch binary on the same run, with the same client,
// and reports the same figure for both. Reproduce with
//
//	go test ./alerter/acceptance/ -run XXX -bench . -benchtime 3x
//
// or bench/alertmanager.sh.

// benchTarget is one server under load.
type benchTarget struct {
	name string
	url  string
	pid  int
}

// benchTargets starts Alertmanager with amConfig and fleetwatch with
// fwAlerting (its alerter file) and returns both.
func benchTargets(b *testing.B, amConfig, fwAlerting string) []benchTarget {
	b.Helper()
	amURL, am := startAlertmanager(b, amConfig)
	f := newFleetwatch(b, fwAlerting, nil)
	f.start()
	return []benchTarget{{"alertmanager", amURL, am.Cmd.Process.Pid}, {"fleetwatch", f.URL, f.pid()}}
}

// alertBatches builds n alerts of run in batches of 100 as POST bodies,
// ending at endsAt (as Prometheus sends them: endsAt moves forward with
// every re-send).
func alertBatches(run string, n int, endsAt time.Time) [][]byte {
	starts := endsAt.Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	ends := endsAt.UTC().Format(time.RFC3339Nano)
	var out [][]byte
	for i := 0; i < n; i += 100 {
		as := make([]map[string]any, 0, 100)
		for j := i; j < i+100 && j < n; j++ {
			as = append(as, map[string]any{
				"labels": map[string]string{"alertname": fmt.Sprintf("Alert%d", j%10), "instance": fmt.Sprintf("host-%06d:9100", j),
					"job": "node", "severity": "warning", "site": fmt.Sprintf("dc%d", j%4), "rack": fmt.Sprintf("r%04d", j/40), "run": run},
				"annotations":  map[string]string{"summary": "something is wrong", "description": "host-" + strconv.Itoa(j) + " has been failing for a while"},
				"startsAt":     starts,
				"endsAt":       ends,
				"generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0",
			})
		}
		body, _ := json.Marshal(as)
		out = append(out, body)
	}
	return out
}

// sendAll POSTs bodies to url with conc senders at once, each sending its
// share in order, as several Prometheus servers do.
func sendAll(b *testing.B, url string, bodies [][]byte, conc int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, conc)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				resp, err := http.Post(url+"/api/v2/alerts", "application/json", bytes.NewReader(bodies[i]))
				if err != nil {
					errc <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errc <- fmt.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// benchAM is the route of the intake benchmarks: 40 groups whose
// group_wait does not end during the measurement, so the figures are the
// intake's alone (a flush of groups of thousands of alerts costs both
// servers, at a moment neither controls).
const benchAM = `
route:
  receiver: hook
  group_by: [alertname, site]
  group_wait: 10m
  group_interval: 5m
receivers:
  - name: hook
    webhook_configs:
      - url: %s
`

// BenchmarkPostAlerts: POST /api/v2/alerts in batches of 100, 10,000
// distinct alerts per iteration (first arrival: fleetwatch commits every
// alert before it answers), then the same alerts re-sent with a later
// endsAt as Prometheus does every evaluation; one sender, and four at
// once.
func BenchmarkPostAlerts(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer sink.Close()
	targets := benchTargets(b, fmt.Sprintf(benchAM, sink.URL), fmt.Sprintf(benchAM, sink.URL))
	const n = 10000
	run := 0
	for _, conc := range []int{1, 4} {
		for _, tg := range targets {
			b.Run(fmt.Sprintf("%s/senders=%d", tg.name, conc), func(b *testing.B) {
				var first, resend, firstCPU, resendCPU time.Duration
				var commits, commitTime float64
				stopProfile := profileServer(b, tg, fmt.Sprintf("postalerts-senders%d", conc))
				defer stopProfile()
				for range b.N {
					run++
					id := strconv.Itoa(run)
					end := time.Now().Add(time.Hour)
					bodies := alertBatches(id, n, end)
					again := alertBatches(id, n, end.Add(time.Minute))
					t0, c0 := time.Now(), cpuTime(b, tg.pid)
					m0 := commitStats(b, tg)
					sendAll(b, tg.url, bodies, conc)
					first += time.Since(t0)
					firstCPU += cpuTime(b, tg.pid) - c0
					m1 := commitStats(b, tg)
					commits += m1.count - m0.count
					commitTime += m1.sum - m0.sum
					t0, c0 = time.Now(), cpuTime(b, tg.pid)
					sendAll(b, tg.url, again, conc)
					resend += time.Since(t0)
					resendCPU += cpuTime(b, tg.pid) - c0
				}
				b.ReportMetric(float64(n*b.N)/first.Seconds(), "first-alerts/s")
				b.ReportMetric(float64(n*b.N)/resend.Seconds(), "resend-alerts/s")
				// The server's own CPU (user+system) per alert: what the
				// 2 cores shared with the client do not distort.
				b.ReportMetric(float64(firstCPU.Microseconds())/float64(n*b.N), "first-cpu-µs/alert")
				b.ReportMetric(float64(resendCPU.Microseconds())/float64(n*b.N), "resend-cpu-µs/alert")
				if commits > 0 {
					// fleetwatch's store transactions on first arrival:
					// how many alerts each carried and how long it took.
					b.ReportMetric(float64(n*b.N)/commits, "first-alerts/commit")
					b.ReportMetric(commitTime/commits*1000, "first-ms/commit")
				}
			})
		}
	}
}

// commitSum is fleetwatch_alerter_commit_duration_seconds' count and sum.
type commitSum struct{ count, sum float64 }

// commitStats reads fleetwatch's store transaction figures (zero for
// Alertmanager, which has none).
func commitStats(b *testing.B, tg benchTarget) commitSum {
	var c commitSum
	if tg.name != "fleetwatch" {
		return c
	}
	resp, err := http.Get(tg.url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, _ := strconv.ParseFloat(val, 64)
		switch name {
		case "fleetwatch_alerter_commit_duration_seconds_count":
			c.count = f
		case "fleetwatch_alerter_commit_duration_seconds_sum":
			c.sum = f
		}
	}
	return c
}

// profileServer records a 5-second CPU profile of fleetwatch from the
// start of a benchmark, and its heap at the end, when
// FLEETWATCH_BENCH_PROFILE names a directory (written there as
// <name>.pprof and <name>.heap.pprof; read them with go tool pprof).
// Other targets, and runs without the variable, are not profiled.
func profileServer(b *testing.B, tg benchTarget, name string) (stop func()) {
	dir := os.Getenv("FLEETWATCH_BENCH_PROFILE")
	if dir == "" || tg.name != "fleetwatch" {
		return func() {}
	}
	save := func(path, file string) {
		resp, err := http.Get(tg.url + path)
		if err != nil {
			b.Logf("profile: %v", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(dir, file))
		if err != nil {
			b.Logf("profile: %v", err)
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		save("/debug/pprof/profile?seconds=5", name+".pprof")
	}()
	return func() {
		<-done
		save("/debug/pprof/heap?gc=1", name+".heap.pprof")
	}
}

// latencySink receives notifications and signals each arrival.
type latencySink struct {
	srv *httptest.Server
	got chan time.Time
}

func newLatencySink(b *testing.B) *latencySink {
	s := &latencySink{got: make(chan time.Time, 1024)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.got <- time.Now()
	}))
	b.Cleanup(s.srv.Close)
	return s
}

// BenchmarkAlertToNotification: one new alert opening a new group with
// group_wait 0 → the receiver's request arrives. Alertmanager and
// fleetwatch each notify a webhook; fleetwatch also pages pdtest (a local
// Events API v2) through its PagerDuty receiver. fleetwatch commits the
// incident and its outbox entry to disk (SQLite, synchronous=FULL) before
// the send.
func BenchmarkAlertToNotification(b *testing.B) {
	const route = `
route:
  receiver: hook
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 5m
receivers:
  - name: hook
    webhook_configs:
      - url: %s
`
	amHook, fwHook := newLatencySink(b), newLatencySink(b)
	pd := pdtest.NewServer(b)
	amURL, _ := startAlertmanager(b, fmt.Sprintf(route, amHook.srv.URL))
	f := newFleetwatch(b, fmt.Sprintf(route, fwHook.srv.URL)+fmt.Sprintf(`
  - name: pd
    pagerduty_configs:
      - routing_key_file: %s
        url: %s
        rate_limit_per_minute: 0   # PagerDuty's 120/min would dominate a run of 200 pages
`, "PDKEY", pd.EnqueueURL()), map[string]string{"pd.key": crashRoutingKey})
	// The PagerDuty route: alerts labelled receiver=pd.
	alerting, _ := os.ReadFile(filepath.Join(f.dir, "alerting.yml"))
	alerting = bytes.Replace(alerting, []byte("PDKEY"), []byte(filepath.Join(f.dir, "pd.key")), 1)
	alerting = bytes.Replace(alerting, []byte("  group_interval: 5m\n"), []byte("  group_interval: 5m\n  routes:\n    - matchers: ['receiver=\"pd\"']\n      receiver: pd\n"), 1)
	if err := os.WriteFile(filepath.Join(f.dir, "alerting.yml"), alerting, 0o600); err != nil {
		b.Fatal(err)
	}
	f.start()

	cases := []struct {
		name, url, receiver string
		wait                func(ctx context.Context, i int) (time.Time, error)
	}{
		{"alertmanager/webhook", amURL, "hook", func(ctx context.Context, _ int) (time.Time, error) { return waitSink(ctx, amHook) }},
		{"fleetwatch/webhook", f.URL, "hook", func(ctx context.Context, _ int) (time.Time, error) { return waitSink(ctx, fwHook) }},
		{"fleetwatch/pagerduty", f.URL, "pd", func(ctx context.Context, i int) (time.Time, error) {
			evs, err := pd.WaitAccepted(ctx, i)
			if err != nil {
				return time.Time{}, err
			}
			return evs[i-1].Received, nil
		}},
	}
	seq := 0
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var lat []time.Duration
			for range b.N {
				seq++
				body := "[" + alertJSON(map[string]string{"alertname": "Latency", "instance": "h" + strconv.Itoa(seq), "receiver": c.receiver}, time.Time{}) + "]"
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				want := len(pd.Accepted()) + 1
				t0 := time.Now()
				postAlerts(b, c.url, body)
				got, err := c.wait(ctx, want)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, got.Sub(t0))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
		})
	}
}

func waitSink(ctx context.Context, s *latencySink) (time.Time, error) {
	select {
	case t := <-s.got:
		return t, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// cpuTime reads a process's user+system CPU time from /proc (clock
// ticks of 10 ms).
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) in ")".
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// rssKiB reads a process's resident set (VmRSS) and its peak (VmHWM).
func rssKiB(b *testing.B, pid int) (rss, peak int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.Atoi(fields[1])
		switch fields[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			peak = v
		}
	}
	return rss, peak
}

// BenchmarkMemory100kAlerts: resident memory of each server holding
// 100,000 active alerts (in 40 groups, notified to a webhook), measured
// after the alerts were posted, re-sent once and the groups flushed.
func BenchmarkMemory100kAlerts(b *testing.B) {
	const n = 100000
	for range b.N {
		sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		route := strings.Replace(fmt.Sprintf(benchAM, sink.URL), "group_wait: 10m", "group_wait: 1s", 1)
		targets := benchTargets(b, route, route)
		end := time.Now().Add(time.Hour)
		bodies, again := alertBatches("mem", n, end), alertBatches("mem", n, end.Add(time.Minute))
		for _, tg := range targets {
			idle, _ := rssKiB(b, tg.pid)
			sendAll(b, tg.url, bodies, 4)
			time.Sleep(2 * time.Second) // group_wait passes: the groups flush
			sendAll(b, tg.url, again, 4)
			rss, peak := rssKiB(b, tg.pid)
			b.ReportMetric(float64(idle)/1024, tg.name+"-idle-MiB")
			b.ReportMetric(float64(rss)/1024, tg.name+"-MiB")
			b.ReportMetric(float64(peak)/1024, tg.name+"-peak-MiB")
		}
		sink.Close()
	}
}
