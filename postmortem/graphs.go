package postmortem

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// GraphOptions tune the report's graphs. The zero value takes the defaults.
type GraphOptions struct {
	MaxGraphs int           // one per alerting rule, at most this many (default 3)
	MaxSeries int           // series per graph (default 6)
	Points    int           // points per series (default 300)
	Pad       time.Duration // shown before the onset and after the end (default 15 minutes, at least a fifth of the incident)
	MaxMarks  int           // timeline marks per graph (default 40)
}

func (o GraphOptions) withDefaults() GraphOptions {
	if o.MaxGraphs <= 0 {
		o.MaxGraphs = 3
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 6
	}
	if o.Points <= 0 {
		o.Points = 300
	}
	if o.Pad <= 0 {
		o.Pad = 15 * time.Minute
	}
	if o.MaxMarks <= 0 {
		o.MaxMarks = 40
	}
	return o
}

// Graph is one key series graph of the report with the timeline's marks.
type Graph struct {
	Title string `json:"title"`
	// Expr is what is plotted: the rule's expression, or the side of its
	// comparison that is not a number (Threshold holds the number).
	Expr      string        `json:"expr"`
	Threshold *float64      `json:"threshold,omitempty"`
	From      time.Time     `json:"from"`
	To        time.Time     `json:"to"`
	Step      float64       `json:"stepSeconds"`
	Series    []GraphSeries `json:"series"`
	Marks     []Mark        `json:"marks"`
}

// GraphSeries is one plotted series.
type GraphSeries struct {
	Name   string  `json:"name"`
	Points []Point `json:"points"`
}

// Point is one sample: T in milliseconds since the epoch.
type Point struct {
	T int64   `json:"t"`
	V float64 `json:"v"`
}

// Mark is a timeline moment drawn on the graphs.
type Mark struct {
	Time  time.Time `json:"time"`
	Kind  string    `json:"kind"` // onset, alert, ack, mitigated, resolved, page, remediation, event, change
	Label string    `json:"label"`
}

// plotted splits a comparison with a number ("x > 85") into what to plot
// and the threshold; other expressions are plotted as they are.
func plotted(expr string) (string, *float64) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return expr, nil
	}
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			break
		}
		e = p.Expr
	}
	b, ok := e.(*parser.BinaryExpr)
	if !ok || !b.Op.IsComparisonOperator() || b.ReturnBool {
		return expr, nil
	}
	if n, ok := b.RHS.(*parser.NumberLiteral); ok {
		v := n.Val
		return b.LHS.String(), &v
	}
	if n, ok := b.LHS.(*parser.NumberLiteral); ok {
		v := n.Val
		return b.RHS.String(), &v
	}
	return expr, nil
}

func buildGraphs(ctx context.Context, src Sources, r *Report, alerts []store.Alert, o GraphOptions) []Graph {
	o = o.withDefaults()
	m := r.Metrics
	if src.Rules == nil || m == nil {
		return nil
	}
	from := m.FirstAlert
	if !m.Onset.IsZero() {
		from = m.Onset
	}
	to := src.now()
	if m.TimeToResolve.Known {
		to = m.TimeToResolve.To
	}
	pad := max(o.Pad, to.Sub(from)/5)
	from, to = from.Add(-pad), to.Add(pad)
	step := max(time.Second, (to.Sub(from) / time.Duration(o.Points)).Round(time.Second))
	marks := graphMarks(r, from, to, o.MaxMarks)

	// One graph per rule, the trigger's first.
	type ruleAlerts struct {
		rule   Rule
		alerts []map[string]string
	}
	var order []string
	byRule := map[string]*ruleAlerts{}
	addAlert := func(ls map[string]string) {
		rule, ok := src.Rules(ls)
		if !ok {
			return
		}
		k := rule.Name + "\x00" + rule.Expr
		ra := byRule[k]
		if ra == nil {
			ra = &ruleAlerts{rule: rule}
			byRule[k] = ra
			order = append(order, k)
		}
		ra.alerts = append(ra.alerts, ls)
	}
	if m.Trigger != nil {
		addAlert(m.Trigger)
	}
	sorted := append([]store.Alert(nil), alerts...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].StartsAt.Before(sorted[j].StartsAt) })
	for _, a := range sorted {
		addAlert(a.Labels)
	}
	var out []Graph
	for _, k := range order {
		if len(out) >= o.MaxGraphs {
			break
		}
		ra := byRule[k]
		expr, thr := plotted(ra.rule.Expr)
		g := Graph{Title: ra.rule.Name, Expr: expr, Threshold: thr, From: from.UTC(), To: to.UTC(), Step: step.Seconds(), Marks: marks}
		q, err := src.Engine.NewRangeQuery(ctx, src.Queryable, nil, expr, from, to, step)
		if err != nil {
			r.Missing = append(r.Missing, fmt.Sprintf("graph %s: %v", ra.rule.Name, err))
			continue
		}
		res := q.Exec(ctx)
		mat, err := res.Matrix()
		if res.Err != nil {
			err = res.Err
		}
		if err != nil {
			q.Close()
			r.Missing = append(r.Missing, fmt.Sprintf("graph %s: %v", ra.rule.Name, err))
			continue
		}
		// The alerts' own series first, then the others, up to MaxSeries.
		var mine, others []GraphSeries
		for _, s := range mat {
			gs := GraphSeries{Name: s.Metric.String()}
			for _, p := range s.Floats {
				if !math.IsNaN(p.F) && !math.IsInf(p.F, 0) {
					gs.Points = append(gs.Points, Point{T: p.T, V: p.F})
				}
			}
			if len(gs.Points) == 0 {
				continue
			}
			isMine := false
			for _, a := range ra.alerts {
				if seriesIsAlert(s, ra.rule, a) {
					isMine = true
					break
				}
			}
			if isMine {
				mine = append(mine, gs)
			} else {
				others = append(others, gs)
			}
		}
		q.Close()
		g.Series = append(mine, others...)
		if len(g.Series) > o.MaxSeries {
			r.Missing = append(r.Missing, fmt.Sprintf("graph %s: %d of %d series shown", ra.rule.Name, o.MaxSeries, len(g.Series)))
			g.Series = g.Series[:o.MaxSeries]
		}
		if len(g.Series) == 0 {
			r.Missing = append(r.Missing, fmt.Sprintf("graph %s: `%s` returned no data around the incident", ra.rule.Name, expr))
			continue
		}
		out = append(out, g)
	}
	return out
}

// graphMarks are the moments drawn on every graph: the metrics' own, then
// pages, remediation outcomes, warning events and changes.
func graphMarks(r *Report, from, to time.Time, limit int) []Mark {
	m := r.Metrics
	var out []Mark
	add := func(t time.Time, kind, label string) {
		if t.IsZero() || t.Before(from) || t.After(to) || len(out) >= limit {
			return
		}
		out = append(out, Mark{Time: t.UTC(), Kind: kind, Label: label})
	}
	add(m.Onset, "onset", "onset")
	add(m.FirstAlert, "alert", "first alert")
	if m.TimeToAcknowledge.Known {
		add(m.TimeToAcknowledge.To, "ack", "acknowledged")
	}
	if m.TimeToMitigate.Known {
		add(m.TimeToMitigate.To, "mitigated", "mitigated")
	}
	if m.TimeToResolve.Known {
		add(m.TimeToResolve.To, "resolved", "resolved")
	}
	for _, e := range r.Timeline.Entries {
		switch {
		case e.Kind == store.EventNotificationSent:
			add(e.Time, "page", "page sent")
		case e.Kind == store.EventRemediationFinished:
			add(e.Time, "remediation", "remediation finished")
		case (e.Category == CatTrap || e.Category == CatHardwareLog) && severityRank(e.Severity) >= 2:
			add(e.Time, "event", e.Kind)
		case e.Category == CatChange || e.Category == CatLifecycle:
			add(e.Time, "change", e.Kind)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}
