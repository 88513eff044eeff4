package amapi

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// TestPrometheusRuleToPagerDuty points Debian's Prometheus at fleetwatch:
// a real rule fires, fleetwatch opens one incident and the Events API
// endpoint receives exactly one trigger; when the rule stops firing it
// receives exactly one resolve.
func TestPrometheusRuleToPagerDuty(t *testing.T) {
	testpeer.Need(t, "prometheus")
	f := start(t, `
route:
  receiver: pd
  group_by: [alertname]
  group_wait: 1s
  group_interval: 10s
receivers: [{name: pd}]
`)
	// The rule fires for 15 s from now, then stops.
	until := time.Now().Add(15 * time.Second).Unix()
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, []byte(fmt.Sprintf(`
groups:
  - name: test
    interval: 1s
    rules:
      - alert: FleetwatchTestAlert
        expr: vector(time()) < %d
        labels: {severity: critical, site: dc1}
        annotations: {summary: "test rule fires until %d"}
`, until, until)), 0o600); err != nil {
		t.Fatal(err)
	}
	target := strings.TrimPrefix(f.srv.URL, "http://")
	testpeer.Prometheus(t, fmt.Sprintf(`
global: {evaluation_interval: 1s}
rule_files: [%q]
alerting:
  alertmanagers:
    - api_version: v2
      static_configs: [{targets: [%q]}]
`, rules, target), "--rules.alert.resend-delay=1s")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := f.pd.WaitAccepted(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Action != "trigger" {
		t.Fatalf("first event %s, want trigger", got[0].Action)
	}
	got, err = f.pd.WaitAccepted(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Let Prometheus go on re-sending the resolved alert for a while: no
	// further event may arrive.
	time.Sleep(3 * time.Second)
	got = f.pd.Accepted()
	var actions []string
	for _, e := range got {
		actions = append(actions, e.Action)
	}
	if strings.Join(actions, ",") != "trigger,resolve" {
		t.Fatalf("events %v, want exactly one trigger then one resolve", actions)
	}
	if got[0].DedupKey != got[1].DedupKey {
		t.Fatalf("dedup keys differ: %s %s", got[0].DedupKey, got[1].DedupKey)
	}
	incs, err := f.store.ListIncidents(ctx, store.IncidentFilter{})
	if err != nil || len(incs) != 1 || incs[0].ID != got[0].DedupKey || incs[0].State != store.Resolved {
		t.Fatalf("incidents: %+v %v", incs, err)
	}
	// The routing key never shows in logs or on the timeline.
	evs, _ := f.store.ListEvents(ctx, store.EventFilter{})
	for _, e := range evs {
		if strings.Contains(e.Summary, routingKey) || strings.Contains(string(e.Data), routingKey) {
			t.Fatalf("routing key on the timeline: %+v", e)
		}
	}
	if strings.Contains(f.logs.String(), routingKey) {
		t.Fatal("routing key in the logs")
	}
}
