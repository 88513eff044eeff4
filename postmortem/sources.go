package postmortem

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/rules"
)

// ErrNotFound is returned (wrapped with the incident's ID) when the
// incident asked for does not exist; it is the store's own sentinel.
var ErrNotFound = store.ErrNotFound

// ErrBadSelection is returned (wrapped) for a selection that names neither
// an incident nor a time range, or whose selector or times do not parse.
var ErrBadSelection = errors.New("bad selection")

// Rule is the alerting rule behind an alert, as far as the postmortem needs
// it: its expression is evaluated without its `for` to find when the
// triggering series became anomalous.
type Rule struct {
	Name string        // the alert's name
	Expr string        // the PromQL expression
	For  time.Duration // the rule's `for`
	// Labels are the rule's own labels (added to every alert it fires);
	// they are ignored when matching the expression's series to an alert.
	Labels map[string]string
	File   string // where it was read from, for the report ("" if unknown)
}

// RuleLookup finds the rule that fired an alert with these labels
// (alertname among them). ok is false when the rule is unknown.
type RuleLookup func(alertLabels map[string]string) (r Rule, ok bool)

// Sources is everything the postmortem reads. Only Store is required:
// without Queryable and Engine there are no ALERTS entries, no time to
// detect and no graphs; without Rules no time to detect and no graphs of
// the triggering expressions. The report says what was missing.
type Sources struct {
	// Store is the alerter's store (incidents, alerts, timeline events,
	// notifications, remediation runs).
	Store store.Reader
	// Queryable is the TSDB (pipeline.Store satisfies it); Engine evaluates
	// PromQL on it (promapi.NewEngine).
	Queryable storage.Queryable
	Engine    promql.QueryEngine
	// Rules finds an alert's rule; RulesFromFiles builds one from rule files.
	Rules RuleLookup
	// Logger receives what could not be read (a broken event, a failed
	// query) while the report goes on without it. nil drops the messages.
	Logger *slog.Logger
	// Now is the clock (time.Now when nil): open incidents end at Now.
	Now func() time.Time
}

func (s Sources) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s Sources) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s Sources) hasTSDB() bool { return s.Queryable != nil && s.Engine != nil }

// Selection says whose timeline to build: one incident (IncidentID), or
// everything between From and To whose labels match Matchers (all events
// when Matchers is empty).
type Selection struct {
	IncidentID string
	From, To   time.Time
	Matchers   []*labels.Matcher
}

// String describes the selection for titles and errors.
func (s Selection) String() string {
	if s.IncidentID != "" {
		return "incident " + s.IncidentID
	}
	ms := make([]string, len(s.Matchers))
	for i, m := range s.Matchers {
		ms[i] = m.String()
	}
	sel := ""
	if len(ms) > 0 {
		sel = " {" + strings.Join(ms, ", ") + "}"
	}
	return fmt.Sprintf("%s to %s%s", s.From.UTC().Format(time.RFC3339), s.To.UTC().Format(time.RFC3339), sel)
}

// Validate reports a selection that cannot be built.
func (s Selection) Validate() error {
	if s.IncidentID != "" {
		return nil
	}
	if s.From.IsZero() || s.To.IsZero() {
		return fmt.Errorf("%w: name an incident, or both from and to", ErrBadSelection)
	}
	if !s.To.After(s.From) {
		return fmt.Errorf("%w: to (%s) is not after from (%s)", ErrBadSelection,
			s.To.UTC().Format(time.RFC3339), s.From.UTC().Format(time.RFC3339))
	}
	return nil
}

// ParseSelector parses a label selector such as `{site="dc2",rack=~"r1.*"}`
// (the braces may be left out; an empty string selects everything).
func ParseSelector(sel string) ([]*labels.Matcher, error) {
	sel = strings.TrimSpace(sel)
	if sel == "" || sel == "{}" {
		return nil, nil
	}
	if !strings.HasPrefix(sel, "{") {
		sel = "{" + sel + "}"
	}
	ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(sel)
	if err != nil {
		return nil, fmt.Errorf("%w: selector %q: %v", ErrBadSelection, sel, err)
	}
	return ms, nil
}

// ParseTime reads a time as RFC 3339 ("2026-03-01T22:00:00Z"), a Unix
// timestamp in seconds ("1772402400", fractions allowed), "now", or a
// duration relative to now ("-12h", "-30m", "-2d").
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return time.Time{}, fmt.Errorf("%w: empty time", ErrBadSelection)
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+"):
		d, err := parseDuration(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: time %q: %v", ErrBadSelection, s, err)
		}
		if s[0] == '-' {
			d = -d
		}
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	var sec, frac int64
	var fracDigits int
	whole, fr, hasFrac := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || (hasFrac && (fr == "" || len(fr) > 9)) {
		return time.Time{}, fmt.Errorf("%w: time %q: want RFC 3339, Unix seconds, now or -DURATION", ErrBadSelection, s)
	}
	for _, c := range whole {
		if c < '0' || c > '9' {
			return time.Time{}, fmt.Errorf("%w: time %q: want RFC 3339, Unix seconds, now or -DURATION", ErrBadSelection, s)
		}
		sec = sec*10 + int64(c-'0')
	}
	for _, c := range fr {
		if c < '0' || c > '9' {
			return time.Time{}, fmt.Errorf("%w: time %q: want RFC 3339, Unix seconds, now or -DURATION", ErrBadSelection, s)
		}
		frac = frac*10 + int64(c-'0')
		fracDigits++
	}
	for ; fracDigits < 9 && hasFrac; fracDigits++ {
		frac *= 10
	}
	return time.Unix(sec, frac).UTC(), nil
}

// parseDuration accepts Go durations and Prometheus' (with d, w, y).
func parseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return time.Duration(d), nil
}

// RulesFromFiles reads Prometheus rule files (and "pack:NAME" identifiers,
// anomaly items dropped, as the rule engine loads them) and returns a
// lookup by alert name. Two rules with the same alert name are told apart
// by their labels: the one whose labels all appear on the alert wins. A
// file that does not parse is an error naming it.
func RulesFromFiles(files []string) (RuleLookup, error) {
	byName := map[string][]Rule{}
	for _, f := range files {
		rgs, errs := rules.ParseRuleFile(f, false, nil, nil)
		if len(errs) > 0 {
			return nil, fmt.Errorf("rule files: %w", errors.Join(errs...)) // each error names its file
		}
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				byName[r.Alert] = append(byName[r.Alert], Rule{
					Name: r.Alert, Expr: r.Expr, For: time.Duration(r.For), Labels: r.Labels, File: f,
				})
			}
		}
	}
	return RulesFromList(flatten(byName)), nil
}

func flatten(m map[string][]Rule) []Rule {
	var out []Rule
	for _, rs := range m {
		out = append(out, rs...)
	}
	return out
}

// RulesFromList returns a lookup over rs, by alert name then labels, as
// RulesFromFiles does.
func RulesFromList(rs []Rule) RuleLookup {
	byName := map[string][]Rule{}
	for _, r := range rs {
		byName[r.Name] = append(byName[r.Name], r)
	}
	return func(alertLabels map[string]string) (Rule, bool) {
		cands := byName[alertLabels["alertname"]]
		best, bestN := -1, -1
		for i, r := range cands {
			n := 0
			ok := true
			for k, v := range r.Labels {
				if alertLabels[k] != v {
					ok = false
					break
				}
				n++
			}
			if ok && n > bestN {
				best, bestN = i, n
			}
		}
		if best < 0 {
			return Rule{}, false
		}
		return cands[best], true
	}
}
