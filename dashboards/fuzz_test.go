package dashboards

import (
	"strings"
	"testing"
	"time"
)

func FuzzExpand(f *testing.F) {
	f.Add(`rate(x{site=~"$site",rack=~"${rack}"}[$__rate_interval])`, "dc1")
	f.Add(`[[server]] $__range $__interval_ms ${a:regex}`, "a|b")
	f.Fuzz(func(t *testing.T, expr, val string) {
		vals := map[string][]string{"site": {val}, "rack": {val, "x"}, "server": {val}, "a": {val}}
		out, err := Expand(expr, vals, Interval{Range: time.Hour})
		if err != nil {
			return
		}
		if strings.Contains(out, "$__rate_interval") || strings.Contains(out, "$__interval") {
			t.Fatalf("macro left in %q", out)
		}
	})
}

func FuzzParseVarQuery(f *testing.F) {
	f.Add(`label_values(up{site=~"$site"}, rack)`)
	f.Add(`label_values(site)`)
	f.Add(`label_values(, x)`)
	f.Fuzz(func(t *testing.T, q string) {
		lv, err := ParseVarQuery(q)
		if err != nil {
			return
		}
		if !labelName.MatchString(lv.Label) {
			t.Fatalf("accepted label %q", lv.Label)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"uid":"a","templating":{"list":[{"name":"x","query":"label_values(y)"}]},"panels":[]}`))
	f.Add([]byte(`{"templating":{"list":[{"name":""}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Decode(raw)
		if err != nil {
			return
		}
		for _, v := range m.Templating.List {
			_ = v.VarQuery()
			if v.Name == "" {
				t.Fatal("variable without a name accepted")
			}
		}
	})
}

func TestExpand(t *testing.T) {
	iv := Interval{Range: time.Hour, ScrapeInterval: 15 * time.Second, MaxDataPoints: 1000}
	cases := []struct {
		name, expr string
		vals       map[string][]string
		want       string
	}{
		{"rate interval", `rate(x[$__rate_interval])`, nil, `rate(x[1m])`},
		{"interval floors at scrape", `avg_over_time(x[$__interval])`, nil, `avg_over_time(x[15s])`},
		{"range", `increase(x[$__range])`, nil, `increase(x[1h])`},
		{"all", `x{site=~"$site"}`, map[string][]string{"site": {".*"}}, `x{site=~".*"}`},
		{"several values escaped", `x{server=~"${server}"}`, map[string][]string{"server": {"a.b", "c"}}, `x{server=~"(a\.b|c)"}`},
		{"bracket form", `x{rack=~"[[rack]]"}`, map[string][]string{"rack": {"r01"}}, `x{rack=~"r01"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Expand(c.expr, c.vals, iv)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("Expand(%q) = %q, want %q", c.expr, got, c.want)
			}
		})
	}
	if _, err := Expand(`x{a="$nope"}`, nil, iv); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing variable: error %v, want one naming it", err)
	}
	// 30 days at 1000 points: 43.2 min step; the rate window adds one scrape interval.
	long := Interval{Range: 30 * 24 * time.Hour, ScrapeInterval: 15 * time.Second, MaxDataPoints: 1000}
	if got := long.Step(); got != 2592*time.Second {
		t.Errorf("30d step %v, want 43m12s", got)
	}
	if got := long.RateInterval(); got != 2607*time.Second {
		t.Errorf("30d rate interval %v", got)
	}
}

func TestParseVarQuery(t *testing.T) {
	cases := []struct {
		q       string
		want    LabelValuesQuery
		wantErr bool
	}{
		{`label_values(up, site)`, LabelValuesQuery{"up", "site"}, false},
		{`label_values(up{a=~"x,y"}, rack)`, LabelValuesQuery{`up{a=~"x,y"}`, "rack"}, false},
		{`label_values(job)`, LabelValuesQuery{"", "job"}, false},
		{`query_result(up)`, LabelValuesQuery{}, true},
		{`label_values(up, 1x)`, LabelValuesQuery{}, true},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			got, err := ParseVarQuery(c.q)
			if (err != nil) != c.wantErr || got != c.want {
				t.Errorf("ParseVarQuery(%q) = %+v, %v", c.q, got, err)
			}
		})
	}
}
