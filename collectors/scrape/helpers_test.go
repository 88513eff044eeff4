package scrape

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
)

// recorder is an Appender that keeps every call, in order, as text.
type recorder struct {
	mu      sync.Mutex
	lines   []string
	samples []sample
	meta    map[string]metadata.Metadata
}

type sample struct {
	ls labels.Labels
	t  int64
	v  float64
}

func (r *recorder) Append(ls labels.Labels, t int64, v float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, sample{ls.Copy(), t, v})
	r.lines = append(r.lines, fmt.Sprintf("%s %s @%d", ls.String(), formatValue(v), t))
	return nil
}

func (r *recorder) SetMetadata(family string, md metadata.Metadata) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.meta == nil {
		r.meta = map[string]metadata.Metadata{}
	}
	r.meta[family] = md
	r.lines = append(r.lines, fmt.Sprintf("# metadata %s type=%s unit=%q help=%q", family, md.Type, md.Unit, md.Help))
}

func formatValue(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if v > 0 && math.IsInf(v, 1) {
		return "+Inf"
	}
	if math.Signbit(v) && v == 0 {
		return "-0"
	}
	return s
}

// discard is an Appender that drops everything, for benchmarks.
type discard struct{ n int }

func (d *discard) Append(labels.Labels, int64, float64) error { d.n++; return nil }
func (*discard) SetMetadata(string, metadata.Metadata)        {}

// errorReasons returns the reasons fleetwatch_scrape_errors_total counted, as
// "reason=count" sorted by the registry.
func errorReasons(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "fleetwatch_scrape_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" {
					out = append(out, fmt.Sprintf("%s=%g", lp.GetValue(), m.GetCounter().GetValue()))
				}
			}
		}
	}
	return out
}

// counterValue returns the value of the named counter summed over its series.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}
