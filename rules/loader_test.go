package rules

import (
	"bytes"
	"strings"
	"testing"
)

const withAnomalies = `groups:
  - name: mixed
    rules:
      - alert: HighLatency
        expr: probe_duration_seconds > 1
      - anomaly: rtt_baseline
        metric: probe_duration_seconds
        method: zscore
        description: |
          multi-line
          text
      - record: job:up:sum
        expr: sum by (job) (up)
  - name: only-anomalies
    rules:
      -
        anomaly: temp
        metric: redfish_temperature_celsius
  - name: broken-after
    rules:
      - anomaly: x
        metric: y
      - alert: Bad
        expr: sum(up) by (
`

func TestStripAnomalyRules(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		// wantGone must not be in the output; wantKept must be.
		wantGone, wantKept []string
	}{
		{"no anomalies", "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: y\n", nil, []string{"record: x"}},
		{"block items", withAnomalies,
			[]string{"anomaly", "method: zscore", "multi-line", "redfish_temperature_celsius"},
			[]string{"alert: HighLatency", "record: job:up:sum", "alert: Bad"}},
		{"flow style", "groups: [{name: a, rules: [{anomaly: z, metric: m}, {record: r, expr: up}]}]\n",
			[]string{"anomaly"}, []string{"record"}},
		{"anomaly with alert stays for rulefmt to reject", "groups:\n  - name: a\n    rules:\n      - alert: A\n        anomaly: z\n        expr: up\n",
			nil, []string{"anomaly: z"}},
		{"not yaml", "groups: [", nil, []string{"groups: ["}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := StripAnomalyRules([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.wantGone {
				if bytes.Contains(out, []byte(s)) {
					t.Errorf("%q still in output:\n%s", s, out)
				}
			}
			for _, s := range tc.wantKept {
				if !bytes.Contains(out, []byte(s)) {
					t.Errorf("%q lost:\n%s", s, out)
				}
			}
		})
	}
}

// TestAnomalyItemsKeepLineNumbers: after the anomaly items are dropped, an
// error further down still names the line of the user's file.
func TestAnomalyItemsKeepLineNumbers(t *testing.T) {
	file := writeFile(t, t.TempDir(), "mixed.yml", withAnomalies)
	_, errs := ParseRuleFile(file, false, nil, nil)
	if len(errs) != 1 {
		t.Fatalf("errors %v, want one (the bad expression)", errs)
	}
	if want := file + `: 24:15: group "broken-after", rule 1, "Bad"`; !strings.HasPrefix(errs[0].Error(), want) {
		t.Errorf("error %q, want it to start with %q", errs[0], want)
	}
	good := strings.Replace(withAnomalies, "sum(up) by (", "sum(up)", 1)
	file = writeFile(t, t.TempDir(), "good.yml", good)
	rgs, errs := ParseRuleFile(file, false, nil, nil)
	if errs != nil {
		t.Fatal(errs)
	}
	var names []string
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert+r.Record)
		}
	}
	if got := strings.Join(names, ","); got != "HighLatency,job:up:sum,Bad" {
		t.Errorf("rules %s", got)
	}
}

// FuzzStripAnomalyRules: never panics; block-style output keeps the line
// count; input without anomaly items comes back unchanged.
func FuzzStripAnomalyRules(f *testing.F) {
	f.Add([]byte(withAnomalies))
	f.Add([]byte("groups: [{name: a, rules: [{anomaly: z}]}]"))
	f.Add([]byte("groups:\n- name: a\n  rules:\n  - record: x\n    expr: y\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := StripAnomalyRules(in)
		if err != nil {
			return
		}
		if !bytes.Contains(in, []byte(AnomalyKey)) && !bytes.Equal(in, out) {
			t.Fatalf("changed input without anomaly items:\n%q\n%q", in, out)
		}
		_, _ = ParseRuleFileContent(out)
	})
}
