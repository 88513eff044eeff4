package receivers

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocs builds the example of docs/receivers.md (its secret files
// replaced by ones that exist) and checks every key and metric is
// documented.
func TestDocs(t *testing.T) {
	raw, err := os.ReadFile("../../../docs/receivers.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("no yaml example")
	}
	files := map[string]string{
		"pd-dc1.key":     routingKey,
		"slack-dc1.url":  "https://hooks.slack.com/services/T0/B0/x",
		"lifecycle.auth": "Bearer x",
	}
	example := regexp.MustCompile(`/etc/fleetwatch/secrets/([\w.-]+)`).ReplaceAllStringFunc(blocks[0][1], func(s string) string {
		name := strings.TrimPrefix(s, "/etc/fleetwatch/secrets/")
		return writeFile(t, name, files[name])
	})
	rs, err := Parse([]byte(example))
	if err != nil {
		t.Fatalf("docs example: %v", err)
	}
	if _, err := New(rs, nil, nil); err != nil {
		t.Fatalf("docs example: %v", err)
	}
	if len(rs) != 3 {
		t.Errorf("%d receivers in the example, want 3", len(rs))
	}
	for _, key := range []string{
		"routing_key_file", "routing_key_env", "url", "timeout", "send_resolved", "send_acknowledged", "send_changes",
		"severity_map", "default_severity", "client", "client_url", "max_alerts", "rate_limit_per_minute",
		"repage_on_escalation", "tls_config", "url_file", "headers", "header_files", "url_env", "channel",
		"username", "icon_emoji", "icon_url", "ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify",
		"pagerduty_configs", "webhook_configs", "slack_configs",
		"fleetwatch_notify_requests_total", "fleetwatch_notify_request_duration_seconds",
	} {
		if !strings.Contains(doc, "`"+key+"`") {
			t.Errorf("%s is not documented", key)
		}
	}
}
