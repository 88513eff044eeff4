package inventory

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Role says which address of an entry a job collects from.
type Role string

// The roles a job can select.
const (
	RoleServer Role = "server" // the server's Address (its exporters)
	RoleBMC    Role = "bmc"    // the server's BMC
	RoleSwitch Role = "switch" // a switch's Address
)

// Selector picks the inventory entries a job collects from.
type Selector struct {
	Role Role `yaml:"role"`
	// Port is appended to addresses that have none (e.g. 9100 for a node
	// exporter); 0 leaves addresses as they are.
	Port int `yaml:"port,omitempty"`
	// Lifecycle keeps servers in these states only (default: all states but
	// decommissioned). Ignored for switches.
	Lifecycle []Lifecycle `yaml:"lifecycle,omitempty"`
	// Sites keeps entries of these sites only (default: all).
	Sites []string `yaml:"sites,omitempty"`
}

// Validate checks the selector.
func (s Selector) Validate() error {
	switch s.Role {
	case RoleServer, RoleBMC, RoleSwitch:
	default:
		return fmt.Errorf("role %q is not one of server, bmc, switch", s.Role)
	}
	if s.Port < 0 || s.Port > 65535 {
		return fmt.Errorf("port %d out of range", s.Port)
	}
	for _, l := range s.Lifecycle {
		if !validLifecycle(l) {
			return fmt.Errorf("lifecycle %q is not one of %v", l, Lifecycles)
		}
	}
	return nil
}

// Target is one address to collect from with the labels its topology gives.
type Target struct {
	Address string
	Labels  map[string]string
}

// Targets returns the targets sel picks, sorted by address. Their labels:
// instance (the entry's hostname), server or switch, site, row, rack, switch
// and switch_port where known, role for switches, and the entry's own labels.
func (inv *Inventory) Targets(sel Selector) []Target {
	var out []Target
	keep := func(l Location) bool {
		if len(sel.Sites) == 0 {
			return true
		}
		for _, s := range sel.Sites {
			if s == l.Site {
				return true
			}
		}
		return false
	}
	switch sel.Role {
	case RoleServer, RoleBMC:
		for _, s := range inv.Servers {
			if !keep(s.Location) || !sel.wantLifecycle(s.Lifecycle) {
				continue
			}
			addr := s.Address
			if sel.Role == RoleBMC {
				addr = s.BMC
			}
			if addr == "" {
				continue
			}
			ls := locationLabels(s.Location, s.Labels)
			ls["instance"] = s.Hostname
			ls["server"] = s.Hostname
			setIf(ls, "switch", s.Switch)
			setIf(ls, "switch_port", s.SwitchPort)
			out = append(out, Target{Address: withPort(addr, sel.Port), Labels: ls})
		}
	case RoleSwitch:
		for _, sw := range inv.Switches {
			if !keep(sw.Location) {
				continue
			}
			ls := locationLabels(sw.Location, sw.Labels)
			ls["instance"] = sw.Hostname
			ls["switch"] = sw.Hostname
			setIf(ls, "role", sw.Role)
			out = append(out, Target{Address: withPort(sw.Address, sel.Port), Labels: ls})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

func (sel Selector) wantLifecycle(l Lifecycle) bool {
	if len(sel.Lifecycle) == 0 {
		return l != Decommissioned
	}
	for _, w := range sel.Lifecycle {
		if w == l {
			return true
		}
	}
	return false
}

func locationLabels(l Location, extra map[string]string) map[string]string {
	ls := make(map[string]string, len(extra)+6)
	for k, v := range extra {
		ls[k] = v
	}
	setIf(ls, "site", l.Site)
	setIf(ls, "row", l.Row)
	setIf(ls, "rack", l.Rack)
	return ls
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func withPort(addr string, port int) string {
	if port == 0 || strings.Contains(addr, "://") {
		return addr // a URL carries its own port
	}
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, strconv.Itoa(port))
}
