package alerter

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/internal/yamlutil"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// Defaults as in Alertmanager, so an Alertmanager user's timers mean the same.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
	DefaultResolveTimeout = 5 * time.Minute
)

// Config is the alerter's configuration: Alertmanager's route, receivers,
// inhibit_rules and time_intervals, plus fleetwatch's correlation,
// maintenance and outbox settings.
type Config struct {
	// ResolveTimeout is the EndsAt given to API alerts that carry none.
	ResolveTimeout model.Duration `yaml:"resolve_timeout,omitempty"`
	Route          *Route         `yaml:"route"`
	// Receivers are kept as YAML for the notify package's builder; the
	// alerter reads only their names.
	Receivers     []Receiver      `yaml:"receivers"`
	InhibitRules  []InhibitRule   `yaml:"inhibit_rules,omitempty"`
	TimeIntervals []TimeIntervals `yaml:"time_intervals,omitempty"`
	Correlation   Correlation     `yaml:"correlation,omitempty"`
	Maintenance   Maintenance     `yaml:"maintenance,omitempty"`
	Outbox        Outbox          `yaml:"outbox,omitempty"`
	// RepageOnEscalation sends a fresh trigger at once when an open
	// incident's severity rises (warning → critical), and puts an
	// acknowledged incident back to triggered.
	RepageOnEscalation bool `yaml:"repage_on_escalation,omitempty"`
	// ReopenWindow: an alert of a group whose incident resolved less than
	// this long ago reopens that incident instead of opening a new one.
	ReopenWindow model.Duration `yaml:"reopen_window,omitempty"`

	file string
	root *yaml.Node
	sum  string // digest(), set by ParseConfig
}

// Route is one node of the routing tree (Alertmanager's shape).
type Route struct {
	Receiver            string          `yaml:"receiver,omitempty"`
	GroupBy             []string        `yaml:"group_by,omitempty"`
	GroupWait           *model.Duration `yaml:"group_wait,omitempty"`
	GroupInterval       *model.Duration `yaml:"group_interval,omitempty"`
	RepeatInterval      *model.Duration `yaml:"repeat_interval,omitempty"`
	Matchers            Matchers        `yaml:"matchers,omitempty"`
	Continue            bool            `yaml:"continue,omitempty"`
	Routes              []*Route        `yaml:"routes,omitempty"`
	MuteTimeIntervals   []string        `yaml:"mute_time_intervals,omitempty"`
	ActiveTimeIntervals []string        `yaml:"active_time_intervals,omitempty"`

	node *yaml.Node
}

// Receiver is one entry of receivers; Node is the whole entry for the
// notify package's builder.
type Receiver struct {
	Name string
	Node yaml.Node
}

// UnmarshalYAML keeps the node and reads the name.
func (r *Receiver) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a receiver must be a mapping", n.Line)
	}
	r.Node = *n
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" {
			r.Name = n.Content[i+1].Value
		}
	}
	return nil
}

// MarshalYAML writes the node back.
func (r Receiver) MarshalYAML() (any, error) { return &r.Node, nil }

// InhibitRule mutes target alerts while a source alert with the same
// values of the Equal labels fires (Alertmanager's semantics).
type InhibitRule struct {
	Name           string   `yaml:"name,omitempty"`
	SourceMatchers Matchers `yaml:"source_matchers"`
	TargetMatchers Matchers `yaml:"target_matchers"`
	Equal          []string `yaml:"equal,omitempty"`
}

// TimeIntervals is a named list of Alertmanager time intervals.
type TimeIntervals struct {
	Name          string                      `yaml:"name"`
	TimeIntervals []timeinterval.TimeInterval `yaml:"time_intervals"`
}

// Correlation joins alerts of servers that share a topology element (a
// switch, rack, PDU or site) into one incident naming the probable cause.
type Correlation struct {
	// Window: alerts and upstream signals this close in time correlate.
	Window model.Duration `yaml:"window,omitempty"`
	// TopologyLabels in order of precedence; an alert's values come from
	// its own labels or, failing that, from the inventory entry of its
	// server.
	TopologyLabels []string `yaml:"topology_labels,omitempty"`
	// MinAlerts alerts sharing a topology value within Window correlate
	// even without an upstream signal.
	MinAlerts int `yaml:"min_alerts,omitempty"`
	// UpstreamAlerts are matchers marking an alert as a signal from an
	// upstream device (e.g. alertname=~"SwitchDown|UplinkDown").
	UpstreamAlerts Matchers `yaml:"upstream_alerts,omitempty"`
	// UpstreamEvents are event kinds that mark an upstream device down
	// (e.g. linkDown).
	UpstreamEvents []string `yaml:"upstream_events,omitempty"`
	// ServerLabels name the labels that hold a server's hostname, tried in
	// order, for inventory lookups.
	ServerLabels []string `yaml:"server_labels,omitempty"`
}

// Maintenance says which inventory lifecycle states keep a server's alerts
// from paging.
type Maintenance struct {
	LifecycleStates []inventory.Lifecycle `yaml:"lifecycle_states,omitempty"`
}

// Outbox tunes the notification worker.
type Outbox struct {
	MinBackoff model.Duration `yaml:"min_backoff,omitempty"`
	MaxBackoff model.Duration `yaml:"max_backoff,omitempty"`
	// MaxAttempts gives up after so many failed attempts (0: only MaxAge).
	MaxAttempts int `yaml:"max_attempts,omitempty"`
	// MaxAge gives up on a notification this old.
	MaxAge model.Duration `yaml:"max_age,omitempty"`
	// Lease is how long a claimed notification is reserved for its sender;
	// after a crash it is sent again once the lease runs out.
	Lease model.Duration `yaml:"lease,omitempty"`
	// Timeout bounds one delivery attempt.
	Timeout model.Duration `yaml:"timeout,omitempty"`
	// RateLimits caps deliveries per second for each receiver by name
	// (PagerDuty's Events API allows about 2/s per integration key).
	RateLimits map[string]float64 `yaml:"rate_limits,omitempty"`
	// Workers is how many deliveries run at once.
	Workers int `yaml:"workers,omitempty"`
}

// Matchers are Alertmanager matchers written as strings
// (`severity="critical"`, `rack=~"r1[0-9]"`).
type Matchers []*amlabels.Matcher

// UnmarshalYAML parses each string with Alertmanager's matcher parser.
func (m *Matchers) UnmarshalYAML(n *yaml.Node) error {
	var lines []string
	if err := n.Decode(&lines); err != nil {
		return err
	}
	*m = (*m)[:0]
	for _, l := range lines {
		ms, err := amlabels.ParseMatchers(l)
		if err != nil {
			return fmt.Errorf("line %d: matcher %q: %w", n.Line, l, err)
		}
		*m = append(*m, ms...)
	}
	return nil
}

// MarshalYAML writes the matchers back as strings.
func (m Matchers) MarshalYAML() (any, error) {
	out := make([]string, len(m))
	for i, x := range m {
		out[i] = x.String()
	}
	return out, nil
}

// matches reports whether every matcher matches ls.
func (m Matchers) matches(ls map[string]string) bool {
	for _, x := range m {
		if !x.Matches(ls[x.Name]) {
			return false
		}
	}
	return true
}

// DefaultMaintenanceStates are the lifecycle states that do not page.
var defaultMaintenanceStates = []inventory.Lifecycle{inventory.Provisioning, inventory.Maintenance, inventory.Repair, inventory.Decommissioned}

// LoadConfig reads and checks an alerter config file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

// digest identifies the configuration's text (its YAML as parsed); ""
// for a nil config. ParseConfig computes it once.
func (c *Config) digest() string {
	if c == nil {
		return ""
	}
	if c.sum != "" {
		return c.sum
	}
	var text []byte
	if c.root != nil {
		text, _ = yaml.Marshal(c.root)
	} else {
		text, _ = yaml.Marshal(c)
	}
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:])
}

// ParseConfig decodes data read from file strictly (unknown keys are
// errors with file:line), applies defaults and validates it.
func ParseConfig(file string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlutil.FormatError(file, err)
	}
	c := &Config{}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := decodeStrict(file, &root, data, c); err != nil {
			return nil, err
		}
	}
	c.file, c.root = file, &root
	c.attachNodes()
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.sum = c.digest()
	return c, nil
}

func decodeStrict(file string, root *yaml.Node, data []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return yamlutil.DecodeError(file, root, reflect.TypeFor[Config](), err)
	}
	return nil
}

// attachNodes remembers the YAML node of every route, for error lines.
func (c *Config) attachNodes() {
	n := c.root
	if n == nil {
		return
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if rn := mapValue(n, "route"); rn != nil && c.Route != nil {
		attachRoute(c.Route, rn)
	}
}

func attachRoute(r *Route, n *yaml.Node) {
	r.node = n
	if rs := mapValue(n, "routes"); rs != nil && rs.Kind == yaml.SequenceNode {
		for i, child := range r.Routes {
			if i < len(rs.Content) {
				attachRoute(child, rs.Content[i])
			}
		}
	}
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (c *Config) line(key string) int {
	return yamlutil.KeyLine(c.root, key)
}

func (c *Config) applyDefaults() {
	if c.ResolveTimeout == 0 {
		c.ResolveTimeout = model.Duration(DefaultResolveTimeout)
	}
	if c.ReopenWindow == 0 {
		c.ReopenWindow = model.Duration(5 * time.Minute)
	}
	if c.Route == nil {
		c.Route = &Route{}
	}
	if c.Correlation.Window == 0 {
		c.Correlation.Window = model.Duration(5 * time.Minute)
	}
	if c.Correlation.MinAlerts == 0 {
		c.Correlation.MinAlerts = 5
	}
	if len(c.Correlation.ServerLabels) == 0 {
		c.Correlation.ServerLabels = []string{"server", "hostname", "instance"}
	}
	if c.Maintenance.LifecycleStates == nil {
		c.Maintenance.LifecycleStates = slices.Clone(defaultMaintenanceStates)
	}
	o := &c.Outbox
	if o.MinBackoff == 0 {
		o.MinBackoff = model.Duration(time.Second)
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = model.Duration(5 * time.Minute)
	}
	if o.MaxAge == 0 {
		o.MaxAge = model.Duration(24 * time.Hour)
	}
	if o.Lease == 0 {
		o.Lease = model.Duration(time.Minute)
	}
	if o.Timeout == 0 {
		o.Timeout = model.Duration(10 * time.Second)
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
}

// Validate checks the config; errors name the file, line and field, all of
// them at once.
func (c *Config) Validate() error {
	var errs []string
	bad := func(line int, field, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s: %s", c.file, line, field, fmt.Sprintf(format, args...)))
	}
	receivers := map[string]bool{}
	for i, r := range c.Receivers {
		f := fmt.Sprintf("receivers[%d].name", i)
		switch {
		case r.Name == "":
			bad(r.Node.Line, f, "missing")
		case receivers[r.Name]:
			bad(r.Node.Line, f, "%q defined twice", r.Name)
		}
		receivers[r.Name] = true
	}
	intervals := map[string]bool{}
	for i, ti := range c.TimeIntervals {
		if ti.Name == "" {
			bad(c.line("time_intervals"), fmt.Sprintf("time_intervals[%d].name", i), "missing")
		}
		intervals[ti.Name] = true
	}
	if c.Route.Receiver == "" {
		bad(c.line("route"), "route.receiver", "the top route needs a receiver")
	}
	if len(c.Route.Matchers) > 0 {
		bad(c.line("route"), "route.matchers", "the top route matches every alert and takes no matchers")
	}
	c.validateRoute(c.Route, "route", receivers, intervals, bad)
	for i, ir := range c.InhibitRules {
		f := fmt.Sprintf("inhibit_rules[%d]", i)
		if len(ir.SourceMatchers) == 0 {
			bad(c.line("inhibit_rules"), f+".source_matchers", "missing")
		}
		if len(ir.TargetMatchers) == 0 {
			bad(c.line("inhibit_rules"), f+".target_matchers", "missing")
		}
		for _, l := range ir.Equal {
			if !model.LabelName(l).IsValid() {
				bad(c.line("inhibit_rules"), f+".equal", "%q is not a label name", l)
			}
		}
	}
	if c.Correlation.MinAlerts < 1 {
		bad(c.line("correlation"), "correlation.min_alerts", "must be at least 1")
	}
	for _, l := range c.Correlation.TopologyLabels {
		if !model.LabelName(l).IsValid() {
			bad(c.line("correlation"), "correlation.topology_labels", "%q is not a label name", l)
		}
	}
	for _, s := range c.Maintenance.LifecycleStates {
		if !slices.Contains(inventory.Lifecycles, s) {
			bad(c.line("maintenance"), "maintenance.lifecycle_states", "%q is not one of %v", s, inventory.Lifecycles)
		}
	}
	o := c.Outbox
	if o.MinBackoff > o.MaxBackoff {
		bad(c.line("outbox"), "outbox.min_backoff", "%v is above max_backoff %v", o.MinBackoff, o.MaxBackoff)
	}
	if o.Workers < 1 || o.MaxAttempts < 0 {
		bad(c.line("outbox"), "outbox.workers", "must be at least 1 (max_attempts at least 0)")
	}
	for name, r := range o.RateLimits {
		if r <= 0 {
			bad(c.line("outbox"), "outbox.rate_limits."+name, "must be above 0")
		}
		if !receivers[name] {
			bad(c.line("outbox"), "outbox.rate_limits."+name, "no receiver named %q", name)
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

func (c *Config) validateRoute(r *Route, field string, receivers, intervals map[string]bool, bad func(int, string, string, ...any)) {
	line := c.line("route")
	if r.node != nil {
		line = r.node.Line
	}
	if r.Receiver != "" && !receivers[r.Receiver] {
		bad(line, field+".receiver", "no receiver named %q", r.Receiver)
	}
	all := slices.Contains(r.GroupBy, "...")
	if all && len(r.GroupBy) > 1 {
		bad(line, field+".group_by", "'...' must be alone")
	}
	seen := map[string]bool{}
	for _, l := range r.GroupBy {
		if l == "..." {
			continue
		}
		if !model.LabelName(l).IsValid() {
			bad(line, field+".group_by", "%q is not a label name", l)
		}
		if seen[l] {
			bad(line, field+".group_by", "%q listed twice", l)
		}
		seen[l] = true
	}
	for _, d := range []struct {
		name string
		v    *model.Duration
	}{{"group_interval", r.GroupInterval}, {"repeat_interval", r.RepeatInterval}} {
		if d.v != nil && *d.v <= 0 {
			bad(line, field+"."+d.name, "must be above 0")
		}
	}
	for _, n := range append(slices.Clone(r.MuteTimeIntervals), r.ActiveTimeIntervals...) {
		if !intervals[n] {
			bad(line, field+".mute_time_intervals", "no time interval named %q", n)
		}
	}
	for i, child := range r.Routes {
		c.validateRoute(child, fmt.Sprintf("%s.routes[%d]", field, i), receivers, intervals, bad)
	}
}

// ReceiverNames lists the configured receivers in order.
func (c *Config) ReceiverNames() []string {
	out := make([]string, len(c.Receivers))
	for i, r := range c.Receivers {
		out[i] = r.Name
	}
	return out
}

// maintenanceStates returns the suppressing states as a set.
func (c *Config) maintenanceStates() map[inventory.Lifecycle]bool {
	m := map[inventory.Lifecycle]bool{}
	for _, s := range c.Maintenance.LifecycleStates {
		m[s] = true
	}
	return m
}
