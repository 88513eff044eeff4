package remediate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// TestCorrelatedRackOutage: the top-of-rack switch of R12 went down; 40
// servers in the rack are unreachable and the engine joined their alerts
// and the switch's linkDown into one incident. The reboot remediation must
// not run on any of them: blast radius escalates to a human instead.
func TestCorrelatedRackOutage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		guards string
		reason string
	}{
		{"max_percent_of_rack", "blast_radius: {max_percent_of_rack: 20}", "blast_radius: 40 of 40 servers (100%) in rack R12 of site dc1 affected at once (max_percent_of_rack 20)"},
		{"max_servers", "blast_radius: {max_servers: 5}", "blast_radius: 40 servers affected at once (max_servers 5)"},
		{"max_percent_of_site", "blast_radius: {max_percent_of_site: 10}", "blast_radius: 40 of 86 servers (47%) in site dc1 affected at once (max_percent_of_site 10)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			marker := filepath.Join(dir, "ran")
			cmd := script(t, dir, "touch "+marker)
			st, clk := openStore(t), newClock()
			e := newEngine(t, st, clk, fmt.Sprintf(`
remediations:
  - name: reboot
    match: ['alertname="ServerUnreachable"']
    action:
      exec: {command: [%q]}
    guards: {%s}
`, cmd, tc.guards))
			alerts := []store.Alert{firing(clk, "", "SwitchLinkDown", "switch", "sw-r12", "ifName", "Et49", "instance", "sw-r12")}
			for i := 1; i <= 40; i++ {
				alerts = append(alerts, firing(clk, fmt.Sprintf("srv-r12-%02d", i), "ServerUnreachable", "rack", "R12", "switch", "sw-r12"))
			}
			openIncident(t, st, e, "inc-r12", alerts...)
			startWorker(t, e)

			runs := listRuns(t, st, store.RemediationFilter{IncidentID: "inc-r12"})
			if len(runs) != 40 {
				t.Fatalf("%d runs, want one per server (40)", len(runs))
			}
			for _, r := range runs {
				if r.Status != StatusEscalated || r.Reason != tc.reason {
					t.Fatalf("run on %s: %q %q, want escalated %q", r.Target, r.Status, r.Reason, tc.reason)
				}
			}
			esc := listEvents(t, st, "inc-r12", store.EventIncidentEscalated)
			if len(esc) != 1 || !strings.Contains(esc[0].Summary, "remediation reboot not run automatically on 40 server(s)") {
				t.Fatalf("escalation events %+v", esc)
			}
			var data struct{ Targets []string }
			if err := json.Unmarshal(esc[0].Data, &data); err != nil || len(data.Targets) != 40 {
				t.Errorf("escalation data %s (%v)", esc[0].Data, err)
			}
			// A server that joins later is refused too, without a second
			// escalation per server already decided.
			late := firing(clk, "srv-r12-40", "ServerUnreachable", "rack", "R12")
			openIncident(t, st, e, "inc-r12-late", late)
			if r := listRuns(t, st, store.RemediationFilter{IncidentID: "inc-r12-late"}); len(r) != 1 || r[0].Status != StatusEscalated {
				t.Errorf("late run %+v", r)
			}
			// The worker had rounds to run something; nothing ran.
			time.Sleep(50 * time.Millisecond)
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the remediation ran despite the blast radius")
			}
		})
	}
}
