package inventory

import (
	"reflect"
	"strings"
	"testing"
)

func TestLoadAndTargets(t *testing.T) {
	inv, err := Load("testdata/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sel  Selector
		want []Target
	}{
		{"servers with port, decommissioned left out", Selector{Role: RoleServer, Port: 9100}, []Target{
			{Address: "10.0.12.1:9100", Labels: map[string]string{"instance": "web-r12-01", "server": "web-r12-01", "site": "dc1", "row": "a", "rack": "r12", "switch": "sw-r12", "switch_port": "Et1", "service": "web"}},
			{Address: "10.0.12.2:9100", Labels: map[string]string{"instance": "web-r12-02", "server": "web-r12-02", "site": "dc1", "row": "a", "rack": "r12", "switch": "sw-r12", "switch_port": "Et2"}},
		}},
		{"bmcs in service only", Selector{Role: RoleBMC, Lifecycle: []Lifecycle{InService}}, []Target{
			{Address: "10.1.12.1", Labels: map[string]string{"instance": "web-r12-01", "server": "web-r12-01", "site": "dc1", "row": "a", "rack": "r12", "switch": "sw-r12", "switch_port": "Et1", "service": "web"}},
		}},
		{"switches", Selector{Role: RoleSwitch, Port: 161}, []Target{
			{Address: "10.2.0.12:161", Labels: map[string]string{"instance": "sw-r12", "switch": "sw-r12", "site": "dc1", "rack": "r12", "role": "tor"}},
			{Address: "10.2.0.13:161", Labels: map[string]string{"instance": "sw-r13", "switch": "sw-r13", "site": "dc1", "rack": "r13", "role": "tor"}},
		}},
		{"other site", Selector{Role: RoleSwitch, Sites: []string{"dc2"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := inv.Targets(tc.sel); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	urlInv, err := Parse("u.yml", []byte("servers:\n  - hostname: a\n    bmc: https://10.1.0.1:8443\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := urlInv.Targets(Selector{Role: RoleBMC, Port: 443}); len(got) != 1 || got[0].Address != "https://10.1.0.1:8443" {
		t.Errorf("BMC URL target: %+v", got)
	}
	if s, ok := inv.Server("web-r12-02"); !ok || s.Lifecycle != Repair {
		t.Errorf("web-r12-02: %+v", s)
	}
	if s, _ := inv.Server("web-r12-01"); s.Lifecycle != InService {
		t.Errorf("default lifecycle %q, want in_service", s.Lifecycle)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unknown key", "servers:\n  - hostname: a\n    rakc: r1\n", "inv.yml:3: rakc: unknown field"},
		{"missing hostname", "servers:\n  - address: 10.0.0.1\n", "inv.yml:2: servers[0].hostname: missing"},
		{"duplicate hostname", "servers:\n  - hostname: a\n  - hostname: a\n", `inv.yml:3: servers[1].hostname: "a" already defined on line 2`},
		{"bad lifecycle", "servers:\n  - hostname: a\n    lifecycle: broken\n", `inv.yml:2: servers[0].lifecycle: "broken" is not one of`},
		{"unknown switch", "servers:\n  - hostname: a\n    switch: sw9\nswitches:\n  - hostname: sw1\n    address: 10.0.0.1\n", `inv.yml:2: servers[0].switch: "sw9" is not in switches`},
		{"port without switch", "servers:\n  - hostname: a\n    switch_port: Et1\n", "inv.yml:2: servers[0].switch_port: set without switch"},
		{"switch without address", "switches:\n  - hostname: s\n", "inv.yml:2: switches[0].address: missing"},
		{"bad address", "servers:\n  - hostname: a\n    address: http://x/\n", `inv.yml:2: servers[0].address: "http://x/" is not a host name`},
		{"reserved label", "servers:\n  - hostname: a\n    labels: {rack: x}\n", `inv.yml:2: servers[0].labels: "rack" is set by the inventory itself`},
		{"bad label name", "servers:\n  - hostname: a\n    labels: {1x: y}\n", `"1x" is not a valid label name`},
		{"not yaml", "servers: [", "inv.yml:1: did not find expected node content"},
		{"two errors both reported", "servers:\n  - address: a\n  - hostname: b\n    lifecycle: x\n", "servers[0].hostname: missing\ninv.yml:3: servers[1].lifecycle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("inv.yml", []byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if inv, err := Parse("empty.yml", nil); err != nil || len(inv.Servers) != 0 {
		t.Fatalf("empty file: %v %v", inv, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("servers:\n  - hostname: a\n    address: 10.0.0.1\n"))
	f.Add([]byte("switches:\n  - hostname: s\n    address: x:161\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Parse("fuzz.yml", data)
		if err != nil {
			return
		}
		for _, role := range []Role{RoleServer, RoleBMC, RoleSwitch} {
			for _, tg := range inv.Targets(Selector{Role: role, Port: 1}) {
				if tg.Address == "" || tg.Labels["instance"] == "" {
					t.Fatalf("target without address or instance: %+v", tg)
				}
			}
		}
	})
}
