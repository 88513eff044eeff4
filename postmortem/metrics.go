package postmortem

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Measure is one incident metric: a span of time, or why it is unknown.
type Measure struct {
	Known   bool      `json:"known"`
	Seconds float64   `json:"seconds"`
	From    time.Time `json:"from,omitzero"`
	To      time.Time `json:"to,omitzero"`
	// Basis says how it was computed, or why it is unknown.
	Basis string `json:"basis"`
}

func measure(from, to time.Time, basis string) Measure {
	return Measure{Known: true, Seconds: to.Sub(from).Seconds(), From: from, To: to, Basis: basis}
}

func unknown(why string) Measure { return Measure{Basis: why} }

// Duration is the measure as a time.Duration (0 when unknown).
func (m Measure) Duration() time.Duration {
	return time.Duration(math.Round(m.Seconds * float64(time.Second)))
}

// String is the measure rounded to the second, or "unknown".
func (m Measure) String() string {
	if !m.Known {
		return "unknown"
	}
	return fmtDur(m.Duration())
}

// ImpactItem is one affected server, rack, site or service.
type ImpactItem struct {
	Name  string    `json:"name"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Alert []string  `json:"alerts"` // the alert names seen on it
	// Seconds is how long it had at least one firing alert (the union of
	// its alerts' firing intervals, not To-From).
	Seconds float64 `json:"seconds"`
}

// Impact is what the incident touched, from its alerts' labels.
type Impact struct {
	Servers  []ImpactItem `json:"servers"`
	Switches []ImpactItem `json:"switches"`
	Racks    []ImpactItem `json:"racks"`
	Sites    []ImpactItem `json:"sites"`
	Services []ImpactItem `json:"services"`
	// Alerts is the number of distinct alerts (label sets).
	Alerts int `json:"alerts"`
}

// IncidentMetrics are the incident's timings and impact. Every duration is
// defined in docs/postmortem.md.
type IncidentMetrics struct {
	IncidentID string    `json:"incidentID"`
	Opened     time.Time `json:"opened"`
	// Trigger is the first alert of the incident (the one TimeToDetect
	// follows back), Rule its rule when known.
	Trigger     map[string]string `json:"trigger,omitempty"`
	Rule        *Rule             `json:"rule,omitempty"`
	Onset       time.Time         `json:"onset,omitzero"`
	FirstAlert  time.Time         `json:"firstAlert"`
	AckedBy     string            `json:"acknowledgedBy,omitempty"`
	MitigatedBy string            `json:"mitigatedBy,omitempty"`

	TimeToDetect      Measure `json:"timeToDetect"`
	TimeToAcknowledge Measure `json:"timeToAcknowledge"`
	TimeToMitigate    Measure `json:"timeToMitigate"`
	TimeToResolve     Measure `json:"timeToResolve"`
	// ImpactDuration runs from the onset (or the first alert when the onset
	// is unknown) to the resolution (or now).
	ImpactDuration Measure `json:"impactDuration"`
	Impact         Impact  `json:"impact"`
}

// DetectOptions tune the time-to-detect search. The zero value takes the
// defaults.
type DetectOptions struct {
	// Window is how far before the first alert the rule's expression is
	// evaluated (default 6 hours, at least 4 × the rule's `for`).
	Window time.Duration
	// Step is the evaluation step (default 15 s); the onset is then
	// refined to the second within the step where the condition began.
	Step time.Duration
}

func (o DetectOptions) withDefaults(r Rule) DetectOptions {
	if o.Window <= 0 {
		o.Window = 6 * time.Hour
	}
	if w := 4 * r.For; o.Window < w {
		o.Window = w
	}
	if o.Step <= 0 {
		o.Step = 15 * time.Second
	}
	return o
}

// Metrics computes an incident's timings and impact. An unknown incident is
// an error wrapping ErrNotFound.
func Metrics(ctx context.Context, src Sources, incidentID string) (IncidentMetrics, error) {
	return MetricsWith(ctx, src, incidentID, DetectOptions{})
}

// MetricsWith is Metrics with time-to-detect options.
func MetricsWith(ctx context.Context, src Sources, incidentID string, o DetectOptions) (IncidentMetrics, error) {
	inc, err := src.Store.GetIncident(ctx, incidentID)
	if err != nil {
		return IncidentMetrics{}, fmt.Errorf("incident %q: %w", incidentID, err)
	}
	evs, err := src.Store.ListEvents(ctx, store.EventFilter{IncidentID: inc.ID})
	if err != nil {
		return IncidentMetrics{}, fmt.Errorf("incident %q: timeline: %w", inc.ID, err)
	}
	alerts, err := src.Store.ListAlerts(ctx, store.AlertFilter{IncidentID: inc.ID})
	if err != nil {
		return IncidentMetrics{}, fmt.Errorf("incident %q: alerts: %w", inc.ID, err)
	}
	runs, err := src.Store.ListRemediationRuns(ctx, store.RemediationFilter{IncidentID: inc.ID})
	if err != nil {
		return IncidentMetrics{}, fmt.Errorf("incident %q: remediation runs: %w", inc.ID, err)
	}
	return computeMetrics(ctx, src, inc, evs, alerts, runs, o), nil
}

var mitigatedNote = regexp.MustCompile(`(?i)\bmitigat`)

func computeMetrics(ctx context.Context, src Sources, inc store.Incident, evs []store.TimelineEvent, alerts []store.Alert, runs []store.RemediationRun, o DetectOptions) IncidentMetrics {
	now := src.now()
	m := IncidentMetrics{IncidentID: inc.ID, Opened: inc.CreatedAt}

	// The trigger: the alert that fired first.
	var trig map[string]string
	for _, a := range alerts {
		if m.FirstAlert.IsZero() || (!a.StartsAt.IsZero() && a.StartsAt.Before(m.FirstAlert)) {
			m.FirstAlert, trig = a.StartsAt, a.Labels
		}
	}
	for _, e := range evs {
		if e.Kind == store.EventAlertFiring || e.Kind == store.EventIncidentGrouped {
			if m.FirstAlert.IsZero() || e.Time.Before(m.FirstAlert) {
				m.FirstAlert, trig = e.Time, e.Labels
			}
			break
		}
	}
	if m.FirstAlert.IsZero() {
		m.FirstAlert = inc.CreatedAt
	}
	m.Trigger = trig
	m.TimeToDetect = timeToDetect(ctx, src, &m, o)

	for _, e := range evs {
		if e.Kind == store.EventAcknowledged {
			m.AckedBy = e.Actor
			m.TimeToAcknowledge = measure(inc.CreatedAt, e.Time, "first acknowledgement ("+e.Actor+") minus the incident's creation")
			break
		}
	}
	if !m.TimeToAcknowledge.Known {
		m.TimeToAcknowledge = unknown("never acknowledged")
		if !inc.AcknowledgedAt.IsZero() {
			m.TimeToAcknowledge = measure(inc.CreatedAt, inc.AcknowledgedAt, "the incident's acknowledgement time minus its creation")
		}
	}

	var mit time.Time
	for _, r := range runs {
		if r.Status == "succeeded" && !r.DryRun && !r.FinishedAt.IsZero() && (mit.IsZero() || r.FinishedAt.Before(mit)) {
			mit = r.FinishedAt
			m.MitigatedBy = fmt.Sprintf("remediation %s on %s succeeded", r.Action, orDash(r.Target))
		}
	}
	for _, e := range evs {
		if e.Kind == store.EventNote && mitigatedNote.MatchString(e.Summary) {
			if mit.IsZero() || e.Time.Before(mit) {
				mit = e.Time
				m.MitigatedBy = fmt.Sprintf("note by %s: %q", e.Actor, e.Summary)
			}
			break
		}
	}
	if !mit.IsZero() {
		m.TimeToMitigate = measure(inc.CreatedAt, mit, "first successful remediation or \"mitigated\" note ("+m.MitigatedBy+") minus the incident's creation")
	} else {
		m.TimeToMitigate = unknown("no successful remediation and no note saying mitigated")
	}

	resolved := time.Time{}
	if inc.State == store.Resolved {
		resolved = inc.ResolvedAt
		for _, e := range evs {
			if e.Kind == store.EventResolved {
				resolved = e.Time // the last resolution counts (after reopenings)
			}
		}
	}
	if !resolved.IsZero() {
		m.TimeToResolve = measure(inc.CreatedAt, resolved, "resolution minus the incident's creation")
	} else {
		m.TimeToResolve = unknown("still " + string(inc.State))
	}
	start, sb := m.Onset, "onset"
	if start.IsZero() {
		start, sb = m.FirstAlert, "first alert"
	}
	if !resolved.IsZero() {
		m.ImpactDuration = measure(start, resolved, "resolution minus "+sb)
	} else {
		m.ImpactDuration = measure(start, now, "now minus "+sb+" (still open)")
	}
	end := resolved
	if end.IsZero() {
		end = now
	}
	m.Impact = impactOf(evs, alerts, end)
	return m
}

// timeToDetect evaluates the trigger's rule expression without its `for`
// over a window before the first alert and finds the start of the run of
// evaluations, ending at the alert, where it returned the alert's series.
func timeToDetect(ctx context.Context, src Sources, m *IncidentMetrics, o DetectOptions) Measure {
	if m.Trigger == nil {
		return unknown("the incident has no alert")
	}
	if src.Rules == nil {
		return unknown("no rule files given: the triggering rule's expression is unknown")
	}
	r, ok := src.Rules(m.Trigger)
	if !ok {
		return unknown(fmt.Sprintf("rule %q not found in the rule files", m.Trigger["alertname"]))
	}
	m.Rule = &r
	if !src.hasTSDB() {
		return unknown("no TSDB to evaluate the rule on")
	}
	o = o.withDefaults(r)
	end := m.FirstAlert.Truncate(o.Step)
	if end.Before(m.FirstAlert) {
		end = end.Add(o.Step)
	}
	start := end.Add(-o.Window)
	pts, err := seriesOfAlert(ctx, src, r, m.Trigger, start, end, o.Step)
	if err != nil {
		return unknown(fmt.Sprintf("rule %q: %v", r.Name, err))
	}
	// The last evaluation at or before the alert where the condition held.
	i := len(pts) - 1
	for i >= 0 && pts[i] > end.UnixMilli() {
		i--
	}
	if i < 0 || end.UnixMilli()-pts[i] > 2*o.Step.Milliseconds()+r.For.Milliseconds() {
		return unknown(fmt.Sprintf("rule %q: the expression did not hold for the alert's series before the alert (the rule or the data changed)", r.Name))
	}
	j := i
	for j > 0 && pts[j]-pts[j-1] <= o.Step.Milliseconds() {
		j--
	}
	onset := time.UnixMilli(pts[j]).UTC()
	basis := fmt.Sprintf("first alert minus the first sample at which %q held without its for (%s), evaluated every %s and refined to the second", r.Expr, fmtDur(r.For), fmtDur(o.Step))
	if j == 0 && pts[0] <= start.UnixMilli() {
		basis = fmt.Sprintf("at least this long: %q already held at the start of the %s window", r.Expr, fmtDur(o.Window))
	} else if fine, err := seriesOfAlert(ctx, src, r, m.Trigger, onset.Add(-o.Step+time.Second), onset, time.Second); err == nil && len(fine) > 0 {
		// The run's first second: the end of the run of 1 s evaluations that reaches onset.
		k := len(fine) - 1
		for k > 0 && fine[k]-fine[k-1] <= 1000 {
			k--
		}
		onset = time.UnixMilli(fine[k]).UTC()
	}
	m.Onset = onset
	if onset.After(m.FirstAlert) {
		onset = m.FirstAlert
	}
	return measure(onset, m.FirstAlert, basis)
}

// seriesOfAlert evaluates r.Expr from start to end and returns the
// timestamps (ms) at which it returned the series that became the alert.
func seriesOfAlert(ctx context.Context, src Sources, r Rule, alert map[string]string, start, end time.Time, step time.Duration) ([]int64, error) {
	q, err := src.Engine.NewRangeQuery(ctx, src.Queryable, nil, r.Expr, start, end, step)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	mat, err := res.Matrix()
	if err != nil {
		return nil, err
	}
	var pts []int64
	for _, s := range mat {
		if !seriesIsAlert(s, r, alert) {
			continue
		}
		for _, p := range s.Floats {
			pts = append(pts, p.T)
		}
		for _, p := range s.Histograms {
			pts = append(pts, p.T)
		}
	}
	slices.Sort(pts)
	return slices.Compact(pts), nil
}

// seriesIsAlert: every label of the result series, except those the rule
// sets itself, is on the alert with the same value.
func seriesIsAlert(s promql.Series, r Rule, alert map[string]string) bool {
	ok := true
	s.Metric.Range(func(l labels.Label) {
		if l.Name == labels.MetricName {
			return
		}
		if _, set := r.Labels[l.Name]; set {
			return
		}
		if alert[l.Name] != l.Value {
			ok = false
		}
	})
	return ok
}

type span struct{ from, to time.Time }

// impactOf unions each affected item's firing intervals.
func impactOf(evs []store.TimelineEvent, alerts []store.Alert, end time.Time) Impact {
	type alertRec struct {
		labels map[string]string
		spans  []span
		open   time.Time
	}
	recs := map[string]*alertRec{}
	rec := func(ls map[string]string) *alertRec {
		k := alertKey(ls)
		r := recs[k]
		if r == nil {
			r = &alertRec{labels: ls}
			recs[k] = r
		}
		return r
	}
	for _, e := range evs {
		if e.Labels["alertname"] == "" {
			continue
		}
		switch e.Kind {
		case store.EventAlertFiring, store.EventIncidentGrouped:
			r := rec(e.Labels)
			if r.open.IsZero() {
				r.open = e.Time
			}
		case store.EventAlertResolved:
			r := rec(e.Labels)
			if !r.open.IsZero() {
				r.spans = append(r.spans, span{r.open, e.Time})
				r.open = time.Time{}
			}
		}
	}
	// The stored alert knows its last firing exactly (the rule's times,
	// not the alerter's): it replaces the timeline's spans it overlaps.
	for _, a := range alerts {
		r := rec(a.Labels)
		to := a.EndsAt
		if to.IsZero() || to.After(end) {
			to = end
		}
		from := a.StartsAt
		if from.IsZero() || !to.After(from) {
			continue
		}
		kept := r.spans[:0]
		for _, s := range r.spans {
			if s.to.Before(from) {
				kept = append(kept, s)
			}
		}
		r.spans = append(kept, span{from, to})
		r.open = time.Time{}
	}
	for _, r := range recs {
		if !r.open.IsZero() {
			r.spans = append(r.spans, span{r.open, end})
		}
	}
	type acc struct {
		spans  []span
		alerts map[string]bool
	}
	byKind := map[string]map[string]*acc{}
	add := func(kind, name string, r *alertRec) {
		if name == "" {
			return
		}
		m := byKind[kind]
		if m == nil {
			m = map[string]*acc{}
			byKind[kind] = m
		}
		a := m[name]
		if a == nil {
			a = &acc{alerts: map[string]bool{}}
			m[name] = a
		}
		a.spans = append(a.spans, r.spans...)
		a.alerts[r.labels["alertname"]] = true
	}
	for _, r := range recs {
		ls := r.labels
		add("server", firstNonEmpty(ls["server"], ls["hostname"], hostOf(ls["instance"])), r)
		add("switch", ls["switch"], r)
		add("rack", ls["rack"], r)
		add("site", ls["site"], r)
		add("service", ls["service"], r)
	}
	items := func(kind string) []ImpactItem {
		out := []ImpactItem{}
		for name, a := range byKind[kind] {
			it := ImpactItem{Name: name, Alert: slices.Sorted(func(yield func(string) bool) {
				for n := range a.alerts {
					if !yield(n) {
						return
					}
				}
			})}
			u := union(a.spans)
			for _, s := range u {
				if it.From.IsZero() || s.from.Before(it.From) {
					it.From = s.from
				}
				if s.to.After(it.To) {
					it.To = s.to
				}
				it.Seconds += s.to.Sub(s.from).Seconds()
			}
			out = append(out, it)
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Seconds != out[j].Seconds {
				return out[i].Seconds > out[j].Seconds
			}
			return out[i].Name < out[j].Name
		})
		return out
	}
	return Impact{Servers: items("server"), Switches: items("switch"), Racks: items("rack"), Sites: items("site"),
		Services: items("service"), Alerts: len(recs)}
}

func union(ss []span) []span {
	if len(ss) == 0 {
		return nil
	}
	ss = slices.Clone(ss)
	sort.Slice(ss, func(i, j int) bool { return ss[i].from.Before(ss[j].from) })
	out := []span{ss[0]}
	for _, s := range ss[1:] {
		last := &out[len(out)-1]
		if !s.from.After(last.to) {
			if s.to.After(last.to) {
				last.to = s.to
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// hostOf strips the port of an instance label.
func hostOf(instance string) string {
	if i := strings.LastIndexByte(instance, ':'); i > 0 && !strings.Contains(instance[i:], "]") {
		return instance[:i]
	}
	return instance
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtDur prints a duration rounded to the second: 2m, 1h5m, 3d4h, 45s.
func fmtDur(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		return "-" + fmtDur(-d)
	}
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	return b.String()
}
