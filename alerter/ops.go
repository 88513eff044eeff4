package alerter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// ErrBadState is returned for a change the incident's state does not
// allow (acknowledging a resolved incident).
var ErrBadState = errors.New("not allowed in the incident's state")

// openGroup finds the in-memory group of an open incident.
func (e *Engine) openGroup(id string) *group {
	for _, g := range e.groups {
		if g.inc != nil && g.inc.ID == id {
			return g
		}
	}
	return nil
}

// Acknowledge marks the incident acknowledged by actor and tells its
// receiver (PagerDuty: acknowledge with the same dedup_key).
func (e *Engine) Acknowledge(ctx context.Context, id, actor string) (store.Incident, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.standby {
		return store.Incident{}, fmt.Errorf("incident %q: %w", id, e.errStandby())
	}
	g := e.openGroup(id)
	if g == nil {
		return e.notOpen(ctx, id)
	}
	now := e.now()
	inc := g.inc
	if inc.State == store.Acknowledged {
		return *inc, nil
	}
	inc.State = store.Acknowledged
	inc.AcknowledgedAt = now
	inc.UpdatedAt = now
	if inc.Assignee == "" {
		inc.Assignee = strings.TrimPrefix(strings.TrimPrefix(actor, "user:"), "api:")
	}
	b := e.newBatch(now)
	b.updateIncident(inc)
	b.event(store.TimelineEvent{IncidentID: id, Kind: store.EventAcknowledged, Actor: actor, Summary: "acknowledged by " + actor})
	e.enqueueAction(b, g, notify.ActionAcknowledge, now)
	if err := e.commit(ctx, b); err != nil {
		return store.Incident{}, err
	}
	return *inc, nil
}

// Resolve resolves the incident by hand and tells its receiver. Alerts
// still firing stay in their group; if they still fire at
// repeat_interval, a new incident opens and pages.
func (e *Engine) Resolve(ctx context.Context, id, actor, reason string) (store.Incident, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.standby {
		return store.Incident{}, fmt.Errorf("incident %q: %w", id, e.errStandby())
	}
	g := e.openGroup(id)
	if g == nil {
		return e.notOpen(ctx, id)
	}
	now := e.now()
	inc := g.inc
	inc.State = store.Resolved
	inc.ResolvedAt = now
	inc.UpdatedAt = now
	b := e.newBatch(now)
	b.updateIncident(inc)
	summary := "resolved by " + actor
	if reason != "" {
		summary += ": " + reason
	}
	b.event(store.TimelineEvent{IncidentID: id, Kind: store.EventResolved, Actor: actor, Summary: summary})
	e.enqueueAction(b, g, notify.ActionResolve, now)
	snap := *inc
	g.inc = nil
	g.sentFiring, g.sentResolved = nil, nil
	g.lastNotified = now
	for _, a := range g.alerts {
		if a.a.IncidentID == id {
			a.a.IncidentID = ""
			b.putAlert(a)
		}
	}
	if len(g.alerts) == 0 {
		e.dropGroup(g)
	} else {
		g.flushAt = time.Time{}
		e.schedule(g, now.Add(g.route.repeatInterval))
	}
	if err := e.commit(ctx, b); err != nil {
		return store.Incident{}, err
	}
	return snap, nil
}

// enqueueAction queues an acknowledge or resolve for the incident's
// receiver with the group's current alerts.
func (e *Engine) enqueueAction(b *batch, g *group, action string, now time.Time) {
	var firing, resolved []*alertEntry
	for _, a := range g.alerts {
		if a.firing(now) {
			firing = append(firing, a)
		} else {
			resolved = append(resolved, a)
		}
	}
	sortEntries(firing)
	sortEntries(resolved)
	e.enqueue(b, g, action, "", firing, resolved, now)
}

func (e *Engine) notOpen(ctx context.Context, id string) (store.Incident, error) {
	inc, err := e.st.GetIncident(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Incident{}, fmt.Errorf("incident %q: %w", id, ErrNoIncident)
	}
	if err != nil {
		return store.Incident{}, fmt.Errorf("incident %q: %w", id, err)
	}
	return inc, fmt.Errorf("incident %q is %s: %w", id, inc.State, ErrBadState)
}

// AddNote appends a note by actor to the incident's timeline.
func (e *Engine) AddNote(ctx context.Context, id, actor, text string) (store.TimelineEvent, error) {
	if strings.TrimSpace(text) == "" {
		return store.TimelineEvent{}, errors.New("note: text is empty")
	}
	if _, err := e.st.GetIncident(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.TimelineEvent{}, fmt.Errorf("incident %q: %w", id, ErrNoIncident)
		}
		return store.TimelineEvent{}, fmt.Errorf("incident %q: %w", id, err)
	}
	ev := store.TimelineEvent{IncidentID: id, Time: e.now(), Kind: store.EventNote, Actor: actor, Summary: text}
	err := e.st.Update(ctx, func(tx store.Tx) error {
		var err error
		ev.ID, err = tx.AddEvent(ctx, ev)
		return err
	})
	return ev, err
}

// ApproveRemediation lets a run waiting for approval go ahead.
func (e *Engine) ApproveRemediation(ctx context.Context, id string, run int64, actor string) error {
	ap, ok := e.o.Remediator.(Approver)
	if !ok {
		return errors.New("remediation is not configured")
	}
	runs, err := e.st.ListRemediationRuns(ctx, store.RemediationFilter{IncidentID: id})
	if err != nil {
		return fmt.Errorf("incident %q: %w", id, err)
	}
	found := false
	for _, r := range runs {
		found = found || r.ID == run
	}
	if !found {
		return fmt.Errorf("incident %q run %d: %w", id, run, store.ErrNotFound)
	}
	if err := ap.Approve(ctx, run, actor); err != nil {
		return fmt.Errorf("incident %q run %d: %w", id, run, err)
	}
	return nil
}

// PutSilence creates (s.ID empty) or replaces a silence and returns its ID.
func (e *Engine) PutSilence(ctx context.Context, s store.Silence) (string, error) {
	if len(s.Matchers) == 0 {
		return "", errors.New("silence: matchers are empty")
	}
	if _, err := compileSilence(s); err != nil {
		return "", fmt.Errorf("silence: %w", err)
	}
	if !s.EndsAt.After(s.StartsAt) {
		return "", errors.New("silence: endsAt must be after startsAt")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	kind := store.EventSilenceCreated
	if s.ID == "" {
		var r [16]byte
		_, _ = rand.Read(r[:])
		h := hex.EncodeToString(r[:])
		s.ID = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	} else if old, ok := e.silences[s.ID]; !ok {
		return "", fmt.Errorf("silence %q: %w", s.ID, store.ErrNotFound)
	} else if !old.s.EndsAt.After(now) {
		return "", fmt.Errorf("silence %q has expired and cannot be changed", s.ID)
	}
	if s.EndsAt.Before(now) {
		return "", errors.New("silence: endsAt is in the past")
	}
	s.UpdatedAt = now
	e.putSilenceLocked(s)
	b := e.newBatch(now)
	b.silences = append(b.silences, s)
	b.event(store.TimelineEvent{Kind: kind, Actor: "user:" + s.CreatedBy,
		Summary: fmt.Sprintf("silence %s until %s: %s", s.ID, s.EndsAt.UTC().Format(time.RFC3339), s.Comment)})
	if !e.standby {
		// A standby stores the silence; the active instance applies it
		// when it reads it (syncSilences).
		e.recheckAll(b, now)
		e.flushDueLocked(b, now)
	}
	return s.ID, e.commit(ctx, b)
}

// ExpireSilence ends a silence now.
func (e *Engine) ExpireSilence(ctx context.Context, id, actor string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	se, ok := e.silences[id]
	if !ok {
		return fmt.Errorf("silence %q: %w", id, store.ErrNotFound)
	}
	now := e.now()
	s := se.s
	if !s.EndsAt.After(now) {
		return nil
	}
	if s.StartsAt.After(now) {
		s.StartsAt = now
	}
	s.EndsAt = now
	s.UpdatedAt = now
	e.putSilenceLocked(s)
	b := e.newBatch(now)
	b.silences = append(b.silences, s)
	b.event(store.TimelineEvent{Kind: store.EventSilenceExpired, Actor: actor, Summary: "silence " + id + " expired"})
	if !e.standby {
		e.recheckAll(b, now)
		e.flushDueLocked(b, now)
	}
	return e.commit(ctx, b)
}

// Silences returns every silence, newest first.
func (e *Engine) Silences() []store.Silence {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]store.Silence, 0, len(e.silences))
	for _, s := range e.silences {
		out = append(out, s.s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UpdatedAt.After(out[j].UpdatedAt) })
	return out
}

// Silence returns one silence.
func (e *Engine) Silence(id string) (store.Silence, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.silences[id]
	if !ok {
		return store.Silence{}, false
	}
	return s.s, true
}

// AlertView is an alert as the Alertmanager API shows it.
type AlertView struct {
	Alert       store.Alert
	Receivers   []string
	SilencedBy  []string
	InhibitedBy []string
	// State is "active", "suppressed" or "unprocessed".
	State string
}

// Alerts returns the alerts the engine holds that are firing (resolved
// ones are not listed, as in Alertmanager), sorted by fingerprint.
func (e *Engine) Alerts() []AlertView {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	out := make([]AlertView, 0, len(e.alerts))
	for _, ent := range e.alerts {
		if !ent.firing(now) {
			continue
		}
		out = append(out, e.viewLocked(ent, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Alert.Fingerprint < out[j].Alert.Fingerprint })
	return out
}

func (e *Engine) viewLocked(ent *alertEntry, now time.Time) AlertView {
	v := AlertView{Alert: ent.a, State: "active"}
	if ent.routes == nil {
		ent.routes = e.routes.match(ent.a.Labels)
	}
	seen := map[string]bool{}
	for _, r := range ent.routes {
		if !seen[r.receiver] {
			seen[r.receiver] = true
			v.Receivers = append(v.Receivers, r.receiver)
		}
	}
	v.SilencedBy, v.InhibitedBy = e.mutedBy(ent, now)
	if ent.supp != "" {
		v.State = "suppressed"
		if strings.HasPrefix(ent.supp, "maintenance:") && len(v.SilencedBy) == 0 {
			v.SilencedBy = []string{ent.supp}
		}
	}
	if v.SilencedBy == nil {
		v.SilencedBy = []string{}
	}
	if v.InhibitedBy == nil {
		v.InhibitedBy = []string{}
	}
	return v
}

// GroupView is one aggregation group as /api/v2/alerts/groups shows it.
type GroupView struct {
	Key      string
	Labels   map[string]string
	Receiver string
	Incident string
	Alerts   []AlertView
}

// Groups returns the groups holding firing alerts, sorted by key.
func (e *Engine) Groups() []GroupView {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	var out []GroupView
	for _, g := range e.groups {
		gv := GroupView{Key: g.key, Labels: g.labels, Receiver: g.route.receiver}
		if g.inc != nil {
			gv.Incident = g.inc.ID
		}
		for _, a := range g.alerts {
			if a.firing(now) {
				gv.Alerts = append(gv.Alerts, e.viewLocked(a, now))
			}
		}
		if len(gv.Alerts) == 0 {
			continue
		}
		sort.Slice(gv.Alerts, func(i, j int) bool { return gv.Alerts[i].Alert.Fingerprint < gv.Alerts[j].Alert.Fingerprint })
		out = append(out, gv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// IncidentAlerts returns the alerts the engine holds for an open
// incident, including those that joined since its last notification.
func (e *Engine) IncidentAlerts(id string) []store.Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.openGroup(id)
	if g == nil {
		return nil
	}
	out := make([]store.Alert, 0, len(g.alerts))
	for _, a := range g.alerts {
		out = append(out, a.a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Fingerprint < out[j].Fingerprint })
	return out
}

// Stats is a snapshot of the engine's size.
type Stats struct {
	Alerts, Firing, Groups, OpenIncidents, Silences int
	Clusters                                        []string
}

// Stats counts what the engine holds.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	s := Stats{Alerts: len(e.alerts), Groups: len(e.groups), Silences: len(e.silences), Clusters: e.corr.clusterKeys(now)}
	for _, a := range e.alerts {
		if a.firing(now) {
			s.Firing++
		}
	}
	s.OpenIncidents = e.openIncidentsLocked()
	return s
}

// size returns what count says under e.mu: the gauges of /metrics read
// the engine's size this way, never walking the alerts (a scrape must not
// hold up intake for the time it takes to look at 100,000 alerts).
func (e *Engine) size(count func() int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return count()
}

func (e *Engine) openIncidentsLocked() int {
	n := 0
	for _, g := range e.groups {
		if g.inc != nil {
			n++
		}
	}
	return n
}

// Store returns the engine's store (read side for the APIs).
func (e *Engine) Store() store.Store { return e.st }
