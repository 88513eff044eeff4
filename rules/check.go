package rules

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	promrules "github.com/prometheus/prometheus/rules"
)

// Exit codes of CheckFiles, as promtool's.
const (
	ExitSuccess = 0
	ExitFailure = 1
)

// errLint marks findings that are warnings (duplicate rules), not errors.
var errLint = errors.New("lint error")

// CheckFiles is `fleetwatch rules check FILE...`. It follows promtool check
// rules (cmd/promtool/main.go, checkRules with the default
// --lint=duplicate-rules and no --lint-fatal): for each file "Checking FILE"
// on stdout, then either "  SUCCESS: N rules found" or "  FAILED:" and one
// error per line on stderr, each naming file:line:column. Duplicate rules are
// reported but, as in promtool, do not change the exit code. Files may be
// "pack:NAME"; anomaly items are dropped before checking. It returns 0 when
// every file is valid and 1 otherwise (also when no file is given).
func CheckFiles(stdout, stderr io.Writer, files ...string) int {
	if len(files) == 0 {
		fmt.Fprintln(stderr, "  FAILED: no rule files given")
		return ExitFailure
	}
	p := parser.NewParser(parser.Options{})
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	hasErrors := false
	for _, f := range files {
		fmt.Fprintln(stdout, "Checking", f)
		rgs, errs := ParseRuleFile(f, false, p, logger)
		if errs != nil {
			fmt.Fprintln(stderr, "  FAILED:")
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
			hasErrors = true
			continue
		}
		if n, errs := checkRuleGroups(rgs); errs != nil {
			fmt.Fprintln(stderr, "  FAILED:")
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
				hasErrors = hasErrors || !errors.Is(e, errLint)
			}
		} else {
			fmt.Fprintf(stdout, "  SUCCESS: %d rules found\n", n)
		}
		fmt.Fprintln(stdout)
	}
	if hasErrors {
		return ExitFailure
	}
	return ExitSuccess
}

// checkRuleGroups counts the rules and lints duplicates, as promtool does.
func checkRuleGroups(rgs *rulefmt.RuleGroups) (int, []error) {
	n := 0
	for _, g := range rgs.Groups {
		n += len(g.Rules)
	}
	if dups := duplicateRules(rgs.Groups); len(dups) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d duplicate rule(s) found.\n", len(dups))
		for _, d := range dups {
			fmt.Fprintf(&b, "Metric: %s\nLabel(s):\n", d.metric)
			d.labels.Range(func(l labels.Label) {
				fmt.Fprintf(&b, "\t%s: %s\n", l.Name, l.Value)
			})
		}
		b.WriteString("Might cause inconsistency while recording expressions")
		return 0, []error{fmt.Errorf("%w %s", errLint, b.String())}
	}
	return n, nil
}

type ruleKey struct {
	metric string
	labels labels.Labels
}

func compareRuleKeys(a, b ruleKey) int {
	if c := strings.Compare(a.metric, b.metric); c != 0 {
		return c
	}
	return labels.Compare(a.labels, b.labels)
}

func duplicateRules(groups []rulefmt.RuleGroup) []ruleKey {
	var keys []ruleKey
	for _, g := range groups {
		for _, r := range g.Rules {
			m := r.Alert
			if m == "" {
				m = r.Record
			}
			keys = append(keys, ruleKey{metric: m, labels: promrules.FromMaps(g.Labels, r.Labels)})
		}
	}
	sort.Slice(keys, func(i, j int) bool { return compareRuleKeys(keys[i], keys[j]) < 0 })
	var dups []ruleKey
	for i := 1; i < len(keys); i++ {
		if compareRuleKeys(keys[i-1], keys[i]) == 0 &&
			(len(dups) == 0 || compareRuleKeys(dups[len(dups)-1], keys[i]) != 0) {
			dups = append(dups, keys[i])
		}
	}
	return dups
}
