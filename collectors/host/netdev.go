package host

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/prometheus/common/model"
	"github.com/prometheus/procfs"
	"github.com/prometheus/procfs/sysfs"
)

// netdevFamily is one node_network_*_total family from /proc/net/dev.
type netdevFamily struct {
	name, help string
	v          func(*procfs.NetDevLine) uint64
}

// newNetdevFamilies lists the /proc/net/dev counters with node_exporter's
// names (receive_errs, transmit_colls, ...).
func newNetdevFamilies() []netdevFamily {
	fs := []struct {
		stat string
		v    func(*procfs.NetDevLine) uint64
	}{
		{"receive_bytes", func(l *procfs.NetDevLine) uint64 { return l.RxBytes }},
		{"receive_packets", func(l *procfs.NetDevLine) uint64 { return l.RxPackets }},
		{"receive_errs", func(l *procfs.NetDevLine) uint64 { return l.RxErrors }},
		{"receive_drop", func(l *procfs.NetDevLine) uint64 { return l.RxDropped }},
		{"receive_fifo", func(l *procfs.NetDevLine) uint64 { return l.RxFIFO }},
		{"receive_frame", func(l *procfs.NetDevLine) uint64 { return l.RxFrame }},
		{"receive_compressed", func(l *procfs.NetDevLine) uint64 { return l.RxCompressed }},
		{"receive_multicast", func(l *procfs.NetDevLine) uint64 { return l.RxMulticast }},
		{"transmit_bytes", func(l *procfs.NetDevLine) uint64 { return l.TxBytes }},
		{"transmit_packets", func(l *procfs.NetDevLine) uint64 { return l.TxPackets }},
		{"transmit_errs", func(l *procfs.NetDevLine) uint64 { return l.TxErrors }},
		{"transmit_drop", func(l *procfs.NetDevLine) uint64 { return l.TxDropped }},
		{"transmit_fifo", func(l *procfs.NetDevLine) uint64 { return l.TxFIFO }},
		{"transmit_colls", func(l *procfs.NetDevLine) uint64 { return l.TxCollisions }},
		{"transmit_carrier", func(l *procfs.NetDevLine) uint64 { return l.TxCarrier }},
		{"transmit_compressed", func(l *procfs.NetDevLine) uint64 { return l.TxCompressed }},
	}
	out := make([]netdevFamily, 0, len(fs))
	for _, f := range fs {
		out = append(out, netdevFamily{
			name: "node_network_" + f.stat + "_total",
			help: "Network device statistic " + f.stat + ".",
			v:    f.v,
		})
	}
	return out
}

func collectNetdev(r *run) error {
	c := r.c
	nd, err := c.proc.NetDev()
	if err != nil {
		return err
	}
	devs := make([]procfs.NetDevLine, 0, len(nd))
	for name, l := range nd {
		if !c.re.netdevExclude.MatchString(name) {
			devs = append(devs, l)
		}
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Name < devs[j].Name })
	e := &r.e
	for _, f := range c.netdev {
		e.family(f.name, counter, f.help)
		for i := range devs {
			e.sample1(f.name, "device", devs[i].Name, float64(f.v(&devs[i])))
		}
	}
	return nil
}

// readNetclassIface reads the attributes node_exporter reports of one
// interface directory.
func readNetclassIface(dir, name string, buf []byte) (*sysfs.NetClassIface, error) {
	d, err := openAttrDir(dir)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", name, err)
	}
	defer d.close()
	i := &sysfs.NetClassIface{Name: name}
	// The attributes node_exporter reports, and no others.
	attrs := [...]string{
		"addr_assign_type", "address", "broadcast", "carrier", "carrier_changes",
		"carrier_up_count", "carrier_down_count", "dev_id", "dormant", "duplex",
		"flags", "ifalias", "ifindex", "iflink", "link_mode", "mtu",
		"name_assign_type", "netdev_group", "operstate", "speed", "tx_queue_len", "type",
	}
	for _, a := range attrs {
		v, err := d.read(a, buf)
		if err != nil {
			if ignorableAttrErr(err) {
				continue
			}
			return nil, fmt.Errorf("interface %q: %s: %w", name, a, err)
		}
		switch a {
		case "addr_assign_type":
			i.AddrAssignType = parseInt64(v)
		case "address":
			i.Address = string(v)
		case "broadcast":
			i.Broadcast = string(v)
		case "carrier":
			i.Carrier = parseInt64(v)
		case "carrier_changes":
			i.CarrierChanges = parseInt64(v)
		case "carrier_up_count":
			i.CarrierUpCount = parseInt64(v)
		case "carrier_down_count":
			i.CarrierDownCount = parseInt64(v)
		case "dev_id":
			i.DevID = parseInt64(v)
		case "dormant":
			i.Dormant = parseInt64(v)
		case "duplex":
			i.Duplex = string(v)
		case "flags":
			i.Flags = parseInt64(v)
		case "ifalias":
			i.IfAlias = string(v)
		case "ifindex":
			i.IfIndex = parseInt64(v)
		case "iflink":
			i.IfLink = parseInt64(v)
		case "link_mode":
			i.LinkMode = parseInt64(v)
		case "mtu":
			i.MTU = parseInt64(v)
		case "name_assign_type":
			i.NameAssignType = parseInt64(v)
		case "netdev_group":
			i.NetDevGroup = parseInt64(v)
		case "operstate":
			i.OperState = string(v)
		case "speed":
			i.Speed = parseInt64(v)
		case "tx_queue_len":
			i.TxQueueLen = parseInt64(v)
		case "type":
			i.Type = parseInt64(v)
		}
	}
	return i, nil
}

// netclassFamily is one numeric /sys/class/net/<iface> attribute that
// node_exporter reports as node_network_<name>.
type netclassFamily struct {
	name, help string
	typ        model.MetricType
	v          func(*sysfs.NetClassIface) *int64
}

func newNetclassFamilies() []netclassFamily {
	fs := []struct {
		prop string
		typ  model.MetricType
		v    func(*sysfs.NetClassIface) *int64
	}{
		{"address_assign_type", gauge, func(i *sysfs.NetClassIface) *int64 { return i.AddrAssignType }},
		{"carrier", gauge, func(i *sysfs.NetClassIface) *int64 { return i.Carrier }},
		{"carrier_changes_total", counter, func(i *sysfs.NetClassIface) *int64 { return i.CarrierChanges }},
		{"carrier_up_changes_total", counter, func(i *sysfs.NetClassIface) *int64 { return i.CarrierUpCount }},
		{"carrier_down_changes_total", counter, func(i *sysfs.NetClassIface) *int64 { return i.CarrierDownCount }},
		{"device_id", gauge, func(i *sysfs.NetClassIface) *int64 { return i.DevID }},
		{"dormant", gauge, func(i *sysfs.NetClassIface) *int64 { return i.Dormant }},
		{"flags", gauge, func(i *sysfs.NetClassIface) *int64 { return i.Flags }},
		{"iface_id", gauge, func(i *sysfs.NetClassIface) *int64 { return i.IfIndex }},
		{"iface_link", gauge, func(i *sysfs.NetClassIface) *int64 { return i.IfLink }},
		{"iface_link_mode", gauge, func(i *sysfs.NetClassIface) *int64 { return i.LinkMode }},
		{"mtu_bytes", gauge, func(i *sysfs.NetClassIface) *int64 { return i.MTU }},
		{"name_assign_type", gauge, func(i *sysfs.NetClassIface) *int64 { return i.NameAssignType }},
		{"net_dev_group", gauge, func(i *sysfs.NetClassIface) *int64 { return i.NetDevGroup }},
		{"speed_bytes", gauge, func(i *sysfs.NetClassIface) *int64 {
			if i.Speed == nil {
				return nil
			}
			b := *i.Speed * 1000 * 1000 / 8 // Mbit/s to bytes/s; -1 (unknown) stays negative, as in node_exporter
			return &b
		}},
		{"transmit_queue_length", gauge, func(i *sysfs.NetClassIface) *int64 { return i.TxQueueLen }},
		{"protocol_type", gauge, func(i *sysfs.NetClassIface) *int64 { return i.Type }},
	}
	out := make([]netclassFamily, 0, len(fs))
	for _, f := range fs {
		out = append(out, netclassFamily{
			name: "node_network_" + f.prop,
			help: "Network device property: " + f.prop,
			typ:  f.typ,
			v:    f.v,
		})
	}
	return out
}

func collectNetclass(r *run) error {
	c := r.c
	names, err := c.sys.NetClassDevices()
	if err != nil {
		return err
	}
	sort.Strings(names)
	ifaces := make([]*sysfs.NetClassIface, 0, len(names))
	base := filepath.Join(c.cfg.Sysfs, "class", "net")
	for _, n := range names {
		if c.re.netclassIgnored.MatchString(n) {
			continue
		}
		i, err := readNetclassIface(filepath.Join(base, n), n, r.attrBuf[:])
		if err != nil {
			return err
		}
		ifaces = append(ifaces, i)
	}
	e := &r.e
	e.family("node_network_up", gauge, "Value is 1 if operstate is 'up', 0 otherwise.")
	for _, i := range ifaces {
		e.sample1("node_network_up", "device", i.Name, b2f(i.OperState == "up"))
	}
	e.family("node_network_info", gauge, "Non-numeric data from /sys/class/net/<iface>, value is always 1.")
	for _, i := range ifaces {
		e.sampleN("node_network_info", []string{
			"address", i.Address, "broadcast", i.Broadcast, "device", i.Name,
			"duplex", i.Duplex, "ifalias", i.IfAlias, "operstate", i.OperState,
		}, 1)
	}
	for _, f := range c.netclass {
		e.family(f.name, f.typ, f.help)
		for _, i := range ifaces {
			if p := f.v(i); p != nil {
				e.sample1(f.name, "device", i.Name, float64(*p))
			}
		}
	}
	return nil
}
