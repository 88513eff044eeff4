package remediate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"text/template"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/internal/yamlutil"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// DefaultTimeout bounds a run whose guards set no timeout.
const DefaultTimeout = 5 * time.Minute

// Config is the remediation part of fleetwatch's configuration: the
// `remediations:` list.
type Config struct {
	Remediations []Remediation `yaml:"remediations"`
}

// Remediation is one configured action and the guards around it.
type Remediation struct {
	// Name identifies the remediation in runs, timeline events and metrics.
	Name string `yaml:"name"`
	// Match holds Alertmanager matchers on the alert labels, all of which
	// must match (e.g. `alertname="HostUnreachable"`, `severity=~"crit.*"`).
	Match  []string `yaml:"match"`
	Action Action   `yaml:"action"`
	Guards Guards   `yaml:"guards"`
	Verify Verify   `yaml:"verify"`

	node     *yaml.Node
	matchers amlabels.Matchers
}

// Action is what a remediation does; exactly one field is set.
type Action struct {
	Exec      *ExecAction      `yaml:"exec"`
	HTTP      *HTTPAction      `yaml:"http"`
	Redfish   *RedfishAction   `yaml:"redfish"`
	Lifecycle *LifecycleAction `yaml:"lifecycle"`
}

// Kind is the action's kind: exec, http, redfish or lifecycle ("" when none
// is set).
func (a Action) Kind() string {
	switch {
	case a.Exec != nil:
		return "exec"
	case a.HTTP != nil:
		return "http"
	case a.Redfish != nil:
		return "redfish"
	case a.Lifecycle != nil:
		return "lifecycle"
	}
	return ""
}

// ExecAction runs a command with the run's JSON on stdin.
type ExecAction struct {
	// Command is the program and its arguments; no shell is involved.
	Command []string `yaml:"command"`
	// Timeout bounds the command (the smaller of it and guards.timeout).
	Timeout model.Duration `yaml:"timeout"`
	// Env is added to the minimal environment (PATH and the FLEETWATCH_*
	// variables). Values of keys that look secret are redacted from output.
	Env map[string]string `yaml:"env"`
}

// HTTPAction sends the run's JSON (or BodyTemplate) to a URL, retrying on
// 429, 5xx and connection errors.
type HTTPAction struct {
	// URL or URLFile (a file holding the URL, read at every run, for URLs
	// that carry a token); exactly one.
	URL     string `yaml:"url"`
	URLFile string `yaml:"url_file"`
	// Method defaults to POST.
	Method string `yaml:"method"`
	// HeadersFile holds `Name: value` lines sent with the request (e.g.
	// Authorization); every value is treated as a secret.
	HeadersFile string `yaml:"headers_file"`
	// Timeout bounds one attempt (default 30s, never past guards.timeout).
	Timeout model.Duration `yaml:"timeout"`
	// BodyTemplate is a Go text/template over the run's JSON document
	// (.Incident, .Server, .Alerts, .Run); empty sends the JSON itself.
	BodyTemplate string `yaml:"body_template"`

	tmpl *template.Template
}

// RedfishAction resets a server through its BMC or boots it from PXE once;
// exactly one of ResetType and PXEOnce.
type RedfishAction struct {
	ResetType string `yaml:"reset_type"`
	PXEOnce   bool   `yaml:"pxe_once"`
}

// LifecycleAction sets the server's inventory lifecycle state.
type LifecycleAction struct {
	State inventory.Lifecycle `yaml:"state"`
}

// Guards limit when an action may run. Zero values mean no limit, except
// Timeout (default DefaultTimeout).
type Guards struct {
	// DryRun records what would run and runs nothing.
	DryRun bool `yaml:"dry_run"`
	// RequireApproval holds the run until someone approves it.
	RequireApproval bool `yaml:"require_approval"`
	// MaxConcurrent caps this remediation's runs queued or running at once.
	MaxConcurrent int `yaml:"max_concurrent"`
	// MaxPerHour caps this remediation's runs started or due in the last hour.
	MaxPerHour int `yaml:"max_per_hour"`
	// CooldownPerServer refuses a run on a server this remediation acted
	// on less than this long ago.
	CooldownPerServer model.Duration `yaml:"cooldown_per_server"`
	BlastRadius       BlastRadius    `yaml:"blast_radius"`
	// Timeout bounds a run; the action is killed when it passes.
	Timeout model.Duration `yaml:"timeout"`
}

// BlastRadius refuses automatic action when too much of the fleet is
// affected at once, escalating to a human instead.
type BlastRadius struct {
	MaxServers       int     `yaml:"max_servers"`
	MaxPercentOfRack float64 `yaml:"max_percent_of_rack"`
	MaxPercentOfSite float64 `yaml:"max_percent_of_site"`
}

// Verify checks that a successful run fixed the problem.
type Verify struct {
	// Window is how long the alert has to clear after a successful run;
	// when it still fires after that, the incident is escalated. 0 = no
	// verification.
	Window model.Duration `yaml:"window"`
}

// timeout is the bound of one whole run.
func (r *Remediation) timeout() time.Duration {
	if r.Guards.Timeout > 0 {
		return time.Duration(r.Guards.Timeout)
	}
	return DefaultTimeout
}

// Matches reports whether the alert labels match every matcher.
func (r *Remediation) Matches(ls map[string]string) bool {
	for _, m := range r.matchers {
		if !m.Matches(ls[m.Name]) {
			return false
		}
	}
	return true
}

// Parse reads a file holding a `remediations:` list (unknown keys are
// errors) and validates it. Errors name the file, line and field.
func Parse(file string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlutil.FormatError(file, err)
	}
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlutil.DecodeError(file, &root, reflect.TypeFor[Config](), err)
	}
	if err := c.Validate(file); err != nil {
		return nil, err
	}
	return c, nil
}

// UnmarshalYAML decodes one remediation, refusing unknown keys (also when
// the list is embedded in a larger file decoded without KnownFields) and
// remembering lines for Validate.
func (r *Remediation) UnmarshalYAML(node *yaml.Node) error {
	if err := yamlutil.CheckKeys(node, reflect.TypeFor[Remediation](), yamlutil.KeyOptions{Wording: yamlutil.UnknownField}); err != nil {
		return err
	}
	type plain Remediation
	var p plain
	if err := node.Decode(&p); err != nil {
		return err
	}
	*r = Remediation(p)
	r.node = node
	return nil
}

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)
	envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// redfishResetTypes are the values of Redfish's ResetType enum.
var redfishResetTypes = []string{
	"On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart",
	"Nmi", "ForceOn", "PushPowerButton", "PowerCycle", "Suspend", "Pause", "Resume",
}

var httpMethods = []string{"POST", "PUT", "PATCH", "GET", "DELETE"}

// Validate checks every remediation and prepares its matchers and
// templates. All problems are reported, each as `file:line: field: problem`.
func (c *Config) Validate(file string) error {
	var errs []string
	names := map[string]int{}
	for i := range c.Remediations {
		r := &c.Remediations[i]
		prefix := fmt.Sprintf("remediations[%d]", i)
		bad := func(path []string, format string, args ...any) {
			errs = append(errs, fmt.Sprintf("%s:%d: %s.%s: %s", file, r.line(path...), prefix,
				strings.Join(path, "."), fmt.Sprintf(format, args...)))
		}
		r.validate(bad, names, i)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

func (r *Remediation) validate(bad func([]string, string, ...any), names map[string]int, i int) {
	switch {
	case r.Name == "":
		bad([]string{"name"}, "missing")
	case !nameRE.MatchString(r.Name):
		bad([]string{"name"}, "%q: use letters, digits, '_', '.', ':' and '-'", r.Name)
	default:
		if j, dup := names[r.Name]; dup {
			bad([]string{"name"}, "%q already used by remediations[%d]", r.Name, j)
		}
		names[r.Name] = i
	}
	r.matchers = nil
	if len(r.Match) == 0 {
		bad([]string{"match"}, "at least one matcher is required (a remediation never acts on every alert)")
	}
	for j, s := range r.Match {
		ms, err := amlabels.ParseMatchers(s)
		if err != nil {
			bad([]string{"match"}, "matcher %d %q: %v", j, s, err)
			continue
		}
		if len(ms) == 0 {
			bad([]string{"match"}, "matcher %d %q: empty", j, s)
		}
		r.matchers = append(r.matchers, ms...)
	}
	r.validateAction(bad)
	g := r.Guards
	for _, v := range []struct {
		key string
		n   int
	}{{"max_concurrent", g.MaxConcurrent}, {"max_per_hour", g.MaxPerHour}, {"max_servers", g.BlastRadius.MaxServers}} {
		if v.n < 0 {
			path := []string{"guards", v.key}
			if v.key == "max_servers" {
				path = []string{"guards", "blast_radius", v.key}
			}
			bad(path, "%d is negative", v.n)
		}
	}
	for key, p := range map[string]float64{"max_percent_of_rack": g.BlastRadius.MaxPercentOfRack, "max_percent_of_site": g.BlastRadius.MaxPercentOfSite} {
		if p < 0 || p > 100 {
			bad([]string{"guards", "blast_radius", key}, "%g is not between 0 and 100", p)
		}
	}
	if g.CooldownPerServer < 0 {
		bad([]string{"guards", "cooldown_per_server"}, "negative")
	}
	if g.Timeout < 0 {
		bad([]string{"guards", "timeout"}, "negative")
	}
	if r.Verify.Window < 0 {
		bad([]string{"verify", "window"}, "negative")
	}
}

func (r *Remediation) validateAction(bad func([]string, string, ...any)) {
	a := r.Action
	n := 0
	for _, set := range []bool{a.Exec != nil, a.HTTP != nil, a.Redfish != nil, a.Lifecycle != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		bad([]string{"action"}, "exactly one of exec, http, redfish, lifecycle is required (found %d)", n)
		return
	}
	switch {
	case a.Exec != nil:
		e := a.Exec
		if len(e.Command) == 0 || e.Command[0] == "" {
			bad([]string{"action", "exec", "command"}, "missing")
		}
		if e.Timeout < 0 {
			bad([]string{"action", "exec", "timeout"}, "negative")
		}
		for k := range e.Env {
			if !envKeyRE.MatchString(k) || strings.HasPrefix(k, "FLEETWATCH_") {
				bad([]string{"action", "exec", "env"}, "%q is not a usable variable name (FLEETWATCH_* are set by fleetwatch)", k)
			}
		}
	case a.HTTP != nil:
		h := a.HTTP
		switch {
		case h.URL == "" && h.URLFile == "":
			bad([]string{"action", "http", "url"}, "one of url and url_file is required")
		case h.URL != "" && h.URLFile != "":
			bad([]string{"action", "http", "url"}, "url and url_file are exclusive")
		case h.URL != "":
			if err := checkURL(h.URL); err != nil {
				bad([]string{"action", "http", "url"}, "%v", err)
			}
		}
		if h.Method == "" {
			h.Method = "POST"
		}
		h.Method = strings.ToUpper(h.Method)
		if !contains(httpMethods, h.Method) {
			bad([]string{"action", "http", "method"}, "%q is not one of %v", h.Method, httpMethods)
		}
		if h.Timeout < 0 {
			bad([]string{"action", "http", "timeout"}, "negative")
		}
		h.tmpl = nil
		if h.BodyTemplate != "" {
			t, err := template.New(r.Name).Option("missingkey=error").Parse(h.BodyTemplate)
			if err != nil {
				bad([]string{"action", "http", "body_template"}, "%v", err)
			} else {
				h.tmpl = t
			}
		}
	case a.Redfish != nil:
		rf := a.Redfish
		switch {
		case rf.ResetType == "" && !rf.PXEOnce:
			bad([]string{"action", "redfish"}, "one of reset_type and pxe_once is required")
		case rf.ResetType != "" && rf.PXEOnce:
			bad([]string{"action", "redfish"}, "reset_type and pxe_once are exclusive")
		case rf.ResetType != "" && !contains(redfishResetTypes, rf.ResetType):
			bad([]string{"action", "redfish", "reset_type"}, "%q is not one of %v", rf.ResetType, redfishResetTypes)
		}
	case a.Lifecycle != nil:
		if !contains(inventory.Lifecycles, a.Lifecycle.State) {
			bad([]string{"action", "lifecycle", "state"}, "%q is not one of %v", a.Lifecycle.State, inventory.Lifecycles)
		}
	}
}

// checkURL validates a configured URL without ever quoting it back: it may
// carry a token.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("scheme must be http or https")
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	return nil
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// line returns the line of the key at path in the remediation's YAML, the
// nearest existing ancestor's line when the key is absent, 0 when the
// remediation was not decoded from YAML.
func (r *Remediation) line(path ...string) int {
	n := r.node
	if n == nil {
		return 0
	}
	line := n.Line
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}
