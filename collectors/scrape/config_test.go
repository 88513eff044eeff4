package scrape

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	pass := writeFile(t, "pass", "pw")
	for _, tc := range []struct {
		name    string
		yaml    string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults", yaml: "{}", check: func(t *testing.T, c Config) {
			if c.MetricsPath != "/metrics" || c.Scheme != "http" || !c.HonorTimestamps || !c.EnableCompression ||
				c.BodySizeLimit != 0 || c.SampleLimit != 0 {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{name: "every key", yaml: `
metrics_path: /snmp
scheme: https
params: {module: [if_mib], target: [sw1]}
honor_timestamps: false
body_size_limit: 10MiB
sample_limit: 5000
label_limit: 30
label_name_length_limit: 200
label_value_length_limit: 1024
basic_auth: {username: prom, password_file: ` + pass + `}
tls_config: {ca_file: ` + pass + `, server_name: sw1.example, insecure_skip_verify: true}
enable_compression: false
fallback_scrape_protocol: PrometheusText0.0.4
`, check: func(t *testing.T, c Config) {
			if c.MetricsPath != "/snmp" || c.Scheme != "https" || c.Params.Get("module") != "if_mib" || c.HonorTimestamps ||
				c.BodySizeLimit != 10<<20 || c.SampleLimit != 5000 || c.LabelLimit != 30 || c.LabelNameLengthLimit != 200 ||
				c.LabelValueLengthLimit != 1024 || c.BasicAuth == nil || c.BasicAuth.Username != "prom" ||
				c.TLSConfig.ServerName != "sw1.example" || !c.TLSConfig.InsecureSkipVerify || c.EnableCompression ||
				c.FallbackScrapeProtocol != "PrometheusText0.0.4" {
				t.Errorf("config = %+v", c)
			}
		}},
		{name: "body size in bytes", yaml: "body_size_limit: 4096", check: func(t *testing.T, c Config) {
			if c.BodySizeLimit != 4096 {
				t.Errorf("body_size_limit = %d", c.BodySizeLimit)
			}
		}},
		{name: "unknown key", yaml: "metrics_path: /m\nscrape_intervall: 10s\n", wantErr: `line 2: unknown scrape config key "scrape_intervall"`},
		{name: "unknown nested key", yaml: "tls_config:\n  ca: x\n", wantErr: `line 2: unknown scrape config key "tls_config.ca"`},
		{name: "inline password", yaml: "basic_auth:\n  username: u\n  password: hunter2\n", wantErr: "line 3: basic_auth.password: secrets are only read from files, use basic_auth.password_file"},
		{name: "inline token", yaml: "bearer_token: abc\n", wantErr: "bearer_token_file"},
		{name: "bad size", yaml: "body_size_limit: lots\n", wantErr: `line 1: size "lots"`},
		{name: "bad path", yaml: "metrics_path: metrics\n", wantErr: "metrics_path: \"metrics\" must start with /"},
		{name: "bad scheme", yaml: "scheme: ftp\n", wantErr: "scheme: \"ftp\" must be http or https"},
		{name: "negative limit", yaml: "sample_limit: -1\n", wantErr: "sample_limit: -1 must be 0"},
		{name: "missing password file", yaml: "basic_auth: {username: u, password_file: /nonexistent/pw}\n", wantErr: "basic_auth.password_file: open /nonexistent/pw"},
		{name: "no username", yaml: "basic_auth: {password_file: " + pass + "}\n", wantErr: "basic_auth.username: must be set"},
		{name: "two auths", yaml: "basic_auth: {username: u, password_file: " + pass + "}\nbearer_token_file: " + pass + "\n", wantErr: "bearer_token_file: cannot be used together with basic_auth"},
		{name: "cert without key", yaml: "tls_config: {cert_file: " + pass + "}\n", wantErr: "tls_config: cert_file and key_file must be set together"},
		{name: "bad fallback", yaml: "fallback_scrape_protocol: PrometheusProto\n", wantErr: "fallback_scrape_protocol: \"PrometheusProto\" is not one of"},
		{name: "wrong type", yaml: "sample_limit: many\n", wantErr: "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error shows the secret: %v", err)
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

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Scheme = "gopher"
	if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Fatalf("New = %v, want an error naming scheme", err)
	}
}

func TestLineOfEntry(t *testing.T) {
	body := []byte("a 1\n\n  \nb 2\nc 3")
	for _, tc := range []struct {
		n         int
		skipBlank bool
		want      int
	}{
		{0, true, 1}, {1, true, 4}, {2, true, 5}, {3, true, 6},
		{0, false, 1}, {1, false, 2}, {3, false, 4}, {5, false, 6},
	} {
		t.Run(strings.ReplaceAll(strings.Join([]string{string(rune('0' + tc.n)), map[bool]string{true: "skip", false: "keep"}[tc.skipBlank]}, "-"), " ", ""), func(t *testing.T) {
			if got := lineOfEntry(body, tc.n, tc.skipBlank); got != tc.want {
				t.Errorf("lineOfEntry(%d, %v) = %d, want %d", tc.n, tc.skipBlank, got, tc.want)
			}
		})
	}
}
