package scrape

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// TestNodeExporter scrapes the real node_exporter and checks that every series
// it exposes arrives with its labels, by comparing with an independent parse
// (prometheus/common's expfmt) of a second fetch made right after. Values may
// differ between the two fetches; names, label sets and metadata may not.
func TestNodeExporter(t *testing.T) {
	addr := testpeer.NodeExporter(t)
	c, err := New(DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	ctx := t.Context()
	if err := c.Collect(ctx, collectors.Target{Job: "node", Address: addr}, &rec); err != nil {
		t.Fatal(err)
	}
	want, wantMeta := fetchExpfmt(t, "http://"+addr+"/metrics")

	got := map[string]bool{}
	for _, s := range rec.samples {
		key := seriesString(s.ls)
		if got[key] {
			t.Errorf("series %s appended twice", key)
		}
		got[key] = true
		if s.t != 0 {
			t.Errorf("series %s has timestamp %d; node_exporter sends none", key, s.t)
		}
	}
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("series differ from a direct parse: %d missing, %d extra\nmissing: %s\nextra: %s",
			len(missing), len(extra), strings.Join(head(missing), "\n  "), strings.Join(head(extra), "\n  "))
	}
	if len(want) < 100 {
		t.Errorf("node_exporter exposed only %d series", len(want))
	}
	for name, mf := range wantMeta {
		md, ok := rec.meta[name]
		if !ok {
			t.Errorf("no metadata for family %s", name)
			continue
		}
		wantType := strings.ToLower(mf.GetType().String())
		if wantType == "untyped" {
			wantType = string(model.MetricTypeUnknown) // Prometheus' name for untyped
		}
		if string(md.Type) != wantType || md.Help != mf.GetHelp() {
			t.Errorf("metadata of %s = %+v, want type %s help %q", name, md, mf.GetType(), mf.GetHelp())
		}
	}
	t.Logf("%d series, %d families from node_exporter", len(got), len(rec.meta))
}

func head(s []string) []string { return s[:min(len(s), 20)] }

// fetchExpfmt GETs url and returns its series (as seriesString keys) and its
// families, parsed by prometheus/common/expfmt.
func fetchExpfmt(t *testing.T, url string) (map[string]bool, map[string]*dto.MetricFamily) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]bool{}
	add := func(name string, base []*dto.LabelPair, extraName, extraValue string) {
		b := labels.NewScratchBuilder(len(base) + 2)
		b.Add(model.MetricNameLabel, name)
		for _, lp := range base {
			if lp.GetValue() != "" {
				b.Add(lp.GetName(), lp.GetValue())
			}
		}
		if extraName != "" {
			b.Add(extraName, extraValue)
		}
		b.Sort()
		series[seriesString(b.Labels())] = true
	}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			lps := m.GetLabel()
			switch mf.GetType() {
			case dto.MetricType_SUMMARY:
				for _, q := range m.GetSummary().GetQuantile() {
					add(name, lps, "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64))
				}
				add(name+"_sum", lps, "", "")
				add(name+"_count", lps, "", "")
			case dto.MetricType_HISTOGRAM:
				for _, bk := range m.GetHistogram().GetBucket() {
					add(name+"_bucket", lps, "le", strconv.FormatFloat(bk.GetUpperBound(), 'g', -1, 64))
				}
				add(name+"_bucket", lps, "le", "+Inf")
				add(name+"_sum", lps, "", "")
				add(name+"_count", lps, "", "")
			default:
				add(name, lps, "", "")
			}
		}
	}
	return series, mfs
}

// seriesString prints a label set with le and quantile values normalised as
// numbers, since the two parsers format them differently (1 vs 1.0).
func seriesString(ls labels.Labels) string {
	var parts []string
	ls.Range(func(l labels.Label) {
		v := l.Value
		if l.Name == "le" || l.Name == "quantile" {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				v = strconv.FormatFloat(f, 'g', -1, 64)
				if v == "+Inf" || f > 0 && f == f*2 {
					v = "+Inf"
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%s=%q", l.Name, v))
	})
	slices.Sort(parts)
	return "{" + strings.Join(parts, ",") + "}"
}
