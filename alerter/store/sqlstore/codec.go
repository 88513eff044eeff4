package sqlstore

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Times are stored as int64 nanoseconds since the Unix epoch (UTC on both
// engines, full precision, integer comparison in indexes); 0 is the zero
// time.Time. Instants outside 1678–2262 are clamped to that range.
var (
	minNanos = time.Unix(0, math.MinInt64+1).UTC()
	maxNanos = time.Unix(0, math.MaxInt64).UTC()
)

func nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minNanos):
		return math.MinInt64 + 1
	case t.After(maxNanos):
		return math.MaxInt64
	}
	n := t.UnixNano()
	if n == 0 {
		// The epoch itself would read back as the zero time: one
		// nanosecond later is the closest instant that does not.
		return 1
	}
	return n
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// labelsJSON encodes a label map as a JSON object with sorted keys (what
// encoding/json writes, without its reflection: alerts are written at
// every evaluation). nil is stored as JSON null and read back as nil, an
// empty map as {} and read back as an empty map.
func labelsJSON(m map[string]string) (string, error) {
	if m == nil {
		return "null", nil
	}
	var stack [16]string // label sets are small: sort their names without allocating
	keys := stack[:0]
	size := 2
	for k, v := range m {
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	b = append(b, '}')
	// b is not used again: the string shares its bytes, as
	// strings.Builder's does.
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func parseLabels(field, s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("column %s: %w", field, err)
	}
	return m, nil
}

// rawJSON checks that a caller's raw JSON is valid (PostgreSQL would refuse
// it, SQLite would store it: both refuse it here, alike). Empty is NULL.
func rawJSON(field string, b json.RawMessage) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s: not valid JSON", field)
	}
	return string(b), nil
}

func fromRawJSON(s *string) json.RawMessage {
	if s == nil || *s == "" {
		return nil
	}
	return json.RawMessage(*s)
}

// queryCache rewrites the ? placeholders the queries are written with into
// PostgreSQL's $1, $2, … once per query text.
type queryCache struct {
	d dialect
	m sync.Map // string → string
}

func newQueryCache(d dialect) *queryCache { return &queryCache{d: d} }

func (c *queryCache) get(q string) string {
	if c.d == dialectSQLite {
		return q
	}
	if v, ok := c.m.Load(q); ok {
		return v.(string)
	}
	r := rebindDollar(q)
	c.m.Store(q, r)
	return r
}

// rebindDollar replaces each ? outside quotes with $n.
func rebindDollar(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	inQuote := false
	for i := 0; i < len(q); i++ {
		ch := q[i]
		switch {
		case ch == '\'':
			inQuote = !inQuote
			b.WriteByte(ch)
		case ch == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
