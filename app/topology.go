package app

import (
	"strings"
	"sync"
	"time"

	"github.com/fleetwatch/fleetwatch/collectors/snmp"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// neighborSource is an SNMP collector that learnt LLDP neighbours.
type neighborSource interface {
	Neighbors() []snmp.Neighbor
}

// topology lays what LLDP says over the inventory: a server whose switch or
// switch port the inventory leaves empty gets them from the switch port
// whose LLDP neighbour names it. The inventory file stays authoritative
// where it says something. The result is cached for a few seconds.
type topology struct {
	mu      sync.Mutex
	sources []neighborSource
	base    *inventory.Inventory
	built   *inventory.Inventory
	at      time.Time
}

// set replaces the inventory and the neighbour sources (on a reload).
func (t *topology) set(base *inventory.Inventory, sources []neighborSource) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.base, t.sources, t.built = base, sources, nil
}

// inventory returns the inventory with LLDP's topology laid over it.
func (t *topology) inventory() *inventory.Inventory {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.base == nil {
		return nil
	}
	if t.built != nil && time.Since(t.at) < 10*time.Second {
		return t.built
	}
	t.built, t.at = withLLDP(t.base, t.sources), time.Now()
	return t.built
}

// withLLDP returns inv with the switch and port LLDP reports for servers
// that have none in the inventory.
func withLLDP(inv *inventory.Inventory, sources []neighborSource) *inventory.Inventory {
	type port struct{ device, port string }
	seen := map[string]port{}
	for _, src := range sources {
		for _, nb := range src.Neighbors() {
			if nb.RemoteSysName == "" || nb.Device == "" {
				continue
			}
			p := port{nb.Device, nb.LocalPort}
			if p.port == "" {
				p.port = nb.LocalPortDesc
			}
			seen[strings.ToLower(nb.RemoteSysName)] = p
			if short, _, ok := strings.Cut(nb.RemoteSysName, "."); ok {
				seen[strings.ToLower(short)] = p
			}
		}
	}
	if len(seen) == 0 {
		return inv
	}
	out := &inventory.Inventory{Servers: append([]inventory.Server(nil), inv.Servers...), Switches: inv.Switches}
	for i, s := range out.Servers {
		p, ok := seen[strings.ToLower(s.Hostname)]
		if !ok {
			continue
		}
		if s.Switch == "" {
			out.Servers[i].Switch = p.device
		}
		if s.SwitchPort == "" && (s.Switch == "" || s.Switch == p.device) {
			out.Servers[i].SwitchPort = p.port
		}
	}
	return out
}
