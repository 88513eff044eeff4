package alerter

import "testing"

// TestAppendGroupKey: the allocation-free group key is the key built from
// the group's label set, whatever the labels hold.
func TestAppendGroupKey(t *testing.T) {
	labels := []map[string]string{
		{"alertname": "HostDown", "instance": "h1:9100", "site": "dc1"},
		{"alertname": "HostDown"},
		{"alertname": "Quoted \"name\"\n", "site": "", "rack": "r\u00e91"},
		{},
	}
	for _, groupBy := range [][]string{
		{"alertname", "site"},
		{"site", "alertname"},
		{"rack", "instance"},
		{"..."},
		{},
	} {
		cfg, err := ParseConfig("a.yml", []byte(`route: {receiver: r, group_by: [`+quoteAll(groupBy)+`]}
receivers: [{name: r}]`))
		if err != nil {
			t.Fatal(err)
		}
		r := buildRoutes(cfg.Route)
		for _, ls := range labels {
			want := r.groupKey(r.groupLabels(ls))
			if got := string(r.appendGroupKey(nil, ls)); got != want {
				t.Errorf("group_by %v, labels %v: %q, want %q", groupBy, ls, got, want)
			}
		}
	}
}

func quoteAll(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += `"` + s + `"`
	}
	return out
}
