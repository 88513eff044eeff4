package remediate

import (
	"context"
	"net"
	"strings"

	"github.com/fleetwatch/fleetwatch/inventory"
)

// Fleet answers what the guards need to know about servers: where a server
// is, its lifecycle state and BMC, and how many servers a rack or site
// holds (for blast_radius percentages).
type Fleet interface {
	Server(hostname string) (inventory.Server, bool)
	// RackSize is the number of servers in rack of site; SiteSize of site.
	RackSize(site, rack string) int
	SiteSize(site string) int
}

// RedfishActuator performs Redfish actions on a BMC (the Redfish action
// package implements it).
type RedfishActuator interface {
	Reset(ctx context.Context, bmc, resetType string) error
	PXEBootOnce(ctx context.Context, bmc string) error
}

// LifecycleSetter changes a server's inventory lifecycle state.
type LifecycleSetter interface {
	SetLifecycle(ctx context.Context, hostname string, state inventory.Lifecycle, reason string) error
}

// InventoryFleet is a Fleet over one loaded inventory, indexed once.
type InventoryFleet struct {
	servers map[string]inventory.Server
	racks   map[[2]string]int
	sites   map[string]int
}

var _ Fleet = (*InventoryFleet)(nil)

// NewInventoryFleet indexes inv. Build a new one when the inventory is
// reloaded.
func NewInventoryFleet(inv *inventory.Inventory) *InventoryFleet {
	f := &InventoryFleet{
		servers: make(map[string]inventory.Server, len(inv.Servers)),
		racks:   map[[2]string]int{},
		sites:   map[string]int{},
	}
	for _, s := range inv.Servers {
		f.servers[s.Hostname] = s
		if s.Rack != "" {
			f.racks[[2]string{s.Site, s.Rack}]++
		}
		if s.Site != "" {
			f.sites[s.Site]++
		}
	}
	return f
}

// Server returns the server named hostname.
func (f *InventoryFleet) Server(hostname string) (inventory.Server, bool) {
	s, ok := f.servers[hostname]
	return s, ok
}

// RackSize counts the servers in a rack.
func (f *InventoryFleet) RackSize(site, rack string) int { return f.racks[[2]string{site, rack}] }

// SiteSize counts the servers in a site.
func (f *InventoryFleet) SiteSize(site string) int { return f.sites[site] }

// targetOf names the server an alert concerns: its `server` label, else its
// `instance` label without a port; "" when it has neither.
func targetOf(labels map[string]string) string {
	if s := labels["server"]; s != "" {
		return s
	}
	inst := labels["instance"]
	if inst == "" {
		return ""
	}
	if host, _, err := net.SplitHostPort(inst); err == nil {
		return strings.Trim(host, "[]")
	}
	return inst
}
