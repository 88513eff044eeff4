package alerter

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// group is one aggregation group (route + group_by values, or a topology
// correlation) and the incident it feeds.
type group struct {
	key     string
	route   *routeNode
	labels  map[string]string
	alerts  map[string]*alertEntry
	inc     *store.Incident // the open incident, nil before the first flush
	cluster *cluster        // set for correlation groups

	flushAt   time.Time // next scheduled flush, zero if none
	created   time.Time
	flushed   bool
	lastFlush time.Time

	// What the receiver was last told (Alertmanager's notification log);
	// nil before the first notification.
	sentFiring       map[string]bool
	sentResolved     map[string]bool
	lastNotified     time.Time
	notifiedSeverity string
}

type recentIncident struct {
	inc        *store.Incident // shared with the batch that resolved it, so its Version stays current
	resolvedAt time.Time
}

func popTimer(h *timerHeap) { heap.Pop(h) }

// groupFor returns the group with key, creating it (and scheduling its
// first flush group_wait from now) if needed.
func (e *Engine) groupFor(key string, r *routeNode, gl map[string]string, now time.Time) *group {
	if g := e.groups[key]; g != nil {
		return g
	}
	g := &group{
		key: key, route: r, labels: gl, alerts: map[string]*alertEntry{}, created: now,
		// sentFiring and sentResolved stay nil until the first notification.
	}
	if g.labels == nil {
		g.labels = map[string]string{}
	}
	e.groups[key] = g
	// group_wait counts from when fleetwatch first sees the group, never
	// from the alert's startsAt (see docs/alerter.md, timer pitfalls).
	e.schedule(g, now.Add(r.groupWait))
	return g
}

// join adds ent to g and schedules the flush that tells the receiver.
func (e *Engine) join(g *group, ent *alertEntry, now time.Time) {
	if g.alerts[ent.a.Fingerprint] == nil {
		g.alerts[ent.a.Fingerprint] = ent
		ent.groups = append(ent.groups, g)
	}
	e.markDirty(g, now)
}

// leave removes ent from g; an empty group with no incident goes away.
func (e *Engine) leave(g *group, ent *alertEntry) {
	delete(g.alerts, ent.a.Fingerprint)
	ent.groups = slices.DeleteFunc(ent.groups, func(x *group) bool { return x == g })
	if len(g.alerts) == 0 && g.inc == nil {
		e.dropGroup(g)
	}
}

func (e *Engine) dropGroup(g *group) {
	if e.groups[g.key] == g {
		delete(e.groups, g.key)
	}
	g.flushAt = time.Time{}
	if g.cluster != nil && g.cluster.group == g {
		g.cluster.group = nil
	}
}

// markDirty schedules g's next flush after a change: at group_interval
// after the last flush (at once if that has passed), or at once when no
// alert of a notified group still fires, so a resolve is never held back
// by group_interval.
func (e *Engine) markDirty(g *group, now time.Time) {
	if !g.flushed {
		return // its first flush (group_wait) is already scheduled
	}
	at := g.lastFlush.Add(g.route.groupInterval)
	if !e.anyFiring(g, now) {
		at = now
	}
	if at.Before(now) {
		at = now
	}
	e.schedule(g, at)
}

func (e *Engine) anyFiring(g *group, now time.Time) bool {
	for _, a := range g.alerts {
		if a.firing(now) && a.supp == "" {
			return true
		}
	}
	return false
}

// flush is Alertmanager's group flush plus the incident's state machine:
// decide whether the receiver must be told (new firing alerts, resolved
// ones, repeat_interval), open, update or resolve the incident, and queue
// the notification in the same batch.
func (e *Engine) flush(b *batch, g *group, now time.Time) {
	g.flushed = true
	g.lastFlush = now
	var firing, resolved, muted []*alertEntry
	for _, a := range g.alerts {
		if a.suppGen != e.suppGen && a.firing(now) {
			e.recheckSuppression(b, a, now)
		}
		switch {
		case !a.firing(now):
			resolved = append(resolved, a)
		case a.supp != "":
			muted = append(muted, a)
		default:
			firing = append(firing, a)
		}
	}
	sortEntries(firing)
	sortEntries(resolved)
	if g.inc == nil && len(firing) == 0 {
		for _, a := range resolved {
			e.leave(g, a)
		}
		if len(g.alerts) == 0 {
			e.dropGroup(g)
		}
		return
	}
	needs := e.needsUpdate(g, firing, resolved, now)
	if len(firing) == 0 && len(muted) > 0 {
		needs = false // everything left is silenced: say nothing
	}
	opened := false
	if g.inc == nil {
		e.openIncident(b, g, firing, now)
		opened = true
	}
	inc := g.inc
	action := notify.ActionTrigger
	joined := 0
	for _, a := range firing {
		if a.a.IncidentID != inc.ID {
			a.a.IncidentID = inc.ID
			b.putAlert(a)
			joined++
			kind := store.EventAlertFiring
			if !opened {
				kind = store.EventIncidentGrouped
			}
			b.event(store.TimelineEvent{IncidentID: inc.ID, Kind: kind, Labels: a.a.Labels,
				Summary: fmt.Sprintf("alert %s firing since %s", alertName(a.a.Labels), a.a.StartsAt.UTC().Format(time.RFC3339))})
		}
	}
	for _, a := range resolved {
		if a.a.IncidentID == inc.ID && g.sentFiring[a.a.Fingerprint] {
			b.event(store.TimelineEvent{IncidentID: inc.ID, Kind: store.EventAlertResolved, Labels: a.a.Labels,
				Summary: fmt.Sprintf("alert %s resolved at %s", alertName(a.a.Labels), a.a.EndsAt.UTC().Format(time.RFC3339))})
		}
	}
	sev := severityOf(firing)
	escalated := len(firing) > 0 && !opened && severityRank(sev) > severityRank(g.notifiedSeverity)
	e.refreshIncident(inc, g, firing, resolved, muted, now)
	if escalated {
		b.event(store.TimelineEvent{IncidentID: inc.ID, Kind: store.EventIncidentEscalated,
			Summary: fmt.Sprintf("severity rose from %s to %s", g.notifiedSeverity, sev)})
		if e.cfg.RepageOnEscalation {
			needs = true
			if inc.State == store.Acknowledged {
				inc.State = store.Triggered
				inc.AcknowledgedAt = time.Time{}
			}
		}
	}
	if len(firing) == 0 && len(muted) == 0 {
		inc.State = store.Resolved
		inc.ResolvedAt = now
		action = notify.ActionResolve
		b.event(store.TimelineEvent{IncidentID: inc.ID, Kind: store.EventResolved, Summary: "all alerts resolved"})
	}
	if needs {
		if m, why := g.route.muted(e.iv, now); m {
			b.event(store.TimelineEvent{IncidentID: inc.ID, Kind: store.EventNotificationQueued,
				Summary: fmt.Sprintf("notification to %s held back: %s", g.route.receiver, why)})
		} else {
			prev := ""
			if escalated {
				prev = g.notifiedSeverity
			}
			e.enqueue(b, g, action, prev, firing, resolved, now)
			g.sentFiring = fpSet(firing)
			g.sentResolved = fpSet(resolved)
			g.lastNotified = now
			g.notifiedSeverity = sev
			inc.LastNotifiedAt = now
		}
	}
	b.updateIncident(inc)
	if e.o.Remediator != nil && len(firing) > 0 && (opened || joined > 0) {
		snap := *inc
		alerts := make([]store.Alert, len(firing))
		for i, a := range firing {
			alerts[i] = a.a
		}
		b.after = append(b.after, func(ctx context.Context, tx store.Tx) error {
			if err := e.o.Remediator.OnIncident(ctx, tx, snap, alerts); err != nil {
				e.log.Error("remediation hook failed", "incident", snap.ID, "err", err)
				_, aerr := tx.AddEvent(ctx, store.TimelineEvent{IncidentID: snap.ID, Time: now, Kind: store.EventRemediationSkipped,
					Actor: "fleetwatch", Summary: "remediation hook failed: " + err.Error()})
				return aerr
			}
			return nil
		})
	}
	// Resolved alerts leave the group once it has flushed them.
	for _, a := range resolved {
		e.leave(g, a)
	}
	if inc.State == store.Resolved {
		if h, ok := e.o.Remediator.(ResolveHook); ok {
			snap := *inc
			b.after = append(b.after, func(ctx context.Context, tx store.Tx) error {
				if err := h.OnIncidentResolved(ctx, tx, snap); err != nil {
					e.log.Error("remediation resolve hook failed", "incident", snap.ID, "err", err)
				}
				return nil
			})
		}
		e.recent[g.key] = recentIncident{inc: inc, resolvedAt: now}
		for _, a := range g.alerts {
			a.groups = slices.DeleteFunc(a.groups, func(x *group) bool { return x == g })
		}
		g.inc = nil
		e.dropGroup(g)
		return
	}
	// Nothing changed: come back when repeat_interval is due.
	e.schedule(g, g.lastNotifiedOr(now).Add(g.route.repeatInterval))
}

func (g *group) lastNotifiedOr(now time.Time) time.Time {
	if g.lastNotified.IsZero() {
		return now
	}
	return g.lastNotified
}

// needsUpdate is Alertmanager's dedup decision (notify.DedupStage).
func (e *Engine) needsUpdate(g *group, firing, resolved []*alertEntry, now time.Time) bool {
	if g.lastNotified.IsZero() && len(g.sentFiring) == 0 {
		return len(firing) > 0
	}
	for _, a := range firing {
		if !g.sentFiring[a.a.Fingerprint] {
			return true
		}
	}
	if len(firing) == 0 {
		return len(g.sentFiring) > 0
	}
	for _, a := range resolved {
		if !g.sentResolved[a.a.Fingerprint] {
			return true
		}
	}
	return !g.lastNotified.After(now.Add(-g.route.repeatInterval))
}

// openIncident creates g's incident, or reopens the one of the same group
// that resolved within reopen_window.
func (e *Engine) openIncident(b *batch, g *group, firing []*alertEntry, now time.Time) {
	if r, ok := e.recent[g.key]; ok && now.Sub(r.resolvedAt) <= time.Duration(e.cfg.ReopenWindow) {
		inc := r.inc
		inc.State = store.Triggered
		inc.ResolvedAt = time.Time{}
		inc.AcknowledgedAt = time.Time{}
		g.inc = inc
		delete(e.recent, g.key)
		b.event(store.TimelineEvent{IncidentID: inc.ID, Kind: store.EventReopened,
			Summary: fmt.Sprintf("alerts fire again %s after the incident resolved", now.Sub(r.resolvedAt).Round(time.Second))})
		return
	}
	inc := &store.Incident{
		ID: newIncidentID(now), GroupKey: g.key, Route: g.route.key, Receiver: g.route.receiver,
		State: store.Triggered, CreatedAt: now, UpdatedAt: now,
	}
	g.inc = inc
	e.refreshIncident(inc, g, firing, nil, nil, now)
	b.createIncident(inc)
	b.event(store.TimelineEvent{IncidentID: inc.ID, Kind: store.EventIncidentCreated, Labels: inc.Labels,
		Summary: fmt.Sprintf("incident opened: %s (receiver %s)", inc.Title, inc.Receiver)})
	if g.cluster != nil {
		for _, ev := range g.cluster.pending {
			ev.IncidentID = inc.ID
			b.event(ev)
		}
		g.cluster.pending = nil
	}
	e.metrics.incidentsOpened.Inc()
}

// refreshIncident recomputes the incident's derived fields.
func (e *Engine) refreshIncident(inc *store.Incident, g *group, firing, resolved, muted []*alertEntry, now time.Time) {
	all := append(append(slices.Clone(firing), muted...), resolved...)
	common := commonLabels(all)
	lbls := maps2(g.labels)
	for k, v := range common {
		lbls[k] = v
	}
	inc.Labels = lbls
	inc.AlertCount = len(all)
	inc.FiringCount = len(firing)
	if len(firing) > 0 {
		inc.Severity = severityOf(firing)
	} else if inc.Severity == "" {
		inc.Severity = severityOf(all)
	}
	inc.UpdatedAt = now
	if g.cluster != nil {
		inc.Cause = g.cluster.cause
		inc.Title = g.cluster.title(all, now)
	} else if inc.Title == "" || len(firing) > 0 {
		inc.Title = groupTitle(g, firing, all)
	}
}

func maps2(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func groupTitle(g *group, firing, all []*alertEntry) string {
	src := firing
	if len(src) == 0 {
		src = all
	}
	names := alertNames(src)
	var gl []string
	for _, k := range sortedKeys(g.labels) {
		if k != "alertname" {
			gl = append(gl, k+"="+g.labels[k])
		}
	}
	t := strings.Join(names, ", ")
	if len(gl) > 0 {
		t += " (" + strings.Join(gl, " ") + ")"
	}
	if len(src) > 1 {
		t = fmt.Sprintf("%d alerts: %s", len(src), t)
	}
	return t
}

func alertNames(es []*alertEntry) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range es {
		n := alertName(a.a.Labels)
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	if len(out) > 3 {
		out = append(out[:3], fmt.Sprintf("+%d more", len(out)-3))
	}
	return out
}

func alertName(ls map[string]string) string {
	if n := ls["alertname"]; n != "" {
		return n
	}
	return labelSetString(ls)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortEntries(es []*alertEntry) {
	sort.Slice(es, func(i, j int) bool { return es[i].a.Fingerprint < es[j].a.Fingerprint })
}

func fpSet(es []*alertEntry) map[string]bool {
	m := make(map[string]bool, len(es))
	for _, a := range es {
		m[a.a.Fingerprint] = true
	}
	return m
}

func commonLabels(es []*alertEntry) map[string]string {
	if len(es) == 0 {
		return map[string]string{}
	}
	out := maps2(es[0].a.Labels)
	for _, a := range es[1:] {
		for k, v := range out {
			if a.a.Labels[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}

func commonAnnotations(es []*alertEntry) map[string]string {
	if len(es) == 0 {
		return map[string]string{}
	}
	out := maps2(es[0].a.Annotations)
	for _, a := range es[1:] {
		for k, v := range out {
			if a.a.Annotations[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}

var severities = map[string]int{"info": 1, "warning": 2, "error": 3, "critical": 4}

func severityRank(s string) int { return severities[s] }

// severityOf maps the alerts' severity labels to PagerDuty's four levels
// and returns the highest; alerts without one count as "error".
func severityOf(es []*alertEntry) string {
	best := ""
	for _, a := range es {
		s := normSeverity(a.a.Labels["severity"])
		if severityRank(s) > severityRank(best) {
			best = s
		}
	}
	if best == "" {
		best = "error"
	}
	return best
}

func normSeverity(s string) string {
	switch strings.ToLower(s) {
	case "critical", "page", "fatal", "emergency", "alert":
		return "critical"
	case "error", "err", "major", "high":
		return "error"
	case "warning", "warn", "minor", "medium":
		return "warning"
	case "info", "informational", "notice", "low", "none":
		return "info"
	case "":
		return "error"
	}
	return "error"
}

// maxMessageAlerts bounds the alerts listed in one message.
const maxMessageAlerts = 100

// enqueue builds the message for g's receiver and queues it.
func (e *Engine) enqueue(b *batch, g *group, action, prevSeverity string, firing, resolved []*alertEntry, now time.Time) {
	inc := g.inc
	m := e.message(g, action, firing, resolved, now)
	m.PreviousSeverity = prevSeverity
	payload, err := json.Marshal(m)
	if err != nil {
		e.log.Error("encoding notification", "incident", inc.ID, "err", err)
		return
	}
	b.outbox = append(b.outbox, store.Notification{
		IncidentID: inc.ID, Receiver: g.route.receiver, Action: action, Payload: payload,
		CreatedAt: now, NextAttempt: now, State: store.NotificationPending,
	})
	b.event(store.TimelineEvent{IncidentID: inc.ID, Kind: store.EventNotificationQueued,
		Summary: fmt.Sprintf("%s queued for %s: %d firing, %d resolved", action, g.route.receiver, len(firing), len(resolved))})
}

func (e *Engine) message(g *group, action string, firing, resolved []*alertEntry, now time.Time) notify.Message {
	inc := g.inc
	all := append(slices.Clone(firing), resolved...)
	status := "firing"
	if len(firing) == 0 {
		status = "resolved"
	}
	common := commonLabels(all)
	m := notify.Message{
		IncidentID: inc.ID, Action: action, Severity: inc.Severity, Status: status,
		Receiver: g.route.receiver, GroupKey: g.key, GroupLabels: maps2(g.labels),
		CommonLabels: common, CommonAnnotations: commonAnnotations(all),
		Cause: inc.Cause, ExternalURL: e.o.ExternalURL, Timestamp: now,
		Summary: fmt.Sprintf("[%s:%d] %s", strings.ToUpper(status), len(firing), inc.Title),
	}
	if status == "resolved" {
		m.Summary = "[RESOLVED] " + inc.Title
	}
	m.Source = firstOf(common, "instance", "server", "hostname", "switch")
	if m.Source == "" && len(all) > 0 {
		m.Source = firstOf(all[0].a.Labels, "instance", "server", "hostname", "switch", "job")
	}
	if m.Source == "" {
		m.Source = "fleetwatch"
	}
	m.Component = firstOf(common, "component", "job")
	m.Group = strings.Trim(firstOf(common, "site")+"/"+firstOf(common, "rack"), "/")
	m.Class = strings.Join(alertNames(all), ",")
	for i, a := range all {
		if i == maxMessageAlerts {
			m.TruncatedAlerts = len(all) - i
			break
		}
		st := "firing"
		if !a.firing(now) {
			st = "resolved"
		}
		m.Alerts = append(m.Alerts, notify.Alert{Status: st, Labels: a.a.Labels, Annotations: a.a.Annotations,
			StartsAt: a.a.StartsAt, EndsAt: a.a.EndsAt, GeneratorURL: a.a.GeneratorURL, Fingerprint: a.a.Fingerprint})
	}
	if e.o.ExternalURL != "" {
		m.Links = append(m.Links, notify.Link{Href: strings.TrimRight(e.o.ExternalURL, "/") + "/incidents/" + inc.ID, Text: "fleetwatch incident"})
	}
	seen := map[string]bool{}
	for _, a := range all {
		if u := a.a.GeneratorURL; u != "" && !seen[u] && len(seen) < 3 {
			seen[u] = true
			m.Links = append(m.Links, notify.Link{Href: u, Text: "graph: " + alertName(a.a.Labels)})
		}
	}
	m.Details = map[string]string{
		"incident": inc.ID, "state": string(inc.State),
		"firing": fmt.Sprint(len(firing)), "resolved": fmt.Sprint(len(resolved)),
	}
	if inc.Cause != "" {
		m.Details["cause"] = inc.Cause
	}
	return m
}

func firstOf(ls map[string]string, names ...string) string {
	for _, n := range names {
		if v := ls[n]; v != "" {
			return v
		}
	}
	return ""
}

// newIncidentID returns an ID that sorts by creation time.
func newIncidentID(now time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%012x%08x", now.UnixMilli(), binary.BigEndian.Uint32(r[:]))
}
