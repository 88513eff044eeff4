package snmp

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/internal/yamlutil"
)

// Config is the SNMP part of a job: which modules to poll, with which
// credentials, and how patiently. Decode it from YAML (which starts from
// DefaultConfig) or start from DefaultConfig; the zero value is not usable.
type Config struct {
	// Modules are polled on every target, built-in ones (if_mib,
	// entity_sensor, host_resources, ucd, lldp) or modules of ModuleFiles.
	// A target's __param_module (comma-separated) overrides them. Default
	// [if_mib].
	Modules []string `yaml:"modules"`
	// ModuleFiles are snmp_exporter snmp.yml files whose modules (and auths)
	// become usable by name. A module there shadows a built-in one.
	ModuleFiles []string `yaml:"module_files"`
	// Auth names the credentials in Auths (or in ModuleFiles) used for every
	// target; a target's __param_auth overrides it. Default public_v2
	// (SNMP v2c, community public), as snmp_exporter.
	Auth string `yaml:"auth"`
	// Timeout is the wait for one response before a retry. Default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how often a request without an answer is sent again.
	// Default 1.
	Retries int `yaml:"retries"`
	// MaxRepetitions is GETBULK's max-repetitions (and the number of OIDs per
	// GET). Default 25. A response the agent finds too big is asked again with
	// half as many, down to 1.
	MaxRepetitions uint32 `yaml:"max_repetitions"`
	// Deadline bounds the whole poll of one device. When it passes, what was
	// read so far is kept and the remaining subtrees are counted as errors of
	// kind "deadline". 0 (the default) uses the job's scrape_timeout less 5%.
	Deadline time.Duration `yaml:"deadline"`
	// AllowNonIncreasingOIDs accepts agents whose walks go backwards (a loop
	// is still stopped after 1,000 repeated OIDs). Default false: a subtree
	// that goes backwards ends there, with what it returned so far kept.
	AllowNonIncreasingOIDs bool `yaml:"allow_nonincreasing_oids"`
	// WrapLargeCounters wraps Counter64 values at 2^53 as snmp_exporter does
	// by default, so that float64 keeps every increment. Default true.
	WrapLargeCounters bool `yaml:"wrap_large_counters"`
	// UseUnconnectedUDPSocket accepts responses from another address than
	// the one asked (multi-homed agents). Default false.
	UseUnconnectedUDPSocket bool `yaml:"use_unconnected_udp_socket"`

	// Auths are the named credentials the job may use: the wiring fills it
	// from the top-level snmp_auths section. public_v2 is always there.
	Auths Auths `yaml:"-"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Modules:           []string{"if_mib"},
		Auth:              "public_v2",
		Timeout:           2 * time.Second,
		Retries:           1,
		MaxRepetitions:    25,
		WrapLargeCounters: true,
	}
}

// UnmarshalYAML starts from DefaultConfig and refuses unknown keys, naming
// the key and its line.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	*c = DefaultConfig()
	if err := yamlutil.CheckKeys(node, reflect.TypeFor[Config](), yamlutil.KeyOptions{Noun: "snmp config"}); err != nil {
		return err
	}
	type plain Config
	return node.Decode((*plain)(c))
}

// Validate checks the config, naming the first bad key. With Auths set it
// also checks that the auth named exists (it may come from ModuleFiles, which
// are read by New).
func (c *Config) Validate() error {
	if len(c.Modules) == 0 {
		return errors.New("snmp config: modules: at least one module is needed")
	}
	for i, m := range c.Modules {
		if m == "" {
			return fmt.Errorf("snmp config: modules[%d]: empty module name", i)
		}
	}
	for i, f := range c.ModuleFiles {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("snmp config: module_files[%d]: %w", i, err)
		}
	}
	if c.Auth == "" {
		return errors.New("snmp config: auth: must name an auth")
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("snmp config: timeout: %v must be positive", c.Timeout)
	}
	if c.Retries < 0 || c.Retries > 10 {
		return fmt.Errorf("snmp config: retries: %d must be between 0 and 10", c.Retries)
	}
	if c.MaxRepetitions == 0 || c.MaxRepetitions > 1000 {
		return fmt.Errorf("snmp config: max_repetitions: %d must be between 1 and 1000", c.MaxRepetitions)
	}
	if c.Deadline < 0 {
		return fmt.Errorf("snmp config: deadline: %v must not be negative", c.Deadline)
	}
	for n, a := range c.Auths {
		if err := a.Validate(); err != nil {
			return fmt.Errorf("snmp auth %q: %w", n, err)
		}
	}
	return nil
}

// Auths are named SNMP credentials: the snmp_auths section of the main
// config, keyed by the name jobs and targets refer to.
type Auths map[string]*Auth

// UnmarshalYAML decodes each auth strictly, naming the auth of a bad key.
func (a *Auths) UnmarshalYAML(node *yaml.Node) error {
	raw := map[string]*Auth{}
	if err := node.Decode(&raw); err != nil {
		return err
	}
	for n, v := range raw {
		if v == nil {
			d := DefaultAuth()
			raw[n] = &d
		}
	}
	*a = raw
	return nil
}

// Auth is one set of SNMP credentials. Secrets (community, passwords) come
// from files or environment variables; only the community may also be
// written inline, as it usually is for read-only v2c.
type Auth struct {
	// Version is 1, 2 (v2c) or 3. Default 2.
	Version int `yaml:"version"`
	// Community for v1 and v2c. Default public. CommunityFile or
	// CommunityEnv take precedence when set.
	Community     string `yaml:"community"`
	CommunityFile string `yaml:"community_file"`
	CommunityEnv  string `yaml:"community_env"`
	// Username is the v3 USM user.
	Username string `yaml:"username"`
	// SecurityLevel is noAuthNoPriv, authNoPriv or authPriv. Default
	// noAuthNoPriv.
	SecurityLevel string `yaml:"security_level"`
	// AuthProtocol is MD5, SHA, SHA224, SHA256, SHA384 or SHA512. Default MD5.
	AuthProtocol string `yaml:"auth_protocol"`
	// PasswordFile or PasswordEnv hold the v3 authentication passphrase.
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	// PrivProtocol is DES, AES (AES-128), AES192, AES256, AES192C or AES256C
	// (the C variants are Cisco's key extension). Default DES.
	PrivProtocol string `yaml:"priv_protocol"`
	// PrivPasswordFile or PrivPasswordEnv hold the v3 privacy passphrase.
	PrivPasswordFile string `yaml:"priv_password_file"`
	PrivPasswordEnv  string `yaml:"priv_password_env"`
	// ContextName is the v3 context (also how snmpsim picks a recording).
	ContextName string `yaml:"context_name"`

	// Inline secrets from an snmp_exporter snmp.yml.
	password, privPassword string
}

// DefaultAuth is v2c with community public.
func DefaultAuth() Auth {
	return Auth{Version: 2, Community: "public", SecurityLevel: "noAuthNoPriv", AuthProtocol: "MD5", PrivProtocol: "DES"}
}

// UnmarshalYAML starts from DefaultAuth and refuses unknown keys and inline
// passwords (snmp_exporter accepts them in the text).
func (a *Auth) UnmarshalYAML(node *yaml.Node) error {
	*a = DefaultAuth()
	opts := yamlutil.KeyOptions{
		Noun: "snmp auth",
		Secrets: map[string]string{
			"password":      "password_file or password_env",
			"priv_password": "priv_password_file or priv_password_env",
		},
		SecretRule: "are read from files or the environment",
	}
	if err := yamlutil.CheckKeys(node, reflect.TypeFor[Auth](), opts); err != nil {
		return err
	}
	type plain Auth
	return node.Decode((*plain)(a))
}

var authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
	"MD5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA224": gosnmp.SHA224,
	"SHA256": gosnmp.SHA256, "SHA384": gosnmp.SHA384, "SHA512": gosnmp.SHA512,
}

var privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
	"DES": gosnmp.DES, "AES": gosnmp.AES, "AES128": gosnmp.AES, "AES192": gosnmp.AES192,
	"AES256": gosnmp.AES256, "AES192C": gosnmp.AES192C, "AES256C": gosnmp.AES256C,
}

var securityLevels = map[string]gosnmp.SnmpV3MsgFlags{
	"noAuthNoPriv": gosnmp.NoAuthNoPriv, "authNoPriv": gosnmp.AuthNoPriv, "authPriv": gosnmp.AuthPriv,
}

// Validate checks the auth, naming the bad key. Secret files and variables
// must exist.
func (a *Auth) Validate() error {
	switch a.Version {
	case 1, 2:
	case 3:
		if a.Username == "" {
			return errors.New("username: required for version 3")
		}
		lvl, ok := securityLevels[a.SecurityLevel]
		if !ok {
			return fmt.Errorf("security_level: %q is not noAuthNoPriv, authNoPriv or authPriv", a.SecurityLevel)
		}
		if lvl != gosnmp.NoAuthNoPriv {
			if _, ok := authProtocols[a.AuthProtocol]; !ok {
				return fmt.Errorf("auth_protocol: %q is not one of %s", a.AuthProtocol, keys(authProtocols))
			}
			if a.PasswordFile == "" && a.PasswordEnv == "" && a.password == "" {
				return fmt.Errorf("password_file: required for %s", a.SecurityLevel)
			}
		}
		if lvl == gosnmp.AuthPriv {
			if _, ok := privProtocols[a.PrivProtocol]; !ok {
				return fmt.Errorf("priv_protocol: %q is not one of %s", a.PrivProtocol, keys(privProtocols))
			}
			if a.PrivPasswordFile == "" && a.PrivPasswordEnv == "" && a.privPassword == "" {
				return errors.New("priv_password_file: required for authPriv")
			}
		}
	default:
		return fmt.Errorf("version: %d must be 1, 2 or 3", a.Version)
	}
	for _, s := range []struct{ key, file, env string }{
		{"community", a.CommunityFile, a.CommunityEnv},
		{"password", a.PasswordFile, a.PasswordEnv},
		{"priv_password", a.PrivPasswordFile, a.PrivPasswordEnv},
	} {
		if _, err := readSecret(s.file, s.env, ""); err != nil {
			return fmt.Errorf("%s: %w", s.key, err)
		}
	}
	return nil
}

// readSecret returns the secret from file (trailing newline removed), from
// the environment variable env, or inline, in that order.
func readSecret(file, env, inline string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("secret file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", env)
		}
		return v, nil
	}
	return inline, nil
}

// credentials are an Auth with its secrets read, ready for gosnmp.
type credentials struct {
	version      gosnmp.SnmpVersion
	community    string
	username     string
	flags        gosnmp.SnmpV3MsgFlags
	authProto    gosnmp.SnmpV3AuthProtocol
	password     string
	privProto    gosnmp.SnmpV3PrivProtocol
	privPassword string
	contextName  string
}

// resolve reads the secrets.
func (a *Auth) resolve() (credentials, error) {
	var cr credentials
	var err error
	switch a.Version {
	case 1:
		cr.version = gosnmp.Version1
	case 3:
		cr.version = gosnmp.Version3
	default:
		cr.version = gosnmp.Version2c
	}
	if cr.community, err = readSecret(a.CommunityFile, a.CommunityEnv, a.Community); err != nil {
		return cr, fmt.Errorf("community: %w", err)
	}
	cr.username = a.Username
	cr.flags = securityLevels[a.SecurityLevel]
	cr.authProto = authProtocols[a.AuthProtocol]
	cr.privProto = privProtocols[a.PrivProtocol]
	if cr.password, err = readSecret(a.PasswordFile, a.PasswordEnv, a.password); err != nil {
		return cr, fmt.Errorf("password: %w", err)
	}
	if cr.privPassword, err = readSecret(a.PrivPasswordFile, a.PrivPasswordEnv, a.privPassword); err != nil {
		return cr, fmt.Errorf("priv_password: %w", err)
	}
	cr.contextName = a.ContextName
	return cr, nil
}

// apply configures g with the credentials.
func (cr credentials) apply(g *gosnmp.GoSNMP) {
	g.Version = cr.version
	g.Community = cr.community
	g.ContextName = cr.contextName
	if cr.version != gosnmp.Version3 {
		return
	}
	g.SecurityModel = gosnmp.UserSecurityModel
	g.MsgFlags = cr.flags
	usm := &gosnmp.UsmSecurityParameters{UserName: cr.username}
	if cr.flags&gosnmp.AuthNoPriv != 0 {
		usm.AuthenticationProtocol = cr.authProto
		usm.AuthenticationPassphrase = cr.password
	} else {
		usm.AuthenticationProtocol = gosnmp.NoAuth
	}
	if cr.flags&gosnmp.AuthPriv == gosnmp.AuthPriv {
		usm.PrivacyProtocol = cr.privProto
		usm.PrivacyPassphrase = cr.privPassword
	} else {
		usm.PrivacyProtocol = gosnmp.NoPriv
	}
	g.SecurityParameters = usm
}

func keys[V any](m map[string]V) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// USMParameters returns the v3 USM parameters of a, its secrets read, for
// receiving traps from a's user.
func USMParameters(a *Auth) (*gosnmp.UsmSecurityParameters, error) {
	if a == nil || a.Version != 3 {
		return nil, errors.New("not a version 3 auth")
	}
	cr, err := a.resolve()
	if err != nil {
		return nil, err
	}
	var g gosnmp.GoSNMP
	cr.apply(&g)
	usm, ok := g.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	if !ok {
		return nil, errors.New("not a USM auth")
	}
	return usm, nil
}

// ParseOIDString checks a dotted OID and returns it without a leading dot.
func ParseOIDString(s string) (string, error) {
	if _, err := parseOID(s); err != nil {
		return "", err
	}
	return strings.TrimPrefix(s, "."), nil
}
