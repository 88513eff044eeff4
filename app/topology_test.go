package app

import (
	"testing"

	"github.com/fleetwatch/fleetwatch/collectors/snmp"
	"github.com/fleetwatch/fleetwatch/inventory"
)

type fakeNeighbors []snmp.Neighbor

func (f fakeNeighbors) Neighbors() []snmp.Neighbor { return f }

func TestLLDPFillsTopology(t *testing.T) {
	inv := &inventory.Inventory{Servers: []inventory.Server{
		{Hostname: "web-01"}, // unknown to the inventory: LLDP fills both
		{Hostname: "web-02", Switch: "sw-a", SwitchPort: "Et9"}, // the inventory wins
		{Hostname: "db-01.dc1.example", Switch: "sw-b"},         // port from LLDP on the same switch
		{Hostname: "lonely"}, // no neighbour: unchanged
	}}
	src := fakeNeighbors{
		{Device: "sw-a", LocalPort: "Ethernet1", RemoteSysName: "web-01.dc1.example"},
		{Device: "sw-z", LocalPort: "Ethernet2", RemoteSysName: "web-02"},
		{Device: "sw-b", LocalPort: "Ethernet3", RemoteSysName: "db-01.dc1.example"},
	}
	got := withLLDP(inv, []neighborSource{src})
	want := map[string][2]string{
		"web-01": {"sw-a", "Ethernet1"}, "web-02": {"sw-a", "Et9"},
		"db-01.dc1.example": {"sw-b", "Ethernet3"}, "lonely": {"", ""},
	}
	for _, s := range got.Servers {
		if w := want[s.Hostname]; s.Switch != w[0] || s.SwitchPort != w[1] {
			t.Errorf("%s: switch %q port %q, want %q %q", s.Hostname, s.Switch, s.SwitchPort, w[0], w[1])
		}
	}
	if inv.Servers[0].Switch != "" {
		t.Error("the loaded inventory was modified")
	}
}
