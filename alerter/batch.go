package alerter

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// batch collects the writes one step of the engine makes, so they are
// committed in one store transaction: incident changes, alerts, timeline
// events and outbox notifications together or not at all.
type batch struct {
	now        time.Time
	created    []*store.Incident
	createdSet map[*store.Incident]bool
	updated    []*store.Incident
	updSet     map[*store.Incident]bool
	alerts     []*alertEntry
	alertSet   map[*alertEntry]bool
	events     []store.TimelineEvent
	outbox     []store.Notification
	silences   []store.Silence
	after      []func(ctx context.Context, tx store.Tx) error
}

func (e *Engine) newBatch(now time.Time) *batch {
	return &batch{now: now, createdSet: map[*store.Incident]bool{}, updSet: map[*store.Incident]bool{}, alertSet: map[*alertEntry]bool{}}
}

func (b *batch) empty() bool {
	return len(b.created)+len(b.updated)+len(b.alerts)+len(b.events)+len(b.outbox)+len(b.silences)+len(b.after) == 0
}

func (b *batch) createIncident(inc *store.Incident) {
	b.created = append(b.created, inc)
	b.createdSet[inc] = true
}

func (b *batch) updateIncident(inc *store.Incident) {
	if b.createdSet[inc] || b.updSet[inc] {
		return
	}
	b.updated = append(b.updated, inc)
	b.updSet[inc] = true
}

func (b *batch) putAlert(a *alertEntry) {
	if b.alertSet[a] {
		return
	}
	b.alerts = append(b.alerts, a)
	b.alertSet[a] = true
}

func (b *batch) event(ev store.TimelineEvent) {
	if ev.Time.IsZero() {
		ev.Time = b.now
	}
	if ev.Actor == "" {
		ev.Actor = "fleetwatch"
	}
	b.events = append(b.events, ev)
}

// commit writes b in one transaction. On failure the in-memory state,
// which already holds b's changes, is rebuilt from the store, so memory
// never runs ahead of what is durable.
func (e *Engine) commit(ctx context.Context, b *batch) error {
	if b.empty() {
		return nil
	}
	start := time.Now()
	err := e.st.Update(ctx, func(tx store.Tx) error {
		for _, inc := range b.created {
			if err := tx.CreateIncident(ctx, *inc); err != nil {
				return fmt.Errorf("incident %s: %w", inc.ID, err)
			}
			got, err := tx.GetIncident(ctx, inc.ID)
			if err != nil {
				return fmt.Errorf("incident %s: %w", inc.ID, err)
			}
			inc.Version = got.Version
		}
		for _, inc := range b.updated {
			got, err := tx.UpdateIncident(ctx, *inc)
			if err != nil {
				return fmt.Errorf("incident %s: %w", inc.ID, err)
			}
			inc.Version = got.Version
		}
		for _, a := range b.alerts {
			a.a.UpdatedAt = b.now
			if err := tx.PutAlert(ctx, a.a); err != nil {
				return fmt.Errorf("alert %s: %w", a.a.Fingerprint, err)
			}
		}
		for _, s := range b.silences {
			if err := tx.PutSilence(ctx, s); err != nil {
				return fmt.Errorf("silence %s: %w", s.ID, err)
			}
		}
		for _, ev := range b.events {
			if _, err := tx.AddEvent(ctx, ev); err != nil {
				return fmt.Errorf("timeline event %s: %w", ev.Kind, err)
			}
		}
		for _, n := range b.outbox {
			if _, err := tx.Enqueue(ctx, n); err != nil {
				return fmt.Errorf("notification for incident %s: %w", n.IncidentID, err)
			}
		}
		for _, f := range b.after {
			if err := f(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	e.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		e.metrics.commitFailures.Inc()
		if lerr := e.load(ctx); lerr != nil {
			e.log.Error("reloading alerter state after a failed commit", "err", lerr)
		}
		return fmt.Errorf("alerter store: %w", err)
	}
	for _, a := range b.alerts {
		a.persistedEnd = a.a.EndsAt
	}
	e.metrics.alertWrites.Add(float64(len(b.alerts)))
	if len(b.outbox) > 0 {
		e.kick(e.wakeOutbox)
	}
	return nil
}

// Load reads the alerter's state from the store: active alerts, open
// incidents and their groups, silences. Run calls it; tests and tools that
// drive the engine by hand call it once before use.
func (e *Engine) Load(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.load(ctx)
}

// resolvedKeep is how long a resolved alert stays in memory so that
// senders re-sending it (Prometheus does for 15 minutes) cost nothing.
const resolvedKeep = 20 * time.Minute

func (e *Engine) load(ctx context.Context) error {
	now := e.now()
	sils, err := e.st.ListSilences(ctx)
	if err != nil {
		return fmt.Errorf("alerter: loading silences: %w", err)
	}
	incs, err := e.st.ListIncidents(ctx, store.IncidentFilter{States: []store.IncidentState{store.Triggered, store.Acknowledged}})
	if err != nil {
		return fmt.Errorf("alerter: loading incidents: %w", err)
	}
	alerts, err := e.st.ListAlerts(ctx, store.AlertFilter{})
	if err != nil {
		return fmt.Errorf("alerter: loading alerts: %w", err)
	}
	e.alerts = make(map[string]*alertEntry, len(alerts))
	e.groups = map[string]*group{}
	e.timers = nil
	e.silences = map[string]*silenceEntry{}
	e.corr = newCorrelator()
	e.corr.cfg = &e.cfg.Correlation
	for i := range e.inhibit {
		e.inhibit[i].sources = map[string]map[string]bool{}
	}
	e.suppGen++
	for _, s := range sils {
		e.putSilenceLocked(s)
	}
	open := map[string]*group{}
	for i := range incs {
		inc := incs[i]
		g := e.groupFor(inc.GroupKey, e.routeByKey(inc.Route), nil, now)
		g.inc = &inc
		g.flushed = true
		g.lastFlush = now
		g.lastNotified = inc.LastNotifiedAt
		g.notifiedSeverity = inc.Severity
		if c := e.corr.fromGroupKey(inc.GroupKey, now); c != nil {
			c.group = g
			g.cluster = c
			c.cause = inc.Cause
		}
		open[inc.ID] = g
	}
	grace := time.Duration(e.cfg.ResolveTimeout)
	for _, a := range alerts {
		g := open[a.IncidentID]
		if a.UpdatedAt.Before(a.EndsAt) && a.EndsAt.Before(now.Add(grace)) {
			// It was firing when last written (its end was not recorded)
			// and its sender re-sends it: give the sender time to do so
			// after our restart rather than resolve it for our downtime.
			a.EndsAt = now.Add(grace)
		}
		if a.Resolved(now) && g == nil && now.Sub(a.EndsAt) > resolvedKeep {
			continue
		}
		ent := &alertEntry{a: a, persistedEnd: a.EndsAt}
		e.alerts[a.Fingerprint] = ent
		e.trackInhibitSource(ent)
		if g != nil {
			e.join(g, ent, now)
			if !a.Resolved(now) {
				g.sentFiring[a.Fingerprint] = true
			}
		}
	}
	for _, ent := range e.alerts {
		if len(ent.groups) == 0 && !ent.a.Resolved(now) {
			e.classify(nil, ent, now)
		}
	}
	// Groups restored with an incident flush soon: anything that changed
	// while we were down is told then.
	for _, g := range open {
		e.schedule(g, now)
	}
	e.loaded = true
	return nil
}

// routeByKey finds the route of a stored incident, or the root.
func (e *Engine) routeByKey(key string) *routeNode {
	var found *routeNode
	e.routes.walk(func(n *routeNode) {
		if n.key == key {
			found = n
		}
	})
	if found == nil {
		return e.routes
	}
	return found
}
