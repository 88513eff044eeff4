package snmp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/internal/yamlutil"
)

// ExporterConfig is the content of an snmp_exporter snmp.yml: modules and,
// in the layout snmp_exporter uses since 0.23, named auths. Both layouts are
// read: the older one (module names at the top level, each with its own
// version and auth) and the newer one (top-level auths: and modules:).
type ExporterConfig struct {
	Auths   map[string]*Auth
	Modules map[string]*Module
}

// Module is one snmp_exporter module: the subtrees walked, the OIDs fetched
// with GET, and how each returned OID becomes a sample.
type Module struct {
	Walk    []string  `yaml:"walk"`
	Get     []string  `yaml:"get"`
	Metrics []*Metric `yaml:"metrics"`
	// Overrides are generator.yml's per-metric overrides; fleetwatch applies
	// them when it loads the module, so they may also appear here.
	Overrides map[string]Override `yaml:"overrides"`

	// Walk parameters of snmp_exporter before 0.23 (module level).
	Version        int            `yaml:"version"`
	MaxRepetitions uint32         `yaml:"max_repetitions"`
	Retries        *int           `yaml:"retries"`
	Timeout        time.Duration  `yaml:"timeout"`
	Auth           *exporterAuth  `yaml:"auth"`
	Filters        map[string]any `yaml:"filters"`
	// AllowNonIncreasingOIDs is snmp_exporter's allow_nonincreasing_oids.
	AllowNonIncreasingOIDs bool `yaml:"allow_nonincreasing_oids"`
	// UseUnconnectedUDPSocket is snmp_exporter's use_unconnected_udp_socket.
	UseUnconnectedUDPSocket bool `yaml:"use_unconnected_udp_socket"`
}

// Metric says how the OIDs under Oid become samples, with the fields and
// semantics of snmp_exporter's metric entries.
type Metric struct {
	Name           string                     `yaml:"name"`
	Oid            string                     `yaml:"oid"`
	Type           string                     `yaml:"type"`
	Help           string                     `yaml:"help"`
	Indexes        []*Index                   `yaml:"indexes,omitempty"`
	Lookups        []*Lookup                  `yaml:"lookups,omitempty"`
	RegexpExtracts map[string][]RegexpExtract `yaml:"regex_extracts,omitempty"`
	EnumValues     map[int]string             `yaml:"enum_values,omitempty"`
	Offset         float64                    `yaml:"offset,omitempty"`
	Scale          float64                    `yaml:"scale,omitempty"`
}

// Index turns part of a table row's OID suffix into a label.
type Index struct {
	Labelname  string         `yaml:"labelname"`
	Type       string         `yaml:"type"`
	FixedSize  int            `yaml:"fixed_size,omitempty"`
	Implied    bool           `yaml:"implied,omitempty"`
	EnumValues map[int]string `yaml:"enum_values,omitempty"`
}

// Lookup adds a label whose value is another column of the same row.
type Lookup struct {
	Labels    []string `yaml:"labels"`
	Labelname string   `yaml:"labelname"`
	Oid       string   `yaml:"oid,omitempty"`
	Type      string   `yaml:"type,omitempty"`
}

// RegexpExtract turns a string value into a number: the first regex that
// matches gives Value expanded with its groups.
type RegexpExtract struct {
	Value string `yaml:"value"`
	Regex Regexp `yaml:"regex"`
}

// Override is generator.yml's per-metric override.
type Override struct {
	Ignore         bool                       `yaml:"ignore"`
	RegexpExtracts map[string][]RegexpExtract `yaml:"regex_extracts"`
	Type           string                     `yaml:"type"`
	Offset         float64                    `yaml:"offset"`
	Scale          float64                    `yaml:"scale"`
}

// Regexp is an anchored regular expression, as snmp_exporter reads them.
type Regexp struct {
	*regexp.Regexp
}

// UnmarshalYAML compiles the expression, anchored at both ends.
func (r *Regexp) UnmarshalYAML(node *yaml.Node) error {
	var s string
	if err := node.Decode(&s); err != nil {
		return err
	}
	re, err := regexp.Compile("^(?:" + s + ")$")
	if err != nil {
		return fmt.Errorf("line %d: regex %q: %w", node.Line, s, err)
	}
	r.Regexp = re
	return nil
}

// exporterAuth is snmp_exporter's auth block, secrets written inline as
// snmp_exporter keeps them.
type exporterAuth struct {
	Community     string `yaml:"community"`
	SecurityLevel string `yaml:"security_level"`
	Username      string `yaml:"username"`
	Password      string `yaml:"password"`
	AuthProtocol  string `yaml:"auth_protocol"`
	PrivProtocol  string `yaml:"priv_protocol"`
	PrivPassword  string `yaml:"priv_password"`
	ContextName   string `yaml:"context_name"`
	Version       int    `yaml:"version"`
}

func (a *exporterAuth) toAuth(version int) *Auth {
	out := DefaultAuth()
	if a != nil {
		if a.Community != "" {
			out.Community = a.Community
		}
		if a.SecurityLevel != "" {
			out.SecurityLevel = a.SecurityLevel
		}
		out.Username = a.Username
		out.password = a.Password
		if a.AuthProtocol != "" {
			out.AuthProtocol = a.AuthProtocol
		}
		if a.PrivProtocol != "" {
			out.PrivProtocol = a.PrivProtocol
		}
		out.privPassword = a.PrivPassword
		out.ContextName = a.ContextName
		if a.Version != 0 {
			out.Version = a.Version
		}
	}
	if version != 0 {
		out.Version = version
	}
	return &out
}

// LoadExporterConfig reads an snmp_exporter snmp.yml. Errors name the file,
// line and module; a module that uses something fleetwatch cannot honour
// (an unknown metric or index type, dynamic filters) is an error rather
// than a silent difference.
func LoadExporterConfig(path string) (*ExporterConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseExporterConfig(path, data)
}

// ParseExporterConfig parses the content of an snmp.yml read from file name.
func ParseExporterConfig(name string, data []byte) (*ExporterConfig, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlutil.FormatError(name, err)
	}
	cfg := &ExporterConfig{Auths: map[string]*Auth{}, Modules: map[string]*Module{}}
	if len(root.Content) == 0 {
		return cfg, nil
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of modules", name, top.Line)
	}
	newLayout := yamlutil.HasKey(top, "modules") || yamlutil.HasKey(top, "auths")
	dec := func(v any) error {
		d := yaml.NewDecoder(bytes.NewReader(data))
		d.KnownFields(true)
		if err := d.Decode(v); err != nil && !errors.Is(err, io.EOF) {
			return yamlutil.FormatError(name, err)
		}
		return nil
	}
	lines := map[string]int{}
	if newLayout {
		var v struct {
			Auths   map[string]*exporterAuth `yaml:"auths"`
			Modules map[string]*Module       `yaml:"modules"`
		}
		if err := dec(&v); err != nil {
			return nil, err
		}
		for n, a := range v.Auths {
			cfg.Auths[n] = a.toAuth(a.versionOr(2))
		}
		cfg.Modules = v.Modules
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == "modules" {
				m := top.Content[i+1]
				for j := 0; j+1 < len(m.Content); j += 2 {
					lines[m.Content[j].Value] = m.Content[j].Line
				}
			}
		}
	} else {
		if err := dec(&cfg.Modules); err != nil {
			return nil, err
		}
		for i := 0; i+1 < len(top.Content); i += 2 {
			lines[top.Content[i].Value] = top.Content[i].Line
		}
		// Old layout: each module carries its own auth; it is reachable under
		// the module's name.
		for n, m := range cfg.Modules {
			if m != nil && (m.Auth != nil || m.Version != 0) {
				cfg.Auths[n] = m.Auth.toAuth(m.Version)
			}
		}
	}
	names := make([]string, 0, len(cfg.Modules))
	for n := range cfg.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := cfg.Modules[n]
		if m == nil {
			m = &Module{}
			cfg.Modules[n] = m
		}
		if err := m.prepare(); err != nil {
			return nil, fmt.Errorf("%s:%d: module %q: %w", name, lines[n], n, err)
		}
	}
	for n, a := range cfg.Auths {
		if err := a.Validate(); err != nil {
			return nil, fmt.Errorf("%s: auth %q: %w", name, n, err)
		}
	}
	return cfg, nil
}

func (a *exporterAuth) versionOr(v int) int {
	if a != nil && a.Version != 0 {
		return a.Version
	}
	return v
}

// metricTypes are the value types snmp_exporter knows.
var metricTypes = map[string]bool{
	"gauge": true, "counter": true, "Float": true, "Double": true,
	"DateAndTime": true, "EnumAsInfo": true, "EnumAsStateSet": true, "Bits": true,
	"OctetString": true, "DisplayString": true, "PhysAddress48": true,
	"InetAddressIPv4": true, "InetAddressIPv6": true, "InetAddress": true,
	"InetAddressMissingSize": true, "LldpPortId": true,
}

// indexTypes are the index types snmp_exporter knows.
var indexTypes = map[string]bool{
	"gauge": true, "counter": true, "Integer32": true, "Integer": true,
	"PhysAddress48": true, "OctetString": true, "DisplayString": true,
	"InetAddressIPv4": true, "InetAddressIPv6": true, "InetAddress": true,
	"InetAddressMissingSize": true, "LldpPortId": true, "EnumAsInfo": true,
}

var metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// prepare applies overrides and checks the module, naming the bad metric.
func (m *Module) prepare() error {
	if len(m.Filters) > 0 {
		return errors.New("filters: dynamic and static filters are not supported; list the OIDs in walk/get instead")
	}
	for i, o := range m.Walk {
		if _, err := parseOID(o); err != nil {
			return fmt.Errorf("walk[%d]: %w", i, err)
		}
		m.Walk[i] = strings.TrimPrefix(o, ".")
	}
	for i, o := range m.Get {
		if _, err := parseOID(o); err != nil {
			return fmt.Errorf("get[%d]: %w", i, err)
		}
		m.Get[i] = strings.TrimPrefix(o, ".")
	}
	kept := m.Metrics[:0]
	for _, mt := range m.Metrics {
		if mt == nil {
			continue
		}
		if o, ok := m.Overrides[mt.Name]; ok {
			if o.Ignore {
				continue
			}
			if o.Type != "" {
				mt.Type = o.Type
			}
			if o.RegexpExtracts != nil {
				mt.RegexpExtracts = o.RegexpExtracts
			}
			if o.Offset != 0 {
				mt.Offset = o.Offset
			}
			if o.Scale != 0 {
				mt.Scale = o.Scale
			}
		}
		kept = append(kept, mt)
	}
	m.Metrics = kept
	for _, mt := range m.Metrics {
		if err := mt.check(); err != nil {
			return fmt.Errorf("metric %q: %w", mt.Name, err)
		}
	}
	return nil
}

func (mt *Metric) check() error {
	if !metricNameRE.MatchString(mt.Name) {
		return fmt.Errorf("name %q is not a valid metric name", mt.Name)
	}
	if _, err := parseOID(mt.Oid); err != nil {
		return fmt.Errorf("oid: %w", err)
	}
	mt.Oid = strings.TrimPrefix(mt.Oid, ".")
	if !metricTypes[mt.Type] {
		return fmt.Errorf("type %q is not a type snmp_exporter knows", mt.Type)
	}
	for _, ix := range mt.Indexes {
		if ix == nil || !labelNameRE.MatchString(ix.Labelname) {
			return fmt.Errorf("indexes: bad labelname")
		}
		if !indexTypes[ix.Type] {
			return fmt.Errorf("index %q: type %q is not an index type snmp_exporter knows", ix.Labelname, ix.Type)
		}
		if ix.FixedSize < 0 || ix.FixedSize > 128 {
			return fmt.Errorf("index %q: fixed_size %d out of range", ix.Labelname, ix.FixedSize)
		}
	}
	for _, l := range mt.Lookups {
		if l == nil || !labelNameRE.MatchString(l.Labelname) {
			return fmt.Errorf("lookups: bad labelname")
		}
		if len(l.Labels) == 0 {
			continue // removes the label
		}
		if _, err := parseOID(l.Oid); err != nil {
			return fmt.Errorf("lookup %q: oid: %w", l.Labelname, err)
		}
		l.Oid = strings.TrimPrefix(l.Oid, ".")
		if l.Type != "" && !indexTypes[l.Type] && !metricTypes[l.Type] {
			return fmt.Errorf("lookup %q: type %q unknown", l.Labelname, l.Type)
		}
	}
	for suffix, res := range mt.RegexpExtracts {
		if !metricNameRE.MatchString(mt.Name + suffix) {
			return fmt.Errorf("regex_extracts: %q gives an invalid metric name", suffix)
		}
		for _, re := range res {
			if re.Regex.Regexp == nil {
				return fmt.Errorf("regex_extracts %q: missing regex", suffix)
			}
		}
	}
	return nil
}
