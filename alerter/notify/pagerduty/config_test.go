package pagerduty

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func parse(t *testing.T, text string) (Config, error) {
	t.Helper()
	var c Config
	if err := yaml.Unmarshal([]byte(text), &c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestConfig(t *testing.T) {
	key := writeFile(t, "key", testKey)
	short := writeFile(t, "short", "abc")
	empty := writeFile(t, "empty", "\n")
	t.Setenv("FW_TEST_PD_KEY", testKey)

	for _, tc := range []struct {
		name, yaml string
		errHas     string // "" = valid
	}{
		{"file", "routing_key_file: " + key, ""},
		{"env", "routing_key_env: FW_TEST_PD_KEY", ""},
		{"all keys", "routing_key_file: " + key + `
url: http://127.0.0.1:9999/v2/enqueue
timeout: 3s
send_resolved: false
send_acknowledged: false
send_changes: false
severity_map: {page: critical, ticket: info}
default_severity: warning
client: fleetwatch-dc1
client_url: https://fw.example
max_alerts: 5
rate_limit_per_minute: 60
repage_on_escalation: true
tls_config: {insecure_skip_verify: true, server_name: pd.example}
`, ""},
		{"inline key", "routing_key: " + testKey, "line 1: pagerduty config: routing_key: secrets are not written in the config, use routing_key_file or routing_key_env"},
		{"inline service key", "routing_key_file: " + key + "\nservice_key: x", "line 2: pagerduty config: service_key"},
		{"unknown key", "routing_key_file: " + key + "\nsevertiy: critical", `line 2: pagerduty config: unknown key "severtiy"`},
		{"unknown nested key", "routing_key_file: " + key + "\ntls_config:\n  ca: x", `line 3: pagerduty config: unknown key "tls_config.ca"`},
		{"no key", "timeout: 1s", "routing_key_file or routing_key_env must be set"},
		{"both", "routing_key_file: " + key + "\nrouting_key_env: FW_TEST_PD_KEY", "set one, not both"},
		{"missing file", "routing_key_file: /nonexistent/key", "routing_key_file: open /nonexistent/key"},
		{"empty file", "routing_key_file: " + empty, "is empty"},
		{"unset env", "routing_key_env: FW_TEST_PD_UNSET", "FW_TEST_PD_UNSET is not set"},
		{"short key on pagerduty.com", "routing_key_file: " + short, "3 characters, PagerDuty's are 32"},
		{"short key elsewhere", "routing_key_file: " + short + "\nurl: http://127.0.0.1:1/v2/enqueue", ""},
		{"bad url", "routing_key_file: " + key + "\nurl: events.pagerduty.com", "url: \"events.pagerduty.com\""},
		{"bad timeout", "routing_key_file: " + key + "\ntimeout: -1s", "timeout: -1s must be positive"},
		{"timeout not a duration", "routing_key_file: " + key + "\ntimeout: soon", "line 2"},
		{"bad severity map", "routing_key_file: " + key + "\nseverity_map: {page: urgent}", `severity_map: "page": "urgent"`},
		{"bad default severity", "routing_key_file: " + key + "\ndefault_severity: high", "default_severity"},
		{"negative max_alerts", "routing_key_file: " + key + "\nmax_alerts: -1", "max_alerts"},
		{"negative rate", "routing_key_file: " + key + "\nrate_limit_per_minute: -1", "rate_limit_per_minute"},
		{"bad ca file", "routing_key_file: " + key + "\ntls_config: {ca_file: " + key + "}", "tls_config.ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.yaml)
			switch {
			case tc.errHas == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Errorf("error %v, want one containing %q", err, tc.errHas)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	key := writeFile(t, "key", testKey)
	c, err := parse(t, "routing_key_file: "+key)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.RoutingKeyFile = key
	if c.URL != DefaultURL || c.Timeout != 10*time.Second || !c.SendResolved || !c.SendAcknowledged ||
		!c.SendChanges || c.DefaultSeverity != "error" || c.Client != "fleetwatch" || c.MaxAlerts != 20 ||
		c.RateLimitPerMinute != 120 || c.RepageOnEscalation {
		t.Errorf("defaults: %+v", c)
	}
	if got := c.baseURL(); got != "https://events.pagerduty.com" {
		t.Errorf("base URL %q", got)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add("routing_key_env: X\ntimeout: 3s\nseverity_map: {a: critical}\n")
	f.Add("routing_key: abc\n")
	f.Add("tls_config: {ca_file: /x}\nmax_alerts: -3\n")
	f.Add("- a\n- b\n")
	f.Fuzz(func(t *testing.T, text string) {
		var c Config
		if err := yaml.Unmarshal([]byte(text), &c); err != nil {
			return
		}
		_ = c.Validate() // must not panic
	})
}
