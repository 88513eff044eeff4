package redfish

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr string
		check               func(t *testing.T, c Config)
	}{
		{name: "defaults", yaml: "username: monitor\npassword_file: /dev/null\n", check: func(t *testing.T, c Config) {
			if c.Auth != "auto" || c.Expand != "auto" || c.RequestBudget != 300 || c.MaxConcurrentRequestsPerBMC != 4 ||
				time.Duration(c.RequestTimeout) != 10*time.Second || !c.LogServices.Enabled || c.Scheme != "https" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "all keys", yaml: `
username: monitor
password_env: BMC_PASSWORD
auth: basic
scheme: http
tls: {ca_file: "", server_name: bmc, insecure_skip_verify: true}
request_timeout: 5s
poll_timeout: 40s
retries: -1
max_concurrent_requests_per_bmc: 2
max_concurrent_requests: 100
request_budget: 50
expand: "off"
thermal_power: classic
skip: [logs, memory_metrics]
keep_alive: true
log_services: {enabled: false, history: 2h, max_pages: 3, services: [SEL]}
`, check: func(t *testing.T, c Config) {
			if c.Auth != "basic" || c.RequestBudget != 50 || c.ThermalPower != "classic" || !c.skips("logs") || c.LogServices.MaxPages != 3 || time.Duration(c.LogServices.History) != 2*time.Hour {
				t.Errorf("decoded: %+v", c)
			}
		}},
		{name: "unknown key", yaml: "username: a\n\nexpnd: off\n", wantErr: `line 3: unknown redfish config key "expnd"`},
		{name: "unknown nested key", yaml: "tls:\n  ca: x\n", wantErr: `line 2: unknown redfish config key "tls.ca"`},
		{name: "inline password", yaml: "username: a\npassword: hunter2\n", wantErr: "line 2: password: secrets are only read from files"},
		{name: "bad auth", yaml: "auth: token\n", wantErr: `auth: "token": want one of auto, session, basic`},
		{name: "bad expand", yaml: "expand: always\n", wantErr: "expand:"},
		{name: "two passwords", yaml: "username: a\npassword_file: f\npassword_env: E\n", wantErr: "password_file: set together with password_env"},
		{name: "zero budget", yaml: "request_budget: 0\n", wantErr: "request_budget: 0"},
		{name: "bad skip", yaml: "skip: [fans]\n", wantErr: `skip: "fans"`},
		{name: "insecure and CA", yaml: "tls: {ca_file: ca.pem, insecure_skip_verify: true}\n", wantErr: "tls.insecure_skip_verify"},
		{name: "bad duration", yaml: "request_timeout: soon\n", wantErr: "soon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := yaml.Unmarshal([]byte(tc.yaml), &c)
			if err == nil {
				err = c.Validate()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestNewChecksFiles(t *testing.T) {
	c := DefaultConfig()
	c.Username, c.PasswordFile = "a", "/nonexistent/pw"
	if _, err := New(c, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "password_file") {
		t.Errorf("err = %v", err)
	}
	c = DefaultConfig()
	c.TLS.CAFile = "/nonexistent/ca.pem"
	if _, err := New(c, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "tls.ca_file") {
		t.Errorf("err = %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("username: a\npassword_env: X\nskip: [logs]\n")
	f.Add("tls: {insecure_skip_verify: true}\nlog_services: {history: 0s}\n")
	f.Fuzz(func(t *testing.T, s string) {
		var c Config
		if yaml.Unmarshal([]byte(s), &c) == nil {
			_ = c.Validate()
		}
	})
}
