package host

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"

	"github.com/fleetwatch/fleetwatch/collectors"
)

// recorder is an Appender that keeps everything, for assertions.
type recorder struct {
	mu      sync.Mutex
	series  map[string][]sample // family -> samples
	meta    map[string]metadata.Metadata
	dupes   []string
	seen    map[string]bool
	badSort []string
}

type sample struct {
	ls labels.Labels
	v  float64
}

func newRecorder() *recorder {
	return &recorder{series: map[string][]sample{}, meta: map[string]metadata.Metadata{}, seen: map[string]bool{}}
}

func (r *recorder) Append(ls labels.Labels, t int64, v float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t != 0 {
		return fmt.Errorf("timestamp %d, want 0", t)
	}
	c := ls.Copy() // the collector reuses ls
	prev := ""
	c.Range(func(l labels.Label) {
		if l.Name <= prev {
			r.badSort = append(r.badSort, c.String())
		}
		prev = l.Name
	})
	k := c.String()
	if r.seen[k] {
		r.dupes = append(r.dupes, k)
	}
	r.seen[k] = true
	name := c.Get(labels.MetricName)
	r.series[name] = append(r.series[name], sample{c, v})
	return nil
}

func (r *recorder) SetMetadata(family string, md metadata.Metadata) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.meta[family] = md
}

// value returns the value of the one series of family matching the label
// pairs kv, and whether there is exactly one.
func (r *recorder) value(family string, kv ...string) (float64, bool) {
	var found []float64
	for _, s := range r.series[family] {
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			if s.ls.Get(kv[i]) != kv[i+1] {
				ok = false
			}
		}
		if ok {
			found = append(found, s.v)
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	return found[0], true
}

// text renders what was recorded in the Prometheus text format, families
// and series sorted, so that it can be compared with a golden file.
func (r *recorder) text() string {
	var b strings.Builder
	names := make([]string, 0, len(r.series))
	for n := range r.series {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if md, ok := r.meta[n]; ok {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", n, md.Help, n, md.Type)
		}
		lines := make([]string, 0, len(r.series[n]))
		for _, s := range r.series[n] {
			lines = append(lines, exposition(s.ls)+" "+strconv.FormatFloat(s.v, 'g', -1, 64))
		}
		sort.Strings(lines)
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func exposition(ls labels.Labels) string {
	var parts []string
	ls.Range(func(l labels.Label) {
		if l.Name != labels.MetricName {
			parts = append(parts, l.Name+"="+strconv.Quote(l.Value))
		}
	})
	name := ls.Get(labels.MetricName)
	if len(parts) == 0 {
		return name
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// discard is an Appender that drops everything, for benchmarks.
type discard struct{ n int }

func (d *discard) Append(labels.Labels, int64, float64) error { d.n++; return nil }
func (d *discard) SetMetadata(string, metadata.Metadata)      {}

var _ collectors.Appender = (*recorder)(nil)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func collect(t testing.TB, c *Collector) *recorder {
	t.Helper()
	rec := newRecorder()
	if err := c.Collect(context.Background(), collectors.Target{}, rec); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if len(rec.dupes) > 0 {
		t.Errorf("duplicate series: %v", rec.dupes)
	}
	if len(rec.badSort) > 0 {
		t.Errorf("labels not sorted: %v", rec.badSort)
	}
	for n := range rec.series {
		if _, ok := rec.meta[n]; !ok {
			t.Errorf("family %s has samples but no metadata", n)
		}
	}
	return rec
}
