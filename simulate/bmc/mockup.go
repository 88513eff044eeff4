package bmc

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed all:testdata/mockups
var embedded embed.FS

const mockupRoot = "testdata/mockups"

// MockupNames lists the embedded mockups.
func MockupNames() []string {
	ents, _ := fs.ReadDir(embedded, mockupRoot)
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// Mockup is a Redfish tree loaded into memory, each resource kept as a
// template whose serial numbers and readings can be rewritten cheaply.
type Mockup struct {
	Name  string
	files map[string]*resource // key: Key(path)
	// firstMembers are the first member of each fan, power supply and DIMM
	// collection: the parts faults act on.
	firstFan, firstPSU, firstDIMM map[string]bool
	// logEntries is the entries collection a DIMM fault writes to.
	logEntries string
}

// LoadMockup reads an embedded mockup by name.
func LoadMockup(name string) (*Mockup, error) {
	sub, err := fs.Sub(embedded, path.Join(mockupRoot, name))
	if err != nil {
		return nil, err
	}
	if _, err := fs.Stat(sub, "index.json"); err != nil {
		return nil, fmt.Errorf("mockup %q: no index.json (have %v)", name, MockupNames())
	}
	return LoadMockupFS(name, sub)
}

// LoadMockupFS reads a mockup in the DMTF short layout from fsys: the URL
// /redfish/v1/A/B is the file A/B/index.json.
func LoadMockupFS(name string, fsys fs.FS) (*Mockup, error) {
	m := &Mockup{Name: name, files: map[string]*resource{}, firstFan: map[string]bool{}, firstPSU: map[string]bool{}, firstDIMM: map[string]bool{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Base(p) != "index.json" {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		dir := path.Dir(p)
		urlPath := "/redfish/v1"
		if dir != "." {
			urlPath += "/" + dir
		}
		r, err := parseResource(b)
		if err != nil {
			return fmt.Errorf("mockup %s: %s: %w", name, p, err)
		}
		r.path = urlPath
		m.files[Key(urlPath)] = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.findFaultTargets()
	return m, nil
}

// Key normalises a Redfish path the way the mockups are matched: the
// /redfish/v1 prefix kept, query, fragment and trailing slashes dropped,
// lower case.
func Key(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	p = strings.TrimRight(p, "/")
	return strings.ToLower(p)
}

func (m *Mockup) findFaultTargets() {
	keys := make([]string, 0, len(m.files))
	for k := range m.files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := m.files[k]
		if len(r.members) == 0 {
			continue
		}
		first := Key(r.members[0])
		switch {
		case strings.HasSuffix(k, "/thermalsubsystem/fans"):
			m.firstFan[first] = true
		case strings.HasSuffix(k, "/powersubsystem/powersupplies"):
			m.firstPSU[first] = true
		case strings.HasSuffix(k, "/memory") && strings.Contains(k, "/systems/"):
			m.firstDIMM[first] = true
		}
	}
	for _, k := range keys {
		if strings.Contains(k, "/systems/") && strings.HasSuffix(k, "/entries") {
			m.logEntries = k
			break
		}
	}
}

// resource is one JSON document split into literal text and holes.
type resource struct {
	path  string
	raw   []byte
	segs  []segment
	nodes int
	// members are the @odata.id of the top-level Members; memberSpans their
	// byte ranges in raw, and membersSpan the range of the whole array.
	members     []string
	memberSpans [][2]int
	membersSpan [2]int
}

type holeKind uint8

const (
	literal holeKind = iota
	holeSerial
	holeReading
)

type segment struct {
	kind   holeKind
	lo, hi int     // byte range in raw
	val    float64 // holeReading: the mockup's value
	str    string  // holeSerial: the mockup's value
}

// driftKeys are the readings that change over time.
var driftKeys = map[string]bool{
	"ReadingCelsius": true, "Reading": true, "PowerConsumedWatts": true, "LastPowerOutputWatts": true,
	"PowerInputWatts": true, "PowerOutputWatts": true, "SpeedRPM": true, "AverageConsumedWatts": true,
}

// parseResource tokenises b, recording where serial numbers and readings are.
func parseResource(b []byte) (*resource, error) {
	r := &resource{raw: b, membersSpan: [2]int{-1, -1}}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		obj       bool
		key       string
		expectKey bool
	}
	var stack []frame
	var holes []segment
	var keys []string // key path of the current value
	inThresholds := 0
	for {
		start := valueStart(b, int(dec.InputOffset()))
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		end := int(dec.InputOffset())
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				if n == 3 && len(keys) >= 2 && keys[1] == "Members" && len(r.memberSpans) > 0 {
					r.memberSpans[len(r.memberSpans)-1][1] = end
				}
				stack = stack[:n-1]
				if len(keys) > 0 {
					k := keys[len(keys)-1]
					keys = keys[:len(keys)-1]
					if k == "Thresholds" {
						inThresholds--
					}
				}
				continue
			}
			stack[n-1].key = tok.(string)
			stack[n-1].expectKey = false
			continue
		}
		key := ""
		top := len(stack) - 1
		if top >= 0 && stack[top].obj {
			key = stack[top].key
			stack[top].expectKey = true
		}
		r.nodes++
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{obj: true, expectKey: true})
				keys = append(keys, key)
				if key == "Thresholds" {
					inThresholds++
				}
				if len(stack) == 3 && len(keys) >= 2 && keys[1] == "Members" {
					r.memberSpans = append(r.memberSpans, [2]int{start, -1})
				}
			case '[':
				stack = append(stack, frame{})
				keys = append(keys, key)
				if len(stack) == 2 && key == "Members" {
					r.membersSpan[0] = start
				}
			case '}', ']':
				if len(stack) == 2 && t == ']' && keys[len(keys)-1] == "Members" {
					r.membersSpan[1] = end
				}
				stack = stack[:len(stack)-1]
				k := keys[len(keys)-1]
				keys = keys[:len(keys)-1]
				if k == "Thresholds" {
					inThresholds--
				}
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].expectKey = true
				}
			}
		case json.Number:
			if driftKeys[key] && inThresholds == 0 {
				v, err := t.Float64()
				if err == nil && v != 0 {
					holes = append(holes, segment{kind: holeReading, lo: start, hi: end, val: v})
				}
			}
		case string:
			if key == "SerialNumber" && t != "" {
				holes = append(holes, segment{kind: holeSerial, lo: start, hi: end, str: t})
			}
			if key == "@odata.id" && len(stack) == 3 && len(keys) >= 2 && keys[1] == "Members" {
				r.members = append(r.members, t)
			}
		}
	}
	pos := 0
	for _, h := range holes {
		if h.lo > pos {
			r.segs = append(r.segs, segment{kind: literal, lo: pos, hi: h.lo})
		}
		r.segs = append(r.segs, h)
		pos = h.hi
	}
	if pos < len(b) {
		r.segs = append(r.segs, segment{kind: literal, lo: pos, hi: len(b)})
	}
	if len(r.memberSpans) != len(r.members) {
		// Members that are not all objects with an @odata.id: never expand.
		r.members, r.memberSpans = nil, nil
	}
	return r, nil
}

// valueStart skips the separators before the next token.
func valueStart(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r', ',', ':':
			i++
		default:
			return i
		}
	}
	return i
}

// render appends the resource to dst for BMC serial suffix sfx and drift
// phase t (seconds); sfx "" and amp 0 give the mockup unchanged.
func (r *resource) render(dst []byte, lo, hi int, sfx string, t, amp float64, seed uint64) []byte {
	for i, s := range r.segs {
		if s.hi <= lo || s.lo >= hi {
			continue
		}
		switch s.kind {
		case literal:
			dst = append(dst, r.raw[max(s.lo, lo):min(s.hi, hi)]...)
		case holeSerial:
			if sfx == "" {
				dst = append(dst, r.raw[s.lo:s.hi]...)
				continue
			}
			dst = strconv.AppendQuote(dst, s.str+sfx)
		case holeReading:
			if amp == 0 {
				dst = append(dst, r.raw[s.lo:s.hi]...)
				continue
			}
			phase := float64((seed*2654435761+uint64(i)*40503)%6283) / 1000
			v := s.val * (1 + amp*math.Sin(t/300*2*math.Pi+phase))
			dst = strconv.AppendFloat(dst, math.Round(v*10)/10, 'f', -1, 64)
		}
	}
	return dst
}
