package host

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// deliberateExtras are families fleetwatch emits that node_exporter 1.5 does
// not; each is explained in docs/collectors/host.md. None today.
func deliberateExtras() map[string]bool { return map[string]bool{} }

// constantFamilies must have the same value in both, not just the same labels.
func constantFamilies() []string {
	return []string{
		"node_uname_info", "node_boot_time_seconds", "node_memory_MemTotal_bytes",
		"node_memory_SwapTotal_bytes", "node_network_mtu_bytes", "node_network_iface_id",
		"node_network_protocol_type", "node_disk_info", "node_filesystem_size_bytes",
		"node_filesystem_files", "node_filesystem_readonly", "node_time_clocksource_current_info",
		"node_time_zone_offset_seconds", "node_network_info",
	}
}

// TestCompatNodeExporter runs the real node_exporter on 127.0.0.1 with the
// same collectors and compares, family by family, what both report for this
// machine.
func TestCompatNodeExporter(t *testing.T) {
	args := []string{"--collector.disable-defaults", "--web.disable-exporter-metrics"}
	for _, s := range AllCollectors() {
		args = append(args, "--collector."+s)
	}
	addr := testpeer.NodeExporter(t, args...)

	c, err := New(Config{}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	ne, err := p.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("parse node_exporter output: %v", err)
	}
	fw := collect(t, c)

	var names []string
	for n := range fw.series {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			mf, ok := ne[name]
			if !ok {
				if !deliberateExtras()[name] {
					t.Fatalf("fleetwatch emits %s, node_exporter does not", name)
				}
				return
			}
			md := fw.meta[name]
			if md.Help != mf.GetHelp() {
				t.Errorf("HELP %q, node_exporter %q", md.Help, mf.GetHelp())
			}
			if want := strings.ToLower(mf.GetType().String()); string(md.Type) != want {
				t.Errorf("TYPE %s, node_exporter %s", md.Type, want)
			}
			fwVals := labelValueSets(fw.series[name])
			neVals := map[string]map[string]bool{}
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if neVals[lp.GetName()] == nil {
						neVals[lp.GetName()] = map[string]bool{}
					}
					neVals[lp.GetName()][lp.GetValue()] = true
				}
			}
			if got, want := setKeys(fwVals), setKeys(neVals); got != want {
				t.Fatalf("label names %s, node_exporter %s", got, want)
			}
			for ln, want := range neVals {
				if got := strings.Join(sortedKeys(fwVals[ln]), "|"); got != strings.Join(sortedKeys(want), "|") {
					t.Errorf("label %s values {%s}, node_exporter {%s}", ln, got, strings.Join(sortedKeys(want), "|"))
				}
			}
			if !contains(constantFamilies(), name) {
				return
			}
			neByLabels := map[string]float64{}
			for _, m := range mf.GetMetric() {
				neByLabels[dtoKey(m)] = metricValue(m)
			}
			for _, s := range fw.series[name] {
				k := s.ls.DropMetricName().String()
				if v, ok := neByLabels[k]; !ok || v != s.v {
					t.Errorf("%s%s = %v, node_exporter %v (found %v)", name, k, s.v, v, ok)
				}
			}
		})
	}

	// Families node_exporter has for these collectors that fleetwatch lacks.
	var missing []string
	for n := range ne {
		if _, ok := fw.series[n]; !ok {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	t.Logf("node_exporter families not emitted by fleetwatch (%d): %s", len(missing), strings.Join(missing, ", "))
}

func labelValueSets(ss []sample) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, s := range ss {
		s.ls.Range(func(l labels.Label) {
			if l.Name == labels.MetricName {
				return
			}
			if out[l.Name] == nil {
				out[l.Name] = map[string]bool{}
			}
			out[l.Name][l.Value] = true
		})
	}
	return out
}

func setKeys(m map[string]map[string]bool) string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return "[" + strings.Join(k, ",") + "]"
}

func sortedKeys(m map[string]bool) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func dtoKey(m *dto.Metric) string {
	b := labels.NewScratchBuilder(len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		b.Add(lp.GetName(), lp.GetValue())
	}
	b.Sort()
	return b.Labels().String()
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	default:
		return m.GetUntyped().GetValue()
	}
}
