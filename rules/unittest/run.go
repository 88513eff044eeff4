package unittest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	yaml "go.yaml.in/yaml/v2"

	fwrules "github.com/fleetwatch/fleetwatch/rules"
)

// Exit codes, as promtool's.
const (
	ExitSuccess = 0
	ExitFailure = 1
)

// Options are promtool test rules' flags that fleetwatch supports.
type Options struct {
	// Run keeps only the test groups whose name matches one of these
	// regular expressions (promtool --run).
	Run []string
	// IgnoreUnknownFields ignores unknown fields in rule files
	// (promtool --ignore-unknown-fields).
	IgnoreUnknownFields bool
	// Debug dumps all series at the end of each test group to stderr
	// (promtool --debug).
	Debug bool
	// Parser parses PromQL; default parser.NewParser(parser.Options{}).
	Parser parser.Parser
}

// Run is `fleetwatch rules test FILE...`: it runs each promtool unit-test
// file and prints, as promtool does, "Processing test file: FILE" and
// "  SUCCESS" on stdout or "  FAILED:" and the failures on stderr. It returns
// 0 when every file passes and 1 otherwise.
func Run(stdout, stderr io.Writer, opts Options, files ...string) int {
	if opts.Parser == nil {
		opts.Parser = parser.NewParser(parser.Options{})
	}
	var run *regexp.Regexp
	if opts.Run != nil {
		var err error
		run, err = regexp.Compile(strings.Join(opts.Run, "|"))
		if err != nil {
			fmt.Fprintf(stderr, "--run: %v\n", err)
			return ExitFailure
		}
	}
	failed := false
	for _, f := range files {
		fmt.Fprintf(stdout, "Processing test file: %s\n", f)
		if errs := ruleUnitTest(stderr, f, opts, run); errs != nil {
			fmt.Fprintln(stderr, "  FAILED:")
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
				fmt.Fprintln(stdout)
			}
			failed = true
		} else {
			fmt.Fprintln(stdout, "  SUCCESS")
		}
		fmt.Fprintln(stdout)
	}
	if failed {
		return ExitFailure
	}
	return ExitSuccess
}

func ruleUnitTest(stderr io.Writer, filename string, opts Options, run *regexp.Regexp) []error {
	b, err := os.ReadFile(filename)
	if err != nil {
		return []error{err}
	}
	var utf unitTestFile
	if err := yaml.UnmarshalStrict(b, &utf); err != nil {
		return []error{fmt.Errorf("%s: %w", filename, err)}
	}
	if err := resolveAndGlobFilepaths(stderr, filepath.Dir(filename), &utf); err != nil {
		return []error{err}
	}
	if utf.EvaluationInterval == 0 {
		utf.EvaluationInterval = model.Duration(time.Minute)
	}
	evalInterval := time.Duration(utf.EvaluationInterval)

	// Lower number groups are evaluated first.
	groupOrder := map[string]int{}
	for i, gn := range utf.GroupEvalOrder {
		if _, ok := groupOrder[gn]; ok {
			return []error{fmt.Errorf("group name repeated in evaluation order: %s", gn)}
		}
		groupOrder[gn] = i
	}

	var errs []error
	for i, t := range utf.Tests {
		if run != nil && !run.MatchString(t.TestGroupName) {
			continue
		}
		name := t.TestGroupName
		if name == "" {
			name = fmt.Sprintf("unnamed#%d", i)
		}
		if t.Interval == 0 {
			t.Interval = utf.EvaluationInterval
		}
		errs = append(errs, t.test(stderr, name, evalInterval, groupOrder, opts, utf.FuzzyCompare, utf.RuleFiles...)...)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// resolveAndGlobFilepaths joins relative rule file paths with the test
// file's directory and expands globs; "pack:NAME" stays as it is.
func resolveAndGlobFilepaths(stderr io.Writer, baseDir string, utf *unitTestFile) error {
	var out []string
	for _, rf := range utf.RuleFiles {
		if strings.HasPrefix(rf, fwrules.PackPrefix) {
			out = append(out, rf)
			continue
		}
		if rf != "" && !filepath.IsAbs(rf) {
			rf = filepath.Join(baseDir, rf)
		}
		m, err := filepath.Glob(rf)
		if err != nil {
			return err
		}
		if len(m) == 0 {
			fmt.Fprintln(stderr, "  WARNING: no file match pattern", rf)
		}
		out = append(out, m...)
	}
	utf.RuleFiles = out
	return nil
}

func (tg *testGroup) test(stderr io.Writer, testname string, evalInterval time.Duration, groupOrder map[string]int, opts Options, fuzzy bool, ruleFiles ...string) (outErr []error) {
	mint := time.Unix(0, 0).UTC()
	if !tg.StartTimestamp.IsZero() {
		mint = tg.StartTimestamp.Time
	}
	st, err := newLazyStorage(tg, opts.Parser, evalInterval, mint)
	if err != nil {
		return []error{err}
	}
	defer func() {
		if err := st.close(); err != nil {
			outErr = append(outErr, err)
		}
	}()

	logger := slog.New(slog.DiscardHandler)
	m := promrules.NewManager(&promrules.ManagerOptions{
		QueryFunc:    promrules.EngineQueryFunc(st.engine, st.db),
		AppendableV2: st.db,
		Queryable:    st.db,
		Context:      context.Background(),
		NotifyFunc:   func(context.Context, string, ...*promrules.Alert) {},
		Logger:       logger,
		Parser:       opts.Parser,
		GroupLoader:  fwrules.NewGroupLoader(opts.Parser, logger),
	})
	groupsMap, ers := m.LoadGroups(time.Duration(tg.Interval), tg.ExternalLabels, tg.ExternalURL, nil, opts.IgnoreUnknownFields, ruleFiles...)
	if ers != nil {
		return ers
	}
	groups := orderedGroups(groupsMap, groupOrder)
	maxt := mint.Add(tg.maxEvalTime())

	// The eval_times with alert tests, and the tests per eval_time.
	alertsInTest := map[model.Duration]map[string]struct{}{}
	alertTests := map[model.Duration][]alertTestCase{}
	var alertEvalTimes []model.Duration
	for _, a := range tg.AlertRuleTests {
		if a.Alertname == "" {
			var where string
			if tg.TestGroupName != "" {
				where = fmt.Sprintf(" (in TestGroup %s)", tg.TestGroupName)
			}
			return []error{fmt.Errorf("an item under alert_rule_test misses required attribute alertname at eval_time %v%s", a.EvalTime, where)}
		}
		if _, ok := alertsInTest[a.EvalTime]; !ok {
			alertsInTest[a.EvalTime] = map[string]struct{}{}
			alertEvalTimes = append(alertEvalTimes, a.EvalTime)
		}
		alertsInTest[a.EvalTime][a.Alertname] = struct{}{}
		alertTests[a.EvalTime] = append(alertTests[a.EvalTime], a)
	}
	slices.Sort(alertEvalTimes)

	// Mark alerting rules as restored so that ALERTS is written, as promtool.
	for _, g := range groups {
		for _, r := range g.Rules() {
			if ar, ok := r.(*promrules.AlertingRule); ok {
				ar.SetRestored(true)
			}
		}
	}

	var errs []error
	curr := 0
	for ts := mint; !ts.After(maxt); ts = ts.Add(evalInterval) {
		var evalErrs []error
		if err := st.appendTill(ts); err != nil {
			errs = append(errs, err)
		} else {
			for _, g := range groups {
				g.Eval(st.ctx, ts)
				for _, r := range g.Rules() {
					if r.LastError() != nil {
						evalErrs = append(evalErrs, fmt.Errorf("    rule: %s, time: %s, err: %w",
							r.Name(), ts.Sub(time.Unix(0, 0).UTC()), r.LastError()))
					}
				}
			}
		}
		errs = append(errs, evalErrs...)
		if len(evalErrs) > 0 {
			return errs
		}

		// Alerts are checked at the evaluation ts with ts <= eval_time < ts+interval.
		for curr < len(alertEvalTimes) && ts.Sub(mint) <= time.Duration(alertEvalTimes[curr]) &&
			time.Duration(alertEvalTimes[curr]) < ts.Add(evalInterval).Sub(mint) {
			t := alertEvalTimes[curr]
			errs = append(errs, tg.checkAlerts(groups, alertsInTest[t], alertTests[t])...)
			curr++
		}
	}

	errs = append(errs, tg.checkExprs(st, mint, fuzzy)...)

	if opts.Debug {
		tg.dump(stderr, st, mint)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (tg *testGroup) checkAlerts(groups []*promrules.Group, present map[string]struct{}, tests []alertTestCase) []error {
	got := map[string]labelsAndAnnotations{}
	// The same alert name can be in several groups: collect them all.
	for _, g := range groups {
		for _, r := range g.Rules() {
			ar, ok := r.(*promrules.AlertingRule)
			if !ok {
				continue
			}
			if _, ok := present[ar.Name()]; !ok {
				continue
			}
			var alerts labelsAndAnnotations
			for _, a := range ar.ActiveAlerts() {
				if a.State == promrules.StateFiring {
					alerts = append(alerts, labelAndAnnotation{Labels: a.Labels.Copy(), Annotations: a.Annotations.Copy()})
				}
			}
			got[ar.Name()] = append(got[ar.Name()], alerts...)
		}
	}
	var errs []error
	for _, tc := range tests {
		gotAlerts := got[tc.Alertname]
		var expAlerts labelsAndAnnotations
		for _, a := range tc.ExpAlerts {
			// The user gives only the rule's labels, not alertname.
			lbls := map[string]string{}
			for k, v := range a.ExpLabels {
				lbls[k] = v
			}
			lbls[labels.AlertName] = tc.Alertname
			expAlerts = append(expAlerts, labelAndAnnotation{
				Labels:      labels.FromMap(lbls),
				Annotations: labels.FromMap(a.ExpAnnotations),
			})
		}
		sort.Sort(gotAlerts)
		sort.Sort(expAlerts)
		if !expAlerts.equal(gotAlerts) {
			var testName string
			if tg.TestGroupName != "" {
				testName = fmt.Sprintf("    name: %s,\n", tg.TestGroupName)
			}
			errs = append(errs, fmt.Errorf("%s    alertname: %s, time: %s, \n        exp:%v, \n        got:%v",
				testName, tc.Alertname, tc.EvalTime.String(),
				indentLines(expAlerts.String(), "            "), indentLines(gotAlerts.String(), "            ")))
		}
	}
	return errs
}

func (tg *testGroup) checkExprs(st *lazyStorage, mint time.Time, fuzzy bool) []error {
	p := parser.NewParser(parser.Options{})
	var errs []error
outer:
	for _, tc := range tg.PromqlExprTests {
		got, err := query(st.ctx, tc.Expr, mint.Add(time.Duration(tc.EvalTime)), st.engine, st.db)
		if err != nil {
			errs = append(errs, fmt.Errorf("    expr: %q, time: %s, err: %s", tc.Expr, tc.EvalTime.String(), err.Error()))
			continue
		}
		var gotSamples []parsedSample
		for _, s := range got {
			gotSamples = append(gotSamples, parsedSample{Labels: s.Metric.Copy(), Value: s.F, Histogram: histString(s.H)})
		}
		var expSamples []parsedSample
		for _, s := range tc.ExpSamples {
			lb, err := p.ParseMetric(s.Labels)
			var hist *histogram.FloatHistogram
			if err == nil && s.Histogram != "" {
				_, values, perr := p.ParseSeriesDesc("{} " + s.Histogram)
				switch {
				case perr != nil:
					err = perr
				case len(values) != 1:
					err = fmt.Errorf("expected 1 value, got %d", len(values))
				case values[0].Histogram == nil:
					err = fmt.Errorf("expected histogram, got %v", values[0])
				default:
					hist = values[0].Histogram
				}
			}
			if err != nil {
				err = fmt.Errorf("labels %q: %w", s.Labels, err)
				errs = append(errs, fmt.Errorf("    expr: %q, time: %s, err: %w", tc.Expr, tc.EvalTime.String(), err))
				continue outer
			}
			expSamples = append(expSamples, parsedSample{Labels: lb, Value: s.Value, Histogram: histString(hist)})
		}
		sort.Slice(expSamples, func(i, j int) bool { return labels.Compare(expSamples[i].Labels, expSamples[j].Labels) <= 0 })
		sort.Slice(gotSamples, func(i, j int) bool { return labels.Compare(gotSamples[i].Labels, gotSamples[j].Labels) <= 0 })
		if !samplesEqual(expSamples, gotSamples, fuzzy) {
			errs = append(errs, fmt.Errorf("    expr: %q, time: %s,\n        exp: %v\n        got: %v", tc.Expr,
				tc.EvalTime.String(), parsedSamplesString(expSamples), parsedSamplesString(gotSamples)))
		}
	}
	return errs
}

func (tg *testGroup) dump(stderr io.Writer, st *lazyStorage, mint time.Time) {
	ts := (tg.maxEvalTime() + time.Second).Truncate(time.Second)
	expr := fmt.Sprintf(`{__name__=~".+"}[%v]`, ts)
	q, err := st.engine.NewInstantQuery(context.Background(), st.db, nil, expr, mint.Add(ts))
	if err != nil {
		fmt.Fprintf(stderr, "DEBUG: Failed querying, expr: %q, err: %v\n", expr, err)
		return
	}
	defer q.Close()
	res := q.Exec(st.ctx)
	if res.Err != nil {
		fmt.Fprintf(stderr, "DEBUG: Failed query exec, expr: %q, err: %v\n", expr, res.Err)
		return
	}
	fmt.Fprintf(stderr, "DEBUG: Dump of all data (input_series and rules) at %v:\n", ts)
	fmt.Fprintln(stderr, res.Value.String())
}

func histString(h *histogram.FloatHistogram) string {
	if h == nil {
		return ""
	}
	return h.TestExpression()
}

// orderedGroups orders groups by group_eval_order (a partial order).
func orderedGroups(groupsMap map[string]*promrules.Group, order map[string]int) []*promrules.Group {
	groups := make([]*promrules.Group, 0, len(groupsMap))
	for _, g := range groupsMap {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool { return order[groups[i].Name()] < order[groups[j].Name()] })
	return groups
}

func query(ctx context.Context, qs string, t time.Time, engine *promql.Engine, qu storage.Queryable) (promql.Vector, error) {
	q, err := engine.NewInstantQuery(ctx, qu, nil, qs, t)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		return v, nil
	case promql.Scalar:
		return promql.Vector{promql.Sample{T: v.T, F: v.V, Metric: labels.Labels{}}}, nil
	default:
		return nil, errors.New("rule result is not a vector or scalar")
	}
}
