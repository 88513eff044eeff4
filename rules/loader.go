package rules

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	promrules "github.com/prometheus/prometheus/rules"
	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/rules/packs"
)

// PackPrefix marks a built-in rule pack in a list of rule files:
// "pack:server" loads rules/packs/server.yml from the binary.
const PackPrefix = "pack:"

// AnomalyKey is the key that marks an anomaly rule inside a group's rules
// list. Such items belong to the anomaly package and are dropped before the
// file is handed to Prometheus' rulefmt.
const AnomalyKey = "anomaly"

// ExpandRuleFiles turns rule_files patterns into the identifiers Load uses:
// globs are expanded (sorted, duplicates removed, like Prometheus), "pack:NAME"
// entries are kept as they are after checking the pack exists. A bad glob or
// an unknown pack is an error naming the pattern.
func ExpandRuleFiles(patterns []string) ([]string, error) {
	var out []string
	seen := map[string]struct{}{}
	add := func(s string) {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	for _, pat := range patterns {
		if name, ok := strings.CutPrefix(pat, PackPrefix); ok {
			if _, err := packs.Read(name); err != nil {
				return nil, fmt.Errorf("rule_files %q: %w", pat, err)
			}
			add(pat)
			continue
		}
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("rule_files %q: %w", pat, err)
		}
		sort.Strings(matches)
		for _, m := range matches {
			add(m)
		}
	}
	return out, nil
}

// readRuleSource returns the content of a rule file or of a built-in pack.
func readRuleSource(identifier string) ([]byte, error) {
	if name, ok := strings.CutPrefix(identifier, PackPrefix); ok {
		return packs.Read(name)
	}
	return os.ReadFile(identifier)
}

// ParseRuleFile reads a rule file (or "pack:NAME"), drops its anomaly items
// and parses it with Prometheus' rulefmt. Every error is prefixed with the
// identifier and carries rulefmt's line:column. p and logger may be nil.
func ParseRuleFile(identifier string, ignoreUnknownFields bool, p parser.Parser, logger *slog.Logger) (*rulefmt.RuleGroups, []error) {
	b, err := readRuleSource(identifier)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", identifier, err)}
	}
	stripped, err := StripAnomalyRules(b)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", identifier, err)}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if p == nil {
		p = parser.NewParser(parser.Options{})
	}
	rgs, errs := rulefmt.Parse(stripped, ignoreUnknownFields, model.UTF8Validation, p, logger)
	for i := range errs {
		errs[i] = fmt.Errorf("%s: %w", identifier, withRuleLine(stripped, errs[i]))
	}
	return rgs, errs
}

// withRuleLine gives rulefmt errors that carry no position (labels,
// annotations, templates) the line:column of their rule.
func withRuleLine(content []byte, err error) error {
	if msg := err.Error(); strings.HasPrefix(msg, "0:0: ") {
		return groupLine(content, msg)
	}
	var rerr *rulefmt.Error
	if !errors.As(err, &rerr) || len(err.Error()) > 0 && err.Error()[0] >= '0' && err.Error()[0] <= '9' {
		return err
	}
	var doc yaml.Node
	if yaml.Unmarshal(content, &doc) != nil {
		return err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	groups := mappingValue(root, "groups")
	if groups == nil || groups.Kind != yaml.SequenceNode {
		return err
	}
	for _, g := range groups.Content {
		if n := mappingValue(g, "name"); n == nil || n.Value != rerr.Group {
			continue
		}
		rs := mappingValue(g, "rules")
		if rs == nil || rs.Kind != yaml.SequenceNode || rerr.Rule < 1 || rerr.Rule > len(rs.Content) {
			return err
		}
		r := rs.Content[rerr.Rule-1]
		return fmt.Errorf("%d:%d: %w", r.Line, r.Column, err)
	}
	return err
}

// groupLoader is the rules.GroupLoader of the Engine: files and packs, with
// anomaly items dropped.
type groupLoader struct {
	parser parser.Parser
	logger *slog.Logger
}

func (l groupLoader) Load(identifier string, ignoreUnknownFields bool, _ model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	return ParseRuleFile(identifier, ignoreUnknownFields, l.parser, l.logger)
}

func (l groupLoader) Parse(query string) (parser.Expr, error) {
	return l.parser.ParseExpr(query)
}

// StripAnomalyRules returns content with every rule item keyed `anomaly:`
// (and having neither `alert:` nor `record:`) removed. Block-style items are
// blanked line by line so that the line numbers rulefmt reports for the rest
// of the file stay those of the user's file. Content that is not valid YAML
// is returned unchanged: rulefmt reports the error.
func StripAnomalyRules(content []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil {
		return content, nil
	}
	var items []*yaml.Node
	var flow bool
	for _, rulesSeq := range ruleSequences(&doc) {
		if rulesSeq.Style&yaml.FlowStyle != 0 {
			flow = true
		}
		for _, it := range rulesSeq.Content {
			if isAnomalyItem(it) {
				items = append(items, it)
				if it.Style&yaml.FlowStyle != 0 {
					flow = true
				}
			}
		}
	}
	if len(items) == 0 {
		return content, nil
	}
	if !flow {
		if out, ok := blankItems(content, &doc, items); ok {
			return out, nil
		}
	}
	// Flow style or items sharing lines with other nodes: rewrite the tree.
	// Line numbers of later errors may shift in this rare case.
	drop := map[*yaml.Node]bool{}
	for _, it := range items {
		drop[it] = true
	}
	for _, rulesSeq := range ruleSequences(&doc) {
		kept := rulesSeq.Content[:0]
		for _, it := range rulesSeq.Content {
			if !drop[it] {
				kept = append(kept, it)
			}
		}
		rulesSeq.Content = kept
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("dropping anomaly rules: %w", err)
	}
	return out, nil
}

// ruleSequences returns the `rules:` sequence node of every group.
func ruleSequences(doc *yaml.Node) []*yaml.Node {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	groups := mappingValue(root, "groups")
	if groups == nil || groups.Kind != yaml.SequenceNode {
		return nil
	}
	var out []*yaml.Node
	for _, g := range groups.Content {
		if rs := mappingValue(g, "rules"); rs != nil && rs.Kind == yaml.SequenceNode {
			out = append(out, rs)
		}
	}
	return out
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func isAnomalyItem(n *yaml.Node) bool {
	return mappingValue(n, AnomalyKey) != nil && mappingValue(n, "alert") == nil && mappingValue(n, "record") == nil
}

// blankItems replaces the lines of each item with empty lines. It reports
// false when an item shares a line with a node outside it.
func blankItems(content []byte, doc *yaml.Node, items []*yaml.Node) ([]byte, bool) {
	inItem := map[*yaml.Node]bool{}
	for _, it := range items {
		walk(it, func(n *yaml.Node) { inItem[n] = true })
	}
	var outside []int // lines of nodes outside any dropped item
	walk(doc, func(n *yaml.Node) {
		// Scalars carry the text; a collection starts where its first child does.
		if !inItem[n] && (n.Kind == yaml.ScalarNode || n.Kind == yaml.AliasNode) && n.Line > 0 {
			outside = append(outside, n.Line)
		}
	})
	sort.Ints(outside)

	lines := bytes.SplitAfter(content, []byte("\n"))
	for _, it := range items {
		start, last := it.Line, it.Line
		walk(it, func(n *yaml.Node) { last = max(last, n.Line) })
		end := len(lines)
		if i := sort.SearchInts(outside, start); i < len(outside) {
			if outside[i] <= last {
				return nil, false
			}
			end = outside[i] - 1
		}
		// A dash alone on the line before the item belongs to it.
		if start >= 2 && strings.TrimSpace(string(lines[start-2])) == "-" {
			start--
		}
		for l := start; l <= end && l <= len(lines); l++ {
			if bytes.HasSuffix(lines[l-1], []byte("\n")) {
				lines[l-1] = []byte("\n")
			} else {
				lines[l-1] = nil
			}
		}
	}
	return bytes.Join(lines, nil), true
}

// groupLine puts back the position of group-level errors that rulefmt
// (v0.316.0) reports as 0:0: the repeated or the empty group name.
func groupLine(content []byte, msg string) error {
	rest := strings.TrimPrefix(msg, "0:0: ")
	want, seenBefore := "", false
	switch {
	case strings.HasPrefix(rest, "groupname: \""):
		want = strings.TrimSuffix(strings.TrimPrefix(rest, "groupname: \""), "\" is repeated in the same file")
		seenBefore = true
	case strings.HasPrefix(rest, "Groupname must not be empty"):
	default:
		return errors.New(msg)
	}
	var doc yaml.Node
	if yaml.Unmarshal(content, &doc) != nil {
		return errors.New(msg)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	groups := mappingValue(root, "groups")
	if groups == nil {
		return errors.New(msg)
	}
	seen := false
	for _, g := range groups.Content {
		name := ""
		if n := mappingValue(g, "name"); n != nil {
			name = n.Value
		}
		if name != want {
			continue
		}
		if seenBefore && !seen {
			seen = true
			continue
		}
		return fmt.Errorf("%d:%d: %s", g.Line, g.Column, rest)
	}
	return errors.New(msg)
}

func walk(n *yaml.Node, f func(*yaml.Node)) {
	f(n)
	for _, c := range n.Content {
		walk(c, f)
	}
}

// NewGroupLoader returns the rules.GroupLoader fleetwatch uses: rule files
// and "pack:NAME", with anomaly items dropped before rulefmt parses them.
func NewGroupLoader(p parser.Parser, logger *slog.Logger) promrules.GroupLoader {
	return groupLoader{parser: p, logger: logger}
}

// ParseRuleFileContent parses rule-file content as ParseRuleFile does, for
// callers holding the bytes (tests, stdin).
func ParseRuleFileContent(content []byte) (*rulefmt.RuleGroups, []error) {
	stripped, err := StripAnomalyRules(content)
	if err != nil {
		return nil, []error{err}
	}
	rgs, errs := rulefmt.Parse(stripped, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	for i := range errs {
		errs[i] = withRuleLine(stripped, errs[i])
	}
	return rgs, errs
}
