package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

const (
	// timelineFetch bounds the events read for the page; the postmortem
	// draft has the whole timeline.
	timelineFetch = 20000
	// timelineRows bounds the rows shown after collapsing: the first and
	// last half, with a line saying how many were left out.
	timelineRows = 400
	// flapThreshold is how often one alert (or one repeated event) must
	// appear before its entries collapse into one line with a count.
	flapThreshold = 4
	maxGraphs     = 4
	graphTimeout  = 5 * time.Second
)

// timelineRow is one line of the incident's timeline; Count > 1 when
// repeated entries were collapsed into it.
type timelineRow struct {
	Time    time.Time
	Last    time.Time
	Kind    string
	Actor   string
	Summary string
	Labels  map[string]string
	Count   int
	Firing  int
	Omitted int // > 0: a marker row saying this many rows are not shown
}

// eventKey says which events are "the same thing again": one alert's
// firing/resolved changes, or an identical repeated event. Human actions
// are never merged.
func eventKey(e store.TimelineEvent) string {
	switch e.Kind {
	case store.EventAlertFiring, store.EventAlertResolved:
		return "alert|" + fmtLabels(e.Labels)
	case store.EventAcknowledged, store.EventResolved, store.EventNote, store.EventReopened,
		store.EventRemediationApproved, store.EventIncidentCreated:
		return ""
	default:
		return e.Kind + "|" + e.Summary + "|" + fmtLabels(e.Labels)
	}
}

// collapseTimeline turns events (in time order) into rows: every key seen
// at least flapThreshold times becomes one row at its first occurrence
// with the count and the last time; then at most max rows are kept.
func collapseTimeline(events []store.TimelineEvent, max int) []timelineRow {
	counts := map[string]int{}
	for _, e := range events {
		if k := eventKey(e); k != "" {
			counts[k]++
		}
	}
	rows := make([]timelineRow, 0, min(len(events), 2*max))
	at := map[string]int{}
	for _, e := range events {
		k := eventKey(e)
		if k != "" && counts[k] >= flapThreshold {
			if i, ok := at[k]; ok {
				rows[i].Count++
				rows[i].Last = e.Time
				if e.Kind == store.EventAlertFiring {
					rows[i].Firing++
				}
				continue
			}
			at[k] = len(rows)
		}
		row := timelineRow{Time: e.Time, Kind: e.Kind, Actor: e.Actor, Summary: e.Summary, Labels: e.Labels, Count: 1}
		if e.Kind == store.EventAlertFiring {
			row.Firing = 1
		}
		rows = append(rows, row)
	}
	if len(rows) <= max {
		return rows
	}
	head, tail := max/2, max-max/2
	out := make([]timelineRow, 0, max+1)
	out = append(out, rows[:head]...)
	out = append(out, timelineRow{Omitted: len(rows) - max, Time: rows[head].Time, Last: rows[len(rows)-tail-1].Time})
	return append(out, rows[len(rows)-tail:]...)
}

// graph is one inline chart of an alert expression over the incident.
type graph struct {
	Expr    string
	SVG     template.HTML
	Legend  []legendItem
	Omitted int
	Err     string
	Empty   bool
}

type incidentData struct {
	Inc          store.Incident
	Alerts       []store.Alert
	Firing       int
	Runs         []store.RemediationRun
	Pending      []store.RemediationRun
	Notes        []store.Notification
	Timeline     []timelineRow
	EventsTotal  int
	EventsCapped bool
	Graphs       []graph
	GraphFrom    time.Time
	GraphTo      time.Time
	SilenceMatch string
	Postmortem   map[string]string
	Done         string
	Open         time.Duration
}

func (d incidentData) title() string { return d.Inc.Title + " · " + d.Inc.ID }

// doneMessages are the confirmations shown after an action (the URL
// carries a key, never free text).
var doneMessages = map[string]string{
	"ack": "Acknowledged.", "resolve": "Resolved.", "note": "Note added.", "silence": "Silence created.",
	"approve": "Remediation approved.", "reject": "Remediation rejected.", "expire": "Silence expired.",
	"created": "Silence created.",
}

func (u *UI) incidentPage(w http.ResponseWriter, r *http.Request, p principal) {
	inc, ok := u.getIncident(w, r, p)
	if !ok {
		return
	}
	ctx := r.Context()
	now := u.now()
	d := incidentData{Inc: inc, Done: doneMessages[r.URL.Query().Get("done")]}
	var errs []string
	var err error
	if d.Alerts, err = u.o.Store.ListAlerts(ctx, store.AlertFilter{IncidentID: inc.ID}); err != nil {
		errs = append(errs, "alerts: "+err.Error())
	}
	sort.SliceStable(d.Alerts, func(i, j int) bool { return d.Alerts[i].StartsAt.Before(d.Alerts[j].StartsAt) })
	for _, a := range d.Alerts {
		if !a.Resolved(now) {
			d.Firing++
		}
	}
	if d.Runs, err = u.o.Store.ListRemediationRuns(ctx, store.RemediationFilter{IncidentID: inc.ID}); err != nil {
		errs = append(errs, "remediation runs: "+err.Error())
	}
	for _, run := range d.Runs {
		if run.Status == "awaiting_approval" {
			d.Pending = append(d.Pending, run)
		}
	}
	if d.Notes, err = u.o.Store.ListNotifications(ctx, store.NotificationFilter{IncidentID: inc.ID, Limit: 100}); err != nil {
		errs = append(errs, "notifications: "+err.Error())
	}
	evs, err := u.o.Store.ListEvents(ctx, store.EventFilter{IncidentID: inc.ID, Limit: timelineFetch + 1})
	if err != nil {
		errs = append(errs, "timeline: "+err.Error())
	}
	if len(evs) > timelineFetch {
		evs, d.EventsCapped = evs[:timelineFetch], true
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	d.EventsTotal = len(evs)
	d.Timeline = collapseTimeline(evs, timelineRows)
	d.SilenceMatch = silenceMatchers(inc)
	d.Postmortem = map[string]string{}
	for _, f := range []string{"html", "md", "json"} {
		d.Postmortem[f] = u.o.PostmortemURL(inc.ID, f)
	}
	end := now
	if !inc.ResolvedAt.IsZero() {
		end = inc.ResolvedAt
	}
	d.Open = end.Sub(inc.CreatedAt)
	if u.o.Querier != nil {
		d.GraphFrom, d.GraphTo = graphWindow(inc, d.Alerts, now)
		d.Graphs = u.graphs(ctx, inc, d.Alerts, evs, d.GraphFrom, d.GraphTo)
	}
	for _, e := range errs {
		u.log.Error("incident page", "incident", inc.ID, "err", e)
	}
	u.render(w, r, http.StatusOK, "incident", p, d)
}

// silenceMatchers proposes the incident's own labels as a silence.
func silenceMatchers(inc store.Incident) string {
	var parts []string
	for _, l := range sortedLabels(inc.Labels) {
		parts = append(parts, l.K+"="+strconv.Quote(l.V))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// graphWindow spans the incident with a margin: from 30 minutes before its
// first alert to 15 minutes after it resolved (or now).
func graphWindow(inc store.Incident, alerts []store.Alert, now time.Time) (time.Time, time.Time) {
	start := inc.CreatedAt
	for _, a := range alerts {
		if !a.StartsAt.IsZero() && a.StartsAt.Before(start) {
			start = a.StartsAt
		}
	}
	end := now
	if !inc.ResolvedAt.IsZero() && inc.ResolvedAt.Add(15*time.Minute).Before(now) {
		end = inc.ResolvedAt.Add(15 * time.Minute)
	}
	start = start.Add(-30 * time.Minute)
	if end.Sub(start) < time.Hour {
		start = end.Add(-time.Hour)
	}
	return start.Truncate(time.Second), end.Truncate(time.Second)
}

// alertExprs are the expressions to graph: the alerting rule's expression
// from each alert's generator URL (Prometheus' g0.expr), else its ALERTS
// series; at most maxGraphs, in order of first appearance.
func alertExprs(alerts []store.Alert) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range alerts {
		expr := ""
		if u, err := url.Parse(a.GeneratorURL); err == nil && a.GeneratorURL != "" {
			expr = strings.TrimSpace(u.Query().Get("g0.expr"))
		}
		if expr == "" && a.Labels["alertname"] != "" {
			expr = fmt.Sprintf(`ALERTS{alertname=%q}`, a.Labels["alertname"])
		}
		if expr == "" || seen[expr] {
			continue
		}
		seen[expr] = true
		out = append(out, expr)
		if len(out) == maxGraphs {
			break
		}
	}
	return out
}

func (u *UI) graphs(ctx context.Context, inc store.Incident, alerts []store.Alert, evs []store.TimelineEvent, start, end time.Time) []graph {
	exprs := alertExprs(alerts)
	if len(exprs) == 0 {
		return nil
	}
	step := (end.Sub(start) / maxPointsPerGraphRow).Round(time.Second)
	if step < time.Second {
		step = time.Second
	}
	marks := incidentMarks(inc, evs)
	ctx, cancel := context.WithTimeout(ctx, graphTimeout)
	defer cancel()
	out := make([]graph, len(exprs))
	var wg sync.WaitGroup
	for i, expr := range exprs {
		wg.Go(func() {
			g := graph{Expr: expr}
			series, err := u.o.Querier.QueryRange(ctx, expr, start, end, step)
			switch {
			case err != nil:
				g.Err = err.Error()
			case len(series) == 0:
				g.Empty = true
			default:
				var shown []Series
				shown, g.Omitted = graphSeries(series)
				g.SVG, g.Legend = renderSVG(shown, start, end, step, marks)
			}
			out[i] = g
		})
	}
	wg.Wait()
	return out
}

// incidentMarks are the timeline moments drawn on graphs.
func incidentMarks(inc store.Incident, evs []store.TimelineEvent) []mark {
	ms := []mark{{T: inc.CreatedAt, Label: "created", Class: "created"}}
	if !inc.AcknowledgedAt.IsZero() {
		ms = append(ms, mark{T: inc.AcknowledgedAt, Label: "ack", Class: "acknowledged"})
	}
	if !inc.ResolvedAt.IsZero() {
		ms = append(ms, mark{T: inc.ResolvedAt, Label: "resolved", Class: "resolved"})
	}
	n := 0
	for _, e := range evs {
		if e.Kind == store.EventRemediationStarted && n < 5 {
			ms = append(ms, mark{T: e.Time, Label: "remediation", Class: "event"})
			n++
		}
	}
	return ms
}
