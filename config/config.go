package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/collectors/host"
	"github.com/fleetwatch/fleetwatch/collectors/probe"
	"github.com/fleetwatch/fleetwatch/collectors/redfish"
	"github.com/fleetwatch/fleetwatch/collectors/scrape"
	"github.com/fleetwatch/fleetwatch/collectors/snmp"
	"github.com/fleetwatch/fleetwatch/collectors/snmp/traps"
	"github.com/fleetwatch/fleetwatch/internal/yamlutil"
	"github.com/fleetwatch/fleetwatch/inventory"
	"github.com/fleetwatch/fleetwatch/pipeline/remotewrite"
)

// Job types.
const (
	TypeHost    = "host"
	TypeScrape  = "scrape"
	TypeSNMP    = "snmp"
	TypeRedfish = "redfish"
	TypeProbe   = "probe"
)

// jobTypes lists the types and the key of each one's settings block.
var jobTypes = []string{TypeHost, TypeScrape, TypeSNMP, TypeRedfish, TypeProbe}

// Config is the whole of fleetwatch.yml.
type Config struct {
	Global    GlobalConfig    `yaml:"global"`
	Server    ServerConfig    `yaml:"server"`
	Storage   StorageConfig   `yaml:"storage"`
	Query     QueryConfig     `yaml:"query"`
	Inventory InventoryConfig `yaml:"inventory"`
	// RuleFiles are globs of Prometheus rule files, or pack:<name> for a
	// built-in rule pack. Relative paths are relative to the config file.
	RuleFiles []string `yaml:"rule_files"`
	// RuleQuery evaluates rules against a remote Prometheus-compatible
	// query endpoint instead of the embedded TSDB (the scale-out path).
	RuleQuery RuleQueryConfig `yaml:"rule_query"`
	Jobs      []JobConfig     `yaml:"jobs"`
	// SNMPAuths are named SNMP credentials that snmp jobs and the trap
	// receiver refer to (public_v2 always exists).
	SNMPAuths snmp.Auths `yaml:"snmp_auths"`
	// SNMPTraps enables the SNMP trap receiver when present.
	SNMPTraps *traps.Config `yaml:"snmp_traps"`
	// RemoteWrite sends every stored sample to Prometheus remote-write
	// receivers (VictoriaMetrics, Mimir, Thanos, Prometheus).
	RemoteWrite []remotewrite.Config `yaml:"remote_write"`
	// Sharding splits the targets of every job between several instances.
	Sharding ShardingConfig `yaml:"sharding"`
	// Alerting configures incidents, routing, paging and remediation.
	Alerting AlertingConfig `yaml:"alerting"`
	// Simulate, when present, runs a simulated datacenter on loopback and
	// adds it to the inventory (demos and trials; see docs/simulate.md).
	Simulate *SimulateConfig `yaml:"simulate"`

	// File is the path the config was loaded from ("" for the defaults).
	File string `yaml:"-"`
}

// GlobalConfig holds defaults for every job and rule group.
type GlobalConfig struct {
	ScrapeInterval     model.Duration    `yaml:"scrape_interval"`
	ScrapeTimeout      model.Duration    `yaml:"scrape_timeout"`
	EvaluationInterval model.Duration    `yaml:"evaluation_interval"`
	ExternalLabels     map[string]string `yaml:"external_labels"`
	// Concurrency bounds the collections running at once across all jobs.
	Concurrency int `yaml:"concurrency"`
}

// ServerConfig is the HTTP server (API, UI, /metrics).
type ServerConfig struct {
	ListenAddress string `yaml:"listen_address"`
	// ExternalURL is how users reach fleetwatch (links in alerts and pages).
	ExternalURL string `yaml:"external_url"`
	// WebConfigFile is Prometheus' web configuration file: TLS (certificates
	// re-read on every handshake, so renewals need no restart), client
	// certificates, basic_auth_users with bcrypt hashes, HTTP headers.
	WebConfigFile string `yaml:"web_config_file"`
}

// StorageConfig is the embedded TSDB.
type StorageConfig struct {
	Path                 string           `yaml:"path"`
	RetentionTime        model.Duration   `yaml:"retention_time"`
	RetentionSize        units.Base2Bytes `yaml:"retention_size"`
	OutOfOrderTimeWindow model.Duration   `yaml:"out_of_order_time_window"`
}

// QueryConfig limits PromQL queries.
type QueryConfig struct {
	Timeout       model.Duration `yaml:"timeout"`
	MaxSamples    int            `yaml:"max_samples"`
	LookbackDelta model.Duration `yaml:"lookback_delta"`
	MaxConcurrent int            `yaml:"max_concurrent"`
}

// RuleQueryConfig points rule evaluation at a remote query API.
type RuleQueryConfig struct {
	// URL is the base URL of a Prometheus-compatible API (Prometheus,
	// VictoriaMetrics, Mimir, Thanos): /api/v1/query is appended. Empty:
	// rules query the embedded TSDB.
	URL string `yaml:"url"`
	// Timeout bounds one query (default: the evaluation interval).
	Timeout model.Duration `yaml:"timeout"`
}

// ShardingConfig: with Shards > 1, this instance collects only the targets
// whose stable hash (of job name and address) modulo Shards is Shard.
type ShardingConfig struct {
	Shards int `yaml:"shards"`
	Shard  int `yaml:"shard"`
}

// AlertingConfig points at the alerter's files and store.
type AlertingConfig struct {
	// ConfigFile is Alertmanager-shaped: route, receivers, inhibit_rules,
	// time_intervals, plus fleetwatch's correlation, maintenance and outbox
	// (docs/alerter.md). Empty: every alert goes to one receiver that
	// records incidents and pages nobody.
	ConfigFile string `yaml:"config_file"`
	// RemediationFile lists the guarded remediations (docs/remediation.md).
	RemediationFile string `yaml:"remediation_file"`
	// TokensFile holds the API's bearer tokens (docs/api/incidents.md).
	// Empty: the incidents API and the UI take no token, with write access
	// (for a server listening on loopback only).
	TokensFile string           `yaml:"tokens_file"`
	Store      AlertStoreConfig `yaml:"store"`
	// Retention deletes timeline events, resolved alerts, finished
	// notifications and remediation runs older than this (default 90d).
	Retention model.Duration `yaml:"retention"`
	// HA tunes several instances sharing one PostgreSQL store.
	HA AlertingHAConfig `yaml:"ha"`
}

// AlertingHAConfig: on a PostgreSQL store one instance holds a lease and
// groups and pages; the others store alerts and take over when it lapses.
type AlertingHAConfig struct {
	// Disabled makes this instance act alone even on a shared store.
	Disabled bool `yaml:"disabled"`
	// LeaseTTL bounds failover after the active instance dies (default 10s).
	LeaseTTL model.Duration `yaml:"lease_ttl"`
	// RetryInterval is how often a standby tries to take over (default 1s).
	RetryInterval model.Duration `yaml:"retry_interval"`
}

// AlertStoreConfig chooses where incidents live.
type AlertStoreConfig struct {
	// Path is the SQLite file (default <storage.path>/alerter.db).
	Path string `yaml:"path"`
	// PostgresDSNFile holds a PostgreSQL DSN; set, PostgreSQL is used
	// instead of SQLite (several instances may share it).
	PostgresDSNFile string `yaml:"postgres_dsn_file"`
	// Synchronous is SQLite's durability: full (default, survives power
	// loss) or normal (survives a crash of fleetwatch).
	Synchronous string `yaml:"synchronous"`
}

// SimulateConfig sizes the simulated fleet.
type SimulateConfig struct {
	Sites          int `yaml:"sites"`
	RacksPerSite   int `yaml:"racks_per_site"`
	ServersPerRack int `yaml:"servers_per_rack"`
	// BMCUsername and BMCPasswordFile are the credentials the simulated BMCs
	// accept (a redfish job logs in with the same).
	BMCUsername     string         `yaml:"bmc_username"`
	BMCPasswordFile string         `yaml:"bmc_password_file"`
	BMCLatency      model.Duration `yaml:"bmc_latency"`
	// ControlAddress serves the fault-injection endpoint of the BMCs.
	ControlAddress string `yaml:"control_address"`
}

// InventoryConfig says where the fleet model comes from.
type InventoryConfig struct {
	// File is inventory.yml; relative to the config file. Empty: no inventory.
	File string `yaml:"file"`
}

// StaticConfig lists targets by hand, as in Prometheus.
type StaticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

// JobConfig is one collection job.
type JobConfig struct {
	JobName string `yaml:"job_name"`
	// Type is the collector: host or scrape.
	Type           string         `yaml:"type"`
	ScrapeInterval model.Duration `yaml:"scrape_interval"`
	ScrapeTimeout  model.Duration `yaml:"scrape_timeout"`
	HonorLabels    bool           `yaml:"honor_labels"`
	// SampleLimit fails a collection storing more samples (0 = no limit).
	SampleLimit          int                 `yaml:"sample_limit"`
	StaticConfigs        []StaticConfig      `yaml:"static_configs"`
	Inventory            *inventory.Selector `yaml:"inventory"`
	RelabelConfigs       []*relabel.Config   `yaml:"relabel_configs"`
	MetricRelabelConfigs []*relabel.Config   `yaml:"metric_relabel_configs"`
	Host                 *host.Config        `yaml:"host"`
	Scrape               *scrape.Config      `yaml:"scrape"`
	SNMP                 *snmp.Config        `yaml:"snmp"`
	Redfish              *redfish.Config     `yaml:"redfish"`
	Probe                *probe.Config       `yaml:"probe"`

	line int
	node *yaml.Node
}

// Default returns the configuration used when no file is given: this host's
// metrics, stored under ./data, served on 127.0.0.1:9470.
func Default() *Config {
	return &Config{
		Global: GlobalConfig{
			ScrapeInterval:     model.Duration(15 * time.Second),
			ScrapeTimeout:      model.Duration(10 * time.Second),
			EvaluationInterval: model.Duration(15 * time.Second),
			Concurrency:        64,
		},
		Server:  ServerConfig{ListenAddress: "127.0.0.1:9470"},
		Storage: StorageConfig{Path: "data", RetentionTime: model.Duration(15 * 24 * time.Hour)},
		Query: QueryConfig{
			Timeout: model.Duration(2 * time.Minute), MaxSamples: 50_000_000,
			LookbackDelta: model.Duration(5 * time.Minute), MaxConcurrent: 20,
		},
		Jobs: []JobConfig{{JobName: "host", Type: TypeHost}},
	}
}

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse reads a config from data, naming it file in errors. Keys left out
// keep their defaults; the default job list is replaced by the file's jobs
// when it has a jobs key.
func Parse(file string, data []byte) (c *Config, err error) {
	defer recoverYAML(file, &err)
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlutil.FormatError(file, err)
	}
	c = Default()
	c.Jobs = nil
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlutil.DecodeError(file, &root, reflect.TypeFor[Config](), err)
	}
	if !yamlutil.HasKey(&root, "jobs") {
		c.Jobs = Default().Jobs
	}
	c.File = file
	c.recordNodes(&root)
	resolveFileKeys(reflect.ValueOf(c), filepath.Dir(file))
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// recordNodes keeps each job's YAML node for line numbers in errors.
func (c *Config) recordNodes(root *yaml.Node) {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "jobs" {
			continue
		}
		for j, n := range m.Content[i+1].Content {
			if j < len(c.Jobs) {
				c.Jobs[j].line, c.Jobs[j].node = n.Line, n
			}
		}
	}
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Validate fills per-job defaults from global and checks everything,
// reporting every problem as `file:line: field: problem`.
func (c *Config) Validate() error {
	var errs []string
	bad := func(line int, field, format string, args ...any) {
		loc := c.File
		if line > 0 {
			loc = fmt.Sprintf("%s:%d", c.File, line)
		}
		errs = append(errs, fmt.Sprintf("%s: %s: %s", loc, field, fmt.Sprintf(format, args...)))
	}
	g := &c.Global
	if g.ScrapeInterval <= 0 {
		bad(0, "global.scrape_interval", "must be positive")
	}
	if g.ScrapeTimeout <= 0 || g.ScrapeTimeout > g.ScrapeInterval {
		bad(0, "global.scrape_timeout", "must be positive and at most scrape_interval (%v)", g.ScrapeInterval)
	}
	if g.EvaluationInterval <= 0 {
		bad(0, "global.evaluation_interval", "must be positive")
	}
	if g.Concurrency <= 0 {
		bad(0, "global.concurrency", "must be positive")
	}
	for name := range g.ExternalLabels {
		if !labelNameRE.MatchString(name) {
			bad(0, "global.external_labels", "%q is not a valid label name", name)
		}
	}
	if _, _, err := net.SplitHostPort(c.Server.ListenAddress); err != nil {
		bad(0, "server.listen_address", "%q: %v", c.Server.ListenAddress, err)
	}
	if c.Storage.Path == "" {
		bad(0, "storage.path", "must not be empty")
	}
	if c.Storage.RetentionTime < 0 || c.Storage.RetentionSize < 0 || c.Storage.OutOfOrderTimeWindow < 0 {
		bad(0, "storage", "retention_time, retention_size and out_of_order_time_window must not be negative")
	}
	if c.Query.Timeout <= 0 || c.Query.MaxSamples <= 0 || c.Query.LookbackDelta <= 0 || c.Query.MaxConcurrent <= 0 {
		bad(0, "query", "timeout, max_samples, lookback_delta and max_concurrent must be positive")
	}
	if c.SNMPTraps != nil {
		c.SNMPTraps.Auths = c.SNMPAuths
		if err := c.SNMPTraps.Validate(); err != nil {
			bad(0, "snmp_traps", "%v", err)
		}
	}
	if rw, err := remotewrite.ValidateConfigs(c.RemoteWrite); err != nil {
		bad(0, "remote_write", "%v", err)
	} else {
		c.RemoteWrite = rw
	}
	if c.Sharding.Shards < 0 || c.Sharding.Shard < 0 || (c.Sharding.Shards > 0 && c.Sharding.Shard >= c.Sharding.Shards) {
		bad(0, "sharding", "shard %d of %d: want 0 <= shard < shards", c.Sharding.Shard, c.Sharding.Shards)
	}
	switch c.Alerting.Store.Synchronous {
	case "", "full", "normal":
	default:
		bad(0, "alerting.store.synchronous", "%q is not full or normal", c.Alerting.Store.Synchronous)
	}
	if c.Alerting.HA.LeaseTTL < 0 || c.Alerting.HA.RetryInterval < 0 {
		bad(0, "alerting.ha", "lease_ttl and retry_interval must not be negative")
	}
	if c.Alerting.Retention < 0 {
		bad(0, "alerting.retention", "must not be negative")
	}
	if c.Alerting.Retention == 0 {
		c.Alerting.Retention = model.Duration(90 * 24 * time.Hour)
	}
	if sim := c.Simulate; sim != nil {
		if sim.Sites < 0 || sim.RacksPerSite < 0 || sim.ServersPerRack < 0 || sim.ServersPerRack > 48 {
			bad(0, "simulate", "sites, racks_per_site and servers_per_rack must be positive, servers_per_rack at most 48")
		}
		if (sim.BMCUsername == "") != (sim.BMCPasswordFile == "") {
			bad(0, "simulate", "bmc_username and bmc_password_file go together")
		}
	}
	if c.RuleQuery.URL != "" {
		if u, err := url.Parse(c.RuleQuery.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(0, "rule_query.url", "%q is not an http(s) URL", c.RuleQuery.URL)
		}
	}
	if c.RuleQuery.Timeout < 0 {
		bad(0, "rule_query.timeout", "must not be negative")
	}
	names := map[string]int{}
	for i := range c.Jobs {
		c.validateJob(i, names, bad)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

func (c *Config) validateJob(i int, names map[string]int, bad func(int, string, string, ...any)) {
	j := &c.Jobs[i]
	field := fmt.Sprintf("jobs[%d]", i)
	if j.JobName != "" {
		field = fmt.Sprintf("jobs[%d] (%s)", i, j.JobName)
	}
	line := func(key string) int {
		if j.node == nil {
			return j.line
		}
		return yamlutil.KeyLine(j.node, key)
	}
	switch prev, dup := names[j.JobName]; {
	case j.JobName == "":
		bad(line("job_name"), field+".job_name", "missing")
	case dup:
		bad(line("job_name"), field+".job_name", "%q already used by jobs[%d]", j.JobName, prev)
	default:
		names[j.JobName] = i
	}
	if j.ScrapeInterval == 0 {
		j.ScrapeInterval = c.Global.ScrapeInterval
	}
	if j.ScrapeTimeout == 0 {
		j.ScrapeTimeout = min(c.Global.ScrapeTimeout, j.ScrapeInterval)
	}
	if j.ScrapeInterval < 0 {
		bad(line("scrape_interval"), field+".scrape_interval", "must be positive")
	}
	if j.ScrapeTimeout <= 0 || j.ScrapeTimeout > j.ScrapeInterval {
		bad(line("scrape_timeout"), field+".scrape_timeout", "%v must be positive and at most scrape_interval (%v)", j.ScrapeTimeout, j.ScrapeInterval)
	}
	if j.SampleLimit < 0 {
		bad(line("sample_limit"), field+".sample_limit", "must not be negative")
	}
	blocks := map[string]bool{TypeHost: j.Host != nil, TypeScrape: j.Scrape != nil, TypeSNMP: j.SNMP != nil, TypeRedfish: j.Redfish != nil, TypeProbe: j.Probe != nil}
	for _, typ := range jobTypes {
		if blocks[typ] && typ != j.Type && slices.Contains(jobTypes, j.Type) {
			bad(line(typ), field+"."+typ, "only for type %s", typ)
		}
	}
	var err error
	switch j.Type {
	case TypeHost:
		if j.Host == nil {
			d := host.DefaultConfig()
			j.Host = &d
		}
		j.Host.ApplyDefaults()
		err = j.Host.Validate()
	case TypeScrape:
		if j.Scrape == nil {
			d := scrape.DefaultConfig()
			j.Scrape = &d
		}
		err = j.Scrape.Validate()
	case TypeSNMP:
		if j.SNMP == nil {
			d := snmp.DefaultConfig()
			j.SNMP = &d
		}
		j.SNMP.Auths = c.SNMPAuths
		err = j.SNMP.Validate()
	case TypeRedfish:
		if j.Redfish == nil {
			d := redfish.DefaultConfig()
			j.Redfish = &d
		}
		err = j.Redfish.Validate()
	case TypeProbe:
		if j.Probe == nil {
			bad(j.line, field+".probe", "missing: a probe job says what to probe (docs/collectors/probe.md)")
			break
		}
		err = j.Probe.Validate()
	case "":
		bad(line("type"), field+".type", "missing (one of %s)", strings.Join(jobTypes, ", "))
	default:
		bad(line("type"), field+".type", "%q is not one of %s", j.Type, strings.Join(jobTypes, ", "))
	}
	if err != nil {
		bad(line(j.Type), field+"."+j.Type, "%v", err)
	}
	if j.Type != TypeHost && len(j.StaticConfigs) == 0 && j.Inventory == nil {
		bad(j.line, field, "a %s job needs static_configs or inventory", j.Type)
	}
	for k, sc := range j.StaticConfigs {
		for _, t := range sc.Targets {
			if t == "" || strings.ContainsAny(t, " /") {
				bad(line("static_configs"), fmt.Sprintf("%s.static_configs[%d].targets", field, k), "%q is not host or host:port", t)
			}
		}
		for name := range sc.Labels {
			if !labelNameRE.MatchString(name) {
				bad(line("static_configs"), fmt.Sprintf("%s.static_configs[%d].labels", field, k), "%q is not a valid label name", name)
			}
		}
	}
	if j.Inventory != nil {
		if err := j.Inventory.Validate(); err != nil {
			bad(line("inventory"), field+".inventory", "%v", err)
		}
		if c.Inventory.File == "" && c.Simulate == nil {
			bad(line("inventory"), field+".inventory", "set, but neither inventory.file nor simulate is")
		}
	}
	for key, rcs := range map[string][]*relabel.Config{"relabel_configs": j.RelabelConfigs, "metric_relabel_configs": j.MetricRelabelConfigs} {
		for k, rc := range rcs {
			if rc == nil {
				bad(line(key), fmt.Sprintf("%s.%s[%d]", field, key, k), "empty")
				continue
			}
			if err := rc.Validate(model.UTF8Validation); err != nil {
				bad(line(key), fmt.Sprintf("%s.%s[%d]", field, key, k), "%v", err)
			}
		}
	}
}

// Resolve returns path relative to the config file's directory, unless it
// is absolute or the config came from no file.
func (c *Config) Resolve(path string) string {
	if path == "" || filepath.IsAbs(path) || c.File == "" || strings.HasPrefix(path, "pack:") {
		return path
	}
	return filepath.Join(filepath.Dir(c.File), path)
}

// recoverYAML turns a panic inside yaml.v3 (it has one on some merge-key
// inputs) into an error naming the file, so a bad file never crashes a
// running fleetwatch on reload.
func recoverYAML(file string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: YAML the parser cannot handle: %v", file, r)
	}
}
