package webhook

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfig(t *testing.T) {
	urlFile := writeFile(t, "url", "https://hooks.example/x?token=abc\n")
	badURL := writeFile(t, "badurl", "hooks.example/x\n")
	auth := writeFile(t, "auth", "Bearer abc\n")
	multi := writeFile(t, "multi", "a\nb\n")
	for _, tc := range []struct {
		name, yaml, errHas string
	}{
		{"url", "url: http://127.0.0.1:5001/hook", ""},
		{"url_file", "url_file: " + urlFile, ""},
		{"all keys", "url_file: " + urlFile + `
max_alerts: 50
timeout: 2s
send_resolved: false
headers: {X-Team: storage}
header_files: {Authorization: ` + auth + `}
tls_config: {server_name: hooks.example}
`, ""},
		{"none", "timeout: 1s", "url or url_file must be set"},
		{"both", "url: http://a/\nurl_file: " + urlFile, "set one, not both"},
		{"bad url", "url: hooks.example", "url: not an http or https URL"},
		{"bad url in file", "url_file: " + badURL, "url_file: not an http or https URL"},
		{"missing url file", "url_file: /nonexistent", "url_file: open /nonexistent"},
		{"unknown key", "url: http://a/\nsend_resolve: true", `line 2: webhook config: unknown key "send_resolve"`},
		{"alertmanager http_config", "url: http://a/\nhttp_config:\n  bearer_token: x", "line 2: webhook config: unknown key \"http_config\""},
		{"inline credential header", "url: http://a/\nheaders: {authorization: x}", "headers: authorization: credentials are not written in the config, use header_files"},
		{"bad header name", "url: http://a/\nheaders: {\"X Team\": x}", `headers: "X Team" is not a valid header name`},
		{"missing header file", "url: http://a/\nheader_files: {Authorization: /nonexistent}", "header_files: Authorization: open /nonexistent"},
		{"multi-line header file", "url: http://a/\nheader_files: {X-Token: " + multi + "}", "spans several lines"},
		{"negative max_alerts", "url: http://a/\nmax_alerts: -1", "max_alerts"},
		{"zero timeout", "url: http://a/\ntimeout: 0s", "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := yaml.Unmarshal([]byte(tc.yaml), &c)
			if err == nil {
				err = c.Validate()
			}
			switch {
			case tc.errHas == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Errorf("error %v, want one containing %q", err, tc.errHas)
			}
		})
	}
	var c Config
	if err := yaml.Unmarshal([]byte("url: http://a/"), &c); err != nil {
		t.Fatal(err)
	}
	if c.Timeout != 10*time.Second || !c.SendResolved || c.MaxAlerts != 0 {
		t.Errorf("defaults: %+v", c)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add("url: http://a/\nheaders: {X: y}\n")
	f.Add("url_file: /x\nmax_alerts: 3\ntls_config: {ca_file: /y}\n")
	f.Add("header_files: {\"\": /x}\n")
	f.Fuzz(func(t *testing.T, text string) {
		var c Config
		if err := yaml.Unmarshal([]byte(text), &c); err != nil {
			return
		}
		_ = c.Validate()
	})
}
