package snmp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// parseOID parses a dotted OID ("1.3.6.1.2.1" or ".1.3.6.1.2.1").
func parseOID(s string) ([]uint32, error) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, errors.New("empty OID")
	}
	out := make([]uint32, 0, strings.Count(s, ".")+1)
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.ParseUint(part, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("OID %q: %q is not a number from 0 to 4294967295", s, part)
		}
		out = append(out, uint32(n))
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("OID %q: needs at least two numbers", s)
	}
	return out, nil
}

// nextArc returns the first arc of the dotted OID s (no leading dot) and the
// rest after the dot. ok is false when s does not start with a number.
func nextArc(s string) (arc uint32, rest string, ok bool) {
	var n uint64
	i := 0
	for ; i < len(s) && s[i] != '.'; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, "", false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<32-1 {
			return 0, "", false
		}
	}
	if i == 0 {
		return 0, "", false
	}
	if i < len(s) {
		return uint32(n), s[i+1:], true
	}
	return uint32(n), "", true
}

// appendArcs parses the dotted OID suffix s into dst as ints. ok is false
// for a malformed suffix.
func appendArcs(dst []int, s string) ([]int, bool) {
	for s != "" {
		a, rest, ok := nextArc(s)
		if !ok {
			return dst, false
		}
		dst = append(dst, int(a))
		s = rest
	}
	return dst, true
}

// appendOID appends ".a.b.c" for the arcs to b.
func appendOID(b []byte, arcs []int) []byte {
	for _, a := range arcs {
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(a), 10)
	}
	return b
}

// oidLess compares two dotted OIDs (no leading dot) numerically.
func oidCompare(a, b string) int {
	for a != "" && b != "" {
		x, ra, ok1 := nextArc(a)
		y, rb, ok2 := nextArc(b)
		if !ok1 || !ok2 {
			return strings.Compare(a, b)
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
		a, b = ra, rb
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	default:
		return 1
	}
}

// under reports whether oid is inside the subtree root (both without the
// leading dot).
func under(oid, root string) bool {
	return len(oid) > len(root) && oid[len(root)] == '.' && oid[:len(root)] == root
}
