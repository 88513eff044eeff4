package switchsim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Well-known OIDs the simulator animates.
var (
	oidSysUpTime    = []uint32{1, 3, 6, 1, 2, 1, 1, 3, 0}
	oidSysName      = []uint32{1, 3, 6, 1, 2, 1, 1, 5, 0}
	oidIfEntry      = []uint32{1, 3, 6, 1, 2, 1, 2, 2, 1}
	oidIfXEntry     = []uint32{1, 3, 6, 1, 2, 1, 31, 1, 1, 1}
	oidLldpRemTable = []uint32{1, 0, 8802, 1, 1, 2, 1, 4, 1}
	oidLldpLocPort  = []uint32{1, 0, 8802, 1, 1, 2, 1, 3, 7}
	oidSnmpTrapOID  = ".1.3.6.1.6.3.1.1.4.1.0"
	trapLinkDown    = ".1.3.6.1.6.3.1.1.5.3"
	trapLinkUp      = ".1.3.6.1.6.3.1.1.5.4"
	ifOperStatusCol = uint32(8)
)

// Neighbor is an LLDP neighbour the simulated switch reports on one of its
// ports, typically a simulated server.
type Neighbor struct {
	// Port is the local port number (lldpLocPortNum, also the ifIndex).
	Port int
	// PortName is the local port's name; default "Ethernet<Port>".
	PortName string
	// RemoteSysName is the neighbour's system name (a server's hostname).
	RemoteSysName string
	// RemotePortID is the neighbour's port (an interface name); default eth0.
	RemotePortID string
	// RemoteMAC is the neighbour's chassis ID (6 bytes); default derived
	// from RemoteSysName.
	RemoteMAC net.HardwareAddr
}

// Switch is one simulated SNMP agent on a UDP port.
type Switch struct {
	name      string
	rec       *Recording
	overlay   []Var      // the switch's own objects, sorted, shadowing rec
	masks     [][]uint32 // subtrees of rec the switch hides
	community string
	trapTo    string
	conn      *net.UDPConn
	start     time.Time
	logger    *slog.Logger

	mu   sync.Mutex
	down map[int]bool // ifIndex → link down

	requests atomic.Uint64
}

// Name is the switch's sysName.
func (s *Switch) Name() string { return s.name }

// Addr is the host:port the switch answers on.
func (s *Switch) Addr() string { return s.conn.LocalAddr().String() }

// Requests is how many requests the switch answered.
func (s *Switch) Requests() uint64 { return s.requests.Load() }

func newSwitch(name string, rec *Recording, community, trapTo string, nbs []Neighbor, conn *net.UDPConn, logger *slog.Logger) *Switch {
	s := &Switch{name: name, rec: rec, community: community, trapTo: trapTo, conn: conn,
		start: time.Now(), logger: logger, down: map[int]bool{}}
	s.overlay = append(s.overlay, Var{OID: oidSysName, Name: oidName(oidSysName), Type: gosnmp.OctetString, Value: []byte(name)})
	if nbs != nil {
		s.masks = append(s.masks, oidLldpRemTable, oidLldpLocPort)
		for _, nb := range nbs {
			s.overlay = append(s.overlay, lldpVars(nb)...)
		}
	}
	sort.Slice(s.overlay, func(i, j int) bool { return compareOID(s.overlay[i].OID, s.overlay[j].OID) < 0 })
	return s
}

func oidName(oid []uint32) string {
	b := make([]byte, 0, len(oid)*4)
	for _, a := range oid {
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(a), 10)
	}
	return string(b)
}

func child(base []uint32, arcs ...uint32) []uint32 {
	out := make([]uint32, 0, len(base)+len(arcs))
	return append(append(out, base...), arcs...)
}

// lldpVars are the lldpRemTable and lldpLocPortTable rows of a neighbour.
func lldpVars(nb Neighbor) []Var {
	port := uint32(nb.Port)
	name := nb.PortName
	if name == "" {
		name = "Ethernet" + strconv.Itoa(nb.Port)
	}
	rport := nb.RemotePortID
	if rport == "" {
		rport = "eth0"
	}
	mac := nb.RemoteMAC
	if len(mac) != 6 {
		h := fnv.New32a()
		h.Write([]byte(nb.RemoteSysName))
		x := h.Sum32()
		mac = net.HardwareAddr{0x02, 0x00, byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}
	}
	rem := func(col uint32, t gosnmp.Asn1BER, v any) Var {
		oid := child(oidLldpRemTable, 1, col, 0, port, 1)
		return Var{OID: oid, Name: oidName(oid), Type: t, Value: v}
	}
	loc := func(col uint32, t gosnmp.Asn1BER, v any) Var {
		oid := child(oidLldpLocPort, 1, col, port)
		return Var{OID: oid, Name: oidName(oid), Type: t, Value: v}
	}
	return []Var{
		rem(4, gosnmp.Integer, 4), // chassisIdSubtype macAddress
		rem(5, gosnmp.OctetString, []byte(mac)),
		rem(6, gosnmp.Integer, 5), // portIdSubtype interfaceName
		rem(7, gosnmp.OctetString, []byte(rport)),
		rem(8, gosnmp.OctetString, []byte("")),
		rem(9, gosnmp.OctetString, []byte(nb.RemoteSysName)),
		loc(2, gosnmp.Integer, 5),
		loc(3, gosnmp.OctetString, []byte(name)),
		loc(4, gosnmp.OctetString, []byte(name)),
	}
}

// SetLink takes the link on ifIndex down or up. The switch's ifOperStatus
// follows, and when a trap destination is set a linkDown or linkUp trap
// (SNMPv2c, with ifIndex, ifAdminStatus and ifOperStatus) is sent to it.
func (s *Switch) SetLink(ifIndex int, up bool) error {
	s.mu.Lock()
	was := !s.down[ifIndex]
	if up {
		delete(s.down, ifIndex)
	} else {
		s.down[ifIndex] = true
	}
	s.mu.Unlock()
	if was == up || s.trapTo == "" {
		return nil
	}
	return s.sendLinkTrap(ifIndex, up)
}

// LinkUp reports whether the link on ifIndex is up.
func (s *Switch) LinkUp(ifIndex int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.down[ifIndex]
}

func (s *Switch) sendLinkTrap(ifIndex int, up bool) error {
	host, port, err := net.SplitHostPort(s.trapTo)
	if err != nil {
		return fmt.Errorf("trap destination %q: %w", s.trapTo, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("trap destination %q: bad port", s.trapTo)
	}
	g := &gosnmp.GoSNMP{Target: host, Port: uint16(p), Community: s.community, Version: gosnmp.Version2c,
		Timeout: time.Second, Retries: 0, Transport: "udp"}
	if err := g.Connect(); err != nil {
		return fmt.Errorf("trap to %s: %w", s.trapTo, err)
	}
	defer g.Conn.Close()
	trapOID, oper := trapLinkDown, 2
	if up {
		trapOID, oper = trapLinkUp, 1
	}
	idx := strconv.Itoa(ifIndex)
	_, err = g.SendTrap(gosnmp.SnmpTrap{Variables: []gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: s.uptime()},
		{Name: oidSnmpTrapOID, Type: gosnmp.ObjectIdentifier, Value: trapOID},
		{Name: ".1.3.6.1.2.1.2.2.1.1." + idx, Type: gosnmp.Integer, Value: ifIndex},
		{Name: ".1.3.6.1.2.1.2.2.1.7." + idx, Type: gosnmp.Integer, Value: 1},
		{Name: ".1.3.6.1.2.1.2.2.1.8." + idx, Type: gosnmp.Integer, Value: oper},
	}})
	if err != nil {
		return fmt.Errorf("trap to %s: %w", s.trapTo, err)
	}
	return nil
}

func (s *Switch) uptime() uint32 {
	return uint32(time.Since(s.start) / (10 * time.Millisecond))
}

// serve answers requests until the socket is closed.
func (s *Switch) serve() {
	buf := make([]byte, 65535)
	dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	for {
		n, addr, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		out, err := s.handle(dec, buf[:n])
		if err != nil {
			s.logger.Debug("request dropped", "switch", s.name, "from", addr, "err", err)
			continue
		}
		if out != nil {
			_, _ = s.conn.WriteToUDP(out, addr)
		}
	}
}

// maxResponse bounds a response's size; GETBULK answers are cut to fit.
const maxResponse = 65000

// handle decodes one request and encodes the response; nil means no
// answer (a wrong community, as real agents do).
func (s *Switch) handle(dec *gosnmp.GoSNMP, req []byte) ([]byte, error) {
	p, err := dec.SnmpDecodePacket(req)
	if err != nil {
		return nil, err
	}
	if p.Version == gosnmp.Version3 {
		return nil, errors.New("SNMPv3 is not simulated")
	}
	if p.Community != s.community {
		return nil, nil
	}
	s.requests.Add(1)
	resp := &gosnmp.SnmpPacket{Version: p.Version, Community: p.Community, PDUType: gosnmp.GetResponse, RequestID: p.RequestID}
	switch p.PDUType {
	case gosnmp.GetRequest:
		for i, v := range p.Variables {
			oid, err := ParseOID(v.Name)
			if err != nil {
				return nil, err
			}
			got, ok := s.get(oid)
			if !ok {
				if p.Version == gosnmp.Version1 {
					resp.Error, resp.ErrorIndex = gosnmp.NoSuchName, uint8(min(i+1, 255))
					resp.Variables = p.Variables
					break
				}
				got = gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.NoSuchInstance}
			}
			resp.Variables = append(resp.Variables, got)
		}
	case gosnmp.GetNextRequest:
		for i, v := range p.Variables {
			oid, err := ParseOID(v.Name)
			if err != nil {
				return nil, err
			}
			got, ok := s.next(oid)
			if !ok {
				if p.Version == gosnmp.Version1 {
					resp.Error, resp.ErrorIndex = gosnmp.NoSuchName, uint8(min(i+1, 255))
					resp.Variables = p.Variables
					break
				}
				got = gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.EndOfMibView}
			}
			resp.Variables = append(resp.Variables, got)
		}
	case gosnmp.GetBulkRequest:
		resp.Variables = s.bulk(p)
	default:
		return nil, fmt.Errorf("unsupported PDU type %v", p.PDUType)
	}
	for {
		out, err := resp.MarshalMsg()
		if err != nil {
			return nil, err
		}
		if len(out) <= maxResponse || len(resp.Variables) <= 1 {
			return out, nil
		}
		resp.Variables = resp.Variables[:len(resp.Variables)/2]
	}
}

func (s *Switch) bulk(p *gosnmp.SnmpPacket) []gosnmp.SnmpPDU {
	nonRep := min(int(p.NonRepeaters), len(p.Variables))
	reps := int(p.MaxRepetitions)
	if reps > 1000 {
		reps = 1000
	}
	var out []gosnmp.SnmpPDU
	cursors := make([][]uint32, 0, len(p.Variables))
	for i, v := range p.Variables {
		oid, err := ParseOID(v.Name)
		if err != nil {
			oid = []uint32{0}
		}
		if i < nonRep {
			got, ok := s.next(oid)
			if !ok {
				got = gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.EndOfMibView}
			}
			out = append(out, got)
			continue
		}
		cursors = append(cursors, oid)
	}
	for r := 0; r < reps && len(cursors) > 0; r++ {
		ended := 0
		for i, c := range cursors {
			got, ok := s.next(c)
			if !ok {
				out = append(out, gosnmp.SnmpPDU{Name: oidName(c), Type: gosnmp.EndOfMibView})
				ended++
				continue
			}
			cursors[i], _ = ParseOID(got.Name)
			out = append(out, got)
		}
		if ended == len(cursors) {
			break
		}
	}
	return out
}

func (s *Switch) masked(oid []uint32) []uint32 {
	for _, m := range s.masks {
		if hasPrefix(oid, m) {
			return m
		}
	}
	return nil
}

func (s *Switch) get(oid []uint32) (gosnmp.SnmpPDU, bool) {
	if i := next(s.overlay, oid, true); i < len(s.overlay) && compareOID(s.overlay[i].OID, oid) == 0 {
		return s.animate(&s.overlay[i]), true
	}
	if s.masked(oid) != nil {
		return gosnmp.SnmpPDU{}, false
	}
	if i := next(s.rec.Vars, oid, true); i < len(s.rec.Vars) && compareOID(s.rec.Vars[i].OID, oid) == 0 {
		return s.animate(&s.rec.Vars[i]), true
	}
	return gosnmp.SnmpPDU{}, false
}

// next is GETNEXT over the recording with the switch's overlay on top.
func (s *Switch) next(oid []uint32) (gosnmp.SnmpPDU, bool) {
	vars := s.rec.Vars
	i := next(vars, oid, false)
	for i < len(vars) {
		m := s.masked(vars[i].OID)
		if m == nil {
			break
		}
		end := append(append([]uint32(nil), m...), math.MaxUint32)
		i = next(vars, end, false)
	}
	j := next(s.overlay, oid, false)
	switch {
	case i >= len(vars) && j >= len(s.overlay):
		return gosnmp.SnmpPDU{}, false
	case i >= len(vars):
		return s.animate(&s.overlay[j]), true
	case j >= len(s.overlay):
		return s.animate(&vars[i]), true
	case compareOID(s.overlay[j].OID, vars[i].OID) <= 0:
		return s.animate(&s.overlay[j]), true
	default:
		return s.animate(&vars[i]), true
	}
}

// animate gives a recorded value its current value: sysUpTime runs, the
// interface counters count, and ifOperStatus follows SetLink.
func (s *Switch) animate(v *Var) gosnmp.SnmpPDU {
	pdu := gosnmp.SnmpPDU{Name: v.Name, Type: v.Type, Value: v.Value}
	switch {
	case compareOID(v.OID, oidSysUpTime) == 0:
		if base, ok := v.Value.(uint32); ok {
			pdu.Value = base + s.uptime()
		}
	case hasPrefix(v.OID, oidIfEntry) && len(v.OID) == len(oidIfEntry)+2:
		pdu.Value = s.count(v, v.OID[len(oidIfEntry)], false)
	case hasPrefix(v.OID, oidIfXEntry) && len(v.OID) == len(oidIfXEntry)+2:
		pdu.Value = s.count(v, v.OID[len(oidIfXEntry)], true)
	}
	if pdu.Type == gosnmp.OctetString {
		if b, ok := pdu.Value.([]byte); ok && b == nil {
			pdu.Value = []byte{}
		}
	}
	return pdu
}

// count advances interface counters with time: octets at 1–8 MB/s, packets
// at 1–8 k/s, errors and discards slowly, each interface at its own rate.
func (s *Switch) count(v *Var, col uint32, x bool) any {
	if v.Type != gosnmp.Counter32 && v.Type != gosnmp.Counter64 {
		if col == ifOperStatusCol && !x {
			s.mu.Lock()
			down := s.down[int(v.OID[len(v.OID)-1])]
			s.mu.Unlock()
			if down {
				return 2
			}
		}
		return v.Value
	}
	idx := uint64(v.OID[len(v.OID)-1])
	rate := uint64(1 + idx%8)
	switch {
	case !x && (col == 10 || col == 16), x && (col == 6 || col == 10):
		rate *= 1_000_000
	case !x && (col == 13 || col == 14 || col == 19 || col == 20):
		rate = idx % 3 // discards and errors: 0–2/s
	default:
		rate *= 1000
	}
	inc := uint64(time.Since(s.start).Seconds() * float64(rate))
	switch base := v.Value.(type) {
	case uint32:
		return uint32(uint64(base) + inc)
	case uint64:
		return base + inc
	}
	return v.Value
}
