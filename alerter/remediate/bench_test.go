package remediate

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// BenchmarkDecideRackOutage: one incident of 40 unreachable servers in a
// rack, with 1,000 other active alerts in the store, decided (blast radius
// escalation for all 40) and committed.
func BenchmarkDecideRackOutage(b *testing.B) {
	st, clk := openStore(b), newClock()
	e := newEngine(b, st, clk, `
remediations:
  - name: reboot
    match: ['alertname="ServerUnreachable"']
    action: {redfish: {reset_type: ForceRestart}}
    guards: {blast_radius: {max_servers: 10, max_percent_of_rack: 20}, cooldown_per_server: 1h, max_per_hour: 10}
`)
	var other []store.Alert
	for i := range 1000 {
		other = append(other, firing(clk, fmt.Sprintf("other-%04d", i), "ServerUnreachable"))
	}
	openIncident(b, st, e, "inc-background", other...)
	var alerts []store.Alert
	for i := 1; i <= 40; i++ {
		alerts = append(alerts, firing(clk, fmt.Sprintf("srv-r12-%02d", i), "ServerUnreachable"))
	}
	n := 0
	for ; b.Loop(); n++ {
		openIncident(b, st, e, fmt.Sprintf("inc-%d", n), alerts...)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n)/40, "µs/server")
}

// BenchmarkDecideOneServer: one incident of one server with every counting
// guard on, against an audit of 2,000 earlier runs.
func BenchmarkDecideOneServer(b *testing.B) {
	st, clk := openStore(b), newClock()
	e := newEngine(b, st, clk, `
remediations:
  - name: reboot
    match: ['alertname="HostDown"']
    action: {redfish: {reset_type: ForceRestart}}
    guards: {cooldown_per_server: 1h, max_per_hour: 100000, max_concurrent: 100000, require_approval: true}
`)
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for i := range 2000 {
			_, err := tx.AddRemediationRun(context.Background(), store.RemediationRun{
				IncidentID: "old", Action: "reboot", Target: fmt.Sprintf("old-%d", i),
				Status: StatusSucceeded, CreatedAt: clk.Now().Add(-time.Duration(i) * time.Second),
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	servers := []string{}
	for _, r := range []string{"r12", "r13"} {
		for i := 1; i <= 40; i++ {
			servers = append(servers, fmt.Sprintf("srv-%s-%02d", r, i))
		}
	}
	for i := 0; b.Loop(); i++ {
		openIncident(b, st, e, fmt.Sprintf("inc-%d", i), firing(clk, servers[i%len(servers)], "HostDown"))
		clk.Advance(time.Hour + time.Second) // out of the cooldown for the next round
	}
}

// BenchmarkExecRun: one exec run of /bin/true from the decision to the
// recorded outcome, through the worker.
func BenchmarkExecRun(b *testing.B) {
	st, clk := openStore(b), newClock()
	e := newEngine(b, st, clk, `
remediations:
  - name: noop
    match: ['alertname="HostDown"']
    action: {exec: {command: ["true"]}}
`, func(o *Options) { o.PollInterval = time.Hour })
	ctx := context.Background()
	wg, slots := &sync.WaitGroup{}, make(chan struct{}, 1)
	n := 0
	for ; b.Loop(); n++ {
		i := n
		openIncident(b, st, e, fmt.Sprintf("inc-%d", i), firing(clk, "srv-r12-01", "HostDown"))
		if err := e.startDue(ctx, ctx, wg, slots); err != nil {
			b.Fatal(err)
		}
		wg.Wait()
	}
	b.StopTimer()
	if got := len(listRuns(b, st, store.RemediationFilter{Statuses: []string{StatusSucceeded}})); got != n {
		b.Fatalf("%d runs succeeded of %d", got, n)
	}
}

// BenchmarkDecideFleetWide: one incident of one server whose blast radius
// must be counted against 10,000 other active alerts in the store.
func BenchmarkDecideFleetWide(b *testing.B) {
	st, clk := openStore(b), newClock()
	e := newEngine(b, st, clk, `
remediations:
  - name: reboot
    match: ['alertname="ServerUnreachable"']
    action: {redfish: {reset_type: ForceRestart}}
    guards: {blast_radius: {max_servers: 20000}, require_approval: true}
`)
	var other []store.Alert
	for i := range 10000 {
		other = append(other, firing(clk, fmt.Sprintf("other-%05d", i), "ServerUnreachable"))
	}
	openIncident(b, st, e, "inc-background", other...)
	for i := 0; b.Loop(); i++ {
		openIncident(b, st, e, fmt.Sprintf("inc-%d", i), firing(clk, fmt.Sprintf("srv-r13-%02d", i%40+1), "ServerUnreachable"))
	}
}
