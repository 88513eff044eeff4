package slack

import (
	"fmt"
	"net/url"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/alerter/notify/internal/notifyutil"
)

// Config is one slack_configs entry of a receiver.
type Config struct {
	// URLFile names a file holding the incoming webhook URL; URLEnv an
	// environment variable holding it. Exactly one is set: the URL is the
	// credential and is never written in the config.
	URLFile string `yaml:"url_file"`
	URLEnv  string `yaml:"url_env"`
	// Channel, Username, IconEmoji and IconURL override the webhook's
	// defaults where the Slack app allows it. Empty keeps them.
	Channel   string `yaml:"channel"`
	Username  string `yaml:"username"`
	IconEmoji string `yaml:"icon_emoji"`
	IconURL   string `yaml:"icon_url"`
	// MaxAlerts is how many alerts the message lists. Default 5.
	MaxAlerts int `yaml:"max_alerts"`
	// Timeout bounds one request. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// SendResolved and SendAcknowledged say whether resolves and
	// acknowledgements are posted. Default true.
	SendResolved     bool `yaml:"send_resolved"`
	SendAcknowledged bool `yaml:"send_acknowledged"`
	// TLSConfig configures the TLS client.
	TLSConfig notifyutil.TLSConfig `yaml:"tls_config"`
}

// DefaultConfig returns the defaults listed on Config's fields.
func DefaultConfig() Config {
	return Config{MaxAlerts: 5, Timeout: 10 * time.Second, SendResolved: true, SendAcknowledged: true}
}

var inlineSecrets = map[string]string{
	"url":     "url_file or url_env",
	"api_url": "url_file or url_env",
}

// UnmarshalYAML starts from DefaultConfig and refuses unknown keys, naming
// the key and its line; an inline URL is refused.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	*c = DefaultConfig()
	if err := notifyutil.CheckKeys(node, reflect.TypeFor[Config](), "slack config", inlineSecrets); err != nil {
		return err
	}
	type plain Config
	return node.Decode((*plain)(c))
}

// Validate checks the config, naming every bad key; it reads the URL to
// check it and never shows it.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, err := c.target(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxAlerts < 0 {
		bad("max_alerts: %d must be 0 or more", c.MaxAlerts)
	}
	if c.Timeout <= 0 {
		bad("timeout: %s must be positive", c.Timeout)
	}
	if c.IconURL != "" {
		if u, err := url.Parse(c.IconURL); err != nil || u.Host == "" {
			bad("icon_url: %q is not a URL", c.IconURL)
		}
	}
	if _, err := c.TLSConfig.Build("tls_config"); err != nil {
		errs = append(errs, err)
	}
	return notifyutil.Join("slack config", errs)
}

func (c *Config) target() (string, error) {
	v, err := notifyutil.Secret{File: c.URLFile, Env: c.URLEnv}.Read("url_file", "url_env")
	if err != nil {
		return "", err
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("url_file/url_env: not an http or https URL (value not shown)")
	}
	return v, nil
}
