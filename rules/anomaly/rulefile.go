package anomaly

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/template"
	"gopkg.in/yaml.v3"
)

// Group is a rule group of a rule file holding at least one anomaly rule.
type Group struct {
	Name string
	File string
	// Interval between evaluations; 0 means the Evaluator's default.
	Interval time.Duration
	Rules    []Rule
	Line     int
}

// Rule is one `anomaly:` item of a rule group.
type Rule struct {
	// Name is the alert name (the `anomaly:` value).
	Name string
	// Expr is the PromQL expression; each series it returns gets a detector.
	Expr string
	// Preset is the preset the params started from.
	Preset string
	// Params are the preset's parameters with the item's overrides.
	Params      Params
	Labels      labels.Labels
	Annotations labels.Labels
	// Line is where the item starts in its file.
	Line int
}

// key identifies a rule's state across restarts and reorderings.
func (r *Rule) key() string { return r.Name + "\x00" + r.Expr }

// ParseFile reads the anomaly rules of a Prometheus rule file.
func ParseFile(path string) ([]Group, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseBytes(path, data)
}

// ParseError is a problem at a place in a rule file.
type ParseError struct {
	File  string
	Line  int
	Group string
	Rule  string
	Field string
	Err   error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:", e.File, e.Line)
	if e.Group != "" {
		fmt.Fprintf(&b, " group %q:", e.Group)
	}
	if e.Rule != "" {
		fmt.Fprintf(&b, " anomaly %q:", e.Rule)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, " field %s:", e.Field)
	}
	return b.String() + " " + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// ParseBytes reads the `anomaly:` items of a rule file's content; name is the
// file name used in errors. Items keyed `alert:` or `record:` are skipped
// (prometheus' rulefmt owns them) and groups without anomaly items are left
// out. Every rule is validated; all errors are returned joined.
func ParseBytes(name string, data []byte) ([]Group, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(root.Content) == 0 {
		return nil, nil
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, &ParseError{File: name, Line: doc.Line, Err: errors.New("want a mapping with a groups key")}
	}
	var errs []error
	var groups []Group
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if k.Value != "groups" {
			continue // rulefmt reports unknown top-level keys
		}
		if v.Kind != yaml.SequenceNode {
			if v.Tag == "!!null" {
				continue
			}
			return nil, &ParseError{File: name, Line: v.Line, Field: "groups", Err: errors.New("want a list")}
		}
		seen := map[string]int{}
		for _, gn := range v.Content {
			g, gerrs := parseGroup(name, gn)
			errs = append(errs, gerrs...)
			if g.Name != "" {
				if l, dup := seen[g.Name]; dup {
					errs = append(errs, &ParseError{File: name, Line: g.Line, Group: g.Name, Err: fmt.Errorf("group name repeated (first at line %d)", l)})
				}
				seen[g.Name] = g.Line
			}
			if len(g.Rules) > 0 {
				groups = append(groups, g)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return groups, nil
}

func parseGroup(file string, n *yaml.Node) (Group, []error) {
	g := Group{File: file, Line: n.Line}
	if n.Kind != yaml.MappingNode {
		return g, []error{&ParseError{File: file, Line: n.Line, Err: errors.New("group: want a mapping")}}
	}
	var errs []error
	var rulesNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "name":
			g.Name = v.Value
		case "interval":
			d, err := model.ParseDuration(v.Value)
			if err != nil || d <= 0 {
				errs = append(errs, &ParseError{File: file, Line: v.Line, Field: "interval", Err: fmt.Errorf("%q is not a positive duration", v.Value)})
			}
			g.Interval = time.Duration(d)
		case "rules":
			rulesNode = v
		}
	}
	if rulesNode == nil || rulesNode.Kind != yaml.SequenceNode {
		return g, errs
	}
	for _, rn := range rulesNode.Content {
		if rn.Kind != yaml.MappingNode || !hasKey(rn, "anomaly") {
			continue
		}
		r, rerrs := parseRule(file, g.Name, rn)
		for _, e := range rerrs {
			errs = append(errs, e)
		}
		if len(rerrs) == 0 {
			g.Rules = append(g.Rules, r)
		}
	}
	if g.Name == "" && len(g.Rules) > 0 {
		errs = append(errs, &ParseError{File: file, Line: g.Line, Field: "name", Err: errors.New("group has no name")})
	}
	for i := range g.Rules {
		for j := range i {
			if g.Rules[i].key() == g.Rules[j].key() {
				errs = append(errs, &ParseError{File: file, Line: g.Rules[i].Line, Group: g.Name, Rule: g.Rules[i].Name,
					Err: fmt.Errorf("same anomaly name and expr as the rule at line %d", g.Rules[j].Line)})
			}
		}
	}
	return g, errs
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// ruleFields lists the keys an anomaly item may have.
var ruleFields = []string{
	"anomaly", "expr", "preset", "labels", "annotations",
	"threshold", "window", "min_history", "direction", "transform",
	"half_life", "std_weight", "relative_floor", "absolute_floor",
	"seasonality", "season_bucket", "season_half_life", "for", "keep_firing_for",
}

func parseRule(file, group string, n *yaml.Node) (Rule, []error) {
	r := Rule{Line: n.Line, Preset: PresetGauge}
	fields := map[string]*yaml.Node{}
	var errs []error
	fail := func(v *yaml.Node, field string, err error) {
		errs = append(errs, &ParseError{File: file, Line: v.Line, Group: group, Rule: r.Name, Field: field, Err: err})
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, dup := fields[k.Value]; dup {
			fail(k, k.Value, errors.New("given twice"))
			continue
		}
		fields[k.Value] = v
		if k.Value == "anomaly" {
			r.Name = v.Value
		}
	}
	for _, k := range sortedKeys(fields) {
		if !contains(ruleFields, k) {
			fail(fields[k], k, fmt.Errorf("unknown field (want one of %s)", strings.Join(ruleFields, ", ")))
		}
	}
	if v := fields["anomaly"]; v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "" {
		fail(v, "anomaly", errors.New("the alert name must be a non-empty string"))
	}
	if v, ok := fields["expr"]; !ok || strings.TrimSpace(v.Value) == "" {
		fail(n, "expr", errors.New("missing"))
	} else if _, err := parser.NewParser(parser.Options{}).ParseExpr(v.Value); err != nil {
		fail(v, "expr", err)
	} else {
		r.Expr = v.Value
	}
	if v, ok := fields["preset"]; ok {
		r.Preset = v.Value
	}
	p, err := Preset(r.Preset)
	if err != nil {
		fail(fields["preset"], "preset", err)
		return r, errs
	}
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		if err := setParam(&p, k, v); err != nil {
			fail(v, k, err)
		}
	}
	r.Params = p
	for _, kv := range []struct {
		field string
		dst   *labels.Labels
	}{{"labels", &r.Labels}, {"annotations", &r.Annotations}} {
		v, ok := fields[kv.field]
		if !ok {
			continue
		}
		m := map[string]string{}
		if err := v.Decode(&m); err != nil {
			fail(v, kv.field, errors.New("want a mapping of strings"))
			continue
		}
		for name, val := range m {
			if !model.LabelName(name).IsValid() {
				fail(v, kv.field, fmt.Errorf("invalid name %q", name))
			}
			if err := parseTemplate(r.Name, val); err != nil {
				fail(v, kv.field+"."+name, err)
			}
		}
		*kv.dst = labels.FromMap(m)
	}
	if len(errs) == 0 {
		if err := r.Params.Validate(); err != nil {
			// Validate names the field; point at the item.
			fail(n, "", err)
		}
	}
	return r, errs
}

// setParam applies one override; non-parameter keys are ignored.
func setParam(p *Params, key string, v *yaml.Node) error {
	num := func() (float64, error) {
		f, err := strconv.ParseFloat(v.Value, 64)
		if v.Kind != yaml.ScalarNode || err != nil {
			return 0, fmt.Errorf("%q is not a number", v.Value)
		}
		return f, nil
	}
	integer := func() (int, error) {
		i, err := strconv.Atoi(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil {
			return 0, fmt.Errorf("%q is not an integer", v.Value)
		}
		return i, nil
	}
	dur := func() (time.Duration, error) {
		d, err := model.ParseDuration(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil {
			return 0, fmt.Errorf("%q is not a duration (like 5m)", v.Value)
		}
		return time.Duration(d), nil
	}
	var err error
	switch key {
	case "threshold":
		p.Threshold, err = num()
	case "window":
		p.Window, err = integer()
	case "min_history":
		p.MinHistory, err = integer()
	case "half_life":
		p.HalfLife, err = num()
	case "std_weight":
		p.StdWeight, err = num()
	case "relative_floor":
		p.RelativeFloor, err = num()
	case "absolute_floor":
		p.AbsoluteFloor, err = num()
	case "season_half_life":
		p.SeasonHalfLife, err = num()
	case "direction":
		p.Direction, err = ParseDirection(v.Value)
	case "transform":
		p.Transform, err = ParseTransform(v.Value)
	case "seasonality":
		p.Seasonality, err = ParseSeasonality(v.Value)
	case "season_bucket":
		p.SeasonBucket, err = dur()
	case "for":
		p.For, err = dur()
	case "keep_firing_for":
		p.KeepFiringFor, err = dur()
	}
	return err
}

// parseTemplate checks a label or annotation template the way rulefmt does.
func parseTemplate(name, text string) error {
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	data := template.AlertTemplateData(map[string]string{}, map[string]string{}, "", promql.Sample{})
	tmpl := template.NewTemplateExpander(context.Background(), defs+text, "__alert_"+name, data, model.Time(0), nil, nil, nil)
	return tmpl.ParseTest()
}

// Validate checks groups built in code (ParseBytes already validates).
func Validate(groups []Group) error {
	var errs []error
	for _, g := range groups {
		if g.Name == "" {
			errs = append(errs, fmt.Errorf("%s: group without a name", g.File))
		}
		if g.Interval < 0 {
			errs = append(errs, fmt.Errorf("%s: group %q: interval %v is negative", g.File, g.Name, g.Interval))
		}
		for _, r := range g.Rules {
			where := fmt.Sprintf("%s:%d: group %q: anomaly %q", g.File, r.Line, g.Name, r.Name)
			if r.Name == "" {
				errs = append(errs, fmt.Errorf("%s: missing name", where))
			}
			if _, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr); err != nil {
				errs = append(errs, fmt.Errorf("%s: field expr: %w", where, err))
			}
			if err := r.Params.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
