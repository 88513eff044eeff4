package webhook

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/alerter/notify/internal/notifyutil"
)

// Config is one webhook_configs entry of a receiver.
type Config struct {
	// URL is the endpoint. A URL often holds a token: it is never logged
	// or shown in errors. Prefer URLFile, which keeps it out of the config.
	URL string `yaml:"url"`
	// URLFile names a file holding the URL. Exactly one of URL and URLFile.
	URLFile string `yaml:"url_file"`
	// MaxAlerts bounds the alerts sent in one message; the rest are counted
	// in truncatedAlerts. 0 (the default) sends them all.
	MaxAlerts int `yaml:"max_alerts"`
	// Timeout bounds one request. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// SendResolved sends resolves. Default true.
	SendResolved bool `yaml:"send_resolved"`
	// Headers are sent with every request. Credentials (Authorization,
	// Cookie, Proxy-Authorization) are refused here: use HeaderFiles.
	Headers map[string]string `yaml:"headers"`
	// HeaderFiles maps a header name to a file holding its value, e.g.
	// Authorization: /etc/fleetwatch/hook.auth ("Bearer …").
	HeaderFiles map[string]string `yaml:"header_files"`
	// TLSConfig configures the TLS client.
	TLSConfig notifyutil.TLSConfig `yaml:"tls_config"`
}

// DefaultConfig returns the defaults listed on Config's fields.
func DefaultConfig() Config {
	return Config{Timeout: 10 * time.Second, SendResolved: true}
}

var inlineSecrets = map[string]string{
	"http_config.authorization": "header_files",
	"http_config.bearer_token":  "header_files",
	"http_config.basic_auth":    "header_files",
}

// credentialHeaders are header names whose value is a secret.
var credentialHeaders = map[string]bool{"Authorization": true, "Cookie": true, "Proxy-Authorization": true}

// UnmarshalYAML starts from DefaultConfig and refuses unknown keys, naming
// the key and its line.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	*c = DefaultConfig()
	if err := notifyutil.CheckKeys(node, reflect.TypeFor[Config](), "webhook config", inlineSecrets); err != nil {
		return err
	}
	type plain Config
	return node.Decode((*plain)(c))
}

// Validate checks the config, naming every bad key; it reads url_file and
// the header files to check them, and shows none of their content.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, err := c.target(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxAlerts < 0 {
		bad("max_alerts: %d must be 0 (all) or more", c.MaxAlerts)
	}
	if c.Timeout <= 0 {
		bad("timeout: %s must be positive", c.Timeout)
	}
	for name := range c.Headers {
		if credentialHeaders[http.CanonicalHeaderKey(name)] {
			bad("headers: %s: credentials are not written in the config, use header_files", name)
		} else if !validHeaderName(name) {
			bad("headers: %q is not a valid header name", name)
		}
	}
	if _, err := c.header(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.TLSConfig.Build("tls_config"); err != nil {
		errs = append(errs, err)
	}
	return notifyutil.Join("webhook config", errs)
}

// target returns the URL, read from url_file if set. Errors never hold it.
func (c *Config) target() (string, error) {
	u := c.URL
	switch {
	case c.URL != "" && c.URLFile != "":
		return "", fmt.Errorf("url and url_file: set one, not both")
	case c.URLFile != "":
		v, err := notifyutil.Secret{File: c.URLFile}.Read("url_file", "")
		if err != nil {
			return "", err
		}
		u = v
	case c.URL == "":
		return "", fmt.Errorf("url or url_file must be set")
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		key := "url"
		if c.URLFile != "" {
			key = "url_file"
		}
		return "", fmt.Errorf("%s: not an http or https URL (value not shown)", key)
	}
	return u, nil
}

// header returns the headers to send, the files read.
func (c *Config) header() (http.Header, error) {
	h := http.Header{}
	for k, v := range c.Headers {
		h.Set(k, v)
	}
	for k, file := range c.HeaderFiles {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("header_files: %q is not a valid header name", k)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("header_files: %s: %w", k, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("header_files: %s: file %q is empty or spans several lines", k, file)
		}
		h.Set(k, v)
	}
	return h, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}
