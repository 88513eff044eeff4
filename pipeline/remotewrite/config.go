package remotewrite

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

// Defaults, the same as Prometheus' remote_write except RetryOnHTTP429.
const (
	DefaultRemoteTimeout     = 30 * time.Second
	DefaultCapacity          = 10000
	DefaultMaxShards         = 50
	DefaultMinShards         = 1
	DefaultMaxSamplesPerSend = 2000
	DefaultBatchSendDeadline = 5 * time.Second
	DefaultMinBackoff        = 30 * time.Millisecond
	DefaultMaxBackoff        = 5 * time.Second
	DefaultMetadataInterval  = time.Minute
)

// Config is one entry of the remote_write list. The zero value of every
// optional key means its default; Validate fills them in.
type Config struct {
	// URL of the receiver's write endpoint, e.g.
	// http://vm:8428/api/v1/write. Required.
	URL string `yaml:"url"`
	// Name identifies the queue in metrics, logs and the position file
	// (<data>/remote_write/<name>.position). Default: the first 8 hex digits
	// of the URL's SHA-256. Letters, digits, '_', '-' and '.' only.
	Name string `yaml:"name,omitempty"`
	// RemoteTimeout bounds one request. Default 30s.
	RemoteTimeout model.Duration `yaml:"remote_timeout,omitempty"`
	// Headers are added to every request (e.g. X-Scope-OrgID). The
	// protocol's own headers and Authorization may not be set here.
	Headers map[string]string `yaml:"headers,omitempty"`
	// BearerTokenFile holds a token sent as "Authorization: Bearer". The
	// file is read for every request, so a rotated token takes effect
	// without a reload.
	BearerTokenFile string `yaml:"bearer_token_file,omitempty"`
	// BasicAuth sends a user name and a password read from a file.
	BasicAuth *BasicAuth `yaml:"basic_auth,omitempty"`
	// TLSConfig verifies the receiver and presents a client certificate.
	TLSConfig *TLSConfig `yaml:"tls_config,omitempty"`
	// QueueConfig tunes the shards, batches and retries.
	QueueConfig QueueConfig `yaml:"queue_config,omitempty"`
	// MetadataConfig controls the periodic sending of metric metadata.
	MetadataConfig MetadataConfig `yaml:"metadata_config,omitempty"`
	// WriteRelabelConfigs are applied to every series before it is sent
	// (Prometheus' relabel_config; action: drop keeps a series local).
	WriteRelabelConfigs []*relabel.Config `yaml:"write_relabel_configs,omitempty"`
}

// BasicAuth is HTTP basic authentication with the password in a file.
type BasicAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

// TLSConfig is the client's TLS setup; files are PEM.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file,omitempty"`
	ServerName         string `yaml:"server_name,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
}

// QueueConfig is Prometheus' queue_config.
type QueueConfig struct {
	// Capacity is how many samples each shard may hold before the WAL
	// reader waits for it. Default 10000.
	Capacity int `yaml:"capacity,omitempty"`
	// MaxShards and MinShards bound the number of concurrent senders.
	// Defaults 50 and 1.
	MaxShards int `yaml:"max_shards,omitempty"`
	MinShards int `yaml:"min_shards,omitempty"`
	// MaxSamplesPerSend is the largest batch of one request. Default 2000.
	MaxSamplesPerSend int `yaml:"max_samples_per_send,omitempty"`
	// BatchSendDeadline sends a batch that is not full after this long.
	// Default 5s.
	BatchSendDeadline model.Duration `yaml:"batch_send_deadline,omitempty"`
	// MinBackoff and MaxBackoff bound the wait between retries of a batch;
	// it doubles after every failed attempt. Defaults 30ms and 5s.
	MinBackoff model.Duration `yaml:"min_backoff,omitempty"`
	MaxBackoff model.Duration `yaml:"max_backoff,omitempty"`
	// RetryOnHTTP429 retries batches the receiver answered with 429 Too
	// Many Requests (honouring Retry-After). Default true: unlike
	// Prometheus, a rate-limited batch is delayed, not dropped.
	RetryOnHTTP429 *bool `yaml:"retry_on_http_429,omitempty"`
}

// MetadataConfig is Prometheus' metadata_config.
type MetadataConfig struct {
	// Send turns the sending of TYPE/HELP/UNIT on or off. Default true.
	Send *bool `yaml:"send,omitempty"`
	// SendInterval is how often all metadata is sent. Default 1m.
	SendInterval model.Duration `yaml:"send_interval,omitempty"`
	// MaxSamplesPerSend is the most metadata entries per request.
	// Default 2000.
	MaxSamplesPerSend int `yaml:"max_samples_per_send,omitempty"`
}

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	// reservedHeaders are set by the protocol or by the auth keys.
	reservedHeaders = map[string]bool{
		"Authorization":                     true,
		"Host":                              true,
		"Content-Encoding":                  true,
		"Content-Length":                    true,
		"Content-Type":                      true,
		"User-Agent":                        true,
		"Connection":                        true,
		"Keep-Alive":                        true,
		"Proxy-Authenticate":                true,
		"Proxy-Authorization":               true,
		"Www-Authenticate":                  true,
		"X-Prometheus-Remote-Write-Version": true,
	}
)

// ResolvePaths makes the *_file keys relative to dir (the directory of the
// config file) when they are not absolute.
func (c *Config) ResolvePaths(dir string) {
	join := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.BearerTokenFile = join(c.BearerTokenFile)
	if c.BasicAuth != nil {
		c.BasicAuth.PasswordFile = join(c.BasicAuth.PasswordFile)
	}
	if c.TLSConfig != nil {
		c.TLSConfig.CAFile = join(c.TLSConfig.CAFile)
		c.TLSConfig.CertFile = join(c.TLSConfig.CertFile)
		c.TLSConfig.KeyFile = join(c.TLSConfig.KeyFile)
	}
}

// Validate fills in the defaults and checks every key; the error names the
// endpoint (its name or URL) and the key.
func (c *Config) Validate() error {
	who := c.Name
	if who == "" {
		who = redactURL(c.URL)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("remote_write %q: %s", who, fmt.Sprintf(format, args...))
	}
	if c.URL == "" {
		return fail("url: required")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fail("url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fail("url: scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return fail("url: no host")
	}
	if u.User != nil {
		return fail("url: credentials in the URL are not allowed, use basic_auth")
	}
	if c.Name == "" {
		sum := sha256.Sum256([]byte(c.URL))
		c.Name = hex.EncodeToString(sum[:4])
	} else if !nameRE.MatchString(c.Name) {
		return fail("name: only letters, digits, '_', '-' and '.' are allowed")
	}
	if c.RemoteTimeout == 0 {
		c.RemoteTimeout = model.Duration(DefaultRemoteTimeout)
	}
	if c.RemoteTimeout < 0 {
		return fail("remote_timeout: must be positive")
	}
	for k := range c.Headers {
		if reservedHeaders[http.CanonicalHeaderKey(k)] {
			return fail("headers: %s is set by fleetwatch and may not be overridden", k)
		}
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, " \t\r\n:") {
			return fail("headers: invalid header name %q", k)
		}
	}
	if c.BearerTokenFile != "" && c.BasicAuth != nil {
		return fail("bearer_token_file and basic_auth are mutually exclusive")
	}
	if c.BasicAuth != nil && (c.BasicAuth.Username == "" || c.BasicAuth.PasswordFile == "") {
		return fail("basic_auth: username and password_file are required")
	}
	if t := c.TLSConfig; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		return fail("tls_config: cert_file and key_file go together")
	}
	if err := c.QueueConfig.validate(); err != nil {
		return fail("queue_config: %v", err)
	}
	if err := c.MetadataConfig.validate(); err != nil {
		return fail("metadata_config: %v", err)
	}
	for i, rc := range c.WriteRelabelConfigs {
		if rc == nil {
			return fail("write_relabel_configs[%d]: empty", i)
		}
		if err := rc.Validate(model.UTF8Validation); err != nil {
			return fail("write_relabel_configs[%d]: %v", i, err)
		}
	}
	return nil
}

func (q *QueueConfig) validate() error {
	def := func(v *int, d int, key string) error {
		if *v == 0 {
			*v = d
		}
		if *v < 0 {
			return fmt.Errorf("%s: must be positive", key)
		}
		return nil
	}
	defDur := func(v *model.Duration, d time.Duration, key string) error {
		if *v == 0 {
			*v = model.Duration(d)
		}
		if *v < 0 {
			return fmt.Errorf("%s: must be positive", key)
		}
		return nil
	}
	if err := errors.Join(
		def(&q.Capacity, DefaultCapacity, "capacity"),
		def(&q.MaxShards, DefaultMaxShards, "max_shards"),
		def(&q.MinShards, DefaultMinShards, "min_shards"),
		def(&q.MaxSamplesPerSend, DefaultMaxSamplesPerSend, "max_samples_per_send"),
		defDur(&q.BatchSendDeadline, DefaultBatchSendDeadline, "batch_send_deadline"),
		defDur(&q.MinBackoff, DefaultMinBackoff, "min_backoff"),
		defDur(&q.MaxBackoff, DefaultMaxBackoff, "max_backoff"),
	); err != nil {
		return err
	}
	if q.MinShards > q.MaxShards {
		return fmt.Errorf("min_shards (%d) is above max_shards (%d)", q.MinShards, q.MaxShards)
	}
	if q.MinBackoff > q.MaxBackoff {
		return fmt.Errorf("min_backoff (%s) is above max_backoff (%s)", q.MinBackoff, q.MaxBackoff)
	}
	if q.Capacity < q.MaxSamplesPerSend {
		return fmt.Errorf("capacity (%d) is below max_samples_per_send (%d)", q.Capacity, q.MaxSamplesPerSend)
	}
	if q.RetryOnHTTP429 == nil {
		t := true
		q.RetryOnHTTP429 = &t
	}
	return nil
}

func (m *MetadataConfig) validate() error {
	if m.Send == nil {
		t := true
		m.Send = &t
	}
	if m.SendInterval == 0 {
		m.SendInterval = model.Duration(DefaultMetadataInterval)
	}
	if m.SendInterval < 0 {
		return errors.New("send_interval: must be positive")
	}
	if m.MaxSamplesPerSend == 0 {
		m.MaxSamplesPerSend = DefaultMaxSamplesPerSend
	}
	if m.MaxSamplesPerSend < 0 {
		return errors.New("max_samples_per_send: must be positive")
	}
	return nil
}

// httpClientConfig is the prometheus/common client configuration for c:
// secrets stay in files that the client reads per request.
func (c *Config) httpClientConfig() config_util.HTTPClientConfig {
	hc := config_util.HTTPClientConfig{FollowRedirects: true}
	if c.BearerTokenFile != "" {
		hc.Authorization = &config_util.Authorization{Type: "Bearer", CredentialsFile: c.BearerTokenFile}
	}
	if c.BasicAuth != nil {
		hc.BasicAuth = &config_util.BasicAuth{Username: c.BasicAuth.Username, PasswordFile: c.BasicAuth.PasswordFile}
	}
	if t := c.TLSConfig; t != nil {
		hc.TLSConfig = config_util.TLSConfig{
			CAFile:             t.CAFile,
			CertFile:           t.CertFile,
			KeyFile:            t.KeyFile,
			ServerName:         t.ServerName,
			InsecureSkipVerify: t.InsecureSkipVerify,
		}
	}
	return hc
}

// redactURL drops credentials and the query string for logs and labels.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
