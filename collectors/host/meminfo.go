package host

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// memFamily is the metric name and HELP derived from one /proc/meminfo key.
type memFamily struct {
	name, help string
}

// memNames caches memFamily per raw meminfo key: the keys do not change
// while the host runs, so building names happens once.
type memNames struct {
	mu sync.Mutex
	m  map[string]memFamily
}

func (n *memNames) get(raw []byte, unit bool) memFamily {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = map[string]memFamily{}
	}
	if f, ok := n.m[string(raw)]; ok && unit == strings.HasSuffix(f.name, "_bytes") {
		return f
	}
	key := meminfoKey(string(raw), unit)
	f := memFamily{name: "node_memory_" + key, help: "Memory information field " + key + "."}
	n.m[string(raw)] = f
	return f
}

// meminfoKey turns a /proc/meminfo key into node_exporter's metric suffix:
// "Active(anon)" becomes "Active_anon" and a value with a unit (kB) gets
// "_bytes".
func meminfoKey(raw string, unit bool) string {
	if i := strings.IndexByte(raw, '('); i >= 0 {
		if j := strings.LastIndexByte(raw, ')'); j > i {
			raw = raw[:i] + "_" + raw[i+1:j] + raw[j+1:]
		}
	}
	if unit {
		return raw + "_bytes"
	}
	return raw
}

// parseMeminfo calls fn for every "Key: value [kB]" line of /proc/meminfo.
// Values with a unit are converted from kB to bytes. Blank lines are skipped;
// any other malformed line is an error naming its line number.
func parseMeminfo(data []byte, fn func(key []byte, unit bool, v float64)) error {
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		var f [4][]byte
		n := fields(l, f[:])
		switch n {
		case 0:
			continue
		case 2, 3:
		default:
			return fmt.Errorf("line %d: want \"Key: value [kB]\", got %q", line, l)
		}
		key := f[0]
		if len(key) < 2 || key[len(key)-1] != ':' {
			return fmt.Errorf("line %d: key %q does not end with ':'", line, key)
		}
		v, err := parseNumber(f[1])
		if err != nil {
			return fmt.Errorf("line %d: value of %s: %w", line, key[:len(key)-1], err)
		}
		if n == 3 {
			v *= 1024
		}
		fn(key[:len(key)-1], n == 3, v)
	}
	return nil
}

// fields splits b at runs of spaces and tabs into out and returns how many
// fields there are; fields past len(out) are counted but not stored.
func fields(b []byte, out [][]byte) int {
	n := 0
	i := 0
	for i < len(b) {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		if i == len(b) {
			break
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\t' {
			j++
		}
		if n < len(out) {
			out[n] = b[i:j]
		}
		n++
		i = j
	}
	return n
}

// parseNumber parses a decimal unsigned integer without allocating, and
// anything else with strconv.ParseFloat.
func parseNumber(b []byte) (float64, error) {
	if len(b) > 0 && len(b) < 19 {
		var u uint64
		ok := true
		for _, c := range b {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			u = u*10 + uint64(c-'0')
		}
		if ok {
			return float64(u), nil
		}
	}
	return strconv.ParseFloat(string(b), 64)
}

// readFile reads a small file into buf, growing it as needed, and returns
// the filled part. It avoids a fresh allocation on every collection.
func readFile(path string, buf *[]byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := (*buf)[:0]
	if cap(b) < 4096 {
		b = make([]byte, 0, 4096)
	}
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
	*buf = b
	return b, nil
}

func collectMeminfo(r *run) error {
	path := filepath.Join(r.c.cfg.Procfs, "meminfo")
	data, err := readFile(path, &r.buf)
	if err != nil {
		return err
	}
	e := &r.e
	err = parseMeminfo(data, func(key []byte, unit bool, v float64) {
		f := r.c.mem.get(key, unit)
		e.family(f.name, gauge, f.help)
		e.sample0(f.name, v)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
