package soak

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
	"github.com/fleetwatch/fleetwatch/test/fwproc"
)

// sample is one look at the process from outside.
type sample struct {
	at          time.Duration
	rss         float64 // bytes
	fds         float64
	goroutines  float64
	headSeries  float64
	redfishUp   float64 // BMCs with up == 1
	snmpUp      float64 // switches with up == 1
	stormAlerts int
}

// bound is how much one quantity may grow over the measured window,
// judged on the least-squares line through the samples: the larger of an
// absolute floor (the noise of a healthy process: GC cycles, the WAL
// segment, a burst's goroutines) and a share of its mean.
type bound struct {
	name     string
	get      func(sample) float64
	floor    float64
	relative float64
	unit     string
}

// The bounds hold per window, not per second: a slower machine runs fewer
// collections and storms in the same time and grows less, never more, so
// the assertion does not depend on how fast the machine is — it measures
// growth against the work done, and a leak of one goroutine or one fd per
// collection (1,000 per cycle) exceeds them many times over.
var bounds = []bound{
	{"RSS", func(s sample) float64 { return s.rss }, 64 << 20, 0.15, "bytes"},
	{"goroutines", func(s sample) float64 { return s.goroutines }, 50, 0.05, ""},
	{"open fds", func(s sample) float64 { return s.fds }, 20, 0.05, ""},
	{"TSDB head series", func(s sample) float64 { return s.headSeries }, 500, 0.02, ""},
}

// slope fits y = a + b·x by least squares and returns b.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestSoak is described in the package doc and docs/testing.md.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: minutes of a simulated fleet")
	}
	// The default is sized for `make test` on a 2-core CI machine that runs
	// other test packages at the same time; FLEETWATCH_SOAK, _RACKS and
	// _SERVERS scale it up.
	dur := 2 * time.Minute
	if v := os.Getenv("FLEETWATCH_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("FLEETWATCH_SOAK=%q: %v", v, err)
		}
		dur = d
	}
	// Series keep appearing for the first minutes as the rule packs' alerts
	// pass their `for:` and faults show up: two thirds of a short run, at
	// most 2 minutes, is warm-up.
	warmup := min(dur*2/3, 2*time.Minute)
	racks := envInt("FLEETWATCH_SOAK_RACKS", 10)
	perRack := envInt("FLEETWATCH_SOAK_SERVERS", 20)
	bmcs := racks * perRack

	dir := t.TempDir()
	if err := os.WriteFile(dir+"/bmc-pass", []byte("soak-bmc-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/alerting.yml", []byte(`route:
  receiver: oncall
  group_by: [alertname, rack]
  group_wait: 1s
  group_interval: 5s
receivers:
  - name: oncall
`), 0o600); err != nil {
		t.Fatal(err)
	}
	control := "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t))
	traps := "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t))
	srv := fwproc.Start(t, fwproc.Build(t), fwproc.Options{Dir: dir, ReadyTimeout: 2 * time.Minute, Config: fmt.Sprintf(`
global: {scrape_interval: 15s, scrape_timeout: 10s, evaluation_interval: 15s}
storage: {path: data}
simulate:
  sites: 1
  racks_per_site: %d
  servers_per_rack: %d
  bmc_username: admin
  bmc_password_file: bmc-pass
  bmc_latency: 5ms
  control_address: %s
snmp_traps: {listen_address: %s}
alerting: {config_file: alerting.yml}
rule_files: [pack:server, pack:network]
jobs:
  - job_name: redfish
    type: redfish
    inventory: {role: bmc}
    redfish: {username: admin, password_file: bmc-pass}
  - job_name: snmp
    type: snmp
    inventory: {role: switch}
    snmp: {modules: [if_mib], timeout: 5s}
`, racks, perRack, control, traps)})
	hc := &http.Client{Timeout: 30 * time.Second}

	query := func(q string) (float64, error) {
		resp, err := hc.Get(srv.Base + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
			Error string `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return 0, err
		}
		if r.Error != "" {
			return 0, fmt.Errorf("%s: %s", q, r.Error)
		}
		if len(r.Data.Result) == 0 {
			return 0, nil
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		return strconv.ParseFloat(s, 64)
	}
	fault := func(method string, bmc int, f string) {
		req, _ := http.NewRequest(method, fmt.Sprintf("http://%s/faults?bmc=%d&fault=%s", control, bmc, f), nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Errorf("fault %s %s on BMC %d: %v", method, f, bmc, err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Errorf("fault %s %s on BMC %d: HTTP %d", method, f, bmc, resp.StatusCode)
		}
	}
	// BMCs 0–2 keep answering with a fault (their up stays 1); 3 and 4 stop
	// answering properly (up 0) for the whole run.
	for i, f := range []string{"fan_stop", "psu_fail", "dimm_ue", "http_500", "hang"} {
		fault(http.MethodPost, i, f)
	}
	const down = 2

	// Alert storms: every 20 s, 5,000 alerts in batches of 500 spread over
	// the racks, ending a minute later, so incidents open and resolve all
	// the time.
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stormMu sync.Mutex
	storms, stormErrs := 0, 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			for b := 0; b < 10; b++ {
				var alerts []string
				for i := 0; i < 500; i++ {
					k := b*500 + i
					alerts = append(alerts, fmt.Sprintf(`{"labels":{"alertname":"Storm%d","rack":"r%02d","server":"srv-dc1-r%02d-%02d","severity":"warning"},"endsAt":%q}`,
						n%7, k%racks+1, k%racks+1, k%perRack+1, time.Now().Add(time.Minute).UTC().Format(time.RFC3339)))
				}
				resp, err := hc.Post(srv.Base+"/api/v2/alerts", "application/json", strings.NewReader("["+strings.Join(alerts, ",")+"]"))
				stormMu.Lock()
				storms++
				if err != nil || resp.StatusCode != http.StatusOK {
					stormErrs++
				}
				stormMu.Unlock()
				if resp != nil {
					resp.Body.Close()
				}
			}
			// A switch-side fault too: BMC 5 flaps a DIMM error.
			if n%2 == 0 {
				fault(http.MethodPost, 5, "dimm_ue")
			} else {
				fault(http.MethodDelete, 5, "dimm_ue")
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Second):
			}
		}
	}()

	var samples []sample
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for time.Since(start) < dur {
		<-tick.C
		if srv.Exited() {
			t.Fatal("fleetwatch exited during the soak")
		}
		p, err := srv.Proc()
		if err != nil {
			t.Fatal(err)
		}
		m, err := srv.Metrics("")
		if err != nil {
			t.Errorf("%v: %v", time.Since(start).Round(time.Second), err)
			continue
		}
		s := sample{at: time.Since(start), rss: float64(p.RSSBytes), fds: float64(p.FDs),
			goroutines: m["go_goroutines"], headSeries: m["fleetwatch_prometheus_tsdb_head_series"]}
		if s.redfishUp, err = query(`count(up{job="redfish"} == 1)`); err != nil {
			t.Errorf("query: %v", err)
		}
		if s.snmpUp, err = query(`count(up{job="snmp"} == 1)`); err != nil {
			t.Errorf("query: %v", err)
		}
		stormMu.Lock()
		s.stormAlerts = storms * 500
		stormMu.Unlock()
		samples = append(samples, s)
		t.Logf("%4.0fs rss %4.0f MiB fds %4.0f goroutines %5.0f head series %7.0f redfish up %4.0f/%d snmp up %2.0f/%d alerts posted %d",
			s.at.Seconds(), s.rss/(1<<20), s.fds, s.goroutines, s.headSeries, s.redfishUp, bmcs, s.snmpUp, racks, s.stormAlerts)
	}
	close(stop)
	wg.Wait()
	stormMu.Lock()
	if stormErrs > 0 {
		t.Errorf("%d of %d alert batches were not accepted", stormErrs, storms)
	}
	stormMu.Unlock()

	var xs []float64
	var after []sample
	for _, s := range samples {
		if s.at >= warmup {
			after = append(after, s)
			xs = append(xs, s.at.Seconds())
		}
	}
	if len(after) < 3 {
		t.Fatalf("only %d samples after the %v warm-up", len(after), warmup)
	}
	window := xs[len(xs)-1] - xs[0]
	for _, b := range bounds {
		ys := make([]float64, len(after))
		var mean float64
		for i, s := range after {
			ys[i] = b.get(s)
			mean += ys[i] / float64(len(ys))
		}
		growth := slope(xs, ys) * window
		limit := max(b.floor, b.relative*mean)
		t.Logf("%s: mean %.0f, fitted growth over %.0f s %+.0f (bound %.0f)", b.name, mean, window, growth, limit)
		if growth > limit {
			t.Errorf("%s grows by %.0f %s over %.0f s after warm-up (bound %.0f: max(%.0f, %.0f%% of the mean %.0f))",
				b.name, growth, b.unit, window, limit, b.floor, b.relative*100, mean)
		}
	}
	for _, s := range after {
		if int(s.redfishUp) < bmcs-down {
			t.Errorf("at %v: %0.f BMCs up, want at least %d (all but the %d that stopped answering)", s.at.Round(time.Second), s.redfishUp, bmcs-down, down)
		}
		if int(s.snmpUp) != racks {
			t.Errorf("at %v: %0.f switches up, want %d", s.at.Round(time.Second), s.snmpUp, racks)
		}
	}
	if v, err := query(`count(up{job="redfish"} == 0)`); err != nil || int(v) != down {
		t.Errorf("BMCs with up 0: %v (%v), want the %d faulted ones", v, err, down)
	}
}
