package snmp

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/common/model"
)

// LLDP-MIB (IEEE 802.1AB) tables.
const (
	oidLldpRemEntry     = "1.0.8802.1.1.2.1.4.1.1"
	oidLldpLocPortEntry = "1.0.8802.1.1.2.1.3.7.1"
)

// Neighbor is one LLDP neighbour a polled device reports: which of its
// ports sees which remote system and port. For a top-of-rack switch the
// remote system is usually a server, so this says which switch port each
// server is cabled to.
type Neighbor struct {
	// Device is the polled device's instance label (its inventory name);
	// Address the address it was polled at.
	Device  string `json:"device"`
	Address string `json:"address"`
	// LocalPortNum is lldpRemLocalPortNum; LocalPort the port's name
	// (lldpLocPortId, usually the interface name) and LocalPortDesc its
	// lldpLocPortDesc.
	LocalPortNum  int    `json:"local_port_num"`
	LocalPort     string `json:"local_port"`
	LocalPortDesc string `json:"local_port_desc,omitempty"`
	// The remote end: chassis ID (a MAC address as AA:BB:CC:DD:EE:FF),
	// port ID, port description and system name.
	RemoteChassisID string `json:"remote_chassis_id"`
	RemotePortID    string `json:"remote_port_id"`
	RemotePortDesc  string `json:"remote_port_desc,omitempty"`
	RemoteSysName   string `json:"remote_sys_name"`
}

func lldpModule() *module {
	return &module{
		name:   "lldp",
		walk:   []string{oidLldpRemEntry, oidLldpLocPortEntry},
		custom: convertLLDP,
	}
}

// lldpID formats a chassis or port ID by its subtype: MAC addresses as
// AA:BB:CC:DD:EE:FF, network addresses as IP addresses, names as text, and
// anything unprintable as 0x-hex.
func lldpID(p *gosnmp.SnmpPDU, subtype int, macSubtype, netSubtype int) string {
	b, ok := p.Value.([]byte)
	if !ok {
		if s, ok := p.Value.(string); ok {
			return s
		}
		return fmt.Sprint(p.Value)
	}
	switch {
	case subtype == macSubtype && len(b) == 6:
		return strings.ToUpper(net.HardwareAddr(b).String())
	case subtype == netSubtype && len(b) == 5 && b[0] == 1:
		return net.IP(b[1:]).String()
	case subtype == netSubtype && len(b) == 17 && b[0] == 2:
		return net.IP(b[1:]).String()
	}
	s := string(b)
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return bytesAsString(b, "OctetString")
		}
	}
	return s
}

// convertLLDP writes snmp_lldp_neighbor_info, one series per neighbour, and
// records the neighbours.
func convertLLDP(c *converter, res *customResult) {
	prefix := oidLldpRemEntry + ".9."
	for i := range c.set.pdus {
		pdu := &c.set.pdus[i]
		name := strings.TrimPrefix(pdu.Name, ".")
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		index := name[len(prefix):] // timeMark.localPortNum.remIndex
		arcs, ok := appendArcs(nil, index)
		if !ok || len(arcs) != 3 {
			continue
		}
		col := func(n int) (*gosnmp.SnmpPDU, bool) {
			return c.set.get(oidLldpRemEntry + "." + strconv.Itoa(n) + "." + index)
		}
		num := func(n int) int {
			if p, ok := col(n); ok {
				return int(toInt64(p.Value))
			}
			return 0
		}
		str := func(p *gosnmp.SnmpPDU, ok bool) string {
			if !ok {
				return ""
			}
			return c.valueAsString(p, "DisplayString")
		}
		nb := Neighbor{LocalPortNum: arcs[1], RemoteSysName: str(pdu, true)}
		if p, ok := col(5); ok {
			nb.RemoteChassisID = lldpID(p, num(4), 4, 5)
		}
		if p, ok := col(7); ok {
			nb.RemotePortID = lldpID(p, num(6), 3, 4)
		}
		nb.RemotePortDesc = str(col(8))
		loc := oidLldpLocPortEntry + ".%d." + strconv.Itoa(arcs[1])
		if p, ok := c.set.get(fmt.Sprintf(loc, 3)); ok {
			sub := 0
			if s, ok := c.set.get(fmt.Sprintf(loc, 2)); ok {
				sub = int(toInt64(s.Value))
			}
			nb.LocalPort = lldpID(p, sub, 3, 4)
		}
		if p, ok := c.set.get(fmt.Sprintf(loc, 4)); ok {
			nb.LocalPortDesc = c.valueAsString(p, "DisplayString")
		}
		if nb.LocalPort == "" {
			nb.LocalPort = strconv.Itoa(nb.LocalPortNum)
		}
		res.neighbors = append(res.neighbors, nb)
		c.pairs = c.pairs[:0]
		c.setLabel("lldpLocalPortNum", strconv.Itoa(nb.LocalPortNum))
		c.setLabel("lldpLocalPortId", nb.LocalPort)
		c.setLabel("lldpLocalPortDesc", nb.LocalPortDesc)
		c.setLabel("lldpRemChassisId", nb.RemoteChassisID)
		c.setLabel("lldpRemPortId", nb.RemotePortID)
		c.setLabel("lldpRemPortDesc", nb.RemotePortDesc)
		c.setLabel("lldpRemSysName", nb.RemoteSysName)
		c.meta("snmp_lldp_neighbor_info", model.MetricTypeGauge,
			"An LLDP neighbour seen on a local port (LLDP-MIB lldpRemTable): value 1, the neighbour in the labels - 1.0.8802.1.1.2.1.4.1.1")
		c.emit("snmp_lldp_neighbor_info", 1)
		if c.err != nil {
			return
		}
	}
}
