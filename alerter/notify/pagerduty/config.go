package pagerduty

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/notify/internal/notifyutil"
)

// DefaultURL is PagerDuty's Events API v2 endpoint.
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// Config is one pagerduty_configs entry of a receiver.
type Config struct {
	// RoutingKeyFile names a file holding the integration's routing key
	// (32 characters); RoutingKeyEnv an environment variable holding it.
	// Exactly one is set: the key is never written in the config.
	RoutingKeyFile string `yaml:"routing_key_file"`
	RoutingKeyEnv  string `yaml:"routing_key_env"`
	// URL is the Events API v2 endpoint, as Alertmanager spells it
	// (…/v2/enqueue). Change events go to …/v2/change/enqueue next to it.
	URL string `yaml:"url"`
	// Timeout bounds one request. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// SendResolved, SendAcknowledged and SendChanges say whether resolves,
	// acknowledgements and change events are sent. Default true.
	SendResolved     bool `yaml:"send_resolved"`
	SendAcknowledged bool `yaml:"send_acknowledged"`
	SendChanges      bool `yaml:"send_changes"`
	// SeverityMap maps an incident's severity to PagerDuty's (critical,
	// error, warning, info). Severities it does not name keep their name
	// when it is one of PagerDuty's, else get DefaultSeverity.
	SeverityMap map[string]string `yaml:"severity_map"`
	// DefaultSeverity is PagerDuty's severity for an unknown one. Default error.
	DefaultSeverity string `yaml:"default_severity"`
	// Client and ClientURL name the sender in PagerDuty's UI. Defaults
	// "fleetwatch" and the message's externalURL.
	Client    string `yaml:"client"`
	ClientURL string `yaml:"client_url"`
	// MaxAlerts bounds the alerts listed in custom_details. Default 20; 0
	// lists none.
	MaxAlerts int `yaml:"max_alerts"`
	// RateLimitPerMinute is the most events sent per minute by this config,
	// PagerDuty's limit per routing key being 120. Beyond it a notification
	// is returned for retry with a Retry-After instead of being sent into a
	// 429. 0 disables the limit. Default 120.
	RateLimitPerMinute int `yaml:"rate_limit_per_minute"`
	// RepageOnEscalation pages again when an incident's severity rises: the
	// escalating trigger is sent with dedup_key "<incident>/<severity>",
	// which opens a new PagerDuty alert, and acknowledgements and resolves
	// go to those keys too. Default false: an escalation updates the
	// existing alert's severity without a new page.
	RepageOnEscalation bool `yaml:"repage_on_escalation"`
	// TLSConfig configures the TLS client.
	TLSConfig notifyutil.TLSConfig `yaml:"tls_config"`
}

// DefaultConfig returns the defaults listed on Config's fields.
func DefaultConfig() Config {
	return Config{
		URL:                DefaultURL,
		Timeout:            10 * time.Second,
		SendResolved:       true,
		SendAcknowledged:   true,
		SendChanges:        true,
		DefaultSeverity:    notify.SeverityError,
		Client:             "fleetwatch",
		MaxAlerts:          20,
		RateLimitPerMinute: 120,
	}
}

// inlineSecrets are keys Alertmanager users may write with the key inline.
var inlineSecrets = map[string]string{
	"routing_key": "routing_key_file or routing_key_env",
	"service_key": "routing_key_file or routing_key_env (Events API v2 routing key)",
}

// UnmarshalYAML starts from DefaultConfig and refuses unknown keys, naming
// the key and its line; an inline routing key is refused.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	*c = DefaultConfig()
	if err := notifyutil.CheckKeys(node, reflect.TypeFor[Config](), "pagerduty config", inlineSecrets); err != nil {
		return err
	}
	type plain Config
	return node.Decode((*plain)(c))
}

func (c *Config) secret() notifyutil.Secret {
	return notifyutil.Secret{File: c.RoutingKeyFile, Env: c.RoutingKeyEnv}
}

// Validate checks the config, naming every bad key. The routing key is
// read (never shown) to check it is set and, on PagerDuty's own endpoint,
// 32 characters long.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if key, err := c.secret().Read("routing_key_file", "routing_key_env"); err != nil {
		errs = append(errs, err)
	} else if err := checkKey(key, c.URL); err != nil {
		errs = append(errs, err)
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("url: %q must be an http or https URL", c.URL)
	}
	if c.Timeout <= 0 {
		bad("timeout: %s must be positive", c.Timeout)
	}
	for from, to := range c.SeverityMap {
		if notify.SeverityRank(to) == 0 {
			bad("severity_map: %q: %q is not one of critical, error, warning, info", from, to)
		}
	}
	if notify.SeverityRank(c.DefaultSeverity) == 0 {
		bad("default_severity: %q is not one of critical, error, warning, info", c.DefaultSeverity)
	}
	if c.MaxAlerts < 0 {
		bad("max_alerts: %d must be 0 or more", c.MaxAlerts)
	}
	if c.RateLimitPerMinute < 0 {
		bad("rate_limit_per_minute: %d must be 0 (no limit) or more", c.RateLimitPerMinute)
	}
	if _, err := c.TLSConfig.Build("tls_config"); err != nil {
		errs = append(errs, err)
	}
	return notifyutil.Join("pagerduty config", errs)
}

// checkKey applies PagerDuty's rule (32 characters) on PagerDuty's own
// endpoints; a compatible endpoint elsewhere may use other keys.
func checkKey(key, endpoint string) error {
	if strings.ContainsAny(key, " \t\r\n") {
		return fmt.Errorf("routing key: contains white space")
	}
	u, err := url.Parse(endpoint)
	if err == nil && strings.HasSuffix(u.Hostname(), "pagerduty.com") && len(key) != 32 {
		return fmt.Errorf("routing key: %d characters, PagerDuty's are 32", len(key))
	}
	return nil
}

// baseURL returns the endpoint go-pagerduty's client appends /v2/enqueue
// and /v2/change/enqueue to.
func (c *Config) baseURL() string {
	u := strings.TrimRight(c.URL, "/")
	u = strings.TrimSuffix(u, "/v2/enqueue")
	return u
}
