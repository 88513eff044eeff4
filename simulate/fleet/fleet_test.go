package fleet

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/fleetwatch/fleetwatch/collectors/redfish"
	"github.com/fleetwatch/fleetwatch/collectors/snmp"
	"github.com/fleetwatch/fleetwatch/inventory"
)

func TestFleetMatchesItsInventory(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := Start(ctx, Options{RacksPerSite: 2, ServersPerRack: 3, BMCUsername: "admin", BMCPassword: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// The inventory it describes is valid and complete.
	var buf bytes.Buffer
	if err := f.Inventory.WriteYAML(&buf); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Parse("sim.yml", buf.Bytes())
	if err != nil {
		t.Fatalf("generated inventory does not parse: %v\n%s", err, buf.String())
	}
	bmcs := inv.Targets(inventory.Selector{Role: inventory.RoleBMC})
	switches := inv.Targets(inventory.Selector{Role: inventory.RoleSwitch})
	if len(bmcs) != 6 || len(switches) != 2 {
		t.Fatalf("%d BMC targets and %d switches, want 6 and 2", len(bmcs), len(switches))
	}

	// Every BMC answers Redfish with the configured credentials.
	t.Setenv("SIM_BMC_PASSWORD", "pw")
	rcfg := redfish.DefaultConfig()
	rcfg.Username, rcfg.PasswordEnv, rcfg.Scheme = "admin", "SIM_BMC_PASSWORD", "http"
	for _, b := range bmcs {
		var out bytes.Buffer
		if err := redfish.Get(ctx, rcfg, b.Address, "/redfish/v1/Systems", &out); err != nil {
			t.Fatalf("BMC %s (%s): %v", b.Labels["server"], b.Address, err)
		}
	}

	// Each switch answers SNMP, and its LLDP table names its rack's servers.
	for _, sw := range switches {
		var out bytes.Buffer
		if err := snmp.Walk(ctx, snmp.DefaultConfig(), sw.Address, []string{"1.0.8802.1.1.2.1.4.1.1.9"}, &out); err != nil {
			t.Fatalf("switch %s: %v", sw.Labels["switch"], err)
		}
		for _, s := range inv.Servers {
			if s.Switch == sw.Labels["switch"] && !strings.Contains(out.String(), s.Hostname) {
				t.Errorf("switch %s LLDP table lacks %s:\n%s", sw.Labels["switch"], s.Hostname, out.String())
			}
		}
	}
}
