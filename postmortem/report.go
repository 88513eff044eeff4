package postmortem

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Candidate is one root-cause candidate, ranked by how early it moved.
type Candidate struct {
	At       time.Time `json:"at,omitzero"`
	What     string    `json:"what"`
	Evidence string    `json:"evidence"`
	Source   string    `json:"source"`
}

// Page is one notification of the incident and its outcome.
type Page struct {
	Created   time.Time `json:"created"`
	Receiver  string    `json:"receiver"`
	Action    string    `json:"action"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	SentAt    time.Time `json:"sentAt,omitzero"`
	LastError string    `json:"lastError,omitempty"`
}

// Report is a postmortem draft: the Google SRE template's sections, filled
// from the store and the TSDB, with action items and lessons left to
// people. A report of a time range (no incident) has a title, a summary
// and a timeline only.
type Report struct {
	Title     string          `json:"title"`
	Status    string          `json:"status"`
	Generated time.Time       `json:"generated"`
	Incident  *store.Incident `json:"incident,omitempty"`
	Summary   string          `json:"summary"`
	// Metrics hold the timings and the impact.
	Metrics      *IncidentMetrics       `json:"metrics,omitempty"`
	RootCauses   []Candidate            `json:"rootCauses,omitempty"`
	Trigger      []string               `json:"trigger,omitempty"`
	Detection    []string               `json:"detection,omitempty"`
	Response     []string               `json:"response,omitempty"`
	Recovery     []string               `json:"recovery,omitempty"`
	Pages        []Page                 `json:"pages,omitempty"`
	Remediations []store.RemediationRun `json:"remediations,omitempty"`
	Graphs       []Graph                `json:"graphs,omitempty"`
	Timeline     Timeline               `json:"timeline"`
	// ActionItems and Lessons are prompts for the people who finish the
	// draft.
	ActionItems []string `json:"actionItems,omitempty"`
	Lessons     []string `json:"lessons,omitempty"`
	// Missing says what the draft could not include and why.
	Missing []string `json:"missing,omitempty"`
}

// ReportOptions tune a report. The zero value takes the defaults.
type ReportOptions struct {
	Collapse Collapse
	Detect   DetectOptions
	Graphs   GraphOptions
}

// BuildReport assembles the postmortem draft of one incident. An unknown
// incident is an error wrapping ErrNotFound.
func BuildReport(ctx context.Context, src Sources, incidentID string, o ReportOptions) (Report, error) {
	tl, err := buildTimeline(ctx, src, Selection{IncidentID: incidentID}, o.Collapse)
	if err != nil {
		return Report{}, err
	}
	inc := *tl.Incident
	evs := tl.events
	runs, err := src.Store.ListRemediationRuns(ctx, store.RemediationFilter{IncidentID: inc.ID})
	if err != nil {
		return Report{}, fmt.Errorf("incident %q: remediation runs: %w", inc.ID, err)
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].CreatedAt.Before(runs[j].CreatedAt) })
	notes, err := src.Store.ListNotifications(ctx, store.NotificationFilter{IncidentID: inc.ID})
	if err != nil {
		return Report{}, fmt.Errorf("incident %q: notifications: %w", inc.ID, err)
	}
	m := computeMetrics(ctx, src, inc, evs, tl.alerts, runs, o.Detect)
	r := Report{
		Title:        inc.Title,
		Status:       statusOf(inc),
		Generated:    src.now().UTC(),
		Incident:     &inc,
		Metrics:      &m,
		Timeline:     tl,
		Remediations: runs,
	}
	if r.Title == "" {
		r.Title = "Incident " + inc.ID
	}
	for _, n := range notes {
		r.Pages = append(r.Pages, Page{Created: n.CreatedAt, Receiver: n.Receiver, Action: n.Action, State: n.State,
			Attempts: n.Attempts, SentAt: n.SentAt, LastError: n.LastError})
	}
	sort.SliceStable(r.Pages, func(i, j int) bool { return r.Pages[i].Created.Before(r.Pages[j].Created) })
	const maxRows = 100
	if n := len(r.Pages); n > maxRows {
		r.Missing = append(r.Missing, fmt.Sprintf("pages: the first %d of %d are listed", maxRows, n))
		r.Pages = r.Pages[:maxRows]
	}
	if n := len(r.Remediations); n > maxRows {
		r.Missing = append(r.Missing, fmt.Sprintf("remediation: the first %d of %d runs are listed", maxRows, n))
		r.Remediations = r.Remediations[:maxRows]
	}
	r.Summary = summaryOf(inc, m)
	r.RootCauses = rootCauses(inc, m, tl)
	r.Trigger = triggerSection(m, tl, o.Collapse.withDefaults())
	r.Detection = detectionSection(m, evs)
	r.Response = responseSection(m, evs, runs)
	r.Recovery = recoverySection(inc, m, evs)
	r.ActionItems = actionPrompts(m, runs, r.Pages)
	r.Lessons = lessonPrompts()
	if src.hasTSDB() {
		r.Graphs = buildGraphs(ctx, src, &r, tl.alerts, o.Graphs)
	} else {
		r.Missing = append(r.Missing, "graphs and time to detect: no TSDB was given")
	}
	if src.Rules == nil {
		r.Missing = append(r.Missing, "time to detect: no rule files were given")
	}
	r.Missing = append(r.Missing, tl.Warnings...)
	return r, nil
}

// TimelineReport is the report of a time range and selector: a title, a
// summary of what the range holds, and the timeline.
func TimelineReport(ctx context.Context, src Sources, sel Selection, c Collapse) (Report, error) {
	if sel.IncidentID != "" {
		return BuildReport(ctx, src, sel.IncidentID, ReportOptions{Collapse: c})
	}
	tl, err := buildTimeline(ctx, src, sel, c)
	if err != nil {
		return Report{}, err
	}
	counts := map[string]int{}
	for _, e := range tl.Entries {
		counts[e.Category] += max(e.Count, 1)
	}
	var parts []string
	for _, cat := range []string{CatIncident, CatAlert, CatPage, CatRemediation, CatTrap, CatHardwareLog, CatLifecycle, CatChange, CatSilence, CatOther} {
		if n := counts[cat]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(cat, "_", " ")))
		}
	}
	summary := fmt.Sprintf("%d entries read, %d lines after collapsing", tl.RawEntries, len(tl.Entries))
	if len(parts) > 0 {
		summary += ": " + strings.Join(parts, ", ")
	}
	return Report{Title: "Timeline " + tl.Selection, Status: "timeline", Generated: src.now().UTC(), Summary: summary + ".",
		Timeline: tl, Missing: tl.Warnings}, nil
}

func statusOf(inc store.Incident) string {
	switch inc.State {
	case store.Resolved:
		return "resolved (draft: action items and lessons to be written)"
	case store.Acknowledged:
		return "acknowledged, ongoing (draft)"
	}
	return "triggered, ongoing (draft)"
}

func summaryOf(inc store.Incident, m IncidentMetrics) string {
	var b strings.Builder
	sev := inc.Severity
	if sev == "" {
		sev = "unrated"
	}
	fmt.Fprintf(&b, "%s incident on route %s (receiver %s)", capital(sev), orDash(inc.Route), orDash(inc.Receiver))
	if inc.Cause != "" {
		fmt.Fprintf(&b, ", probable cause: %s", inc.Cause)
	}
	fmt.Fprintf(&b, ". %d alert(s) on %s.", m.Impact.Alerts, impactCounts(m.Impact))
	if !m.Onset.IsZero() {
		fmt.Fprintf(&b, " The triggering signal turned anomalous at %s and was detected %s later.", fmtTime(m.Onset), m.TimeToDetect)
	}
	fmt.Fprintf(&b, " First alert at %s.", fmtTime(m.FirstAlert))
	if m.TimeToAcknowledge.Known {
		fmt.Fprintf(&b, " Acknowledged by %s after %s.", orDash(m.AckedBy), m.TimeToAcknowledge)
	}
	if m.TimeToMitigate.Known {
		fmt.Fprintf(&b, " Mitigated after %s (%s).", m.TimeToMitigate, m.MitigatedBy)
	}
	if m.TimeToResolve.Known {
		fmt.Fprintf(&b, " Resolved after %s.", m.TimeToResolve)
	} else {
		fmt.Fprintf(&b, " Not resolved yet.")
	}
	return b.String()
}

func impactCounts(im Impact) string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, plural(n, what)))
		}
	}
	add(len(im.Servers), "server")
	add(len(im.Switches), "switch")
	add(len(im.Racks), "rack")
	add(len(im.Sites), "site")
	add(len(im.Services), "service")
	if len(parts) == 0 {
		return "no labelled server, rack, site or service"
	}
	return strings.Join(parts, ", ")
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	if strings.HasSuffix(s, "ch") {
		return s + "es"
	}
	return s + "s"
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// rootCauses ranks the candidates: the topology correlation's cause, then
// every signal by when it moved (the trigger's onset, the other alerts'
// first firing, warning or critical events on the incident's devices).
func rootCauses(inc store.Incident, m IncidentMetrics, tl Timeline) []Candidate {
	var out []Candidate
	if inc.Cause != "" {
		out = append(out, Candidate{What: inc.Cause, Evidence: "topology correlation: the incident's alerts share this upstream device", Source: SourceAlerter})
	}
	first := m.FirstAlert
	var cands []Candidate
	seen := map[string]bool{}
	if m.Trigger != nil {
		at, ev := m.FirstAlert, "fired first"
		if !m.Onset.IsZero() {
			at, ev = m.Onset, fmt.Sprintf("its condition held first (onset, %s before the alert)", m.TimeToDetect)
		}
		cands = append(cands, Candidate{At: at, What: "alert " + alertString(m.Trigger), Evidence: ev, Source: SourceAlerter})
		seen["alert "+alertString(m.Trigger)] = true
	}
	for _, e := range tl.Entries {
		var what string
		switch {
		case e.Category == CatAlert && e.Labels["alertname"] != "":
			what = "alert " + alertString(e.Labels)
		case (e.Category == CatTrap || e.Category == CatHardwareLog) && severityRank(e.Severity) >= 2:
			what = fmt.Sprintf("%s %s: %s", strings.ReplaceAll(e.Source, "_", " "), e.Kind, e.Summary)
			if d := deviceOf(e.Labels); d != "" {
				what = fmt.Sprintf("%s %s on %s: %s", strings.ReplaceAll(e.Source, "_", " "), e.Kind, d, e.Summary)
			}
		case e.Category == CatChange || e.Category == CatLifecycle:
			what = fmt.Sprintf("change: %s", e.Summary)
		default:
			continue
		}
		if seen[what] {
			continue
		}
		seen[what] = true
		rel := e.Time.Sub(first)
		ev := fmt.Sprintf("%s before the first alert", fmtDur(-rel))
		if rel > 0 {
			ev = fmt.Sprintf("%s after the first alert", fmtDur(rel))
		} else if rel == 0 {
			ev = "at the first alert"
		}
		cands = append(cands, Candidate{At: e.Time, What: what, Evidence: ev, Source: e.Source})
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].At.Before(cands[j].At) })
	if len(cands) > 5 {
		cands = cands[:5]
	}
	return append(out, cands...)
}

func triggerSection(m IncidentMetrics, tl Timeline, c Collapse) []string {
	var out []string
	if m.Trigger == nil {
		return []string{"No alert is recorded for this incident."}
	}
	out = append(out, fmt.Sprintf("First alert: %s %s", m.Trigger["alertname"], labelString(m.Trigger)))
	if m.Rule != nil {
		s := fmt.Sprintf("Rule %s: `%s` for %s", m.Rule.Name, m.Rule.Expr, fmtDur(m.Rule.For))
		if m.Rule.File != "" {
			s += " (" + m.Rule.File + ")"
		}
		out = append(out, s)
	}
	start := m.Onset
	if start.IsZero() {
		start = m.FirstAlert
	}
	var changes []string
	for _, e := range tl.Entries {
		if (e.Category == CatChange || e.Category == CatLifecycle) && !e.Time.After(start) && !e.Time.Before(start.Add(-c.Before)) {
			changes = append(changes, fmt.Sprintf("%s %s (%s)", fmtTime(e.Time), e.Summary, e.Source))
		}
	}
	if len(changes) == 0 {
		out = append(out, fmt.Sprintf("No change (config reload, deploy, lifecycle change) recorded in the %s before the onset.", fmtDur(c.Before)))
	} else {
		out = append(out, fmt.Sprintf("Changes in the %s before the onset: %s", fmtDur(c.Before), strings.Join(changes, "; ")))
	}
	return out
}

func detectionSection(m IncidentMetrics, evs []store.TimelineEvent) []string {
	out := []string{}
	if !m.Onset.IsZero() {
		out = append(out, fmt.Sprintf("Onset (first anomalous sample): %s", fmtTime(m.Onset)))
	}
	out = append(out, fmt.Sprintf("First alert: %s", fmtTime(m.FirstAlert)))
	out = append(out, fmt.Sprintf("Time to detect: %s — %s", m.TimeToDetect, m.TimeToDetect.Basis))
	for _, e := range evs {
		if e.Kind == store.EventNotificationSent {
			out = append(out, fmt.Sprintf("First page delivered: %s (%s), %s after the first alert", fmtTime(e.Time), e.Summary, fmtDur(e.Time.Sub(m.FirstAlert))))
			break
		}
	}
	failed := 0
	for _, e := range evs {
		if e.Kind == store.EventNotificationFailed {
			failed++
		}
	}
	if failed > 0 {
		out = append(out, fmt.Sprintf("%d notification attempt(s) failed (see Pages).", failed))
	}
	return out
}

func responseSection(m IncidentMetrics, evs []store.TimelineEvent, runs []store.RemediationRun) []string {
	out := []string{}
	if m.TimeToAcknowledge.Known {
		out = append(out, fmt.Sprintf("Acknowledged by %s at %s, %s after the incident opened.", orDash(m.AckedBy), fmtTime(m.TimeToAcknowledge.To), m.TimeToAcknowledge))
	} else {
		out = append(out, "Never acknowledged.")
	}
	notes, esc := 0, 0
	for _, e := range evs {
		switch e.Kind {
		case store.EventNote:
			if notes++; notes <= 20 {
				out = append(out, fmt.Sprintf("Note by %s at %s: %s", orDash(e.Actor), fmtTime(e.Time), e.Summary))
			}
		case store.EventIncidentEscalated:
			esc++
			out = append(out, fmt.Sprintf("Escalated at %s: %s", fmtTime(e.Time), e.Summary))
		}
	}
	if notes > 20 {
		out = append(out, fmt.Sprintf("… and %d more notes (see the timeline).", notes-20))
	}
	by := map[string]int{}
	for _, r := range runs {
		by[r.Status]++
	}
	if len(runs) > 0 {
		var parts []string
		for _, s := range []string{"succeeded", "failed", "skipped", "escalated", "awaiting_approval", "proposed", "running"} {
			if by[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", by[s], s))
			}
		}
		out = append(out, fmt.Sprintf("Remediation: %d run(s): %s (see Remediation).", len(runs), strings.Join(parts, ", ")))
	}
	return out
}

func recoverySection(inc store.Incident, m IncidentMetrics, evs []store.TimelineEvent) []string {
	out := []string{}
	if m.TimeToMitigate.Known {
		out = append(out, fmt.Sprintf("Mitigated at %s by %s (time to mitigate %s).", fmtTime(m.TimeToMitigate.To), m.MitigatedBy, m.TimeToMitigate))
	} else {
		out = append(out, "No mitigation recorded (no successful remediation, no note saying mitigated).")
	}
	reopened := 0
	for _, e := range evs {
		if e.Kind == store.EventReopened {
			reopened++
		}
	}
	if reopened > 0 {
		out = append(out, fmt.Sprintf("The incident reopened %d time(s) after resolving.", reopened))
	}
	if m.TimeToResolve.Known {
		out = append(out, fmt.Sprintf("Resolved at %s (time to resolve %s; impact lasted %s).", fmtTime(m.TimeToResolve.To), m.TimeToResolve, m.ImpactDuration))
	} else {
		out = append(out, fmt.Sprintf("Not resolved: the incident is %s.", inc.State))
	}
	return out
}

func actionPrompts(m IncidentMetrics, runs []store.RemediationRun, pages []Page) []string {
	out := []string{
		"Prevent: what change would have stopped the trigger? (owner, ticket)",
		"Detect sooner: could a rule have fired closer to the onset? (owner, ticket)",
	}
	if m.TimeToDetect.Known && m.Rule != nil && m.TimeToDetect.Duration() > 2*m.Rule.For && m.Rule.For > 0 {
		out = append(out, fmt.Sprintf("Detection took %s against a `for` of %s: review rule %s. (owner, ticket)", m.TimeToDetect, fmtDur(m.Rule.For), m.Rule.Name))
	}
	failed := 0
	for _, r := range runs {
		if r.Status == "failed" || r.Status == "escalated" {
			failed++
		}
	}
	if failed > 0 {
		out = append(out, fmt.Sprintf("%d remediation run(s) failed or escalated: fix or retire the action. (owner, ticket)", failed))
	}
	for _, p := range pages {
		if p.State == store.NotificationFailed {
			out = append(out, "A page was never delivered: check the receiver. (owner, ticket)")
			break
		}
	}
	return append(out, "Mitigate faster: what would have shortened the time to mitigate? (owner, ticket)")
}

func lessonPrompts() []string {
	return []string{"What went well?", "What went wrong?", "Where did we get lucky?"}
}

func labelString(ls map[string]string) string {
	return "{" + strings.TrimSuffix(strings.ReplaceAll(alertKeyQuoted(ls), "\x00", ""), ", ") + "}"
}

func alertKeyQuoted(ls map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(ls) {
		fmt.Fprintf(&b, "%s=%q, ", k, ls[k])
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
