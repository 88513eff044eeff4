package scrape

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/fleetwatch/fleetwatch/internal/intern"
	"io"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/fleetwatch/fleetwatch/collectors"
)

// Errors a collection can fail with, to branch on with errors.Is. The error
// returned by Collect wraps one of them together with the target and detail.
var (
	ErrHTTPStatus    = errors.New("server returned HTTP status")
	ErrBodySizeLimit = errors.New("body_size_limit exceeded")
	ErrContentType   = errors.New("unsupported content type")
	ErrParse         = errors.New("malformed exposition")
	ErrSampleLimit   = errors.New("sample_limit exceeded")
	ErrLabelLimit    = errors.New("label limit exceeded")
)

// parseOptions are the parts of Config that decide how an exposition becomes
// samples.
type parseOptions struct {
	honorTimestamps       bool
	sampleLimit           int
	labelLimit            int
	labelNameLengthLimit  int
	labelValueLengthLimit int
	fallbackMediaType     string
}

func newParseOptions(c *Config) parseOptions {
	return parseOptions{
		honorTimestamps:       c.HonorTimestamps,
		sampleLimit:           c.SampleLimit,
		labelLimit:            c.LabelLimit,
		labelNameLengthLimit:  c.LabelNameLengthLimit,
		labelValueLengthLimit: c.LabelValueLengthLimit,
		fallbackMediaType:     scrapeProtocols[c.FallbackScrapeProtocol],
	}
}

// seriesKey identifies a sample within one exposition: the hash of its label
// set and its timestamp (0 when it has none).
type seriesKey struct {
	hash uint64
	ts   int64
}

// maxCached bounds the series and strings a parser remembers between
// collections; past it the caches start again empty.
const maxCached = 1 << 15

// parser holds what one conversion needs and keeps it between collections, so
// that a steady stream of collections does not allocate it again. It is used
// by one goroutine at a time.
//
// It remembers the label set of every series text it parsed (the same text
// under the same parser and TYPE always gives the same labels), so that a
// series seen in an earlier collection, of this or another target, costs a map
// look-up instead of a parse and an allocation: the scheduler adds the target
// labels, so node_exporter's series read the same on every host. Cached label
// sets passed the label checks once, so one parser must always be used with the
// same parseOptions (the Collector's pool is per Collector).
type parser struct {
	lset    labels.Labels
	lb      *labels.Builder
	seen    map[seriesKey]struct{}
	series  map[string]cachedSeries
	strs    *intern.Table
	key     []byte
	curType model.MetricType
	family  []byte
	meta    metadata.Metadata
	// hasMeta says whether family has metadata not yet given to SetMetadata.
	hasMeta bool
}

// cachedSeries is a checked label set and its hash.
type cachedSeries struct {
	lset labels.Labels
	hash uint64
}

func newParser() *parser {
	return &parser{
		seen:   make(map[seriesKey]struct{}, 1024),
		series: make(map[string]cachedSeries, 1024),
		strs:   intern.New(maxCached),
		lb:     labels.NewBuilder(labels.EmptyLabels()),
	}
}

// intern returns b as a string, the same string for the same bytes.
func (s *parser) intern(b []byte) string { return s.strs.Bytes(b) }

// parseResult counts what a conversion did.
type parseResult struct {
	samples    int // handed to the appender
	duplicates int // dropped: same series and timestamp seen earlier
	skipped    int // native histogram samples, which the appender cannot take
}

// appendExposition parses the exposition b, whose format is given by the
// response's Content-Type, and appends every sample to app with the labels as
// exposed. b may be appended to (a missing final newline). The error names the
// line of a malformed exposition.
func (s *parser) appendExposition(b []byte, contentType string, o *parseOptions, app collectors.Appender) (parseResult, error) {
	var res parseResult
	clear(s.seen)
	s.family = s.family[:0]
	s.hasMeta = false
	s.curType = ""
	if len(b) == 0 {
		return res, nil
	}
	p, err := textparse.New(b, contentType, nil, textparse.ParserOptions{
		IgnoreNativeHistograms: true,
		FallbackContentType:    o.fallbackMediaType,
	})
	if p == nil {
		return res, fmt.Errorf("%w %q: %v", ErrContentType, contentType, err)
	}
	// With a fallback, err says it was used; the body is parsed anyway.

	// Each entry the parser returns is one line of the body (blank lines are
	// skipped by the text parser, refused by the OpenMetrics parser): counting
	// entries gives the line of an error without tracking offsets per sample.
	entries := 0
	_, skipsBlank := p.(*textparse.PromParser)
	kind := byte('o') // the parser is part of the series cache key
	if skipsBlank {
		kind = 't'
	} else if _, proto := p.(*textparse.ProtobufParser); proto {
		kind = 'p'
	}
	lineErr := func(err error) error {
		if _, proto := p.(*textparse.ProtobufParser); proto {
			return fmt.Errorf("metric family %d: %w", entries+1, err)
		}
		return fmt.Errorf("line %d: %w", lineOfEntry(b, entries, skipsBlank), err)
	}

	for {
		et, err := p.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return res, lineErr(fmt.Errorf("%w: %v", ErrParse, err))
		}
		switch et {
		case textparse.EntryType:
			name, typ := p.Type()
			s.setFamily(name, app)
			s.meta.Type = typ
			s.curType = typ
		case textparse.EntryHelp:
			name, help := p.Help()
			s.setFamily(name, app)
			s.meta.Help = s.intern(help)
		case textparse.EntryUnit:
			name, unit := p.Unit()
			s.setFamily(name, app)
			s.meta.Unit = s.intern(unit)
		case textparse.EntryHistogram:
			res.skipped++
		case textparse.EntrySeries:
			met, ts, v := p.Series()
			var t int64
			if ts != nil && o.honorTimestamps {
				t = *ts
			}
			// The labels depend on the series text, the parser and the
			// TYPE in force (le and quantile values of histograms and
			// summaries are normalised).
			s.key = append(append(append(s.key[:0], kind), s.curType...), 0)
			s.key = append(s.key, met...)
			cs, ok := s.series[string(s.key)]
			if !ok {
				p.Labels(&s.lset)
				s.dropEmpty()
				if err := s.check(o); err != nil {
					return res, lineErr(err)
				}
				cs = cachedSeries{lset: s.lset, hash: s.lset.Hash()}
				if len(s.series) >= maxCached {
					clear(s.series)
				}
				s.series[string(s.key)] = cs
			}
			key := seriesKey{hash: cs.hash, ts: t}
			if _, dup := s.seen[key]; dup {
				res.duplicates++
				break
			}
			s.seen[key] = struct{}{}
			if o.sampleLimit > 0 && res.samples >= o.sampleLimit {
				return res, fmt.Errorf("%w: more than %d samples", ErrSampleLimit, o.sampleLimit)
			}
			if err := app.Append(cs.lset, t, v); err != nil {
				return res, lineErr(fmt.Errorf("append %s: %w", cs.lset.Get(model.MetricNameLabel), err))
			}
			res.samples++
		}
		entries++
	}
	s.flushMeta(app)
	return res, nil
}

// dropEmpty removes labels with an empty value: in Prometheus' data model
// a="" is the same series as no label a, and Prometheus stores it without.
func (s *parser) dropEmpty() {
	empty := false
	s.lset.Range(func(l labels.Label) {
		if l.Value == "" {
			empty = true
		}
	})
	if !empty {
		return
	}
	s.lb.Reset(s.lset)
	s.lset.Range(func(l labels.Label) {
		if l.Value == "" {
			s.lb.Del(l.Name)
		}
	})
	s.lset = s.lb.Labels()
}

// check refuses a series without a name, with invalid names or values, or over
// a label limit.
func (s *parser) check(o *parseOptions) error {
	name := s.lset.Get(model.MetricNameLabel)
	if name == "" {
		return fmt.Errorf("%w: series %s has no metric name", ErrParse, s.lset.String())
	}
	if !s.lset.IsValid(model.UTF8Validation) {
		return fmt.Errorf("%w: invalid metric name, label name or label value (not UTF-8) in %s", ErrParse, s.lset.String())
	}
	if o.labelLimit > 0 && s.lset.Len() > o.labelLimit {
		return fmt.Errorf("%w: %.50s has %d labels, label_limit is %d", ErrLabelLimit, name, s.lset.Len(), o.labelLimit)
	}
	if o.labelNameLengthLimit == 0 && o.labelValueLengthLimit == 0 {
		return nil
	}
	return s.lset.Validate(func(l labels.Label) error {
		if o.labelNameLengthLimit > 0 && len(l.Name) > o.labelNameLengthLimit {
			return fmt.Errorf("%w: %.50s: label name %.50q is %d bytes long, label_name_length_limit is %d",
				ErrLabelLimit, name, l.Name, len(l.Name), o.labelNameLengthLimit)
		}
		if o.labelValueLengthLimit > 0 && len(l.Value) > o.labelValueLengthLimit {
			return fmt.Errorf("%w: %.50s: value of label %.50q is %d bytes long, label_value_length_limit is %d",
				ErrLabelLimit, name, l.Name, len(l.Value), o.labelValueLengthLimit)
		}
		return nil
	})
}

// setFamily starts collecting the metadata of family name, handing the
// previous family's metadata to the appender when the name changes.
func (s *parser) setFamily(name []byte, app collectors.Appender) {
	if s.hasMeta && bytes.Equal(name, s.family) {
		return
	}
	s.flushMeta(app)
	s.family = append(s.family[:0], name...)
	s.meta = metadata.Metadata{Type: model.MetricTypeUnknown}
	s.meta.Help, s.meta.Unit = "", ""
	s.hasMeta = true
}

func (s *parser) flushMeta(app collectors.Appender) {
	if !s.hasMeta {
		return
	}
	app.SetMetadata(s.intern(s.family), s.meta)
	s.hasMeta = false
}

// lineOfEntry returns the 1-based line number of the n-th (0-based) entry of
// b, skipping lines of only spaces and tabs when skipBlank is set. Past the last
// line it returns the number of the line after it.
func lineOfEntry(b []byte, n int, skipBlank bool) int {
	line := 0
	for len(b) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			l, b = b[:i], b[i+1:]
		} else {
			l, b = b, nil
		}
		if skipBlank && len(bytes.Trim(l, " \t")) == 0 {
			continue
		}
		if n == 0 {
			return line
		}
		n--
	}
	return line + 1
}
