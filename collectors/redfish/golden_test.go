package redfish

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/events"
	"github.com/fleetwatch/fleetwatch/simulate/bmc"
)

// TestMockupsGolden collects every mockup and compares the samples and the
// events made of its log entries with golden files.
func TestMockupsGolden(t *testing.T) {
	names := bmc.MockupNames()
	if len(names) != 4 {
		t.Fatalf("want the 4 mockups, have %v", names)
	}
	for _, name := range names {
		for _, expand := range []string{"auto", "off"} {
			t.Run(name+"/expand="+expand, func(t *testing.T) {
				_, url := serveMockup(t, name, bmc.HandlerOptions{})
				var sink eventLog
				cfg := testConfig()
				cfg.Expand = expand
				c := newTestCollector(t, cfg, &sink)
				app := newFakeApp()
				if err := c.Collect(context.Background(), target("127.0.0.1:1"), app); err == nil {
					t.Fatal("collecting a closed port succeeded")
				}
				app = newFakeApp()
				if err := c.Collect(context.Background(), target(url), app); err != nil {
					t.Fatal(err)
				}
				got := stripPollCounters(app.text())
				if expand == "auto" {
					golden(t, "golden/"+name+".prom", got)
					golden(t, "golden/"+name+".events", renderEvents(sink.all()))
					return
				}
				golden(t, "golden/"+name+".noexpand.prom", got)
				if name == "dmtf-public-rackmount1" {
					// Without $expand, thermal_power: auto reads the classic
					// Thermal/Power of this chassis instead of 42 sensors.
					return
				}
				// Elsewhere the same resources are read one by one: the
				// samples must not change.
				if want := stripPollCounters(goldenText(t, "golden/"+name+".prom")); got != want {
					t.Errorf("expand=off differs from expand=auto:\n%s", diff(want, got))
				}
			})
		}
	}
}

// stripPollCounters drops the per-poll self samples, which depend on the
// request count and differ between expand settings.
func stripPollCounters(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, `"redfish_poll_requests"`) || strings.Contains(l, `"redfish_poll_expand"`) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func renderEvents(evs []events.Event) string {
	var lines []string
	for _, e := range evs {
		var b strings.Builder
		keys := make([]string, 0, len(e.Attributes))
		for k := range e.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var attrs []string
		for _, k := range keys {
			attrs = append(attrs, fmt.Sprintf("%s=%q", k, e.Attributes[k]))
		}
		fmt.Fprintf(&b, "%s %s %s %q server=%s %s\n", e.Time.UTC().Format(time.RFC3339), e.Severity, e.Kind, e.Summary, e.Labels["server"], strings.Join(attrs, " "))
		lines = append(lines, b.String())
	}
	// Logs are read side by side: order by log, then as delivered.
	sort.SliceStable(lines, func(i, j int) bool { return logOf(lines[i]) < logOf(lines[j]) })
	return strings.Join(lines, "")
}

func logOf(line string) string {
	i := strings.Index(line, ` log="`)
	if i < 0 {
		return ""
	}
	rest := line[i+6:]
	return rest[:strings.IndexByte(rest, '"')]
}
