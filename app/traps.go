package app

import (
	"net"
	"net/netip"

	"github.com/fleetwatch/fleetwatch/inventory"
)

// deviceLabels returns the inventory labels of the device at addr (a switch
// or a server's BMC or host address), for trap events; nil when unknown.
func (s *Server) deviceLabels(addr netip.Addr) map[string]string {
	inv := s.topology.inventory()
	if inv == nil {
		return nil
	}
	for _, role := range []inventory.Role{inventory.RoleSwitch, inventory.RoleServer, inventory.RoleBMC} {
		for _, t := range inv.Targets(inventory.Selector{Role: role}) {
			if sameHost(t.Address, addr) {
				return t.Labels
			}
		}
	}
	return nil
}

// sameHost reports whether address (host or host:port) names addr.
func sameHost(address string, addr netip.Addr) bool {
	host := address
	if h, _, err := net.SplitHostPort(address); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap() == addr.Unmap()
}
