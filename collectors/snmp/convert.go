package snmp

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"

	"github.com/fleetwatch/fleetwatch/collectors"
)

// float64Mantissa is 2^53: Counter64 values wrap there so that a float64
// keeps every increment (snmp_exporter's --snmp.wrap-large-counters).
const float64Mantissa uint64 = 1 << 53

// combinedTypeMapping: types whose real type is given by the column before
// them (an enum), as snmp_exporter resolves them.
var combinedTypeMapping = map[string]map[int]string{
	"InetAddress":            {1: "InetAddressIPv4", 2: "InetAddressIPv6"},
	"InetAddressMissingSize": {1: "InetAddressIPv4", 2: "InetAddressIPv6"},
	"LldpPortId":             {1: "DisplayString", 2: "DisplayString", 3: "PhysAddress48", 5: "DisplayString", 7: "DisplayString"},
}

// pduSet is the result of one poll: every varbind returned, and an index by
// OID (without the leading dot) for lookups.
type pduSet struct {
	pdus  []gosnmp.SnmpPDU
	byOID map[string]int
}

// newPDUSet indexes pdus; an OID returned twice (a GET and a walk of the
// same object) is kept once.
func newPDUSet(pdus []gosnmp.SnmpPDU) *pduSet {
	s := &pduSet{byOID: make(map[string]int, len(pdus))}
	kept := pdus[:0]
	for _, p := range pdus {
		name := strings.TrimPrefix(p.Name, ".")
		if _, dup := s.byOID[name]; dup {
			continue
		}
		s.byOID[name] = len(kept)
		kept = append(kept, p)
	}
	s.pdus = kept
	return s
}

func (s *pduSet) get(oid string) (*gosnmp.SnmpPDU, bool) {
	i, ok := s.byOID[oid]
	if !ok {
		return nil, false
	}
	return &s.pdus[i], true
}

// getBytes is get with the OID in a byte slice (no allocation).
func (s *pduSet) getBytes(oid []byte) (*gosnmp.SnmpPDU, bool) {
	i, ok := s.byOID[string(oid)]
	if !ok {
		return nil, false
	}
	return &s.pdus[i], true
}

// metricNode is a node of the OID trie that finds a PDU's metric.
type metricNode struct {
	children map[uint32]*metricNode
	metric   *Metric
}

func buildMetricTree(ms []*Metric) *metricNode {
	root := &metricNode{children: map[uint32]*metricNode{}}
	for _, m := range ms {
		oid, err := parseOID(m.Oid)
		if err != nil {
			continue // checked when the module was loaded
		}
		n := root
		for _, a := range oid {
			c, ok := n.children[a]
			if !ok {
				c = &metricNode{children: map[uint32]*metricNode{}}
				n.children[a] = c
			}
			n = c
		}
		n.metric = m
	}
	return root
}

// find returns the metric whose OID is the longest... (snmp_exporter: the
// first, i.e. shortest) prefix of oid, and the rest of oid after it.
func (n *metricNode) find(oid string) (*Metric, string) {
	s := oid
	for s != "" {
		a, rest, ok := nextArc(s)
		if !ok {
			return nil, ""
		}
		c, ok := n.children[a]
		if !ok {
			return nil, ""
		}
		n = c
		s = rest
		if n.metric != nil {
			return n.metric, s
		}
	}
	return nil, ""
}

// converter turns PDUs into samples the way snmp_exporter does, writing them
// to an Appender. One converter serves one collection.
type converter struct {
	app        collectors.Appender
	set        *pduSet
	wrap       bool
	sb         labels.ScratchBuilder
	pairs      []labelPair
	labelArcs  []namedArcs
	idx        []int
	keyBuf     []byte
	lookups    map[string]lookupValue
	families   map[string]bool
	samples    int
	unexpected int
	err        error
}

type labelPair struct{ name, value string }

type namedArcs struct {
	name string
	arcs []int
}

// appendIndexOID appends a label's index arcs to a lookup OID; a label with
// no arcs gives a trailing dot, which matches nothing, as in snmp_exporter.
func appendIndexOID(b []byte, arcs []int) []byte {
	if len(arcs) == 0 {
		return append(b, '.')
	}
	return appendOID(b, arcs)
}

type lookupValue struct {
	str  string
	arcs []int
	ok   bool
}

func newConverter(app collectors.Appender, set *pduSet, wrap bool) *converter {
	return &converter{app: app, set: set, wrap: wrap, lookups: map[string]lookupValue{}, families: map[string]bool{}}
}

// module converts every PDU that belongs to one of the module's metrics.
func (c *converter) module(tree *metricNode) {
	var last *Metric
	var lastPrefix string
	for i := range c.set.pdus {
		pdu := &c.set.pdus[i]
		name := strings.TrimPrefix(pdu.Name, ".")
		var m *Metric
		var rest string
		// Walks return a column at a time: try the previous metric first.
		if last != nil && strings.HasPrefix(name, lastPrefix) {
			m, rest = last, name[len(lastPrefix):]
		} else {
			m, rest = tree.find(name)
			if m == nil {
				continue
			}
			last, lastPrefix = m, m.Oid+"."
			if rest == "" {
				last = nil
			}
		}
		idx, ok := appendArcs(c.idx[:0], rest)
		if !ok {
			continue
		}
		c.idx = idx
		c.pdu(idx, pdu, m)
		if c.err != nil {
			return
		}
	}
}

func (c *converter) meta(family string, typ model.MetricType, help string) {
	if c.families[family] {
		return
	}
	c.families[family] = true
	c.app.SetMetadata(family, metadata.Metadata{Type: typ, Help: help})
}

// setLabel sets name in c.pairs, replacing an earlier value.
func (c *converter) setLabel(name, value string) {
	for i := range c.pairs {
		if c.pairs[i].name == name {
			c.pairs[i].value = value
			return
		}
	}
	c.pairs = append(c.pairs, labelPair{name, value})
}

func (c *converter) hasLabel(name string) bool {
	for i := range c.pairs {
		if c.pairs[i].name == name {
			return true
		}
	}
	return false
}

// emit appends one sample with c.pairs plus extra labels. Empty label values
// are dropped, as Prometheus drops them.
func (c *converter) emit(name string, v float64, extra ...labelPair) {
	if c.err != nil {
		return
	}
	c.sb.Reset()
	c.sb.Add(labels.MetricName, name)
	for _, p := range c.pairs {
		if p.value != "" && !extraHas(extra, p.name) {
			c.sb.Add(p.name, p.value)
		}
	}
	for _, p := range extra {
		if p.value != "" {
			c.sb.Add(p.name, p.value)
		}
	}
	c.sb.Sort()
	if err := c.app.Append(c.sb.Labels(), 0, v); err != nil {
		c.err = err
		return
	}
	c.samples++
}

func extraHas(extra []labelPair, name string) bool {
	for _, p := range extra {
		if p.name == name {
			return true
		}
	}
	return false
}

// pdu converts one PDU of metric m, idx being the OID arcs after m's OID.
func (c *converter) pdu(idx []int, pdu *gosnmp.SnmpPDU, m *Metric) {
	c.pairs = c.pairs[:0]
	c.indexesToLabels(idx, m)
	value := c.pduValue(pdu)

	switch m.Type {
	case "counter":
		c.meta(m.Name, model.MetricTypeCounter, m.Help)
		c.emit(m.Name, scale(value, m))
	case "gauge", "Float", "Double":
		c.meta(m.Name, model.MetricTypeGauge, m.Help)
		c.emit(m.Name, scale(value, m))
	case "DateAndTime":
		v, err := parseDateAndTime(pdu)
		if err != nil {
			return
		}
		c.meta(m.Name, model.MetricTypeGauge, m.Help)
		c.emit(m.Name, v)
	case "EnumAsInfo":
		state, ok := m.EnumValues[int(value)]
		if !ok {
			state = strconv.Itoa(int(value))
		}
		c.meta(m.Name+"_info", model.MetricTypeGauge, m.Help+" (EnumAsInfo)")
		c.emit(m.Name+"_info", 1, labelPair{m.Name, state})
	case "EnumAsStateSet":
		c.meta(m.Name, model.MetricTypeGauge, m.Help+" (EnumAsStateSet)")
		state, ok := m.EnumValues[int(value)]
		if !ok {
			state = strconv.Itoa(int(value))
		}
		c.emit(m.Name, 1, labelPair{m.Name, state})
		for k, v := range m.EnumValues {
			if k != int(value) {
				c.emit(m.Name, 0, labelPair{m.Name, v})
			}
		}
	case "Bits":
		b, ok := pdu.Value.([]byte)
		if !ok {
			c.unexpected++
			return
		}
		c.meta(m.Name, model.MetricTypeGauge, m.Help+" (Bits)")
		for k, v := range m.EnumValues {
			bit := 0.0
			if k >= 0 && k < len(b)*8 && b[k/8]&(128>>(k%8)) != 0 {
				bit = 1
			}
			c.emit(m.Name, bit, labelPair{m.Name, v})
		}
	default:
		// Some form of string: the value becomes a label.
		typ := m.Type
		if mapping, ok := combinedTypeMapping[typ]; ok {
			typ = "OctetString"
			c.keyBuf = append(c.keyBuf[:0], prevOID(m.Oid)...)
			c.keyBuf = appendOID(c.keyBuf, idx)
			if prev, ok := c.set.getBytes(c.keyBuf); ok {
				if t, ok := mapping[int(c.pduValue(prev))]; ok {
					typ = t
				}
			}
		}
		str := c.valueAsString(pdu, typ)
		if len(m.RegexpExtracts) > 0 {
			c.regexExtracts(m, str)
			return
		}
		c.meta(m.Name, model.MetricTypeGauge, m.Help)
		if c.hasLabel(m.Name) {
			c.emit(m.Name, 1)
		} else {
			c.emit(m.Name, 1, labelPair{m.Name, str})
		}
	}
}

func scale(v float64, m *Metric) float64 {
	if m.Scale != 0 {
		v *= m.Scale
	}
	return v + m.Offset
}

func (c *converter) regexExtracts(m *Metric, str string) {
	for suffix, res := range m.RegexpExtracts {
		for _, re := range res {
			loc := re.Regex.FindStringSubmatchIndex(str)
			if loc == nil {
				continue
			}
			out := re.Regex.ExpandString(nil, re.Value, str, loc)
			v, err := strconv.ParseFloat(string(out), 64)
			if err != nil {
				continue
			}
			c.meta(m.Name+suffix, model.MetricTypeGauge, m.Help+" (regex extracted)")
			c.emit(m.Name+suffix, v)
			break
		}
	}
}

// prevOID is oid with its last arc decreased by one: the column holding the
// type of a combined-type column.
func prevOID(oid string) string {
	i := strings.LastIndexByte(oid, '.')
	n, err := strconv.Atoi(oid[i+1:])
	if err != nil {
		return oid
	}
	return oid[:i+1] + strconv.Itoa(n-1)
}

// indexesToLabels turns idx into labels and performs the lookups, as
// snmp_exporter's indexesToLabels.
func (c *converter) indexesToLabels(idx []int, m *Metric) {
	c.labelArcs = c.labelArcs[:0]
	setOIDs := func(name string, arcs []int) {
		for i := range c.labelArcs {
			if c.labelArcs[i].name == name {
				c.labelArcs[i].arcs = arcs
				return
			}
		}
		c.labelArcs = append(c.labelArcs, namedArcs{name, arcs})
	}
	getOIDs := func(name string) []int {
		for i := range c.labelArcs {
			if c.labelArcs[i].name == name {
				return c.labelArcs[i].arcs
			}
		}
		return nil
	}
	rest := idx
	for _, ix := range m.Indexes {
		str, used, remaining := indexOidsAsString(rest, ix.Type, ix.FixedSize, ix.Implied, ix.EnumValues)
		c.setLabel(ix.Labelname, str)
		setOIDs(ix.Labelname, used)
		rest = remaining
	}
	for _, l := range m.Lookups {
		if len(l.Labels) == 0 {
			for i := range c.pairs {
				if c.pairs[i].name == l.Labelname {
					c.pairs = append(c.pairs[:i], c.pairs[i+1:]...)
					break
				}
			}
			continue
		}
		c.keyBuf = append(c.keyBuf[:0], l.Type...)
		c.keyBuf = append(c.keyBuf, '|')
		c.keyBuf = append(c.keyBuf, l.Oid...)
		for _, ln := range l.Labels {
			c.keyBuf = appendIndexOID(c.keyBuf, getOIDs(ln))
		}
		key := c.keyBuf[len(l.Type)+1:]
		lv, cached := c.lookups[string(c.keyBuf)]
		if !cached {
			lv = c.lookup(l, key, getOIDs)
			c.lookups[string(c.keyBuf)] = lv
		}
		c.setLabel(l.Labelname, lv.str)
		if lv.ok {
			setOIDs(l.Labelname, lv.arcs)
		}
	}
}

func (c *converter) lookup(l *Lookup, key []byte, getOIDs func(string) []int) lookupValue {
	pdu, ok := c.set.getBytes(key)
	if !ok {
		return lookupValue{}
	}
	t := l.Type
	if mapping, ok := combinedTypeMapping[t]; ok {
		prev := []byte(prevOID(l.Oid))
		for _, ln := range l.Labels {
			prev = appendIndexOID(prev, getOIDs(ln))
		}
		if p, ok := c.set.getBytes(prev); ok {
			if ty, ok := mapping[int(c.pduValue(p))]; ok {
				t = ty
			}
		}
	}
	return lookupValue{str: c.valueAsString(pdu, t), arcs: []int{int(toInt64(pdu.Value))}, ok: true}
}

// pduValue is the PDU's numeric value, as snmp_exporter's getPduValue.
func (c *converter) pduValue(pdu *gosnmp.SnmpPDU) float64 {
	switch pdu.Type {
	case gosnmp.Counter64:
		v := toUint64(pdu.Value)
		if c.wrap {
			return float64(v % float64Mantissa)
		}
		return float64(v)
	case gosnmp.OpaqueFloat:
		if f, ok := pdu.Value.(float32); ok {
			return float64(f)
		}
		return 0
	case gosnmp.OpaqueDouble:
		if f, ok := pdu.Value.(float64); ok {
			return f
		}
		return 0
	default:
		return float64(toInt64(pdu.Value))
	}
}

func toUint64(v any) uint64 {
	switch v := v.(type) {
	case uint64:
		return v
	default:
		return uint64(toInt64(v))
	}
}

// toInt64 mirrors gosnmp.ToBigInt(v).Int64() without the big.Int.
func toInt64(v any) int64 {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case int64:
		return v
	case uint:
		return int64(v) //nolint:gosec // as gosnmp
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case uint64:
		return int64(v) //nolint:gosec // as big.Int.Int64
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	return 0
}

// valueAsString is snmp_exporter's pduValueAsString.
func (c *converter) valueAsString(pdu *gosnmp.SnmpPDU, typ string) string {
	switch v := pdu.Value.(type) {
	case int:
		return strconv.Itoa(v)
	case uint:
		return strconv.FormatUint(uint64(v), 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		if pdu.Type == gosnmp.ObjectIdentifier {
			return strings.TrimPrefix(v, ".")
		}
		return strings.ToValidUTF8(v, "\uFFFD")
	case []byte:
		return bytesAsString(v, typ)
	case nil:
		return ""
	default:
		c.unexpected++
		return fmt.Sprintf("%v", v)
	}
}

// bytesAsString formats an OCTET STRING as type typ.
func bytesAsString(b []byte, typ string) string {
	switch typ {
	case "", "Bits", "OctetString":
		return hexString(b)
	case "DisplayString":
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	parts := make([]int, len(b))
	for i, o := range b {
		parts[i] = int(o)
	}
	str, _, _ := indexOidsAsString(parts, typ, 0, false, nil)
	return str
}

const upperHex = "0123456789ABCDEF"

// hexString is snmp_exporter's rendering of an OCTET STRING: 0x and
// upper-case hex, "" when empty.
func hexString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	out := make([]byte, 2, 2+2*len(b))
	out[0], out[1] = '0', 'x'
	for _, c := range b {
		out = append(out, upperHex[c>>4], upperHex[c&0xf])
	}
	return string(out)
}

// splitOid right-pads oid with zeros to count arcs and splits it there.
func splitOid(oid []int, count int) ([]int, []int) {
	head := make([]int, count)
	copy(head, oid)
	if len(oid) <= count {
		return head, nil
	}
	return head, oid[count:]
}

// maxIndexLen bounds the length an index claims for itself, so that a
// malformed OID cannot ask for a huge allocation.
const maxIndexLen = 256

// indexOidsAsString converts index arcs to a label value, as snmp_exporter
// does. It returns the value, the arcs it used and the arcs left.
func indexOidsAsString(idx []int, typ string, fixedSize int, implied bool, enumValues map[int]string) (string, []int, []int) {
	if mapping, ok := combinedTypeMapping[typ]; ok {
		sub, valueArcs := splitOid(idx, 2)
		if typ == "InetAddressMissingSize" {
			sub, valueArcs = splitOid(idx, 1)
		}
		if t, ok := mapping[sub[0]]; ok {
			str, used, remaining := indexOidsAsString(valueArcs, t, 0, false, enumValues)
			return str, append(sub, used...), remaining
		}
		if typ == "InetAddressMissingSize" {
			return indexOidsAsString(idx, "OctetString", 0, true, enumValues)
		}
		return indexOidsAsString(idx, "OctetString", sub[1]+2, false, enumValues)
	}
	switch typ {
	case "Integer32", "Integer", "gauge", "counter":
		sub, rest := splitOid(idx, 1)
		return strconv.Itoa(sub[0]), sub, rest
	case "PhysAddress48":
		sub, rest := splitOid(idx, 6)
		b := make([]byte, 0, 17)
		for i, o := range sub {
			if i > 0 {
				b = append(b, ':')
			}
			b = append(b, upperHex[(o>>4)&0xf], upperHex[o&0xf])
		}
		return string(b), sub, rest
	case "OctetString", "DisplayString":
		var sub []int
		length := fixedSize
		if implied {
			length = len(idx)
		}
		if length == 0 {
			sub, idx = splitOid(idx, 1)
			length = sub[0]
		}
		if length < 0 || length > maxIndexLen {
			length = min(len(idx), maxIndexLen)
		}
		content, rest := splitOid(idx, length)
		sub = append(sub, content...)
		parts := make([]byte, length)
		for i, o := range content {
			parts[i] = byte(o)
		}
		if typ == "DisplayString" {
			return strings.ToValidUTF8(string(parts), "\uFFFD"), sub, rest
		}
		return hexString(parts), sub, rest
	case "InetAddressIPv4":
		sub, rest := splitOid(idx, 4)
		parts := make([]string, 4)
		for i, o := range sub {
			parts[i] = strconv.Itoa(o)
		}
		return strings.Join(parts, "."), sub, rest
	case "InetAddressIPv6":
		sub, rest := splitOid(idx, 16)
		var sb strings.Builder
		for i, o := range sub {
			if i > 0 && i%2 == 0 {
				sb.WriteByte(':')
			}
			fmt.Fprintf(&sb, "%02X", o)
		}
		return sb.String(), sub, rest
	case "EnumAsInfo":
		sub, rest := splitOid(idx, 1)
		if v, ok := enumValues[sub[0]]; ok {
			return v, sub, rest
		}
		return strconv.Itoa(sub[0]), sub, rest
	default:
		// Types that are not index types (checked when loading) fall back
		// to the hex string of the remaining arcs.
		return indexOidsAsString(idx, "OctetString", 0, true, nil)
	}
}

// parseDateAndTime reads an RFC 2579 DateAndTime as a Unix time.
func parseDateAndTime(pdu *gosnmp.SnmpPDU) (float64, error) {
	v, ok := pdu.Value.([]byte)
	if !ok {
		return 0, fmt.Errorf("invalid DateAndTime type %T", pdu.Value)
	}
	var tz *time.Location
	switch len(v) {
	case 8:
		tz = time.UTC
	case 11:
		loc, err := time.Parse("-0700", fmt.Sprintf("%s%02d%02d", string(v[8]), v[9], v[10]))
		if err != nil {
			return 0, err
		}
		tz = loc.Location()
	default:
		return 0, fmt.Errorf("invalid DateAndTime length %d", len(v))
	}
	t := time.Date(int(binary.BigEndian.Uint16(v[0:2])), time.Month(v[2]), int(v[3]), int(v[4]), int(v[5]), int(v[6]), int(v[7])*1e8, tz)
	return float64(t.Unix()), nil
}
