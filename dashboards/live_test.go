package dashboards

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// liveScrape is the datasource's "Scrape interval" matching
// testdata/fleetwatch.yml.
const liveScrape = 2 * time.Second

// TestDashboardsLive runs every panel query of every dashboard, with its
// variables resolved from fleetwatch's label values and Grafana's interval
// macros expanded, against a live fleetwatch collecting the simulated
// datacenter (BMCs, switches, this host, a TCP probe, its own /metrics),
// with a fan stopped and a DIMM logging uncorrectable errors. Every query
// must succeed and return series with every variable on "All"; with each
// variable on its first value every query must still succeed.
//
// Panels on the fleetwatch datasource plugin (incidents, their timelines
// and metrics) are not PromQL; plugins/fleetwatch-datasource tests them.
func TestDashboardsLive(t *testing.T) {
	fw := startFleetwatch(t, "")
	for _, fault := range []string{"bmc=1&fault=dimm_ue", "bmc=2&fault=fan_stop", "bmc=3&fault=psu_fail"} {
		resp, err := http.Post(fw.Control+"/faults?"+fault, "", nil)
		if err != nil {
			t.Fatalf("inject %s: %v", fault, err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("inject %s: HTTP %d", fault, resp.StatusCode)
		}
	}
	ctx := context.Background()
	dashboards := dashboardFiles(t)
	iv := Interval{Range: time.Hour, ScrapeInterval: liveScrape, MaxDataPoints: 1000}

	// Data arrives over the first polls (rates need two samples, the
	// anomaly rule a warm-up, alerts a rule evaluation): wait for the
	// slowest with light queries, then run the refresh until everything
	// has data, within a bound.
	waitFor(t, fw.Client, 3*time.Minute,
		"ALERTS", "anomaly_score", "redfish_memory_uncorrectable_errors_total", "rate(ifHCInOctets[10s])", "redfish_fan_health == 2", "redfish_psu_health == 2")
	var problems []string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		problems = problems[:0]
		now := time.Now()
		for _, name := range sortedKeys(dashboards) {
			m := dashboards[name]
			vals, err := resolveVars(ctx, fw.Client, m, SelectAll, iv, now)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			outs, _ := refresh(ctx, fw.Client, m, vals, iv, now)
			for _, o := range outs {
				switch {
				case o.Err != nil:
					problems = append(problems, fmt.Sprintf("%s: panel %q query %s: %v", name, o.Panel, o.RefID, o.Err))
				case o.Series == 0:
					problems = append(problems, fmt.Sprintf("%s: panel %q query %s returned no series: %s", name, o.Panel, o.RefID, o.Expr))
				}
			}
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Second)
	}
	for _, p := range problems {
		t.Error(p)
	}

	now := time.Now()
	for _, name := range sortedKeys(dashboards) {
		m := dashboards[name]
		t.Run(strings.TrimSuffix(name, ".json")+"/first-values", func(t *testing.T) {
			vals, err := resolveVars(ctx, fw.Client, m, SelectFirst, iv, now)
			if err != nil {
				t.Fatal(err)
			}
			outs, skipped := refresh(ctx, fw.Client, m, vals, iv, now)
			empty := 0
			for _, o := range outs {
				if o.Err != nil {
					t.Errorf("panel %q query %s with %v: %v", o.Panel, o.RefID, vals, o.Err)
				}
				if o.Series == 0 {
					empty++
				}
			}
			t.Logf("%d queries, %d without series for the first values %v; plugin panels (tested in plugins/): %q", len(outs), empty, vals, skipped)
		})
	}
}

// waitFor polls each query until it returns series, failing the test after
// timeout.
func waitFor(t *testing.T, c promClient, timeout time.Duration, queries ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, q := range queries {
		for {
			r, err := c.post(context.Background(), "/api/v1/query", url.Values{"query": {q}})
			if err == nil && len(r.Data.Result) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no series for %s after %v (last error: %v)", q, timeout, err)
			}
			time.Sleep(2 * time.Second)
		}
	}
}
