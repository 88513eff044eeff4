package anomaly

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Option changes the parameters DetectCSV starts from (a preset).
type Option func(*Params)

// WithThreshold overrides the preset's threshold.
func WithThreshold(v float64) Option { return func(p *Params) { p.Threshold = v } }

// WithFor overrides how long the score must stay high before an alert fires.
func WithFor(d time.Duration) Option { return func(p *Params) { p.For = d } }

// WithKeepFiringFor overrides how long an alert keeps firing after the
// score fell back.
func WithKeepFiringFor(d time.Duration) Option { return func(p *Params) { p.KeepFiringFor = d } }

// WithSeasonality overrides the preset's seasonality.
func WithSeasonality(s Seasonality) Option { return func(p *Params) { p.Seasonality = s } }

// WithParams applies f to the parameters (any field).
func WithParams(f func(*Params)) Option { return Option(f) }

// csvLayouts are the timestamp layouts DetectCSV accepts, besides Unix
// seconds.
var csvLayouts = [...]string{"2006-01-02 15:04:05", time.RFC3339Nano, "2006-01-02T15:04:05"}

// csvRow is one parsed data row.
type csvRow struct {
	line  int
	raw   string // the timestamp as written
	t     int64  // ms
	value float64
}

// readCSV calls fn for each `timestamp,value` row. A first line that does
// not parse is taken as a header. Errors name the line and the field.
func readCSV(r io.Reader, fn func(csvRow) error) error {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	var last int64
	rows := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("line %d: %w", pe.Line, pe.Err)
			}
			return fmt.Errorf("line %d: %w", rows+1, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != 2 {
			return fmt.Errorf("line %d: want 2 fields (timestamp,value), got %d", line, len(rec))
		}
		t, terr := parseTimestamp(rec[0])
		v, verr := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		if rows == 0 && line == 1 && terr != nil && verr != nil {
			continue // header
		}
		if terr != nil {
			return fmt.Errorf("line %d: timestamp %q: %w", line, rec[0], terr)
		}
		if verr != nil {
			return fmt.Errorf("line %d: value %q: not a number", line, rec[1])
		}
		if rows > 0 && t < last {
			return fmt.Errorf("line %d: timestamp %q is before the previous row", line, rec[0])
		}
		last = t
		rows++
		if err := fn(csvRow{line: line, raw: rec[0], t: t, value: v}); err != nil {
			return err
		}
	}
}

func parseTimestamp(s string) (int64, error) {
	s = strings.TrimSpace(s)
	for _, l := range csvLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMilli(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > -1e11 && f < 1e11 {
		return int64(f * 1000), nil
	}
	return 0, errors.New(`want "2006-01-02 15:04:05", RFC 3339 or Unix seconds`)
}

// DetectCSV runs the named preset's detector, adjusted by opts, over a
// `timestamp,value` CSV (NAB's format: `2014-02-14 14:27:00,51.846`; an
// optional header line; RFC 3339 and Unix-second timestamps also work) and
// writes one `timestamp,score` line for each alert the rule would raise,
// with the timestamp as written in the input. The alert follows the same
// For/KeepFiringFor life as in the Evaluator.
func DetectCSV(r io.Reader, w io.Writer, preset string, opts ...Option) error {
	p, err := Preset(preset)
	if err != nil {
		return err
	}
	for _, o := range opts {
		o(&p)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("preset %s: %w", preset, err)
	}
	bw := bufio.NewWriter(w)
	det := NewDetector(&p)
	var st alertState
	err = readCSV(r, func(row csvRow) error {
		score, ready := det.Observe(row.t, row.value)
		if !ready {
			return nil
		}
		if st.step(row.t, score > p.Threshold, &p) {
			_, err := fmt.Fprintf(bw, "%s,%.3f\n", row.raw, score)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}
