package amapi

import (
	"bytes"
	"errors"
	"hash/maphash"
	"io"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/fleetwatch/fleetwatch/alerter"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/internal/intern"
)

// The fast path for POST /api/v2/alerts. Prometheus and vmalert write
// every alert the same way: an array of objects with the five members of
// Alertmanager's postableAlert, names in lower camel case, no nulls,
// valid UTF-8. scanAlerts walks such a body with jsontext (no reflection)
// and keeps each alert's labels and annotations objects as raw bytes;
// their hashes (alerter.RawKey) let the engine recognise the alerts it
// already holds, which are then neither decoded nor fingerprinted again.
// A name repeated inside labels or annotations keeps its last value, as
// with encoding/json. Anything else (other spellings, nulls, unknown or
// repeated members of an alert, invalid JSON) goes to DecodeAlerts'
// general path, which decodes it as encoding/json would and names what is
// wrong. FuzzDecodeAgreesWithEncodingJSON holds the two to the same
// result.

// rawAlert is one alert of a body as the fast path found it: labels and
// annotations are the raw objects (slices of the body; annotations nil
// when absent).
type rawAlert struct {
	labels, annotations []byte
	// The strings' contents, unescaped: slices of the body unless they
	// held escapes.
	startsAt, endsAt, generatorURL []byte
}

// scanner is the per-call state of the fast path, pooled.
type scanner struct {
	dec jsontext.Decoder
	obj bytes.Buffer // the object decodeStringMap reads
	// names interns label and annotation names and short values: the
	// same few hundred strings repeat in every alert of a fleet.
	names *intern.Table
	// The last times parsed: alerts of one rule share their endsAt, and
	// often their startsAt.
	starts, ends lastTime
	// Slices reused from request to request.
	raws   []rawAlert
	keys   []alerter.RawKey
	known  []alerter.KnownAlert
	alerts []store.Alert
}

// lastTime remembers the last RFC 3339 time parsed.
type lastTime struct {
	raw []byte
	t   time.Time
}

// parse returns the time raw holds (zero for empty); ok is false when it
// is not an RFC 3339 time.
func (l *lastTime) parse(raw []byte) (t time.Time, ok bool) {
	if len(raw) == 0 {
		return time.Time{}, true
	}
	if bytes.Equal(raw, l.raw) {
		return l.t, true
	}
	t, err := time.Parse(time.RFC3339Nano, unsafeString(raw))
	if err != nil {
		return time.Time{}, false
	}
	l.raw, l.t = append(l.raw[:0], raw...), t
	return t, true
}

// times sets a's StartsAt and EndsAt as parseTimes does, from raw bytes,
// with parseTimes' errors.
func (sc *scanner) times(a *store.Alert, starts, ends []byte) error {
	var ok1, ok2 bool
	a.StartsAt, ok1 = sc.starts.parse(starts)
	a.EndsAt, ok2 = sc.ends.parse(ends)
	if ok1 && ok2 && (a.StartsAt.IsZero() || a.EndsAt.IsZero() || !a.EndsAt.Before(a.StartsAt)) {
		return nil
	}
	return parseTimes(a, string(starts), string(ends))
}

// release drops what the reused slices point to (alerts' maps, the body)
// so that a pooled scanner keeps nothing alive.
func (sc *scanner) release() {
	clear(sc.raws)
	clear(sc.known)
	clear(sc.alerts)
	sc.raws, sc.keys, sc.known, sc.alerts = sc.raws[:0], sc.keys[:0], sc.known[:0], sc.alerts[:0]
}

// internMax bounds a scanner's intern table; it starts over when full.
const internMax = 8192

func newScanner() *scanner { return &scanner{names: intern.New(internMax)} }

// scanners pools scanners (an API keeps one).
type scanners struct{ p sync.Pool }

func (s *scanners) get() *scanner {
	if sc, ok := s.p.Get().(*scanner); ok {
		return sc
	}
	return newScanner()
}

func (s *scanners) put(sc *scanner) {
	sc.release()
	s.p.Put(sc)
}

// scanAlerts appends body's alerts to out; ok is false when the body is
// not in the plain form (see above).
func (sc *scanner) scanAlerts(body []byte, out []rawAlert) (_ []rawAlert, ok bool) {
	dec := &sc.dec
	// Duplicate names inside labels and annotations are left to
	// decodeStringMap (the last wins, as with encoding/json); the alert's
	// own members are checked below.
	dec.Reset(bytes.NewBuffer(body), jsontext.AllowDuplicateNames(true))
	defer dec.Reset(&sc.obj) // drop the reference to body
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '[' {
		return out, false
	}
	for dec.PeekKind() == '{' {
		if _, err := dec.ReadToken(); err != nil {
			return out, false
		}
		var a rawAlert
		var seen uint8
		for dec.PeekKind() == '"' {
			name, err := dec.ReadValue()
			if err != nil {
				return out, false
			}
			field := memberField(name)
			if field == 0 || seen&field != 0 {
				return out, false
			}
			seen |= field
			switch field {
			case fieldLabels, fieldAnnotations:
				if dec.PeekKind() != '{' {
					return out, false
				}
				start := dec.InputOffset()
				if _, err := dec.ReadValue(); err != nil {
					return out, false
				}
				raw := bytes.TrimLeft(body[start:dec.InputOffset()], " \t\r\n:")
				if field == fieldLabels {
					a.labels = raw
				} else {
					a.annotations = raw
				}
			default:
				if dec.PeekKind() != '"' {
					return out, false
				}
				start := dec.InputOffset()
				if _, err := dec.ReadValue(); err != nil {
					return out, false
				}
				v := unquote(bytes.TrimLeft(body[start:dec.InputOffset()], " \t\r\n:"))
				switch field {
				case fieldStartsAt:
					a.startsAt = v
				case fieldEndsAt:
					a.endsAt = v
				case fieldGeneratorURL:
					a.generatorURL = v
				}
			}
		}
		if seen&fieldLabels == 0 {
			return out, false
		}
		if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' {
			return out, false
		}
		out = append(out, a)
	}
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != ']' {
		return out, false
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return out, false // something after the array
	}
	return out, true
}

// unquote is the content of raw, a JSON string the decoder accepted: a
// slice of raw unless it holds escapes.
func unquote(raw []byte) []byte {
	b := raw[1 : len(raw)-1]
	if bytes.IndexByte(b, '\\') < 0 {
		return b
	}
	u, err := jsontext.AppendUnquote(nil, raw)
	if err != nil {
		return b // not reached: the decoder checked raw
	}
	return u
}

const (
	fieldLabels uint8 = 1 << iota
	fieldAnnotations
	fieldStartsAt
	fieldEndsAt
	fieldGeneratorURL
)

// memberField is the field a member name (raw, with its quotes) stands
// for, 0 for any other spelling.
func memberField(name []byte) uint8 {
	switch string(name) {
	case `"labels"`:
		return fieldLabels
	case `"annotations"`:
		return fieldAnnotations
	case `"startsAt"`:
		return fieldStartsAt
	case `"endsAt"`:
		return fieldEndsAt
	case `"generatorURL"`:
		return fieldGeneratorURL
	}
	return 0
}

// decodeStringMap decodes a raw JSON object of strings (a labels or
// annotations object scanAlerts accepted). ok is false when a value is
// not a string.
func (sc *scanner) decodeStringMap(raw []byte) (_ map[string]string, ok bool) {
	sc.obj.Reset()
	sc.obj.Write(raw)
	dec := &sc.dec
	dec.Reset(&sc.obj, jsontext.AllowDuplicateNames(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, false
	}
	m := make(map[string]string, 8)
	for dec.PeekKind() == '"' {
		k, err := dec.ReadValue()
		if err != nil {
			return nil, false
		}
		name := sc.str(k) // a value lives until the next call
		if dec.PeekKind() != '"' {
			return nil, false
		}
		v, err := dec.ReadValue()
		if err != nil {
			return nil, false
		}
		m[name] = sc.str(v)
	}
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' {
		return nil, false
	}
	return m, true
}

// str is the string a raw JSON string stands for, interned when short.
func (sc *scanner) str(raw jsontext.Value) string {
	b := unquote(raw)
	if len(b) > 64 {
		return string(b)
	}
	return sc.names.Bytes(b)
}

// keyer hashes raw objects into alerter.RawKeys with one seed.
type keyer struct{ seed maphash.Seed }

func newKeyer() keyer { return keyer{seed: maphash.MakeSeed()} }

func (k keyer) key(a *rawAlert) alerter.RawKey {
	rk := alerter.RawKey{Labels: maphash.Bytes(k.seed, a.labels), Annotations: maphash.Bytes(k.seed, a.annotations)}
	// 0 means no key.
	if rk.Labels == 0 {
		rk.Labels = 1
	}
	if rk.Annotations == 0 {
		rk.Annotations = 1
	}
	return rk
}

// errNotPlain sends a body the fast path cannot take to the general one.
var errNotPlain = errors.New("not in the plain form")

// convertRaw turns scanned alerts into store alerts, taking labels,
// annotations and fingerprints from known where the engine found them
// (known may be nil). Errors name the alert's index and field, as
// DecodeAlerts' do; errNotPlain when an object holds something other
// than strings.
func (sc *scanner) convertRaw(raws []rawAlert, known []alerter.KnownAlert) ([]store.Alert, error) {
	var ok bool
	out := slices.Grow(sc.alerts[:0], len(raws))
	defer func() { sc.alerts = out }()
	for i := range raws {
		r := &raws[i]
		var kn alerter.KnownAlert
		if known != nil {
			kn = known[i]
		}
		if kn.Labels == nil {
			p := PostableAlert{StartsAt: string(r.startsAt), EndsAt: string(r.endsAt), GeneratorURL: string(r.generatorURL)}
			if p.Labels, ok = sc.decodeStringMap(r.labels); !ok {
				return nil, errNotPlain
			}
			if r.annotations != nil {
				if p.Annotations, ok = sc.decodeStringMap(r.annotations); !ok {
					return nil, errNotPlain
				}
			}
			a, err := convertAlert(&p)
			if err != nil {
				return nil, alertError(i, err)
			}
			out = append(out, a)
			continue
		}
		// Labels the engine holds were valid when it took them.
		a := store.Alert{Fingerprint: kn.Fingerprint, Labels: kn.Labels, Annotations: kn.Annotations, GeneratorURL: kn.GeneratorURL}
		if string(r.generatorURL) != kn.GeneratorURL {
			a.GeneratorURL = string(r.generatorURL)
		}
		if a.Annotations == nil {
			a.Annotations = map[string]string{}
			if r.annotations != nil {
				if a.Annotations, ok = sc.decodeStringMap(r.annotations); !ok {
					return nil, errNotPlain
				}
			}
			if err := checkAnnotations(a.Annotations); err != nil {
				return nil, alertError(i, err)
			}
		}
		if err := sc.times(&a, r.startsAt, r.endsAt); err != nil {
			return nil, alertError(i, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// unsafeString is b as a string without a copy, for a use that does not
// keep it (b is part of a pooled request body).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
