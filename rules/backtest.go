package rules

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// Report is what Backtest found, one entry per alerting rule.
type Report struct {
	From, To time.Time
	Rules    []RuleReport
}

// RuleReport is one alerting rule's behaviour over the backtest range.
type RuleReport struct {
	File, Group, Alert string
	Interval           time.Duration
	Evaluations        int
	// Alerts counts the alerts that would have fired: an alert (one label
	// set) going from pending or inactive to firing counts once per episode.
	Alerts int
	// Instances counts the distinct label sets that fired.
	Instances int
	// FiringMinutes sums, over all alerts, the minutes spent firing.
	FiringMinutes float64
	// FirstFired and LastFiring are zero when the rule never fired.
	FirstFired, LastFiring time.Time
	// Failures counts evaluations that failed; LastError is the last one.
	Failures  int
	LastError string
}

// Backtest evaluates the rule files (globs or "pack:NAME") over the history
// in o.Queryable from from to to, with each group's interval, and reports per
// alerting rule what would have fired. It uses Prometheus' rule groups, so
// `for`, keep_firing_for, limit and query_offset behave as in production.
// Recording-rule results go to a scratch TSDB merged into later queries;
// o.Queryable is never written. Needs o.Queryable and o.Engine (or
// o.QueryFunc, in which case recording-rule results are not visible to later
// rules). Nothing is notified.
func Backtest(ctx context.Context, o Options, files []string, from, to time.Time) (Report, error) {
	o.defaults()
	if !from.Before(to) {
		return Report{}, fmt.Errorf("backtest: --from %s is not before --to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if o.Queryable == nil {
		return Report{}, errors.New("backtest: Options.Queryable is required")
	}
	ids, err := ExpandRuleFiles(files)
	if err != nil {
		return Report{}, fmt.Errorf("backtest: %w", err)
	}

	dir, err := os.MkdirTemp("", "fleetwatch-backtest")
	if err != nil {
		return Report{}, fmt.Errorf("backtest: scratch storage: %w", err)
	}
	defer os.RemoveAll(dir)
	sopts := tsdb.DefaultOptions()
	sopts.WALSegmentSize = -1
	sopts.RetentionDuration = 0
	sopts.OutOfOrderTimeWindow = to.Sub(from).Milliseconds() + time.Hour.Milliseconds()
	scratch, err := tsdb.Open(dir, nil, nil, sopts, tsdb.NewDBStats())
	if err != nil {
		return Report{}, fmt.Errorf("backtest: scratch storage: %w", err)
	}
	defer scratch.Close()

	merged := storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) {
		q1, err := o.Queryable.Querier(mint, maxt)
		if err != nil {
			return nil, err
		}
		q2, err := scratch.Querier(mint, maxt)
		if err != nil {
			q1.Close()
			return nil, err
		}
		return storage.NewMergeQuerier([]storage.Querier{q1, q2}, nil, storage.ChainedSeriesMerge), nil
	})
	qf := o.QueryFunc
	if qf == nil {
		if o.Engine == nil {
			return Report{}, errors.New("backtest: Options.Engine or Options.QueryFunc is required")
		}
		qf = promrules.EngineQueryFunc(o.Engine, merged)
	}
	m := promrules.NewManager(&promrules.ManagerOptions{
		ExternalURL:     o.ExternalURL,
		QueryFunc:       withTimeout(qf, o.RuleQueryTimeout),
		NotifyFunc:      func(context.Context, string, ...*promrules.Alert) {},
		Context:         ctx,
		AppendableV2:    scratch,
		Queryable:       merged,
		Logger:          o.Logger,
		OutageTolerance: o.OutageTolerance,
		ForGracePeriod:  o.ForGracePeriod,
		ResendDelay:     o.ResendDelay,
		GroupLoader:     groupLoader{parser: o.Parser, logger: o.Logger},
		Parser:          o.Parser,
	})
	url := ""
	if o.ExternalURL != nil {
		url = o.ExternalURL.String()
	}
	groupMap, errs := m.LoadGroups(o.EvaluationInterval, o.ExternalLabels, url, nil, false, ids...)
	if errs != nil {
		return Report{}, fmt.Errorf("backtest: %w", errors.Join(errs...))
	}
	groups := make([]*promrules.Group, 0, len(groupMap))
	for _, g := range groupMap {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].File() != groups[j].File() {
			return groups[i].File() < groups[j].File()
		}
		return groups[i].Name() < groups[j].Name()
	})

	type evalAt struct {
		ts time.Time
		g  int
	}
	var schedule []evalAt
	for i, g := range groups {
		for _, r := range g.Rules() {
			if ar, ok := r.(*promrules.AlertingRule); ok {
				ar.SetRestored(true)
			}
		}
		iv := g.Interval()
		for ts := from.Truncate(iv); !ts.After(to); ts = ts.Add(iv) {
			if !ts.Before(from) {
				schedule = append(schedule, evalAt{ts, i})
			}
		}
	}
	sort.SliceStable(schedule, func(i, j int) bool { return schedule[i].ts.Before(schedule[j].ts) })

	type state struct {
		rep      *RuleReport
		firing   map[string]bool
		everSeen map[string]bool
	}
	rep := Report{From: from, To: to}
	states := map[*promrules.AlertingRule]*state{}
	for _, g := range groups {
		for _, ar := range g.AlertingRules() {
			rep.Rules = append(rep.Rules, RuleReport{File: g.File(), Group: g.Name(), Alert: ar.Name(), Interval: g.Interval()})
		}
	}
	i := 0
	for _, g := range groups {
		for _, ar := range g.AlertingRules() {
			states[ar] = &state{rep: &rep.Rules[i], firing: map[string]bool{}, everSeen: map[string]bool{}}
			i++
		}
	}

	for _, ev := range schedule {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		g := groups[ev.g]
		g.Eval(ctx, ev.ts)
		for _, ar := range g.AlertingRules() {
			st := states[ar]
			st.rep.Evaluations++
			if err := ar.LastError(); err != nil {
				st.rep.Failures++
				st.rep.LastError = err.Error()
			}
			now := map[string]bool{}
			for _, a := range ar.ActiveAlerts() {
				if a.State != promrules.StateFiring {
					continue
				}
				k := a.Labels.String()
				now[k] = true
				if !st.firing[k] {
					st.rep.Alerts++
					if st.rep.FirstFired.IsZero() {
						st.rep.FirstFired = ev.ts
					}
				}
				if !st.everSeen[k] {
					st.everSeen[k] = true
					st.rep.Instances++
				}
				st.rep.FiringMinutes += g.Interval().Minutes()
				st.rep.LastFiring = ev.ts
			}
			st.firing = now
		}
	}
	return rep, nil
}

// WriteText prints the report as a table, as `fleetwatch rules backtest`
// shows it.
func (r Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Backtest from %s to %s\n\n", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tGROUP\tALERT\tEVALUATIONS\tALERTS\tINSTANCES\tFIRING MINUTES\tFIRST FIRED\tFAILURES")
	for _, rr := range r.Rules {
		first := "-"
		if !rr.FirstFired.IsZero() {
			first = rr.FirstFired.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.1f\t%s\t%d\n", rr.File, rr.Group, rr.Alert,
			rr.Evaluations, rr.Alerts, rr.Instances, rr.FiringMinutes, first, rr.Failures)
	}
	return tw.Flush()
}
