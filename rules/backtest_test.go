package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// TestBacktest: x{instance="a"} is 1 from minute 10 to 39 and from 45 to
// 55, else 0; `x > 0` for 5m evaluated every minute pends 5 minutes each
// time, so it fires twice: minutes 15–39 (25 evaluations) and 50–55 (6).
func TestBacktest(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	defer db.Close()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	app := db.AppenderV2(context.Background())
	for m := 0; m <= 60; m++ {
		v := 0.0
		if m >= 10 && m <= 39 || m >= 45 && m <= 55 {
			v = 1
		}
		ts := start.Add(time.Duration(m) * time.Minute).UnixMilli()
		for _, inst := range []string{"a", "b"} {
			val := v
			if inst == "b" {
				val = 0
			}
			if _, err := app.Append(0, labels.FromStrings("__name__", "x", "instance", inst), 0, ts, val, nil, nil, storage.AppendV2Options{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, t.TempDir(), "bt.yml", `
groups:
  - name: bt
    interval: 1m
    rules:
      - record: x:max
        expr: max(x)
      - alert: XHigh
        expr: x:max > 0
        for: 5m
      - alert: Never
        expr: x > 5
`)
	rep, err := Backtest(context.Background(), Options{Queryable: db, Engine: newPromQLEngine()}, []string{file}, start, start.Add(60*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rules) != 2 {
		t.Fatalf("%d rules reported, want 2", len(rep.Rules))
	}
	got := map[string]RuleReport{}
	for _, r := range rep.Rules {
		got[r.Alert] = r
	}
	x := got["XHigh"]
	if x.Evaluations != 61 || x.Alerts != 2 || x.Instances != 1 || x.FiringMinutes != 31 || !x.FirstFired.Equal(start.Add(15*time.Minute)) || x.Failures != 0 {
		t.Errorf("XHigh: %+v\nwant 61 evaluations, 2 alerts, 1 instance, 31 firing minutes, first fired at minute 15", x)
	}
	if n := got["Never"]; n.Alerts != 0 || n.FiringMinutes != 0 || !n.FirstFired.IsZero() {
		t.Errorf("Never: %+v", n)
	}
	// The history itself is untouched: no recording rule or ALERTS in db.
	if s := samplesOf(t, db, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, "x:max|ALERTS.*")); len(s) != 0 {
		t.Errorf("backtest wrote into the queried storage: %v", s)
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "XHigh") || !strings.Contains(out.String(), "31.0") {
		t.Errorf("report text:\n%s", out.String())
	}

	if _, err := Backtest(context.Background(), Options{Queryable: db, Engine: newPromQLEngine()}, []string{file}, start, start); err == nil {
		t.Error("empty range accepted")
	}
}

// TestAPI: /api/v1/alerts and /api/v1/rules answer with Prometheus' JSON,
// templates expanded with Prometheus' functions.
func TestAPI(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	defer db.Close()
	now := time.Now()
	app := db.AppenderV2(context.Background())
	for i := -120; i <= 120; i++ {
		ts := now.Add(time.Duration(i) * time.Second).UnixMilli()
		if _, err := app.Append(0, labels.FromStrings("__name__", "node_load1", "instance", "h1"), 0, ts, 1234.5, nil, nil, storage.AppendV2Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, t.TempDir(), "api.yml", `
groups:
  - name: api
    interval: 1s
    rules:
      - alert: Load
        expr: node_load1 > 1
        labels:
          severity: page
        annotations:
          summary: 'load {{ $value | humanize }} on {{ $labels.instance }}'
          count: '{{ with query "count(node_load1)" }}{{ . | first | value }}{{ end }}'
      - record: instance:load:max
        expr: max by (instance) (node_load1)
`)
	re := startEngine(t, Options{Queryable: db, Appendable: db, Engine: newPromQLEngine(), EvaluationInterval: time.Second}, file)
	waitFor(t, "alert firing", 20*time.Second, func() bool {
		a := activeAlert(re.e, "Load")
		return a != nil && a.State.String() == "firing"
	})
	mux := http.NewServeMux()
	re.e.RegisterAPI(mux)

	get := func(url string, into any) int {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
		if into != nil {
			if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
				t.Fatalf("%s: %v\n%s", url, err, rec.Body.String())
			}
		}
		return rec.Code
	}
	var alerts struct {
		Status string
		Data   struct {
			Alerts []struct {
				Labels, Annotations map[string]string
				State, Value        string
				ActiveAt            *time.Time
			}
		}
	}
	get("/api/v1/alerts", &alerts)
	if alerts.Status != "success" || len(alerts.Data.Alerts) != 1 {
		t.Fatalf("alerts: %+v", alerts)
	}
	a := alerts.Data.Alerts[0]
	if a.State != "firing" || a.Value != "1.2345e+03" || a.ActiveAt == nil ||
		a.Labels["alertname"] != "Load" || a.Labels["severity"] != "page" || a.Labels["instance"] != "h1" ||
		a.Annotations["summary"] != "load 1.234k on h1" || a.Annotations["count"] != "1" {
		t.Errorf("alert %+v", a)
	}

	var rules struct {
		Status string
		Data   struct {
			Groups []struct {
				Name, File string
				Interval   float64
				Rules      []map[string]any
			}
		}
	}
	get("/api/v1/rules", &rules)
	if len(rules.Data.Groups) != 1 || rules.Data.Groups[0].File != file || rules.Data.Groups[0].Interval != 1 || len(rules.Data.Groups[0].Rules) != 2 {
		t.Fatalf("rules: %+v", rules)
	}
	r0, r1 := rules.Data.Groups[0].Rules[0], rules.Data.Groups[0].Rules[1]
	if r0["type"] != "alerting" || r0["state"] != "firing" || r0["health"] != "ok" || len(r0["alerts"].([]any)) != 1 {
		t.Errorf("alerting rule %v", r0)
	}
	if r1["type"] != "recording" || r1["name"] != "instance:load:max" || r1["query"] != "max by (instance) (node_load1)" {
		t.Errorf("recording rule %v", r1)
	}
	for _, tc := range []struct {
		query string
		rules int
		code  int
	}{
		{"type=alert", 1, 200},
		{"type=record", 1, 200},
		{"rule_name[]=Load&rule_name[]=nope", 1, 200},
		{"rule_group[]=other", 0, 200},
		{"type=bogus", 0, 400},
		{"exclude_alerts=maybe", 0, 400},
	} {
		t.Run(tc.query, func(t *testing.T) {
			rules.Data.Groups = nil
			code := get("/api/v1/rules?"+tc.query, &rules)
			n := 0
			for _, g := range rules.Data.Groups {
				n += len(g.Rules)
			}
			if code != tc.code || n != tc.rules {
				t.Errorf("HTTP %d with %d rules, want %d with %d", code, n, tc.code, tc.rules)
			}
		})
	}
}
