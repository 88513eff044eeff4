package acceptance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/notify/pagerduty/pdtest"
)

const crashRoutingKey = "0123456789abcdef0123456789abcdef"

// crashConfig routes every alert to pdtest, one incident per instance, and
// keeps one outbox worker so a held send keeps the others queued.
func crashConfig(pd *pdtest.Server, dir string) string {
	return fmt.Sprintf(`
route:
  receiver: pd
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: pd
    pagerduty_configs:
      - routing_key_file: %s
        url: %s
        timeout: 30s
outbox:
  lease: 2s
  workers: 1
  min_backoff: 200ms
  max_backoff: 1s
`, filepath.Join(dir, "pd.key"), pd.EnqueueURL())
}

// incidentOf asks fleetwatch which incident the alert of instance is in.
func incidentOf(t *testing.T, f *fleetwatch, instance string) string {
	t.Helper()
	var alerts []struct {
		Labels     map[string]string `json:"labels"`
		IncidentID string            `json:"incidentID"`
	}
	getJSON(t, f.URL+"/api/v2/alerts?filter=instance%3D%22"+instance+"%22", &alerts)
	if len(alerts) != 1 || alerts[0].IncidentID == "" {
		t.Fatalf("alert of %s: %+v, want one in an incident", instance, alerts)
	}
	return alerts[0].IncidentID
}

func crashAlert(instance string, endsAt time.Time) string {
	return "[" + alertJSON(map[string]string{"alertname": "HostDown", "instance": instance, "severity": "critical"}, endsAt) + "]"
}

// sent reports whether pd accepted action for dedupKey.
func sent(pd *pdtest.Server, dedupKey, action string) bool {
	for _, e := range pd.Accepted() {
		if e.DedupKey == dedupKey && e.Action == action {
			return true
		}
	}
	return false
}

// TestCrashSafety kills `fleetwatch serve` with SIGKILL at the moments a
// page or a resolve can be lost — a send in flight, notifications
// committed and not sent (claimed by the worker, and not yet claimed) —
// restarts it on the same data directory and checks that PagerDuty
// finally got every trigger and every resolve, by dedup_key, and paged
// once per incident.
func TestCrashSafety(t *testing.T) {
	pd := pdtest.NewServer(t)
	f := newFleetwatch(t, "", nil)
	if err := os.WriteFile(filepath.Join(f.dir, "pd.key"), []byte(crashRoutingKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "alerting.yml"), []byte(crashConfig(pd, f.dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f.start()

	// Z pages normally.
	postAlerts(t, f.URL, crashAlert("z", time.Time{}))
	if _, err := pd.WaitAccepted(ctx, 1); err != nil {
		t.Fatal(err)
	}
	incZ := incidentOf(t, f, "z")

	// PagerDuty hangs on the next request: X's trigger is in flight.
	pd.Stall(1)
	postAlerts(t, f.URL, crashAlert("x", time.Time{}))
	if err := pd.WaitHeld(ctx, 1); err != nil {
		t.Fatal(err)
	}
	incX := incidentOf(t, f, "x")
	// Y's trigger and Z's resolve are committed (the API answered 200)
	// behind it and not sent.
	postAlerts(t, f.URL, crashAlert("y", time.Time{}))
	incY := incidentOf(t, f, "y")
	postAlerts(t, f.URL, crashAlert("z", time.Now().Add(-time.Second)))
	if n := len(pd.Accepted()); n != 1 {
		t.Fatalf("before the kill PagerDuty accepted %d events, want 1 (the others held or queued)", n)
	}

	// kill -9 during the send of X and before the sends of Y and Z.
	f.kill()
	waitUntil(t, 10*time.Second, "the held request to be dropped with its sender", func() bool { return pd.Held() == 0 })
	if sent(pd, incX, "trigger") {
		t.Fatal("the held trigger was delivered although its sender died")
	}
	pd.Release()

	f.start()
	waitUntil(t, 30*time.Second, "X and Y triggered, Z resolved after the restart", func() bool {
		return sent(pd, incX, "trigger") && sent(pd, incY, "trigger") && sent(pd, incZ, "resolve")
	})

	// A second crash during a resolve: X's resolve is held, Y's queued.
	pd.Stall(1)
	postAlerts(t, f.URL, crashAlert("x", time.Now().Add(-time.Second)))
	if err := pd.WaitHeld(ctx, 1); err != nil {
		t.Fatal(err)
	}
	postAlerts(t, f.URL, crashAlert("y", time.Now().Add(-time.Second)))
	f.kill()
	waitUntil(t, 10*time.Second, "the held resolve to be dropped", func() bool { return pd.Held() == 0 })
	if sent(pd, incX, "resolve") || sent(pd, incY, "resolve") {
		t.Fatal("a resolve arrived although fleetwatch died before sending it")
	}
	pd.Release()
	f.start()
	waitUntil(t, 30*time.Second, "X and Y resolved after the second restart", func() bool {
		return sent(pd, incX, "resolve") && sent(pd, incY, "resolve")
	})

	// Every incident paged exactly once and ends resolved at PagerDuty;
	// repeats (if any) were updates of the same dedup_key.
	for name, id := range map[string]string{"x": incX, "y": incY, "z": incZ} {
		a, ok := pd.Alert(id)
		if !ok || a.Pages != 1 || a.State != "resolved" {
			t.Errorf("incident of %s (%s) at PagerDuty: %+v, want paged once and resolved", name, id, a)
		}
	}
	// Nothing else arrives later (no stray page for a resolved incident).
	time.Sleep(3 * time.Second)
	var got []string
	for _, e := range pd.Accepted() {
		got = append(got, e.Action+":"+e.DedupKey)
	}
	for _, id := range []string{incX, incY, incZ} {
		if a, _ := pd.Alert(id); a.State != "resolved" {
			t.Errorf("incident %s re-opened at PagerDuty: %v", id, got)
		}
	}
	if strings.Contains(f.logs.String(), crashRoutingKey) {
		t.Error("the routing key appears in fleetwatch's output")
	}
	t.Logf("events PagerDuty accepted: %v", got)
}
