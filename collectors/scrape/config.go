package scrape

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"

	"github.com/alecthomas/units"
	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/internal/yamlutil"
)

// Config is the scrape part of a job: how to fetch and read one exporter. The
// keys and their defaults are those of a Prometheus scrape_config; the ones
// about targets, intervals, timeouts and relabeling belong to the scheduler.
//
// Build a Config from DefaultConfig (or by decoding YAML, which starts from the
// defaults): the zero value has honor_timestamps and enable_compression off.
type Config struct {
	// MetricsPath is the HTTP path fetched on every target. Default /metrics.
	MetricsPath string `yaml:"metrics_path"`
	// Scheme is http or https. Default http.
	Scheme string `yaml:"scheme"`
	// Params are URL query parameters added to every request, e.g.
	// module: [if_mib] for snmp_exporter.
	Params url.Values `yaml:"params"`
	// HonorTimestamps keeps the timestamps the exposition carries. When false
	// every sample gets the time of the collection. Default true.
	HonorTimestamps bool `yaml:"honor_timestamps"`
	// BodySizeLimit is the largest uncompressed body accepted, in bytes
	// (YAML also accepts units: 10MiB). 0 means no limit.
	BodySizeLimit ByteSize `yaml:"body_size_limit"`
	// SampleLimit fails a collection that exposes more samples. 0 = no limit.
	SampleLimit int `yaml:"sample_limit"`
	// LabelLimit fails a collection with a series of more labels (counting
	// __name__ and the labels as exposed). 0 = no limit.
	LabelLimit int `yaml:"label_limit"`
	// LabelNameLengthLimit fails a collection with a longer label name (in
	// bytes). 0 = no limit.
	LabelNameLengthLimit int `yaml:"label_name_length_limit"`
	// LabelValueLengthLimit fails a collection with a longer label value (in
	// bytes). 0 = no limit.
	LabelValueLengthLimit int `yaml:"label_value_length_limit"`
	// BasicAuth sends HTTP basic authentication, the password read from a file.
	BasicAuth *BasicAuth `yaml:"basic_auth"`
	// BearerTokenFile names a file whose content is sent as a bearer token.
	BearerTokenFile string `yaml:"bearer_token_file"`
	// TLSConfig configures https targets.
	TLSConfig TLSConfig `yaml:"tls_config"`
	// EnableCompression asks for a gzip-compressed body. Default true.
	EnableCompression bool `yaml:"enable_compression"`
	// FallbackScrapeProtocol is the format assumed when a target sends a
	// missing or unknown Content-Type (PrometheusText0.0.4,
	// PrometheusText1.0.0, OpenMetricsText0.0.1 or OpenMetricsText1.0.0).
	// Empty (the default) fails such a collection, as Prometheus does.
	FallbackScrapeProtocol string `yaml:"fallback_scrape_protocol"`
}

// BasicAuth is HTTP basic authentication. The password only comes from a file,
// read again on every request so that a rotated password is picked up.
type BasicAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

// TLSConfig configures the TLS client of https targets.
type TLSConfig struct {
	// CAFile verifies the target's certificate; empty uses the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate, both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the target's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables verification of the target's certificate.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// ByteSize is a size in bytes. In YAML it is an integer or a string with a
// base-2 unit (512KiB, 10MiB, 1GiB; KB, MB and GB are read as powers of 1024
// too, as Prometheus does).
type ByteSize int64

// UnmarshalYAML reads an integer or a size with a unit.
func (b *ByteSize) UnmarshalYAML(node *yaml.Node) error {
	var n int64
	if err := node.Decode(&n); err == nil {
		*b = ByteSize(n)
		return nil
	}
	var s string
	if err := node.Decode(&s); err != nil {
		return fmt.Errorf("line %d: size %q: want a number of bytes or a size such as 10MiB", node.Line, node.Value)
	}
	v, err := units.ParseBase2Bytes(s)
	if err != nil {
		return fmt.Errorf("line %d: size %q: want a number of bytes or a size such as 10MiB", node.Line, s)
	}
	*b = ByteSize(v)
	return nil
}

// scrapeProtocols maps the fallback_scrape_protocol names Prometheus uses to
// the media type they stand for.
var scrapeProtocols = map[string]string{
	"PrometheusText0.0.4":  "text/plain",
	"PrometheusText1.0.0":  "text/plain",
	"OpenMetricsText0.0.1": "application/openmetrics-text",
	"OpenMetricsText1.0.0": "application/openmetrics-text",
}

// DefaultConfig returns the defaults: GET /metrics over http, timestamps
// honoured, gzip asked for, no limits.
func DefaultConfig() Config {
	return Config{
		MetricsPath:       "/metrics",
		Scheme:            "http",
		HonorTimestamps:   true,
		EnableCompression: true,
	}
}

// ParseConfig decodes a YAML scrape config (unknown keys are errors), fills
// the defaults and validates it.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// UnmarshalYAML starts from DefaultConfig and refuses keys it does not know,
// naming the key and its line. A secret written inline (password,
// bearer_token) is refused with a pointer to the *_file key.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	*c = DefaultConfig()
	if err := yamlutil.CheckKeys(node, reflect.TypeFor[Config](), keyOptions()); err != nil {
		return err
	}
	type plain Config
	return node.Decode((*plain)(c))
}

// keyOptions word the errors of unknown keys. The secrets are keys
// Prometheus accepts with the secret in the config text; fleetwatch only
// reads secrets from files.
func keyOptions() yamlutil.KeyOptions {
	return yamlutil.KeyOptions{
		Noun: "scrape config",
		Secrets: map[string]string{
			"bearer_token":        "bearer_token_file",
			"basic_auth.password": "basic_auth.password_file",
			"tls_config.key":      "tls_config.key_file",
			"authorization":       "bearer_token_file",
		},
		SecretRule: "are only read from files",
	}
}

// Validate checks the config, naming the first bad key. Files named by the
// config must exist and be readable; their content is not checked here.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("scrape config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if !strings.HasPrefix(c.MetricsPath, "/") {
		bad("metrics_path", "%q must start with /", c.MetricsPath)
	}
	if c.Scheme != "http" && c.Scheme != "https" {
		bad("scheme", "%q must be http or https", c.Scheme)
	}
	for k := range c.Params {
		if k == "" {
			bad("params", "empty parameter name")
		}
	}
	for _, l := range []struct {
		key string
		v   int64
	}{
		{"body_size_limit", int64(c.BodySizeLimit)},
		{"sample_limit", int64(c.SampleLimit)},
		{"label_limit", int64(c.LabelLimit)},
		{"label_name_length_limit", int64(c.LabelNameLengthLimit)},
		{"label_value_length_limit", int64(c.LabelValueLengthLimit)},
	} {
		if l.v < 0 {
			bad(l.key, "%d must be 0 (no limit) or more", l.v)
		}
	}
	if c.BasicAuth != nil {
		if c.BasicAuth.Username == "" {
			bad("basic_auth.username", "must be set")
		}
		if c.BasicAuth.PasswordFile == "" {
			bad("basic_auth.password_file", "must be set")
		} else if err := readable(c.BasicAuth.PasswordFile); err != nil {
			bad("basic_auth.password_file", "%v", err)
		}
		if c.BearerTokenFile != "" {
			bad("bearer_token_file", "cannot be used together with basic_auth")
		}
	}
	if c.BearerTokenFile != "" {
		if err := readable(c.BearerTokenFile); err != nil {
			bad("bearer_token_file", "%v", err)
		}
	}
	tc := c.TLSConfig
	if (tc.CertFile == "") != (tc.KeyFile == "") {
		bad("tls_config", "cert_file and key_file must be set together")
	}
	for _, f := range []struct{ key, path string }{
		{"tls_config.ca_file", tc.CAFile},
		{"tls_config.cert_file", tc.CertFile},
		{"tls_config.key_file", tc.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if err := readable(f.path); err != nil {
			bad(f.key, "%v", err)
		}
	}
	if c.FallbackScrapeProtocol != "" {
		if _, ok := scrapeProtocols[c.FallbackScrapeProtocol]; !ok {
			bad("fallback_scrape_protocol", "%q is not one of PrometheusText0.0.4, PrometheusText1.0.0, OpenMetricsText0.0.1, OpenMetricsText1.0.0", c.FallbackScrapeProtocol)
		}
	}
	return errors.Join(errs...)
}

// readable reports whether path can be opened for reading, without keeping
// or showing its content.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}
