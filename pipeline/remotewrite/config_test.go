package remotewrite

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{"defaults", "url: http://vm:8428/api/v1/write\n", ""},
		{"full", `
url: https://mimir.example/api/v1/push
name: mimir-eu
remote_timeout: 10s
headers: {X-Scope-OrgID: fleet}
bearer_token_file: /etc/fleetwatch/mimir.token
tls_config: {ca_file: /etc/ca.pem, server_name: mimir.example}
queue_config: {capacity: 20000, max_shards: 8, min_shards: 2, max_samples_per_send: 5000, batch_send_deadline: 2s, min_backoff: 50ms, max_backoff: 10s, retry_on_http_429: false}
metadata_config: {send: false}
write_relabel_configs:
  - source_labels: [__name__]
    regex: go_.*
    action: drop
`, ""},
		{"missing url", "name: x\n", `url: required`},
		{"bad scheme", "url: ftp://vm/\n", `scheme must be http or https`},
		{"credentials in url", "url: http://u:p@vm/\n", `credentials in the URL`},
		{"bad name", "url: http://vm/\nname: a/b\n", `name: only letters`},
		{"reserved header", "url: http://vm/\nheaders: {Authorization: x}\n", `headers: Authorization is set by fleetwatch`},
		{"two auths", "url: http://vm/\nbearer_token_file: t\nbasic_auth: {username: u, password_file: p}\n", `mutually exclusive`},
		{"basic auth without file", "url: http://vm/\nbasic_auth: {username: u}\n", `basic_auth: username and password_file`},
		{"cert without key", "url: http://vm/\ntls_config: {cert_file: c}\n", `cert_file and key_file`},
		{"shards", "url: http://vm/\nqueue_config: {min_shards: 5, max_shards: 2}\n", `queue_config: min_shards (5) is above max_shards (2)`},
		{"capacity", "url: http://vm/\nqueue_config: {capacity: 10, max_samples_per_send: 100}\n", `capacity (10) is below`},
		{"negative", "url: http://vm/\nqueue_config: {max_samples_per_send: -1}\n", `max_samples_per_send: must be positive`},
		{"backoff", "url: http://vm/\nqueue_config: {min_backoff: 10s, max_backoff: 1s}\n", `min_backoff (10s) is above`},
		{"relabel", "url: http://vm/\nwrite_relabel_configs: [{action: replace, source_labels: [a]}]\n", `write_relabel_configs[0]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			dec := yaml.NewDecoder(strings.NewReader(tc.yaml))
			dec.KnownFields(true)
			if err := dec.Decode(&c); err != nil {
				if tc.wantErr != "" && strings.Contains(err.Error(), tc.wantErr) {
					return
				}
				t.Fatalf("decode: %v", err)
			}
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if c.Name == "" || c.QueueConfig.MaxSamplesPerSend == 0 || c.QueueConfig.RetryOnHTTP429 == nil || c.MetadataConfig.Send == nil {
					t.Errorf("defaults not filled in: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate error = %v, want it to contain %q", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "remote_write ") {
				t.Errorf("error %q does not name the endpoint", err)
			}
		})
	}
}

func TestValidateConfigsDuplicates(t *testing.T) {
	_, err := ValidateConfigs([]Config{{URL: "http://a/", Name: "x"}, {URL: "http://b/", Name: "x"}})
	if err == nil || !strings.Contains(err.Error(), `remote_write[1]: name "x" is already used by remote_write[0]`) {
		t.Errorf("duplicate names: err = %v", err)
	}
	_, err = ValidateConfigs([]Config{{URL: "http://a/"}, {URL: "http://a/"}})
	if err == nil || !strings.Contains(err.Error(), "give each a name") {
		t.Errorf("duplicate URLs: err = %v", err)
	}
}

func TestParsePosition(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Position
		wantErr  string
	}{
		{"ok", positionHeader + "\nsegment 12\noffset 4096\n", Position{12, 4096}, ""},
		{"no header", "segment 1\noffset 2\n", Position{}, "line 1: not a position file"},
		{"missing offset", positionHeader + "\nsegment 1\n", Position{}, "segment and offset are both required"},
		{"negative", positionHeader + "\nsegment -1\noffset 0\n", Position{}, "line 2: segment: want a non-negative integer"},
		{"unknown key", positionHeader + "\nsegment 1\noffset 0\nshard 3\n", Position{}, `line 4: unknown key "shard"`},
		{"empty", "", Position{}, "empty file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePosition([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func FuzzParsePosition(f *testing.F) {
	f.Add([]byte(positionHeader + "\nsegment 12\noffset 4096\n"))
	f.Add([]byte(positionHeader + "\nsegment 99999999999\noffset 1\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePosition(b)
		if err != nil {
			return
		}
		// What parses must survive a round trip.
		text, _ := p.MarshalText()
		q, err := ParsePosition(text)
		if err != nil || q != p {
			t.Fatalf("round trip of %v: %v, %v", p, q, err)
		}
	})
}

func FuzzConfig(f *testing.F) {
	f.Add("url: http://vm:8428/api/v1/write\nqueue_config: {max_shards: 3}\n")
	f.Add("url: https://x/\nbasic_auth: {username: u, password_file: p}\nwrite_relabel_configs: [{action: drop, regex: a.*}]\n")
	f.Add("url: http://[::1\n")
	f.Fuzz(func(t *testing.T, in string) {
		var c Config
		if err := yaml.Unmarshal([]byte(in), &c); err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			if !strings.HasPrefix(err.Error(), "remote_write ") {
				t.Fatalf("error does not name the endpoint: %v", err)
			}
			return
		}
		// A valid config has its defaults and is valid again.
		if c.Name == "" || c.QueueConfig.Capacity < c.QueueConfig.MaxSamplesPerSend || c.QueueConfig.MinShards > c.QueueConfig.MaxShards {
			t.Fatalf("validated config is inconsistent: %+v", c)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("second Validate: %v", err)
		}
	})
}
