package acceptance

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/notify/pagerduty/pdtest"
	"github.com/fleetwatch/fleetwatch/alerter/store/storetest"
)

// newHAFleetwatch is newFleetwatch on the PostgreSQL database whose DSN is
// in dsnFile (alerting.store.postgres_dsn_file), with the crash test's
// alerting file pointed at pd.
func newHAFleetwatch(t testing.TB, pd *pdtest.Server, dsnFile string) *fleetwatch {
	t.Helper()
	f := newFleetwatch(t, "", nil)
	if err := os.WriteFile(filepath.Join(f.dir, "pd.key"), []byte(crashRoutingKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "alerting.yml"), []byte(crashConfig(pd, f.dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
server:
  listen_address: %s
storage:
  path: %s
alerting:
  config_file: %s
  store:
    postgres_dsn_file: %s
`, strings.TrimPrefix(f.URL, "http://"), filepath.Join(f.dir, "data"), filepath.Join(f.dir, "alerting.yml"), dsnFile)
	if err := os.WriteFile(f.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// haActive reads fleetwatch_alerter_ha_active from f's /metrics (-1 when
// it cannot).
func haActive(f *fleetwatch) int {
	resp, err := http.Get(f.URL + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		switch sc.Text() {
		case "fleetwatch_alerter_ha_active 1":
			return 1
		case "fleetwatch_alerter_ha_active 0":
			return 0
		}
	}
	return -1
}

// postBoth sends body to every running instance, as Prometheus sends its
// alerts to every Alertmanager it knows; an instance that is down is
// skipped (Prometheus logs the error and goes on).
func postBoth(t testing.TB, body string, fs ...*fleetwatch) {
	t.Helper()
	var wg sync.WaitGroup
	for _, f := range fs {
		if f.cmd == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(f.URL+"/api/v2/alerts", "application/json", strings.NewReader(body))
			if err != nil {
				t.Errorf("POST %s/api/v2/alerts: %v", f.URL, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("POST %s/api/v2/alerts: %s", f.URL, resp.Status)
			}
		}()
	}
	wg.Wait()
}

// actions counts what PagerDuty accepted per dedup_key and action.
func actions(pd *pdtest.Server) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, e := range pd.Accepted() {
		if out[e.DedupKey] == nil {
			out[e.DedupKey] = map[string]int{}
		}
		out[e.DedupKey][e.Action]++
	}
	return out
}

// dedupKeyOf finds the dedup_key of the accepted trigger whose summary
// names instance.
func dedupKeyOf(pd *pdtest.Server, instance string) string {
	for _, e := range pd.Accepted() {
		if s, _ := e.Payload["summary"].(string); e.Action == "trigger" && strings.Contains(s, "instance="+instance) {
			return e.DedupKey
		}
	}
	return ""
}

// TestHAFailover runs two `fleetwatch serve` on one PostgreSQL. Both get
// every alert (as from one Prometheus with both in its alertmanagers);
// the active one pages. It is killed with SIGKILL mid-incident — one
// incident paged, one trigger in flight at PagerDuty — and the standby
// takes over: it delivers the trigger that was in flight, pages an alert
// that arrived after the kill, and resolves all three. PagerDuty gets
// exactly one trigger and one resolve per incident (by dedup_key). The
// time from the kill to the first page the standby sends is logged (the
// failover figure in docs/alerter.md).
func TestHAFailover(t *testing.T) {
	pg := storetest.StartPostgres(t, storetest.PostgresOptions{})
	dsnFile := filepath.Join(t.TempDir(), "pg.dsn")
	if err := os.WriteFile(dsnFile, []byte(pg.NewDatabase(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pd := pdtest.NewServer(t)
	a := newHAFleetwatch(t, pd, dsnFile)
	b := newHAFleetwatch(t, pd, dsnFile)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	a.start()
	waitUntil(t, 15*time.Second, "the first instance to become active", func() bool { return haActive(a) == 1 })
	b.start()
	time.Sleep(2 * time.Second) // a few of b's tries at the lease
	if got := haActive(b); got != 0 {
		t.Fatalf("second instance: fleetwatch_alerter_ha_active = %d, want 0 (standby)", got)
	}

	// X pages once, though both instances got it.
	postBoth(t, crashAlert("x", time.Time{}), a, b)
	if _, err := pd.WaitAccepted(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Prometheus re-sends while it fires: nothing more at PagerDuty.
	postBoth(t, crashAlert("x", time.Time{}), a, b)

	// Y's trigger is in flight (PagerDuty holds it) when the active dies.
	pd.Stall(1)
	postBoth(t, crashAlert("y", time.Time{}), a, b)
	if err := pd.WaitHeld(ctx, 1); err != nil {
		t.Fatal(err)
	}
	a.kill()
	killed := time.Now()
	waitUntil(t, 10*time.Second, "the held request to be dropped with its sender", func() bool { return pd.Held() == 0 })
	pd.Release()
	if n := len(pd.Accepted()); n != 1 {
		t.Fatalf("PagerDuty accepted %d events before the failover, want 1 (X's trigger)", n)
	}

	// Z fires after the kill: only the standby gets it (and stores it).
	postBoth(t, crashAlert("z", time.Time{}), a, b)
	waitUntil(t, 60*time.Second, "the standby to take over and page", func() bool { return len(pd.Accepted()) > 1 })
	failover := time.Since(killed)
	waitUntil(t, 30*time.Second, "Y and Z paged by the new active instance", func() bool {
		return dedupKeyOf(pd, "y") != "" && dedupKeyOf(pd, "z") != ""
	})
	if got := haActive(b); got != 1 {
		t.Errorf("after the kill the second instance has fleetwatch_alerter_ha_active %d, want 1", got)
	}
	t.Logf("failover: kill -9 of the active instance → first page from the other: %v", failover.Round(time.Millisecond))

	// The first instance comes back: it is a standby now.
	a.start()
	time.Sleep(2 * time.Second)
	if got := haActive(a); got != 0 {
		t.Errorf("restarted instance: fleetwatch_alerter_ha_active = %d, want 0 (standby)", got)
	}

	// Everything resolves, sent to both.
	past := time.Now().Add(-time.Second)
	for _, inst := range []string{"x", "y", "z"} {
		postBoth(t, crashAlert(inst, past), a, b)
	}
	keys := map[string]string{"x": dedupKeyOf(pd, "x"), "y": dedupKeyOf(pd, "y"), "z": dedupKeyOf(pd, "z")}
	waitUntil(t, 30*time.Second, "three resolves", func() bool {
		got := actions(pd)
		for _, k := range keys {
			if got[k]["resolve"] == 0 {
				return false
			}
		}
		return true
	})
	// Nothing more arrives (no second page or resolve from either instance).
	time.Sleep(3 * time.Second)

	got := actions(pd)
	var summary []string
	for k, acts := range got {
		summary = append(summary, fmt.Sprintf("%s:%v", k, acts))
	}
	sort.Strings(summary)
	if len(got) != 3 {
		t.Errorf("PagerDuty saw %d dedup keys, want 3 (one incident each for x, y, z): %v", len(got), summary)
	}
	for inst, k := range keys {
		if k == "" {
			t.Errorf("no trigger for %s", inst)
			continue
		}
		if got[k]["trigger"] != 1 || got[k]["resolve"] != 1 || len(got[k]) != 2 {
			t.Errorf("incident of %s (%s): %v, want exactly one trigger and one resolve", inst, k, got[k])
		}
		if al, _ := pd.Alert(k); al.Pages != 1 || al.State != "resolved" {
			t.Errorf("incident of %s at PagerDuty: %+v, want paged once and resolved", inst, al)
		}
	}
	for _, f := range []*fleetwatch{a, b} {
		if strings.Contains(f.logs.String(), crashRoutingKey) {
			t.Error("the routing key appears in fleetwatch's output")
		}
	}
	t.Logf("PagerDuty accepted: %v", summary)
}

// BenchmarkHAFailover measures the failover time: two instances on one
// PostgreSQL; each round kills the active one with SIGKILL, posts a new
// alert to the other (a standby until then) and times the kill → the
// page it sends; the killed one restarts as the standby. Reported:
// failover-median-s and failover-max-s (the bound is the lease TTL of
// 10 s + the standby's 1 s retry + loading the state).
func BenchmarkHAFailover(b *testing.B) {
	pg := storetest.StartPostgres(b, storetest.PostgresOptions{Durable: true})
	dsnFile := filepath.Join(b.TempDir(), "pg.dsn")
	if err := os.WriteFile(dsnFile, []byte(pg.NewDatabase(b)+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	pd := pdtest.NewServer(b)
	fs := []*fleetwatch{newHAFleetwatch(b, pd, dsnFile), newHAFleetwatch(b, pd, dsnFile)}
	fs[0].start()
	waitUntil(b, 15*time.Second, "the first instance to become active", func() bool { return haActive(fs[0]) == 1 })
	fs[1].start()
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		active, standby := fs[0], fs[1]
		if haActive(active) != 1 {
			active, standby = standby, active
		}
		n := len(pd.Accepted())
		postBoth(b, crashAlert(fmt.Sprintf("before-%d", i), time.Time{}), active, standby)
		waitUntil(b, 10*time.Second, "the active instance's page", func() bool { return len(pd.Accepted()) == n+1 })
		active.kill()
		killed := time.Now()
		postBoth(b, crashAlert(fmt.Sprintf("after-%d", i), time.Time{}), standby)
		waitUntil(b, 60*time.Second, "the page after the failover", func() bool { return len(pd.Accepted()) == n+2 })
		times = append(times, time.Since(killed))
		b.StopTimer()
		active.start()
		waitUntil(b, 15*time.Second, "the restarted instance to be a standby", func() bool { return haActive(active) == 0 })
		b.StartTimer()
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(times[len(times)/2].Seconds(), "failover-median-s")
	b.ReportMetric(times[len(times)-1].Seconds(), "failover-max-s")
	b.ReportMetric(0, "ns/op")
	for _, a := range actions(pd) {
		if a["trigger"] != 1 {
			b.Errorf("a dedup_key triggered %d times, want 1: %v", a["trigger"], actions(pd))
		}
	}
}
