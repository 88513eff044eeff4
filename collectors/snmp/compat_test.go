package snmp

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// exporterConfigPerRecording writes snmp_exporter's if_mib module once per
// recording, named after it, with the recording's name as community (the
// layout of snmp_exporter 0.21: auth inside the module), and returns the
// file's path.
func exporterConfigPerRecording(t testing.TB) string {
	return exporterConfig(t, append([]string{"public"}, recordings...)...)
}

// exporterConfig writes snmp_exporter's if_mib module once per community,
// named after it.
func exporterConfig(t testing.TB, communities ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "recordings", "snmp_exporter_if_mib.yml"))
	if err != nil {
		t.Fatal(err)
	}
	body, ok := strings.CutPrefix(string(raw), "if_mib:\n")
	if !ok {
		t.Fatal("snmp_exporter_if_mib.yml does not start with the if_mib module")
	}
	var b strings.Builder
	for _, r := range communities {
		fmt.Fprintf(&b, "%s:\n  auth:\n    community: %s\n  max_repetitions: 25\n  timeout: 10s\n%s", r, r, body)
	}
	path := filepath.Join(t.TempDir(), "snmp.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startSNMPExporter runs Debian's prometheus-snmp-exporter with cfg and
// returns its address.
func startSNMPExporter(t testing.TB, cfg string) (string, int) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t))
	p := testpeer.Start(t, "prometheus-snmp-exporter", "--config.file="+cfg, "--web.listen-address="+addr)
	testpeer.WaitHTTP(t, "http://"+addr+"/", 15*time.Second)
	return addr, p.Cmd.Process.Pid
}

// scrapeExporter fetches /snmp for target and module and returns its
// samples keyed like memAppender's, snmp_scrape_* left out.
func scrapeExporter(t testing.TB, exporter, target, module string) map[string]float64 {
	t.Helper()
	u := "http://" + exporter + "/snmp?" + url.Values{"target": {target}, "module": {module}}.Encode()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("snmp_exporter: %s: %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("snmp_exporter output: %v", err)
	}
	out := map[string]float64{}
	for name, fam := range fams {
		if isSelfMetric(name) {
			continue
		}
		for _, m := range fam.GetMetric() {
			b := labels.NewBuilder(labels.FromStrings(model.MetricNameLabel, name))
			for _, lp := range m.GetLabel() {
				b.Set(lp.GetName(), lp.GetValue()) // empty values are dropped
			}
			out[b.Labels().String()] = value(fam.GetType(), m)
		}
	}
	return out
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	default:
		return m.GetUntyped().GetValue()
	}
}

// TestSNMPExporterCompatibility gives snmp_exporter 0.21 and fleetwatch the
// same if_mib module and the same snmpsim agent, and checks that they give
// the same series: names, label sets and values.
func TestSNMPExporterCompatibility(t *testing.T) {
	agent := startSnmpsim(t)
	cfgPath := exporterConfigPerRecording(t)
	exporter, _ := startSNMPExporter(t, cfgPath)
	c := newTestCollector(t, func(c *Config) {
		c.ModuleFiles = []string{cfgPath}
		c.Timeout = 10 * time.Second
	})
	for _, rec := range recordings {
		t.Run(rec, func(t *testing.T) {
			want := scrapeExporter(t, exporter, agent, rec)
			app, err := collect(t, c, agent, map[string]string{ParamModule: rec, ParamAuth: rec})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for k, v := range app.samples {
				if !isSelfMetric(metricName(k)) {
					got[k] = v
				}
			}
			if len(want) < 50 {
				t.Fatalf("snmp_exporter returned only %d series", len(want))
			}
			var diffs []string
			for k, w := range want {
				g, ok := got[k]
				switch {
				case !ok:
					diffs = append(diffs, "missing in fleetwatch: "+k)
				case metricName(k) == "sysUpTime":
					// The agent's clock moves between the two polls.
					if math.Abs(g-w) > 6000 {
						diffs = append(diffs, fmt.Sprintf("%s: fleetwatch %v, snmp_exporter %v", k, g, w))
					}
				case g != w:
					diffs = append(diffs, fmt.Sprintf("%s: fleetwatch %v, snmp_exporter %v", k, g, w))
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					diffs = append(diffs, "only in fleetwatch: "+k)
				}
			}
			sort.Strings(diffs)
			if len(diffs) > 0 {
				if len(diffs) > 20 {
					diffs = append(diffs[:20], fmt.Sprintf("… %d more", len(diffs)-20))
				}
				t.Errorf("%d series: %d differences:\n%s", len(want), len(diffs), strings.Join(diffs, "\n"))
			}
			t.Logf("%d series identical", len(want))
		})
	}
}
