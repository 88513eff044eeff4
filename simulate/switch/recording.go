package switchsim

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// Var is one recorded object: its OID, ASN.1 type and value as gosnmp
// encodes it.
type Var struct {
	OID   []uint32
	Name  string // dotted, with the leading dot gosnmp uses
	Type  gosnmp.Asn1BER
	Value any
}

// Recording is an snmpsim .snmprec walk, sorted by OID. It is read-only
// once loaded and shared by every simulated switch that replays it.
type Recording struct {
	Vars []Var
}

// LoadRecording reads an snmpsim .snmprec file.
func LoadRecording(path string) (*Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ParseRecording(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ParseRecording reads lines of OID|TAG|VALUE. TAG is the ASN.1 type
// number (2 INTEGER, 4 OCTET STRING, 5 NULL, 6 OID, 64 IpAddress,
// 65 Counter32, 66 Gauge32, 67 TimeTicks, 68 Opaque, 70 Counter64), with a
// trailing x when VALUE is hex. Bad lines are errors naming the line.
func ParseRecording(r io.Reader) (*Recording, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	rec := &Recording{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		v, err := parseLine(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		rec.Vars = append(rec.Vars, v)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(rec.Vars, func(i, j int) bool { return compareOID(rec.Vars[i].OID, rec.Vars[j].OID) < 0 })
	// Keep the last of duplicate OIDs.
	out := rec.Vars[:0]
	for i, v := range rec.Vars {
		if i+1 < len(rec.Vars) && compareOID(v.OID, rec.Vars[i+1].OID) == 0 {
			continue
		}
		out = append(out, v)
	}
	rec.Vars = out
	return rec, nil
}

func parseLine(text string) (Var, error) {
	oidStr, rest, ok := strings.Cut(text, "|")
	if !ok {
		return Var{}, fmt.Errorf("want OID|TAG|VALUE")
	}
	tag, val, ok := strings.Cut(rest, "|")
	if !ok {
		return Var{}, fmt.Errorf("want OID|TAG|VALUE")
	}
	oid, err := ParseOID(oidStr)
	if err != nil {
		return Var{}, err
	}
	isHex := strings.HasSuffix(tag, "x")
	tag = strings.TrimSuffix(tag, "x")
	n, err := strconv.Atoi(tag)
	if err != nil {
		return Var{}, fmt.Errorf("tag %q is not a number", tag)
	}
	raw := []byte(val)
	if isHex {
		if raw, err = hex.DecodeString(val); err != nil {
			return Var{}, fmt.Errorf("value: %w", err)
		}
	}
	v := Var{OID: oid, Name: "." + oidStr}
	num := func() (uint64, error) { return strconv.ParseUint(string(bytes.TrimSpace(raw)), 10, 64) }
	switch n {
	case 2:
		i, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 32)
		if err != nil {
			return Var{}, fmt.Errorf("INTEGER %q", raw)
		}
		v.Type, v.Value = gosnmp.Integer, int(i)
	case 4:
		v.Type, v.Value = gosnmp.OctetString, raw
	case 5:
		v.Type = gosnmp.Null
	case 6:
		if _, err := ParseOID(string(raw)); err != nil {
			return Var{}, fmt.Errorf("OBJECT IDENTIFIER value: %w", err)
		}
		v.Type, v.Value = gosnmp.ObjectIdentifier, "."+strings.TrimPrefix(string(raw), ".")
	case 64:
		ip := string(raw)
		if isHex && len(raw) == 4 {
			ip = fmt.Sprintf("%d.%d.%d.%d", raw[0], raw[1], raw[2], raw[3])
		}
		v.Type, v.Value = gosnmp.IPAddress, ip
	case 65, 66, 67:
		u, err := num()
		if err != nil || u > 1<<32-1 {
			return Var{}, fmt.Errorf("unsigned 32-bit value %q", raw)
		}
		v.Type, v.Value = map[int]gosnmp.Asn1BER{65: gosnmp.Counter32, 66: gosnmp.Gauge32, 67: gosnmp.TimeTicks}[n], uint32(u)
	case 68:
		// Opaque: replayed as the raw bytes in an OCTET STRING.
		v.Type, v.Value = gosnmp.OctetString, raw
	case 70:
		u, err := num()
		if err != nil {
			return Var{}, fmt.Errorf("Counter64 value %q", raw)
		}
		v.Type, v.Value = gosnmp.Counter64, u
	default:
		return Var{}, fmt.Errorf("unsupported tag %d", n)
	}
	return v, nil
}

// ParseOID parses a dotted OID.
func ParseOID(s string) ([]uint32, error) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, fmt.Errorf("empty OID")
	}
	parts := strings.Split(s, ".")
	out := make([]uint32, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("OID %q: bad arc %q", s, p)
		}
		out[i] = uint32(n)
	}
	return out, nil
}

func compareOID(a, b []uint32) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

func hasPrefix(oid, prefix []uint32) bool {
	return len(oid) >= len(prefix) && compareOID(oid[:len(prefix)], prefix) == 0
}

// next returns the index of the first var after oid (or at oid when
// inclusive).
func next(vars []Var, oid []uint32, inclusive bool) int {
	return sort.Search(len(vars), func(i int) bool {
		c := compareOID(vars[i].OID, oid)
		if inclusive {
			return c >= 0
		}
		return c > 0
	})
}
