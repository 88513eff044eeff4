// Package intern keeps one copy of strings that repeat — label names,
// HELP texts, label values such as a severity or a site — so that a
// parser hands out shared strings instead of allocating the same bytes
// again for every series or alert.
package intern

// Table interns strings. It holds at most Max strings and starts over
// when full (the ones still in use come back at once), so a stream of
// unique values cannot grow it without bound. A Table is not safe for
// concurrent use: each parser keeps its own.
type Table struct {
	m   map[string]string
	max int
}

// New returns a table of at most max strings.
func New(max int) *Table {
	return &Table{m: make(map[string]string, min(max, 256)), max: max}
}

// Bytes returns b as a string, the same string for the same bytes while
// it is in the table. Looking it up does not allocate.
func (t *Table) Bytes(b []byte) string {
	if s, ok := t.m[string(b)]; ok {
		return s
	}
	if len(t.m) >= t.max {
		clear(t.m)
	}
	s := string(b)
	t.m[s] = s
	return s
}
