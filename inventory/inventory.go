package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/internal/yamlutil"
)

// Lifecycle is where a server is in its life. Only in_service servers page;
// the others are watched but their alerts are recorded, not sent.
type Lifecycle string

// The lifecycle states.
const (
	Provisioning   Lifecycle = "provisioning"
	InService      Lifecycle = "in_service"
	Maintenance    Lifecycle = "maintenance"
	Repair         Lifecycle = "repair"
	Decommissioned Lifecycle = "decommissioned"
)

// Lifecycles lists every valid state, in lifecycle order.
var Lifecycles = []Lifecycle{Provisioning, InService, Maintenance, Repair, Decommissioned}

// Location is where a device sits. Every field becomes a label of the same
// name on the device's series when set.
type Location struct {
	Site string `yaml:"site,omitempty"`
	Row  string `yaml:"row,omitempty"`
	Rack string `yaml:"rack,omitempty"`
}

// Server is one physical server.
type Server struct {
	Hostname string `yaml:"hostname"`
	// Address is the host's management address (name or IP) where its
	// exporters listen.
	Address string `yaml:"address,omitempty"`
	// BMC is the address of the server's BMC (Redfish): host, host:port or
	// an http(s) URL.
	BMC      string `yaml:"bmc,omitempty"`
	Location `yaml:",inline"`
	// Switch and SwitchPort name the top-of-rack switch port the server's
	// uplink is on.
	Switch     string            `yaml:"switch,omitempty"`
	SwitchPort string            `yaml:"switch_port,omitempty"`
	Lifecycle  Lifecycle         `yaml:"lifecycle,omitempty"`
	Labels     map[string]string `yaml:"labels,omitempty"`

	line int
}

// Switch is one network device polled over SNMP.
type Switch struct {
	Hostname string `yaml:"hostname"`
	Address  string `yaml:"address"`
	Location `yaml:",inline"`
	Role     string            `yaml:"role,omitempty"` // e.g. tor, spine, pdu
	Labels   map[string]string `yaml:"labels,omitempty"`

	line int
}

// Inventory is the whole fleet.
type Inventory struct {
	Servers  []Server `yaml:"servers"`
	Switches []Switch `yaml:"switches"`
}

// Load reads and checks an inventory file.
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// reservedLabels may not be set through an entry's labels map: the
// inventory sets them itself.
var reservedLabels = map[string]bool{
	"job": true, "instance": true, "site": true, "row": true, "rack": true,
	"switch": true, "switch_port": true, "server": true, "role": true,
}

// Parse checks data read from file name. Errors name the file, line and
// field; all of them are reported, not only the first.
func Parse(name string, data []byte) (inv *Inventory, err error) {
	defer func() {
		if r := recover(); r != nil { // yaml.v3 panics on some merge-key inputs
			inv, err = nil, fmt.Errorf("%s: YAML the parser cannot handle: %v", name, r)
		}
	}()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlutil.FormatError(name, err)
	}
	inv = &Inventory{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(inv); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlutil.DecodeError(name, &root, reflect.TypeFor[Inventory](), err)
	}
	recordLines(&root, inv)
	var errs []string
	bad := func(line int, field, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s: %s", name, line, field, fmt.Sprintf(format, args...)))
	}
	hosts := map[string]int{}
	for i, s := range inv.Servers {
		field := fmt.Sprintf("servers[%d]", i)
		if s.Hostname == "" {
			bad(s.line, field+".hostname", "missing")
		} else if prev, dup := hosts[s.Hostname]; dup {
			bad(s.line, field+".hostname", "%q already defined on line %d", s.Hostname, prev)
		} else {
			hosts[s.Hostname] = s.line
		}
		if s.Lifecycle != "" && !validLifecycle(s.Lifecycle) {
			bad(s.line, field+".lifecycle", "%q is not one of %v", s.Lifecycle, Lifecycles)
		}
		if s.SwitchPort != "" && s.Switch == "" {
			bad(s.line, field+".switch_port", "set without switch")
		}
		checkAddress(bad, s.line, field+".address", s.Address)
		if u, err := url.Parse(s.BMC); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			// A BMC may be given as a URL (scheme and port of its Redfish service).
		} else {
			checkAddress(bad, s.line, field+".bmc", s.BMC)
		}
		checkLabels(bad, s.line, field+".labels", s.Labels)
		if inv.Servers[i].Lifecycle == "" {
			inv.Servers[i].Lifecycle = InService
		}
	}
	for i, sw := range inv.Switches {
		field := fmt.Sprintf("switches[%d]", i)
		switch {
		case sw.Hostname == "":
			bad(sw.line, field+".hostname", "missing")
		case hosts[sw.Hostname] != 0:
			bad(sw.line, field+".hostname", "%q already defined on line %d", sw.Hostname, hosts[sw.Hostname])
		default:
			hosts[sw.Hostname] = sw.line
		}
		if sw.Address == "" {
			bad(sw.line, field+".address", "missing")
		}
		checkAddress(bad, sw.line, field+".address", sw.Address)
		checkLabels(bad, sw.line, field+".labels", sw.Labels)
	}
	switches := map[string]bool{}
	for _, sw := range inv.Switches {
		switches[sw.Hostname] = true
	}
	for i, s := range inv.Servers {
		if s.Switch != "" && len(inv.Switches) > 0 && !switches[s.Switch] {
			bad(s.line, fmt.Sprintf("servers[%d].switch", i), "%q is not in switches", s.Switch)
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return inv, nil
}

func validLifecycle(l Lifecycle) bool {
	for _, v := range Lifecycles {
		if l == v {
			return true
		}
	}
	return false
}

func checkAddress(bad func(int, string, string, ...any), line int, field, addr string) {
	if addr == "" {
		return
	}
	if strings.ContainsAny(addr, " /\t") {
		bad(line, field, "%q is not a host name, IP address or host:port", addr)
		return
	}
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || port == "") {
		bad(line, field, "%q is not a host name, IP address or host:port", addr)
	}
}

func checkLabels(bad func(int, string, string, ...any), line int, field string, ls map[string]string) {
	names := make([]string, 0, len(ls))
	for n := range ls {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		switch {
		case !labelNameRE.MatchString(n) || strings.HasPrefix(n, "__"):
			bad(line, field, "%q is not a valid label name", n)
		case reservedLabels[n]:
			bad(line, field, "%q is set by the inventory itself", n)
		}
	}
}

// recordLines stores each entry's line number, for error messages.
func recordLines(root *yaml.Node, inv *Inventory) {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		seq := m.Content[i+1]
		switch m.Content[i].Value {
		case "servers":
			for j, n := range seq.Content {
				if j < len(inv.Servers) {
					inv.Servers[j].line = n.Line
				}
			}
		case "switches":
			for j, n := range seq.Content {
				if j < len(inv.Switches) {
					inv.Switches[j].line = n.Line
				}
			}
		}
	}
}

// Server returns the server with the given hostname.
func (inv *Inventory) Server(hostname string) (Server, bool) {
	for _, s := range inv.Servers {
		if s.Hostname == hostname {
			return s, true
		}
	}
	return Server{}, false
}
