package redfish

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDocsListEveryMetric: docs/collectors/redfish.md names every metric
// family and self-metric the collector writes, and every config key.
func TestDocsListEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../../docs/collectors/redfish.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	names := []string{"fleetwatch_redfish_requests_total", "fleetwatch_redfish_request_duration_seconds",
		"fleetwatch_redfish_auth_events_total", "fleetwatch_redfish_log_events_total",
		"fleetwatch_redfish_log_events_rejected_total", "fleetwatch_redfish_resource_errors_total",
		"fleetwatch_redfish_budget_exhausted_total", "fleetwatch_redfish_poll_duration_seconds"}
	for _, f := range families() {
		names = append(names, f.name)
	}
	for _, n := range names {
		if !strings.Contains(doc, "`"+n+"`") {
			t.Errorf("docs/collectors/redfish.md does not document %s", n)
		}
	}
	for _, k := range []string{"username", "password_file", "password_env", "auth", "scheme", "tls.ca_file", "tls.server_name",
		"tls.insecure_skip_verify", "request_timeout", "poll_timeout", "retries", "max_concurrent_requests_per_bmc",
		"max_concurrent_requests", "request_budget", "expand", "thermal_power", "skip", "keep_alive",
		"log_services.enabled", "log_services.interval", "log_services.history", "log_services.max_pages", "log_services.services"} {
		if !strings.Contains(doc, "| `"+k+"` |") {
			t.Errorf("docs/collectors/redfish.md does not document the key %s", k)
		}
	}
}

// TestDocsExample decodes the redfish block of the documented example.
func TestDocsExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/collectors/redfish.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "    redfish:\n")
	if i < 0 {
		t.Fatal("no example with a redfish: block")
	}
	block := doc[i+len("    redfish:\n"):]
	block = block[:strings.Index(block, "```")]
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "      "))
	}
	var c Config
	if err := yaml.Unmarshal([]byte(strings.Join(lines, "\n")), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Username != "monitor" || c.RequestBudget != 200 || len(c.LogServices.Services) != 5 {
		t.Errorf("decoded example: %+v", c)
	}
}
