package traps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/collectors/snmp"
	"github.com/fleetwatch/fleetwatch/events"
	"github.com/fleetwatch/fleetwatch/internal/yamlutil"
)

// DefaultListenAddress is where traps are received unless configured: an
// unprivileged port on loopback.
const DefaultListenAddress = "127.0.0.1:9162"

// Standard notification OIDs (SNMPv2-MIB, IF-MIB) and their names.
const (
	OIDColdStart             = "1.3.6.1.6.3.1.1.5.1"
	OIDWarmStart             = "1.3.6.1.6.3.1.1.5.2"
	OIDLinkDown              = "1.3.6.1.6.3.1.1.5.3"
	OIDLinkUp                = "1.3.6.1.6.3.1.1.5.4"
	OIDAuthenticationFailure = "1.3.6.1.6.3.1.1.5.5"
	oidEgpNeighborLoss       = "1.3.6.1.6.3.1.1.5.6"
	oidSnmpTrapOID           = "1.3.6.1.6.3.1.1.4.1.0"
	oidSysUpTime             = "1.3.6.1.2.1.1.3.0"
	oidIfIndex               = "1.3.6.1.2.1.2.2.1.1."
	oidIfDescr               = "1.3.6.1.2.1.2.2.1.2."
	oidIfName                = "1.3.6.1.2.1.31.1.1.1.1."
	oidIfAlias               = "1.3.6.1.2.1.31.1.1.1.18."
)

// builtinTraps name the standard notifications.
var builtinTraps = map[string]TrapRule{
	OIDColdStart:             {Name: "coldStart", Severity: events.Warning},
	OIDWarmStart:             {Name: "warmStart", Severity: events.Info},
	OIDLinkDown:              {Name: "linkDown", Severity: events.Warning},
	OIDLinkUp:                {Name: "linkUp", Severity: events.Info},
	OIDAuthenticationFailure: {Name: "authenticationFailure", Severity: events.Warning},
	oidEgpNeighborLoss:       {Name: "egpNeighborLoss", Severity: events.Warning},
}

// Config configures the trap receiver.
type Config struct {
	// ListenAddress is the UDP host:port. Default 127.0.0.1:9162.
	ListenAddress string `yaml:"listen_address"`
	// Communities accepted from v1/v2c traps; empty accepts any.
	Communities []string `yaml:"communities"`
	// V3Users names auths (of the snmp_auths section) whose v3 users may
	// send traps; their engine ID is learnt from each trap.
	V3Users []string `yaml:"v3_users"`
	// Traps names further notification OIDs (or overrides the standard
	// ones) and gives their severity.
	Traps map[string]TrapRule `yaml:"traps"`
	// DropUnknown drops traps whose OID is neither standard nor in Traps.
	// Default false: they become events of kind = the OID, severity info.
	DropUnknown bool `yaml:"drop_unknown"`
	// Readers is the number of goroutines reading the socket. Default: the
	// number of CPUs.
	Readers int `yaml:"readers"`

	// Auths are the named credentials V3Users refer to (filled by the
	// wiring from snmp_auths).
	Auths snmp.Auths `yaml:"-"`
}

// TrapRule names a notification and says how serious it is.
type TrapRule struct {
	Name     string          `yaml:"name"`
	Severity events.Severity `yaml:"severity"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{ListenAddress: DefaultListenAddress} }

// UnmarshalYAML starts from DefaultConfig and refuses unknown keys.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	*c = DefaultConfig()
	if err := yamlutil.CheckKeys(node, reflect.TypeFor[Config](), yamlutil.KeyOptions{Noun: "snmp trap receiver"}); err != nil {
		return err
	}
	type plain Config
	return node.Decode((*plain)(c))
}

// Validate checks the config, naming the bad key.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.ListenAddress); err != nil {
		return fmt.Errorf("snmp traps: listen_address: %w", err)
	}
	for oid, r := range c.Traps {
		if _, err := snmp.ParseOIDString(oid); err != nil {
			return fmt.Errorf("snmp traps: traps: %w", err)
		}
		switch r.Severity {
		case events.Critical, events.Warning, events.Info, "":
		default:
			return fmt.Errorf("snmp traps: traps[%s].severity: %q is not critical, warning or info", oid, r.Severity)
		}
	}
	for i, u := range c.V3Users {
		a, ok := c.Auths[u]
		if !ok {
			return fmt.Errorf("snmp traps: v3_users[%d]: auth %q is not defined", i, u)
		}
		if a.Version != 3 {
			return fmt.Errorf("snmp traps: v3_users[%d]: auth %q is not version 3", i, u)
		}
	}
	if c.Readers < 0 {
		return fmt.Errorf("snmp traps: readers: %d must not be negative", c.Readers)
	}
	return nil
}

// LabelsFunc returns the inventory labels of the device at addr (instance,
// switch, site, rack, …); nil when the address is unknown.
type LabelsFunc func(addr netip.Addr) map[string]string

// Receiver turns SNMP traps and informs into events.
type Receiver struct {
	cfg     Config
	sink    events.Sink
	labels  LabelsFunc
	logger  *slog.Logger
	rules   map[string]TrapRule
	comms   map[string]bool
	v3      *usmKeys
	metrics *metrics

	mu   sync.Mutex
	conn *net.UDPConn
	addr net.Addr
}

// Reasons a packet is dropped, the values of the reason label of
// fleetwatch_snmp_traps_dropped_total.
const (
	DropMalformed   = "malformed"   // not a decodable SNMP message
	DropCommunity   = "community"   // a community not in communities
	DropAuth        = "auth"        // v3: unknown user, wrong digest, cannot decrypt
	DropNotTrap     = "not_trap"    // a PDU other than a trap or inform
	DropUnknown     = "unknown_oid" // drop_unknown and an OID not named
	DropSinkRefused = "sink"        // the event sink refused the event
)

// New checks cfg and returns a Receiver that hands events to sink, labelled
// with what labels returns for the sending device (labels may be nil).
func New(cfg Config, sink events.Sink, labels LabelsFunc, logger *slog.Logger, reg prometheus.Registerer) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("snmp traps: no event sink")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{cfg: cfg, sink: sink, labels: labels, logger: logger, rules: map[string]TrapRule{}, comms: map[string]bool{}}
	for oid, rule := range builtinTraps {
		r.rules[oid] = rule
	}
	for oid, rule := range cfg.Traps {
		oid = strings.TrimPrefix(oid, ".")
		if rule.Name == "" {
			rule.Name = oid
		}
		if rule.Severity == "" {
			rule.Severity = events.Info
		}
		r.rules[oid] = rule
	}
	for _, c := range cfg.Communities {
		r.comms[c] = true
	}
	if len(cfg.V3Users) > 0 {
		r.v3 = newUSMKeys()
		for _, u := range cfg.V3Users {
			usm, err := snmp.USMParameters(cfg.Auths[u])
			if err != nil {
				return nil, fmt.Errorf("snmp traps: v3 user %q: %w", u, err)
			}
			r.v3.users[usm.UserName] = usm
		}
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	return r, nil
}

// Addr is the address the receiver listens on, once Run has started (nil
// before).
func (r *Receiver) Addr() net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// Run receives traps until ctx is cancelled. Malformed packets are counted
// and dropped; nothing a sender does stops the receiver.
func (r *Receiver) Run(ctx context.Context) error {
	laddr, err := net.ResolveUDPAddr("udp", r.cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("snmp traps: listen_address: %w", err)
	}
	conn, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return fmt.Errorf("snmp traps: %w", err)
	}
	_ = conn.SetReadBuffer(8 << 20)
	r.mu.Lock()
	r.conn, r.addr = conn, conn.LocalAddr()
	r.mu.Unlock()
	readers := r.cfg.Readers
	if readers == 0 {
		readers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.read(ctx, conn)
		}()
	}
	<-ctx.Done()
	_ = conn.Close()
	wg.Wait()
	return nil
}

func (r *Receiver) read(ctx context.Context, conn *net.UDPConn) {
	buf := make([]byte, 65535)
	dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Transport: "udp"}
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			continue
		}
		r.handle(ctx, dec, conn, buf[:n], from)
	}
}

// handle decodes one packet and hands its event to the sink.
func (r *Receiver) handle(ctx context.Context, dec *gosnmp.GoSNMP, conn *net.UDPConn, pkt []byte, from netip.AddrPort) {
	d := dec
	if isV3(pkt) {
		d = r.v3Decoder(pkt)
		if d == nil {
			r.metrics.dropped.WithLabelValues(DropAuth).Inc()
			return
		}
	}
	p, reason := decode(d, pkt)
	if p == nil {
		r.metrics.dropped.WithLabelValues(reason).Inc()
		return
	}
	if p.Version != gosnmp.Version3 && len(r.comms) > 0 && !r.comms[p.Community] {
		r.metrics.dropped.WithLabelValues(DropCommunity).Inc()
		return
	}
	ev, trapOID, ok := r.event(p, from.Addr().Unmap())
	if !ok {
		r.metrics.dropped.WithLabelValues(DropUnknown).Inc()
		return
	}
	if p.PDUType == gosnmp.InformRequest && p.Version != gosnmp.Version3 {
		ack := *p
		ack.PDUType = gosnmp.GetResponse
		ack.Error, ack.ErrorIndex = gosnmp.NoError, 0
		if out, err := ack.MarshalMsg(); err == nil {
			_, _ = conn.WriteToUDPAddrPort(out, from)
		}
	}
	r.metrics.received.WithLabelValues(ev.Kind).Inc()
	if err := r.sink.HandleEvent(ctx, ev); err != nil {
		r.metrics.dropped.WithLabelValues(DropSinkRefused).Inc()
		r.logger.Warn("event sink refused a trap", "trap", ev.Kind, "oid", trapOID, "from", from.Addr(), "err", err)
	}
}

// v3Decoder returns a decoder holding the keys of the packet's user
// localized for its sender's engine ID, nil when the user is not known.
func (r *Receiver) v3Decoder(pkt []byte) *gosnmp.GoSNMP {
	if r.v3 == nil {
		return nil
	}
	engine, user, ok := v3EngineUser(pkt)
	if !ok {
		return nil
	}
	t, err := r.v3.table(engine, user)
	if err != nil {
		return nil
	}
	d := &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, Transport: "udp"}
	d.SetTrapSecurityParametersTable(t)
	return d
}

// decode unmarshals a trap, never panicking on bad input.
func decode(dec *gosnmp.GoSNMP, pkt []byte) (p *gosnmp.SnmpPacket, reason string) {
	defer func() {
		if recover() != nil {
			p, reason = nil, DropMalformed
		}
	}()
	buf := make([]byte, len(pkt))
	copy(buf, pkt) // gosnmp may decrypt in place
	p, err := dec.UnmarshalTrap(buf, true)
	if err != nil || p == nil {
		if isV3(pkt) {
			return nil, DropAuth
		}
		return nil, DropMalformed
	}
	switch p.PDUType {
	case gosnmp.Trap, gosnmp.SNMPv2Trap, gosnmp.InformRequest:
		return p, ""
	}
	return nil, DropNotTrap
}

// isV3 reports whether pkt starts like an SNMPv3 message.
func isV3(pkt []byte) bool {
	// SEQUENCE, length (short or long form), INTEGER 3.
	if len(pkt) < 5 || pkt[0] != 0x30 {
		return false
	}
	i := 2
	if pkt[1]&0x80 != 0 {
		i += int(pkt[1] & 0x7f)
	}
	return i+2 < len(pkt) && pkt[i] == 0x02 && pkt[i+1] == 0x01 && pkt[i+2] == 0x03
}

// TrapOID returns the notification OID of a decoded trap (no leading dot):
// snmpTrapOID.0 for v2c/v3, the RFC 3584 translation for v1.
func TrapOID(p *gosnmp.SnmpPacket) string {
	if p.PDUType == gosnmp.Trap {
		if p.GenericTrap >= 0 && p.GenericTrap < 6 {
			return "1.3.6.1.6.3.1.1.5." + strconv.Itoa(p.GenericTrap+1)
		}
		return strings.TrimPrefix(p.Enterprise, ".") + ".0." + strconv.Itoa(p.SpecificTrap)
	}
	for _, v := range p.Variables {
		if strings.TrimPrefix(v.Name, ".") == oidSnmpTrapOID {
			if s, ok := v.Value.(string); ok {
				return strings.TrimPrefix(s, ".")
			}
		}
	}
	return ""
}

// event builds the event of a trap from device addr. ok is false when the
// trap is to be dropped.
func (r *Receiver) event(p *gosnmp.SnmpPacket, addr netip.Addr) (events.Event, string, bool) {
	trapOID := TrapOID(p)
	rule, known := r.rules[trapOID]
	if !known {
		if r.cfg.DropUnknown {
			return events.Event{}, trapOID, false
		}
		rule = TrapRule{Name: trapOID, Severity: events.Info}
		if trapOID == "" {
			rule.Name = "unknown"
		}
	}
	ls := map[string]string{}
	var dev map[string]string
	if r.labels != nil {
		dev = r.labels(addr)
		if dev == nil && p.PDUType == gosnmp.Trap {
			if a, err := netip.ParseAddr(p.AgentAddress); err == nil {
				dev = r.labels(a)
			}
		}
	}
	for k, v := range dev {
		ls[k] = v
	}
	if ls["instance"] == "" {
		ls["instance"] = addr.String()
	}
	attrs := map[string]string{
		"trap_oid": trapOID,
		"source":   addr.String(),
		"version":  p.Version.String(),
	}
	if p.PDUType == gosnmp.InformRequest {
		attrs["inform"] = "true"
	}
	if p.PDUType == gosnmp.Trap {
		attrs["agent_address"] = p.AgentAddress
		attrs["enterprise"] = strings.TrimPrefix(p.Enterprise, ".")
	}
	var ifIndex, ifName string
	for i := range p.Variables {
		v := &p.Variables[i]
		name := strings.TrimPrefix(v.Name, ".")
		if name == oidSnmpTrapOID || name == oidSysUpTime {
			continue
		}
		attrs[name] = valueString(v)
		switch {
		case strings.HasPrefix(name, oidIfIndex):
			ifIndex = valueString(v)
		case strings.HasPrefix(name, oidIfName):
			ifName = valueString(v)
		case strings.HasPrefix(name, oidIfDescr) && ifName == "":
			ifName = valueString(v)
		case strings.HasPrefix(name, oidIfAlias):
			ls["ifAlias"] = valueString(v)
		}
	}
	if ifIndex != "" {
		ls["ifIndex"] = ifIndex
	}
	if ifName != "" {
		ls["ifName"] = ifName
	}
	summary := fmt.Sprintf("%s from %s", rule.Name, ls["instance"])
	if ifIndex != "" {
		summary += " ifIndex " + ifIndex
		if ifName != "" {
			summary += " (" + ifName + ")"
		}
	}
	return events.Event{
		Time:       time.Now(),
		Source:     events.SourceSNMPTrap,
		Kind:       rule.Name,
		Severity:   rule.Severity,
		Summary:    summary,
		Labels:     ls,
		Attributes: attrs,
	}, trapOID, true
}

func valueString(v *gosnmp.SnmpPDU) string {
	switch x := v.Value.(type) {
	case []byte:
		for _, c := range x {
			if c < 0x20 || c > 0x7e {
				return fmt.Sprintf("0x%X", x)
			}
		}
		return string(x)
	case string:
		return strings.TrimPrefix(x, ".")
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

type metrics struct {
	received *prometheus.CounterVec
	dropped  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_snmp_traps_received_total",
			Help: "SNMP traps and informs accepted and handed to the event sink, by trap name (linkDown, coldStart, … or the OID).",
		}, []string{"trap"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_snmp_traps_dropped_total",
			Help: "SNMP packets received on the trap port and dropped, by reason (malformed, community, auth, not_trap, unknown_oid, sink).",
		}, []string{"reason"}),
	}
	for _, r := range []string{DropMalformed, DropCommunity, DropAuth, DropNotTrap, DropUnknown, DropSinkRefused} {
		m.dropped.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.received, m.dropped} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Names returns the standard trap names by OID, sorted by OID, for docs and
// tests.
func Names() []string {
	out := make([]string, 0, len(builtinTraps))
	for oid, r := range builtinTraps {
		out = append(out, oid+" "+r.Name)
	}
	sort.Strings(out)
	return out
}
