package amapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// batches builds n alerts in batches of 100 as POST /api/v2/alerts bodies.
func batches(b *testing.B, n int) [][]byte {
	now := time.Now().UTC()
	var out [][]byte
	for i := 0; i < n; i += 100 {
		var as []PostableAlert
		for j := i; j < i+100 && j < n; j++ {
			as = append(as, PostableAlert{
				Labels:      map[string]string{"alertname": fmt.Sprintf("Alert%d", j%50), "instance": fmt.Sprintf("host-%05d:9100", j), "job": "node", "severity": "warning", "site": "dc1"},
				Annotations: map[string]string{"summary": "something is wrong"},
				StartsAt:    now.Format(time.RFC3339Nano), EndsAt: now.Add(time.Hour).Format(time.RFC3339Nano),
				GeneratorURL: "http://prometheus:9090/graph?g0.expr=up",
			})
		}
		body, _ := json.Marshal(as)
		out = append(out, body)
	}
	return out
}

func send(b *testing.B, url string, bodies [][]byte) {
	for _, body := range bodies {
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkPostAlerts measures POST /api/v2/alerts over HTTP into the
// engine on SQLite with synchronous=FULL: 10,000 distinct alerts in
// batches of 100 (first arrival: every alert committed before the 200),
// then the same alerts re-sent as Prometheus does.
func BenchmarkPostAlerts(b *testing.B) {
	const n = 10000
	bodies := batches(b, n)
	b.Run("first", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			f := start(b, cfgBench)
			b.StartTimer()
			send(b, f.srv.URL+"/api/v2/alerts", bodies)
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "alerts/s")
	})
	b.Run("resend", func(b *testing.B) {
		f := start(b, cfgBench)
		send(b, f.srv.URL+"/api/v2/alerts", bodies)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			send(b, f.srv.URL+"/api/v2/alerts", bodies)
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "alerts/s")
	})
}

const cfgBench = `
route:
  receiver: pd
  group_by: [alertname, instance]
  group_wait: 30s
receivers: [{name: pd}]
`

// BenchmarkAlertToPage measures alert received → PagerDuty request sent
// with group_wait 0: each iteration posts one new alert opening a new
// group; the incident, its timeline and the outbox entry are committed
// (SQLite, synchronous=FULL) before the HTTP 200, then the outbox worker
// sends the trigger to a local Events API v2 endpoint.
func BenchmarkAlertToPage(b *testing.B) {
	f := start(b, `
route:
  receiver: pd
  group_by: [alertname, instance]
  group_wait: 0s
receivers: [{name: pd}]
`)
	var lat []time.Duration
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		body := fmt.Sprintf(`[{"labels": {"alertname": "Lat", "instance": "h%d"}}]`, i)
		t0 := time.Now()
		code, msg := postBench(f.srv.URL+"/api/v2/alerts", body)
		if code != 200 {
			b.Fatalf("%d %s", code, msg)
		}
		evs, err := f.pd.WaitAccepted(ctx, i+1)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, evs[i].Received.Sub(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	_ = store.Triggered
}

func postBench(url, body string) (int, string) {
	resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	return resp.StatusCode, ""
}
