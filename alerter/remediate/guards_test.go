package remediate

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

const execTrue = `
remediations:
  - name: reboot
    match: ['alertname="HostDown"']
    action:
      exec: {command: ["true"]}
    guards:
%s
`

func guardsYAML(lines ...string) string {
	if len(lines) == 0 {
		lines = []string{"{}"}
	}
	for i := range lines {
		lines[i] = "      " + lines[i]
	}
	return fmt.Sprintf(execTrue, strings.Join(lines, "\n"))
}

// TestGuards shows, for each guard, the run refused with the guard named
// in its reason and on the incident's timeline.
func TestGuards(t *testing.T) {
	type setup func(t *testing.T, st store.Store, clk *clock, e *Engine)
	earlierRun := func(target, status string, ago time.Duration, dry bool) setup {
		return func(t *testing.T, st store.Store, clk *clock, e *Engine) {
			addRun(t, st, store.RemediationRun{
				IncidentID: "inc-earlier", Action: "reboot", Target: target, Status: status,
				Actor: Actor, DryRun: dry, CreatedAt: clk.Now().Add(-ago),
			})
		}
	}
	otherIncident := func(servers ...string) setup {
		return func(t *testing.T, st store.Store, clk *clock, e *Engine) {
			var alerts []store.Alert
			for _, s := range servers {
				alerts = append(alerts, firing(clk, s, "HostDown"))
			}
			// The other incident has no remediation configured in this
			// engine's view: store it without deciding.
			openIncident(t, st, newEngine(t, st, clk, `remediations: []`), "inc-other", alerts...)
		}
	}
	cases := []struct {
		name    string
		guards  []string
		action  string // replaces the exec action when set
		setup   setup
		alerts  func(clk *clock) []store.Alert
		status  string
		guard   string // the reason starts with it
		reason  string // and contains this
		dryRun  bool
		escalat bool // an incident_escalated event is expected
	}{
		{
			name:   "target: alert without server or instance",
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "", "HostDown")} },
			status: StatusSkipped, guard: GuardTarget, reason: "no server or instance label",
		},
		{
			name: "suppressed: silenced alert",
			alerts: func(clk *clock) []store.Alert {
				a := firing(clk, "srv-r14-01", "HostDown")
				a.Suppressed = "silenced:4f2a"
				return []store.Alert{a}
			},
			status: StatusSkipped, guard: GuardSuppressed, reason: "silenced:4f2a",
		},
		{
			name:   "inventory: unknown server",
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "srv-ghost", "HostDown")} },
			status: StatusSkipped, guard: GuardInventory, reason: `"srv-ghost" is not in the inventory`,
		},
		{
			name:   "inventory: redfish without bmc",
			action: "redfish: {reset_type: ForceRestart}",
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "srv-nobmc", "HostDown")} },
			status: StatusSkipped, guard: GuardInventory, reason: "no bmc address",
		},
		{
			name:   "lifecycle: server in maintenance",
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "srv-maint", "HostDown")} },
			status: StatusSkipped, guard: GuardLifecycle, reason: "lifecycle state is maintenance",
		},
		{
			name:   "blast_radius: max_servers in the incident",
			guards: []string{"blast_radius: {max_servers: 2}"},
			alerts: func(clk *clock) []store.Alert {
				return []store.Alert{firing(clk, "srv-r12-01", "HostDown"), firing(clk, "srv-r12-02", "HostDown"), firing(clk, "srv-r13-01", "HostDown")}
			},
			status: StatusEscalated, guard: GuardBlastRadius, reason: "3 servers affected at once (max_servers 2)", escalat: true,
		},
		{
			name:   "blast_radius: max_servers across open incidents",
			guards: []string{"blast_radius: {max_servers: 2}"},
			setup:  otherIncident("srv-r13-01", "srv-r13-02"),
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "srv-r12-01", "HostDown")} },
			status: StatusEscalated, guard: GuardBlastRadius, reason: "3 servers affected at once", escalat: true,
		},
		{
			name:   "blast_radius: max_percent_of_rack",
			guards: []string{"blast_radius: {max_percent_of_rack: 50}"},
			alerts: func(clk *clock) []store.Alert {
				return []store.Alert{firing(clk, "srv-r14-01", "HostDown"), firing(clk, "srv-r14-02", "HostDown"), firing(clk, "srv-r14-03", "HostDown")}
			},
			status: StatusEscalated, guard: GuardBlastRadius, reason: "3 of 4 servers (75%) in rack R14 of site dc1", escalat: true,
		},
		{
			name:   "blast_radius: max_percent_of_site",
			guards: []string{"blast_radius: {max_percent_of_site: 40}"},
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "srv-r1-01", "HostDown")} },
			status: StatusEscalated, guard: GuardBlastRadius, reason: "1 of 2 servers (50%) in site dc2", escalat: true,
		},
		{
			name:   "cooldown_per_server: acted on 10m ago",
			guards: []string{"cooldown_per_server: 1h"},
			setup:  earlierRun("srv-r12-01", StatusSucceeded, 10*time.Minute, false),
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "srv-r12-01", "HostDown")} },
			status: StatusSkipped, guard: GuardCooldownPerServer, reason: "acted on this server 10m0s ago (incident inc-earlier); cooldown 1h",
		},
		{
			name:   "max_per_hour: two runs in the last hour",
			guards: []string{"max_per_hour: 2"},
			setup: func(t *testing.T, st store.Store, clk *clock, e *Engine) {
				earlierRun("srv-r13-01", StatusSucceeded, 50*time.Minute, false)(t, st, clk, e)
				earlierRun("srv-r13-02", StatusFailed, 5*time.Minute, false)(t, st, clk, e)
				earlierRun("srv-r13-03", StatusSucceeded, 2*time.Hour, false)(t, st, clk, e) // too old to count
			},
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "srv-r12-01", "HostDown")} },
			status: StatusSkipped, guard: GuardMaxPerHour, reason: "2 runs in the last hour (max_per_hour 2)",
		},
		{
			name:   "max_concurrent: one running elsewhere",
			guards: []string{"max_concurrent: 1"},
			setup:  earlierRun("srv-r13-01", StatusRunning, time.Minute, false),
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "srv-r12-01", "HostDown")} },
			status: StatusSkipped, guard: GuardMaxConcurrent, reason: "1 runs queued or running (max_concurrent 1)",
		},
		{
			name:   "dry_run: records what would run",
			guards: []string{"dry_run: true"},
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "srv-r12-01", "HostDown")} },
			status: StatusSkipped, guard: GuardDryRun, reason: "would run exec true", dryRun: true,
		},
		{
			name:   "require_approval: waits",
			guards: []string{"require_approval: true"},
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "srv-r12-01", "HostDown")} },
			status: StatusAwaitingApproval, guard: GuardRequireApproval, reason: "waiting for approval",
		},
		{
			name:   "all guards pass",
			guards: []string{"cooldown_per_server: 1h", "max_per_hour: 2", "max_concurrent: 1", "blast_radius: {max_servers: 3, max_percent_of_rack: 10}"},
			setup:  earlierRun("srv-r12-01", StatusSkipped, 10*time.Minute, true), // dry runs do not count
			alerts: func(clk *clock) []store.Alert { return []store.Alert{firing(clk, "srv-r12-01", "HostDown")} },
			status: StatusProposed,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, clk := openStore(t), newClock()
			yml := guardsYAML(tc.guards...)
			if tc.action != "" {
				yml = strings.Replace(yml, `exec: {command: ["true"]}`, tc.action, 1)
			}
			e := newEngine(t, st, clk, yml)
			if tc.setup != nil {
				tc.setup(t, st, clk, e)
			}
			openIncident(t, st, e, "inc-1", tc.alerts(clk)...)
			runs := listRuns(t, st, store.RemediationFilter{IncidentID: "inc-1"})
			if len(runs) == 0 {
				t.Fatal("no run recorded")
			}
			for _, run := range runs {
				if run.Status != tc.status {
					t.Errorf("run on %q: status %q (reason %q), want %q", run.Target, run.Status, run.Reason, tc.status)
				}
				if tc.guard != "" && !strings.HasPrefix(run.Reason, tc.guard+": ") {
					t.Errorf("run on %q: reason %q, want it to start with %q", run.Target, run.Reason, tc.guard+": ")
				}
				if !strings.Contains(run.Reason, tc.reason) {
					t.Errorf("run on %q: reason %q, want it to contain %q", run.Target, run.Reason, tc.reason)
				}
				if run.DryRun != tc.dryRun {
					t.Errorf("run on %q: dryRun %v, want %v", run.Target, run.DryRun, tc.dryRun)
				}
				if run.Actor != Actor {
					t.Errorf("actor %q, want %q", run.Actor, Actor)
				}
			}
			// The timeline says the same, one event per run, naming the
			// server and the guard.
			evs := listEvents(t, st, "inc-1", store.EventRemediationSkipped, store.EventRemediationProposed)
			if len(evs) != len(runs) {
				t.Fatalf("%d remediation events for %d runs: %+v", len(evs), len(runs), evs)
			}
			for i, ev := range evs {
				var d runEventData
				if err := json.Unmarshal(ev.Data, &d); err != nil {
					t.Fatal(err)
				}
				if d.RunID != runs[i].ID || d.Status != tc.status || d.Guard != tc.guard || d.Remediation != "reboot" {
					t.Errorf("event data %+v, want run %d status %q guard %q", d, runs[i].ID, tc.status, tc.guard)
				}
				if !strings.Contains(ev.Summary, tc.reason) || !strings.Contains(ev.Summary, "reboot") {
					t.Errorf("event summary %q does not say %q", ev.Summary, tc.reason)
				}
				if runs[i].Target != "" && ev.Labels["server"] != runs[i].Target {
					t.Errorf("event labels %v, want server=%s", ev.Labels, runs[i].Target)
				}
				if ev.Actor != Actor {
					t.Errorf("event actor %q", ev.Actor)
				}
			}
			esc := listEvents(t, st, "inc-1", store.EventIncidentEscalated)
			if tc.escalat != (len(esc) == 1) {
				t.Errorf("incident_escalated events: %d, want escalation %v", len(esc), tc.escalat)
			}
			if tc.escalat && len(esc) == 1 && !strings.Contains(esc[0].Summary, "a human must decide") {
				t.Errorf("escalation summary %q", esc[0].Summary)
			}
		})
	}
}

// TestGuardOrder: when several guards would refuse, the first in GuardOrder
// is the one recorded.
func TestGuardOrder(t *testing.T) {
	cases := []struct {
		name   string
		guards []string
		server string
		setup  bool // an earlier run on the server 1m ago, running
		want   string
	}{
		{"lifecycle before blast_radius", []string{"blast_radius: {max_servers: 0, max_percent_of_rack: 1}"}, "srv-maint", false, GuardLifecycle},
		{"blast_radius before cooldown", []string{"blast_radius: {max_percent_of_rack: 1}", "cooldown_per_server: 1h"}, "srv-r12-01", true, GuardBlastRadius},
		{"cooldown before max_concurrent", []string{"cooldown_per_server: 1h", "max_concurrent: 1"}, "srv-r12-01", true, GuardCooldownPerServer},
		{"max_per_hour before max_concurrent", []string{"max_per_hour: 1", "max_concurrent: 1"}, "srv-r12-02", true, GuardMaxPerHour},
		{"max_concurrent before dry_run", []string{"max_concurrent: 1", "dry_run: true"}, "srv-r12-02", true, GuardMaxConcurrent},
		{"dry_run before require_approval", []string{"dry_run: true", "require_approval: true"}, "srv-r12-02", false, GuardDryRun},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, clk := openStore(t), newClock()
			e := newEngine(t, st, clk, guardsYAML(tc.guards...))
			if tc.setup {
				addRun(t, st, store.RemediationRun{IncidentID: "inc-0", Action: "reboot", Target: "srv-r12-01", Status: StatusRunning, CreatedAt: clk.Now().Add(-time.Minute)})
			}
			openIncident(t, st, e, "inc-1", firing(clk, tc.server, "HostDown"))
			runs := listRuns(t, st, store.RemediationFilter{IncidentID: "inc-1"})
			if len(runs) != 1 || guardOf(runs[0].Reason) != tc.want {
				t.Fatalf("runs %+v, want one refused by %s", runs, tc.want)
			}
		})
	}
}

// TestOnIncidentIdempotent: the engine calls OnIncident at every change of
// an incident; a server is decided once per incident and remediation, and
// a server that joins later gets its own decision.
func TestOnIncidentIdempotent(t *testing.T) {
	st, clk := openStore(t), newClock()
	e := newEngine(t, st, clk, guardsYAML("require_approval: true"))
	a1 := firing(clk, "srv-r12-01", "HostDown")
	inc := openIncident(t, st, e, "inc-1", a1)
	a2 := firing(clk, "srv-r12-02", "HostDown")
	for range 3 {
		if err := st.Update(t.Context(), func(tx store.Tx) error {
			a2.IncidentID = "inc-1"
			if err := tx.PutAlert(t.Context(), a2); err != nil {
				return err
			}
			return e.OnIncident(t.Context(), tx, inc, []store.Alert{a1, a2})
		}); err != nil {
			t.Fatal(err)
		}
	}
	runs := listRuns(t, st, store.RemediationFilter{IncidentID: "inc-1"})
	if len(runs) != 2 || runs[0].Target != "srv-r12-01" || runs[1].Target != "srv-r12-02" {
		t.Fatalf("runs %+v, want one per server", runs)
	}
	if n := len(listEvents(t, st, "inc-1", store.EventRemediationProposed)); n != 2 {
		t.Errorf("%d proposed events, want 2", n)
	}
}

// TestNonMatchingAndResolvedAlerts: alerts the matchers do not select and
// resolved alerts decide nothing.
func TestNonMatchingAndResolvedAlerts(t *testing.T) {
	st, clk := openStore(t), newClock()
	e := newEngine(t, st, clk, guardsYAML())
	resolved := firing(clk, "srv-r12-02", "HostDown")
	resolved.EndsAt = clk.Now().Add(-time.Second)
	openIncident(t, st, e, "inc-1", firing(clk, "srv-r12-01", "DiskFull"), resolved)
	if runs := listRuns(t, st, store.RemediationFilter{}); len(runs) != 0 {
		t.Fatalf("runs %+v, want none", runs)
	}
}

// TestInstanceLabel: without a server label the instance label names the
// server, its port dropped.
func TestInstanceLabel(t *testing.T) {
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"server": "a", "instance": "b:9100"}, "a"},
		{map[string]string{"instance": "srv-r12-01:9100"}, "srv-r12-01"},
		{map[string]string{"instance": "[::1]:9100"}, "::1"},
		{map[string]string{"instance": "srv-r12-01"}, "srv-r12-01"},
		{map[string]string{}, ""},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := targetOf(tc.labels); got != tc.want {
				t.Errorf("targetOf(%v) = %q, want %q", tc.labels, got, tc.want)
			}
		})
	}
}
