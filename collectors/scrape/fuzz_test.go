package scrape

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// FuzzAppendExposition feeds arbitrary bodies, as the text format and as
// OpenMetrics, through the body → samples conversion. It must never panic;
// whatever it appends must be a valid series with a name and no empty label;
// and a second conversion with the same reused parser must give the same.
func FuzzAppendExposition(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/input.*")
	seeds = append(seeds, "testdata/node_exporter/metrics.txt")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, filepath.Ext(s) == ".om")
	}
	f.Add([]byte("a{b=\"c\"} 1 2\n# EOF\n"), true)
	f.Add([]byte("{\"a.b\",\"c d\"=\"e\"} NaN\n"), false)

	opts := parseOptions{honorTimestamps: true, labelLimit: 64}
	p := newParser()
	f.Fuzz(func(t *testing.T, body []byte, om bool) {
		ct := "text/plain; version=0.0.4"
		if om {
			ct = "application/openmetrics-text; version=1.0.0"
		}
		var first, second recorder
		res1, err1 := p.appendExposition(bytes.Clone(body), ct, &opts, &first)
		res2, err2 := p.appendExposition(bytes.Clone(body), ct, &opts, &second)
		if (err1 == nil) != (err2 == nil) || res1 != res2 || !slices.Equal(first.lines, second.lines) {
			t.Fatalf("two conversions of the same body differ: %v/%v, %+v/%+v", err1, err2, res1, res2)
		}
		if res1.samples != len(first.samples) {
			t.Fatalf("counted %d samples, appended %d", res1.samples, len(first.samples))
		}
		if res1.samples > bytes.Count(body, []byte("\n"))+1 {
			t.Fatalf("%d samples from %d lines", res1.samples, bytes.Count(body, []byte("\n"))+1)
		}
		for _, s := range first.samples {
			if s.ls.Get(model.MetricNameLabel) == "" {
				t.Fatalf("series without a name: %s", s.ls)
			}
			if !s.ls.IsValid(model.UTF8Validation) {
				t.Fatalf("invalid series appended: %s", s.ls)
			}
			if s.ls.Len() > opts.labelLimit {
				t.Fatalf("series over label_limit appended: %s", s.ls)
			}
			s.ls.Range(func(l labels.Label) {
				if l.Value == "" {
					t.Fatalf("empty label %s appended in %s", l.Name, s.ls)
				}
			})
		}
	})
}

// FuzzParseConfig: any YAML either fails with an error or gives a config that
// validates and that New accepts.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"{}",
		"metrics_path: /snmp\nparams: {module: [if_mib]}\nbody_size_limit: 10MiB\n",
		"scheme: https\ntls_config: {server_name: x, insecure_skip_verify: true}\nsample_limit: 10\n",
		"basic_auth: {username: u, password: p}\n",
		"honor_timestamps: false\nenable_compression: false\nfallback_scrape_protocol: OpenMetricsText1.0.0\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config that does not validate: %v", err)
		}
		if _, err := New(c, nil, nil); err != nil {
			t.Fatalf("New refused a config ParseConfig accepted: %v", err)
		}
	})
}
