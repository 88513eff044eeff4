package redfish

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/internal/yamlutil"
)

// Config is the redfish part of a job: how to reach and read every BMC of
// the job. Build one from DefaultConfig or by decoding YAML (which starts
// from the defaults).
type Config struct {
	// Username logs in to every BMC.
	Username string `yaml:"username"`
	// PasswordFile names a file holding the password (trailing newline
	// ignored), read again at every login so rotation needs no reload.
	PasswordFile string `yaml:"password_file"`
	// PasswordEnv names an environment variable holding the password.
	PasswordEnv string `yaml:"password_env"`
	// Auth is session, basic or auto (default): auto keeps one session per
	// BMC and falls back to basic authentication when the BMC cannot give one.
	Auth string `yaml:"auth"`
	// Scheme is used for targets given as host or host:port. Default https.
	Scheme string `yaml:"scheme"`
	// TLS configures https.
	TLS TLSConfig `yaml:"tls"`
	// RequestTimeout bounds one HTTP request. Default 10s.
	RequestTimeout model.Duration `yaml:"request_timeout"`
	// PollTimeout bounds one BMC's whole poll; 0 (default) leaves it to the
	// job's scrape_timeout.
	PollTimeout model.Duration `yaml:"poll_timeout"`
	// Retries is how many times a failed GET is tried again (network
	// error, 429 or 5xx), with exponential backoff. Default 2; -1 none.
	Retries int `yaml:"retries"`
	// MaxConcurrentRequestsPerBMC bounds requests in flight to one BMC.
	// Default 4 (BMCs have few HTTP workers).
	MaxConcurrentRequestsPerBMC int `yaml:"max_concurrent_requests_per_bmc"`
	// MaxConcurrentRequests bounds requests in flight over all the job's
	// BMCs. Default 512; 0 keeps the default, -1 means no limit.
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// RequestBudget is the most requests one poll of one BMC may send;
	// what is left unread is counted in redfish_poll_budget_exhausted.
	// Default 300.
	RequestBudget int `yaml:"request_budget"`
	// Expand is auto (default: use $expand when the service root advertises
	// it) or off.
	Expand string `yaml:"expand"`
	// ThermalPower chooses where temperatures, fans and power come from:
	// auto (default: ThermalSubsystem/PowerSubsystem/Sensors when the chassis
	// has them and the service expands collections, else the classic
	// Thermal/Power), classic, or subsystem.
	ThermalPower string `yaml:"thermal_power"`
	// Skip names resource groups not read: processors, memory,
	// memory_metrics, storage, ethernet_interfaces, network_adapters,
	// thermal, power, managers, logs.
	Skip []string `yaml:"skip"`
	// KeepAlive keeps connections to a BMC open between polls. Default
	// false: BMCs have few HTTP slots, so they are closed after each poll.
	KeepAlive bool `yaml:"keep_alive"`
	// LogServices configures reading the BMC logs (SEL, IML, event logs).
	LogServices LogConfig `yaml:"log_services"`
}

// TLSConfig configures https to the BMCs.
type TLSConfig struct {
	// CAFile verifies BMC certificates; empty uses the system roots. A
	// target's __ca_file__ label overrides it.
	CAFile string `yaml:"ca_file"`
	// ServerName overrides the name checked in the certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate (most BMCs ship
	// self-signed ones). It must be set explicitly.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// LogConfig configures log services.
type LogConfig struct {
	// Enabled reads the log services of systems, managers and chassis.
	// Default true.
	Enabled bool `yaml:"enabled"`
	// History is how far back the first read of a log after start goes;
	// older entries are only marked as seen. 0 hands over the whole log.
	// Default 1h.
	History model.Duration `yaml:"history"`
	// MaxPages bounds the pages (Members@odata.nextLink) read per log per
	// poll. Default 10.
	MaxPages int `yaml:"max_pages"`
	// Interval is the least time between two reads of a BMC's logs; polls
	// in between read only the metrics. Default 5m; 0 reads them every poll.
	Interval model.Duration `yaml:"interval"`
	// Services, when not empty, restricts reading to log services with
	// these Ids (e.g. [SEL, IML, Log1]).
	Services []string `yaml:"services"`
}

// skippable are the names Skip accepts.
func skippable() []string {
	return []string{"processors", "memory", "memory_metrics", "storage", "ethernet_interfaces", "network_adapters", "thermal", "power", "managers", "logs"}
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Auth:                        "auto",
		Scheme:                      "https",
		RequestTimeout:              model.Duration(10 * time.Second),
		Retries:                     2,
		MaxConcurrentRequestsPerBMC: 4,
		MaxConcurrentRequests:       512,
		RequestBudget:               300,
		Expand:                      "auto",
		ThermalPower:                "auto",
		LogServices: LogConfig{
			Enabled:  true,
			History:  model.Duration(time.Hour),
			MaxPages: 10,
			Interval: model.Duration(5 * time.Minute),
		},
	}
}

// UnmarshalYAML starts from DefaultConfig and refuses keys it does not know,
// naming the key and its line. A password written inline is refused with a
// pointer to password_file.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	*c = DefaultConfig()
	opts := yamlutil.KeyOptions{
		Noun:       "redfish config",
		Secrets:    map[string]string{"password": "password_file or password_env"},
		SecretRule: "are only read from files or the environment",
	}
	if err := yamlutil.CheckKeys(node, reflect.TypeFor[Config](), opts); err != nil {
		return err
	}
	type plain Config
	return node.Decode((*plain)(c))
}

// Validate checks the values, naming the field at fault. It does not read
// files; New does.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("redfish config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	oneOf := func(field, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(field, "%q: want one of %s", v, strings.Join(allowed, ", "))
	}
	oneOf("auth", c.Auth, "auto", "session", "basic")
	oneOf("scheme", c.Scheme, "https", "http")
	oneOf("expand", c.Expand, "auto", "off")
	oneOf("thermal_power", c.ThermalPower, "auto", "classic", "subsystem")
	if c.Username == "" && (c.PasswordFile != "" || c.PasswordEnv != "") {
		bad("username", "empty while a password is configured")
	}
	if c.PasswordFile != "" && c.PasswordEnv != "" {
		bad("password_file", "set together with password_env: choose one")
	}
	if c.RequestTimeout <= 0 {
		bad("request_timeout", "must be positive")
	}
	if c.PollTimeout < 0 {
		bad("poll_timeout", "must not be negative")
	}
	if c.Retries < -1 {
		bad("retries", "%d: want -1 (none) or more", c.Retries)
	}
	if c.MaxConcurrentRequestsPerBMC < 1 {
		bad("max_concurrent_requests_per_bmc", "%d: want 1 or more", c.MaxConcurrentRequestsPerBMC)
	}
	if c.MaxConcurrentRequests < -1 {
		bad("max_concurrent_requests", "%d: want -1 (no limit) or more", c.MaxConcurrentRequests)
	}
	if c.RequestBudget < 1 {
		bad("request_budget", "%d: want 1 or more", c.RequestBudget)
	}
	if c.LogServices.MaxPages < 1 {
		bad("log_services.max_pages", "%d: want 1 or more", c.LogServices.MaxPages)
	}
	if c.LogServices.Interval < 0 {
		bad("log_services.interval", "must not be negative")
	}
	if c.LogServices.History < 0 {
		bad("log_services.history", "must not be negative")
	}
	for _, s := range c.Skip {
		ok := false
		for _, k := range skippable() {
			ok = ok || s == k
		}
		if !ok {
			bad("skip", "%q: want any of %s", s, strings.Join(skippable(), ", "))
		}
	}
	if c.TLS.InsecureSkipVerify && c.TLS.CAFile != "" {
		bad("tls.insecure_skip_verify", "set together with tls.ca_file: choose one")
	}
	return errors.Join(errs...)
}

func (c *Config) skips(group string) bool {
	for _, s := range c.Skip {
		if s == group {
			return true
		}
	}
	return false
}

// passwordFunc returns how the password is read; file overrides the
// config's password_file (a target's __password_file__).
func (c *Config) passwordFunc(file string) func() (string, error) {
	if file == "" {
		file = c.PasswordFile
	}
	switch {
	case file != "":
		return func() (string, error) {
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("password_file: %w", err)
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}
	case c.PasswordEnv != "":
		env := c.PasswordEnv
		return func() (string, error) {
			v, ok := os.LookupEnv(env)
			if !ok {
				return "", fmt.Errorf("password_env: %s is not set", env)
			}
			return v, nil
		}
	}
	return func() (string, error) { return "", nil }
}
