package sqlstore

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
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

// labelsJSON encodes a label map; nil is stored as JSON null and read back
// as nil, an empty map as {} and read back as an empty map.
func labelsJSON(m map[string]string) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return string(b), nil
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
