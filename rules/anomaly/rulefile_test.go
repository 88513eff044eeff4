package anomaly

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestParseFileGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/rules/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			groups, err := ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(groups, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(f, ".yml") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
				t.Errorf("parsed %s differs from %s (run go test -update after checking):\n%s", f, golden, got)
			}
		})
	}
}

func TestParseMixedFile(t *testing.T) {
	groups, err := ParseFile("testdata/rules/mixed.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || groups[0].Name != "latency" || groups[1].Name != "power" {
		t.Fatalf("groups = %+v, want latency and power (the group without anomaly items left out)", groups)
	}
	r := groups[0].Rules[0]
	if len(groups[0].Rules) != 1 || r.Name != "ProbeRTTAnomaly" || r.Line != 8 {
		t.Fatalf("latency rules = %+v, want only ProbeRTTAnomaly at line 8", groups[0].Rules)
	}
	if r.Params.Direction != Up || r.Params.Transform != Log || r.Params.Threshold != 6 || r.Params.For.String() != "5m0s" {
		t.Errorf("latency params = %+v", r.Params)
	}
	if groups[0].Interval.String() != "30s" || groups[1].Interval != 0 {
		t.Errorf("intervals = %v, %v", groups[0].Interval, groups[1].Interval)
	}
	if got := groups[1].Rules[0].Params; got.Seasonality != Daily || got.Window != 48 || got.Direction != Both {
		t.Errorf("power params = %+v", got)
	}
}

func TestParseErrors(t *testing.T) {
	head := "groups:\n  - name: g\n    rules:\n"
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"bad yaml", "groups: [", []string{"bad.yml"}},
		{"missing expr", head + "      - anomaly: A\n", []string{"bad.yml:4:", `anomaly "A"`, "field expr: missing"}},
		{"bad promql", head + "      - anomaly: A\n        expr: rate(x[5m]\n", []string{"bad.yml:5:", "field expr:"}},
		{"unknown preset", head + "      - anomaly: A\n        expr: x\n        preset: disk\n", []string{"bad.yml:6:", "field preset:", `unknown preset "disk"`}},
		{"unknown field", head + "      - anomaly: A\n        expr: x\n        treshold: 3\n", []string{"bad.yml:6:", "field treshold: unknown field"}},
		{"bad threshold", head + "      - anomaly: A\n        expr: x\n        threshold: high\n", []string{"bad.yml:6:", "field threshold:", "not a number"}},
		{"negative threshold", head + "      - anomaly: A\n        expr: x\n        threshold: -1\n", []string{"bad.yml:4:", "threshold: -1 must be positive"}},
		{"bad duration", head + "      - anomaly: A\n        expr: x\n        for: soon\n", []string{"bad.yml:6:", "field for:", "not a duration"}},
		{"bad direction", head + "      - anomaly: A\n        expr: x\n        direction: sideways\n", []string{"bad.yml:6:", "field direction:"}},
		{"window too big", head + "      - anomaly: A\n        expr: x\n        window: 500\n", []string{"bad.yml:4:", "window: 500 is outside"}},
		{"over memory budget", head + "      - anomaly: A\n        expr: x\n        window: 96\n        seasonality: weekly\n        season_bucket: 1h\n", []string{"bad.yml:4:", "over the 1024-byte budget"}},
		{"bad label name", head + "      - anomaly: A\n        expr: x\n        labels: {\"\": c}\n", []string{"bad.yml:6:", "invalid name"}},
		{"bad template", head + "      - anomaly: A\n        expr: x\n        annotations: {summary: \"{{ $labels.x \"}\n", []string{"bad.yml:6:", "field annotations.summary"}},
		{"empty name", head + "      - anomaly: \"\"\n        expr: x\n", []string{"bad.yml:4:", "field anomaly"}},
		{"bad interval", "groups:\n  - name: g\n    interval: 0s\n    rules:\n      - anomaly: A\n        expr: x\n", []string{"bad.yml:3:", "field interval"}},
		{"duplicate group", head + "      - anomaly: A\n        expr: x\n  - name: g\n    rules:\n      - anomaly: B\n        expr: y\n", []string{"bad.yml:6:", "group name repeated (first at line 2)"}},
		{"one bad rule keeps reporting the others", head + "      - anomaly: A\n        expr: x(\n      - anomaly: B\n        threshold: 0\n        expr: y\n",
			[]string{"bad.yml:5:", `anomaly "A"`, "bad.yml:6:", `anomaly "B"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBytes("bad.yml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParsePlainPrometheusFile(t *testing.T) {
	data := "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n      - record: r\n        expr: sum(up)\n"
	groups, err := ParseBytes("plain.yml", []byte(data))
	if err != nil || len(groups) != 0 {
		t.Fatalf("plain Prometheus file: groups %v, err %v; want none and no error", groups, err)
	}
	for _, empty := range []string{"", "groups:\n", "# only a comment\n"} {
		if _, err := ParseBytes("empty.yml", []byte(empty)); err != nil {
			t.Errorf("%q: %v", empty, err)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	seed, _ := os.ReadFile("testdata/rules/mixed.yml")
	f.Add(seed)
	f.Add([]byte("groups:\n  - name: g\n    rules:\n      - anomaly: A\n        expr: x\n"))
	f.Add([]byte("groups: {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		groups, err := ParseBytes("fuzz.yml", data)
		if err != nil {
			return
		}
		if err := Validate(groups); err != nil {
			t.Fatalf("ParseBytes accepted groups that Validate rejects: %v", err)
		}
		for _, g := range groups {
			for _, r := range g.Rules {
				NewDetector(&r.Params).Observe(0, 1)
			}
		}
	})
}
