package postmortem

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRulesFromFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "node.yml")
	if err := os.WriteFile(good, []byte(`groups:
- name: node
  rules:
  - alert: NodeNetworkDown
    expr: node_network_up == 0
    for: 2m
    labels: {severity: critical}
  - alert: NodeNetworkDown
    expr: node_network_up{device=~"bond.*"} == 0
    for: 30s
    labels: {severity: critical, bond: "yes"}
  - record: job:up:sum
    expr: sum by (job) (up)
`), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup, err := RulesFromFiles([]string{good})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		labels map[string]string
		ok     bool
		expr   string
		forDur time.Duration
	}{
		{"by name", map[string]string{"alertname": "NodeNetworkDown", "severity": "critical"}, true, "node_network_up == 0", 2 * time.Minute},
		{"the rule whose labels are all on the alert", map[string]string{"alertname": "NodeNetworkDown", "severity": "critical", "bond": "yes"}, true, `node_network_up{device=~"bond.*"} == 0`, 30 * time.Second},
		{"recording rules are not alerts", map[string]string{"alertname": "job:up:sum"}, false, "", 0},
		{"unknown", map[string]string{"alertname": "Nope"}, false, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := lookup(c.labels)
			if ok != c.ok || r.Expr != c.expr || r.For != c.forDur {
				t.Errorf("lookup = %+v, %v; want %q for %v, %v", r, ok, c.expr, c.forDur, c.ok)
			}
			if ok && r.File != good {
				t.Errorf("file = %q, want %q", r.File, good)
			}
		})
	}

	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("groups:\n- name: x\n  rules:\n  - alert: A\n    expr: 'up =='\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := RulesFromFiles([]string{good, bad}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad rule file: error %v, want one naming %s", err, bad)
	}
	if _, err := RulesFromFiles([]string{filepath.Join(dir, "missing.yml")}); err == nil || !strings.Contains(err.Error(), "missing.yml") {
		t.Errorf("missing rule file: error %v, want one naming it", err)
	}
}
