package alerter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/remediate"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/events"
	"github.com/fleetwatch/fleetwatch/inventory"
)

const corrConfig = `
route:
  receiver: pd
  group_by: [alertname, instance]
  group_wait: 10s
receivers: [{name: pd}]
correlation:
  window: 5m
  topology_labels: [switch, rack, site]
  min_alerts: 5
  upstream_events: [linkDown]
  upstream_alerts: ['alertname=~"SwitchDown|UplinkDown"']
`

// rackFleet is rack R12 of site dc1: 40 servers behind switch sw-r12, and
// rack R13 with 2 servers behind sw-r13.
func rackFleet() *inventory.Inventory {
	inv := &inventory.Inventory{Switches: []inventory.Switch{
		{Hostname: "sw-r12", Address: "10.0.12.1", Location: inventory.Location{Site: "dc1", Rack: "R12"}, Role: "tor"},
		{Hostname: "sw-r13", Address: "10.0.13.1", Location: inventory.Location{Site: "dc1", Rack: "R13"}, Role: "tor"},
	}}
	for i := 1; i <= 40; i++ {
		inv.Servers = append(inv.Servers, inventory.Server{Hostname: fmt.Sprintf("srv-r12-%02d", i), BMC: fmt.Sprintf("srv-r12-%02d-bmc", i),
			Location: inventory.Location{Site: "dc1", Row: "A", Rack: "R12"}, Switch: "sw-r12", SwitchPort: fmt.Sprintf("Et%d", i), Lifecycle: inventory.InService})
	}
	for i := 1; i <= 2; i++ {
		inv.Servers = append(inv.Servers, inventory.Server{Hostname: fmt.Sprintf("srv-r13-%02d", i),
			Location: inventory.Location{Site: "dc1", Row: "A", Rack: "R13"}, Switch: "sw-r13", Lifecycle: inventory.InService})
	}
	return inv
}

const rebootConfig = `
remediations:
  - name: reboot
    match: ['alertname="ServerUnreachable"']
    action: {redfish: {reset_type: ForceRestart}}
    guards:
      blast_radius: {max_servers: 3}
`

func TestCorrelationNamesTheSwitch(t *testing.T) {
	linkDown := events.Event{Source: events.SourceSNMPTrap, Kind: "linkDown", Severity: events.Critical,
		Labels: ls("switch", "sw-r12", "switch_port", "Et49", "site", "dc1", "rack", "R12")}
	for _, trapFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("trap first %v", trapFirst), func(t *testing.T) {
			inv := rackFleet()
			var rem *remediate.Engine
			h := newHarness(t, corrConfig, inv, func(o *Options) {
				cfg, err := remediate.Parse("remediations.yml", []byte(rebootConfig))
				if err != nil {
					t.Fatal(err)
				}
				rem, err = remediate.New(remediate.Options{Store: o.Store, Config: cfg, Fleet: remediate.NewInventoryFleet(inv), Now: o.Now})
				if err != nil {
					t.Fatal(err)
				}
				o.Remediator = rem
			})
			ctx := context.Background()
			if trapFirst {
				if err := h.e.HandleEvent(ctx, linkDown); err != nil {
					t.Fatal(err)
				}
			}
			var batch []map[string]string
			for i := 1; i <= 40; i++ {
				batch = append(batch, ls("alertname", "ServerUnreachable", "instance", fmt.Sprintf("srv-r12-%02d:9100", i), "severity", "critical"))
			}
			h.post(batch[:20]...)
			h.step(time.Second)
			h.post(batch[20:]...)
			if !trapFirst {
				h.step(2 * time.Second)
				if err := h.e.HandleEvent(ctx, linkDown); err != nil {
					t.Fatal(err)
				}
			}
			// An unrelated server in another rack keeps its own incident.
			h.post(ls("alertname", "ServerUnreachable", "instance", "srv-r13-01:9100", "severity", "critical"))
			h.step(15 * time.Second)

			incs := h.incidents(store.Triggered)
			if len(incs) != 2 {
				for _, i := range incs {
					t.Logf("incident %s %q (%d alerts)", i.ID, i.Title, i.AlertCount)
				}
				t.Fatalf("%d incidents, want 2 (rack R12 correlated, R13 alone)", len(incs))
			}
			var corr store.Incident
			for _, i := range incs {
				if i.AlertCount == 40 {
					corr = i
				}
			}
			if corr.ID == "" {
				t.Fatalf("no incident holds the 40 alerts: %+v", incs)
			}
			for _, want := range []string{"switch sw-r12 port Et49 down", "40 servers in rack R12"} {
				if !strings.Contains(corr.Title, want) {
					t.Errorf("title %q lacks %q", corr.Title, want)
				}
			}
			if corr.Cause != "switch sw-r12 port Et49 down" {
				t.Errorf("cause %q", corr.Cause)
			}
			pages := 0
			for _, m := range h.rec["pd"].Messages() {
				if m.IncidentID == corr.ID {
					pages++
					if !strings.Contains(m.Summary, "sw-r12") {
						t.Errorf("page summary %q does not name the switch", m.Summary)
					}
				}
			}
			if pages != 1 {
				t.Errorf("correlated incident paged %d times, want 1", pages)
			}
			// The trap is on the incident's timeline.
			if k := kinds(h.timeline(corr.ID)); k[store.EventExternal] != 1 {
				t.Errorf("trap not on the incident timeline: %v", k)
			}
			// Blast radius: no automatic reboot of 40 servers.
			runs, err := h.st.ListRemediationRuns(ctx, store.RemediationFilter{IncidentID: corr.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) == 0 {
				t.Fatal("remediation was not consulted")
			}
			for _, r := range runs {
				if r.Status != remediate.StatusEscalated && r.Status != remediate.StatusSkipped {
					t.Fatalf("run on %s has status %s (reason %q); want it refused", r.Target, r.Status, r.Reason)
				}
				if !strings.Contains(r.Reason, "blast") {
					t.Fatalf("run on %s refused for %q, want blast radius", r.Target, r.Reason)
				}
			}
		})
	}
}

func TestUpstreamAlertOpensCluster(t *testing.T) {
	h := newHarness(t, corrConfig, rackFleet())
	h.post(ls("alertname", "SwitchDown", "switch", "sw-r12", "instance", "sw-r12"))
	h.post(ls("alertname", "ServerUnreachable", "instance", "srv-r12-01:9100"), ls("alertname", "ServerUnreachable", "instance", "srv-r12-02:9100"))
	h.step(15 * time.Second)
	incs := h.incidents(store.Triggered)
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want 1", len(incs))
	}
	if !strings.HasPrefix(incs[0].Title, "switch sw-r12 down (SwitchDown); 2 servers in rack R12") {
		t.Fatalf("title %q", incs[0].Title)
	}
}
