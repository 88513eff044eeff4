package alerter

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/util/strutil"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// alertEntry is the in-memory state of one alert.
type alertEntry struct {
	a            store.Alert
	persistedEnd time.Time // EndsAt as last written to the store
	routes       []*routeNode
	groups       []*group
	supp         string // why it pages nobody, "" if it pages
	suppGen      uint64 // e.suppGen when supp was computed
	topo         map[string]string
	topoGen      *invIndex
	noted        bool // its suppression is on the timeline
	// rawLabels and rawAnn are the RawKey the alert last came with (0:
	// none); e.byRaw[rawLabels] is this entry.
	rawLabels, rawAnn uint64
}

func (a *alertEntry) firing(now time.Time) bool { return !a.a.Resolved(now) }

// PostAlerts takes alerts as the Alertmanager API receives them. Alerts
// without EndsAt get now+resolve_timeout. It returns once every state
// change the alerts cause is committed to the store; an alert re-sent
// unchanged costs no write.
func (e *Engine) PostAlerts(ctx context.Context, alerts []store.Alert) error {
	return e.ingestKeyed(ctx, alerts, nil, "api", true)
}

// Notify takes alerts from fleetwatch's own rule evaluation; it has the
// signature of prometheus' rules.NotifyFunc. Errors are logged (the rule
// manager re-sends on its next evaluation).
func (e *Engine) Notify(ctx context.Context, expr string, alerts ...*rules.Alert) {
	if len(alerts) == 0 {
		return
	}
	out := make([]store.Alert, 0, len(alerts))
	for _, a := range alerts {
		sa := store.Alert{
			Labels:       a.Labels.Map(),
			Annotations:  a.Annotations.Map(),
			StartsAt:     a.FiredAt,
			EndsAt:       a.ValidUntil,
			GeneratorURL: e.o.ExternalURL + strutil.TableLinkForExpression(expr),
		}
		if !a.ResolvedAt.IsZero() {
			sa.EndsAt = a.ResolvedAt
		}
		out = append(out, sa)
	}
	if err := e.ingestKeyed(ctx, out, nil, "rules", false); err != nil {
		e.log.Error("alerts from rules not taken", "expr", expr, "alerts", len(alerts), "err", err)
	}
}

// ingestKeyed takes alerts; keys, when not nil, holds each one's RawKey.
func (e *Engine) ingestKeyed(ctx context.Context, alerts []store.Alert, keys []RawKey, source string, api bool) error {
	e.mu.Lock()
	now := e.now()
	b := e.newBatch(now)
	for i := range alerts {
		var k *RawKey
		if keys != nil {
			k = &keys[i]
		}
		if e.standby {
			e.ingestStandby(b, &alerts[i], k, now, api)
		} else {
			e.ingestOne(b, &alerts[i], k, now, api)
		}
	}
	e.metrics.received.WithLabelValues(source).Add(float64(len(alerts)))
	// Groups due now (group_wait 0, or all alerts of an incident
	// resolved) flush in the same transaction: the notification is durable
	// the moment the alert is acknowledged to its sender.
	e.flushDueLocked(b, now)
	// The batch is sealed under the lock and written after it is
	// released: senders posting at once share one transaction.
	s, err := e.seal(ctx, b)
	e.mu.Unlock()
	if err != nil {
		return err
	}
	return e.commitUnlocked(ctx, s)
}

// flushDueLocked flushes groups whose timer has already come.
func (e *Engine) flushDueLocked(b *batch, now time.Time) {
	for len(e.timers) > 0 && !e.timers[0].at.After(now) {
		t := e.timers[0]
		g := e.groups[t.key]
		popTimer(&e.timers)
		if g == nil || !g.flushAt.Equal(t.at) {
			continue
		}
		g.flushAt = time.Time{}
		e.flush(b, g, now)
	}
}

func (e *Engine) ingestOne(b *batch, in *store.Alert, k *RawKey, now time.Time, api bool) {
	if in.EndsAt.IsZero() && api {
		in.EndsAt = now.Add(time.Duration(e.cfg.ResolveTimeout))
	}
	if in.StartsAt.IsZero() {
		in.StartsAt = now
	}
	if in.Fingerprint == "" {
		in.Fingerprint = fingerprint(in.Labels)
	}
	e.noteEnd(in.EndsAt)
	ent := e.alerts[in.Fingerprint]
	if ent == nil {
		if in.Resolved(now) {
			// A resolve for an alert we do not hold (long resolved, or
			// never seen): record it, nothing to tell.
			ent = &alertEntry{a: *in}
			e.alerts[in.Fingerprint] = ent
			e.indexRaw(ent, k)
			b.putAlert(ent)
			return
		}
		ent = &alertEntry{a: *in}
		e.alerts[in.Fingerprint] = ent
		e.indexRaw(ent, k)
		b.putAlert(ent)
		e.trackInhibitSource(ent)
		e.classify(b, ent, now)
		return
	}
	old := ent.a
	wasFiring := !old.Resolved(now)
	isFiring := !in.Resolved(now)
	switch {
	case !wasFiring && isFiring:
		// A new episode of a resolved alert.
		ent.a = *in
		ent.a.IncidentID, ent.a.Suppressed = "", ""
		ent.groups = nil
		ent.supp, ent.suppGen, ent.noted = "", 0, false
		e.indexRaw(ent, k)
		b.putAlert(ent)
		e.trackInhibitSource(ent)
		e.classify(b, ent, now)
		return
	case wasFiring && !isFiring:
		ent.a.EndsAt = in.EndsAt
		ent.a.Annotations = in.Annotations
		e.indexRaw(ent, k)
		b.putAlert(ent)
		e.trackInhibitSource(ent)
		e.resolved(b, ent, now)
		return
	case !wasFiring && !isFiring:
		return // a resolved alert re-sent
	}
	// Firing and firing: a re-send. Annotations the sender wrote with the
	// same bytes as last time are unchanged.
	sameAnn := k != nil && k.Labels == ent.rawLabels && k.Annotations == ent.rawAnn && ent.rawAnn != 0
	changed := (!sameAnn && !maps.Equal(old.Annotations, in.Annotations)) || old.GeneratorURL != in.GeneratorURL ||
		(!in.StartsAt.IsZero() && in.StartsAt.Before(old.StartsAt))
	if in.StartsAt.Before(old.StartsAt) {
		ent.a.StartsAt = in.StartsAt
	}
	ent.a.Annotations = in.Annotations
	ent.a.GeneratorURL = in.GeneratorURL
	ent.a.EndsAt = in.EndsAt
	e.indexRaw(ent, k)
	// EndsAt moves with every re-send; it is written only when the stored
	// one would lapse within half of the new lease (after a restart,
	// alerts that were firing get resolve_timeout of grace anyway).
	if changed || leaseLapsing(ent.persistedEnd, in.EndsAt, now) {
		b.putAlert(ent)
	}
	if ent.suppGen != e.suppGen {
		e.classify(b, ent, now)
	}
}

func leaseLapsing(persisted, next, now time.Time) bool {
	if !next.After(persisted) {
		return false
	}
	return persisted.Sub(now) < next.Sub(now)/2
}

// classify computes the alert's suppression and puts a firing, unmuted
// alert into its groups. b may be nil during Load.
func (e *Engine) classify(b *batch, ent *alertEntry, now time.Time) {
	supp := e.suppression(ent, now)
	if supp != ent.supp || (supp != "" && !ent.noted) {
		ent.supp = supp
		ent.a.Suppressed = supp
		if b != nil {
			b.putAlert(ent)
			if supp != "" && !ent.noted {
				ent.noted = true
				b.event(store.TimelineEvent{
					IncidentID: ent.a.IncidentID, Kind: store.EventAlertSuppressed,
					Summary: fmt.Sprintf("alert %s does not page: %s", alertName(ent.a.Labels), supp),
					Labels:  ent.a.Labels,
				})
			}
		}
		for _, g := range ent.groups {
			e.markDirty(g, now)
		}
	}
	if supp != "" || len(ent.groups) > 0 {
		return
	}
	if ent.routes == nil {
		ent.routes = e.routes.match(ent.a.Labels)
	}
	for i, r := range ent.routes {
		if i == 0 {
			if g := e.correlate(b, ent, r, now); g != nil {
				e.join(g, ent, now)
				continue
			}
		}
		e.keyBuf = r.appendGroupKey(e.keyBuf[:0], ent.a.Labels)
		g := e.groups[string(e.keyBuf)]
		if g == nil {
			g = e.groupFor(string(e.keyBuf), r, r.groupLabels(ent.a.Labels), now)
		}
		e.join(g, ent, now)
	}
}

// resolved handles a firing alert that just ended.
func (e *Engine) resolved(b *batch, ent *alertEntry, now time.Time) {
	for _, g := range ent.groups {
		e.markDirty(g, now)
	}
	e.corr.forget(ent)
}

// fullSweepEvery bounds how long Sweep goes without looking at every
// alert (resolved alerts are dropped resolvedKeep after their end, give or
// take this).
const fullSweepEvery = time.Minute

// noteEnd makes sure Sweep looks at the alerts by end (e.mu held).
func (e *Engine) noteEnd(end time.Time) {
	if !end.IsZero() && end.Before(e.nextSweep) {
		e.nextSweep = end
	}
}

// Sweep resolves alerts whose EndsAt has passed without a resolve being
// sent (their sender stopped, or resolve_timeout ran out) and drops
// resolved alerts nobody needs any more. It walks the alerts only when
// one may have ended (the earliest end it saw last time, or one given
// since, has come) and at least every fullSweepEvery: re-sends move ends
// later, so most sweeps of a busy engine look at nothing.
func (e *Engine) Sweep(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	b := e.newBatch(now)
	if !now.Before(e.nextSweep) || now.Sub(e.lastFullSweep) >= fullSweepEvery {
		e.sweepAlerts(b, now)
	}
	e.flushDueLocked(b, now)
	return e.commit(ctx, b)
}

// sweepAlerts is Sweep's walk over the alerts; it sets when the next walk
// is due.
func (e *Engine) sweepAlerts(b *batch, now time.Time) {
	next := now.Add(fullSweepEvery)
	for fp, ent := range e.alerts {
		if !ent.a.Resolved(now) {
			if end := ent.a.EndsAt; !end.IsZero() && end.Before(next) {
				next = end
			}
			continue
		}
		if len(ent.groups) == 0 {
			if now.Sub(ent.a.EndsAt) > resolvedKeep {
				delete(e.alerts, fp)
				e.unindexRaw(ent)
			} else if drop := ent.a.EndsAt.Add(resolvedKeep); drop.Before(next) {
				next = drop
			}
			continue
		}
		if ent.persistedEnd.Equal(ent.a.EndsAt) && !ent.a.UpdatedAt.Before(ent.a.EndsAt) {
			continue // already recorded as resolved
		}
		if !ent.persistedEnd.Equal(ent.a.EndsAt) || ent.a.UpdatedAt.Before(ent.a.EndsAt) {
			b.putAlert(ent)
			e.trackInhibitSource(ent)
			e.resolved(b, ent, now)
		}
	}
	e.nextSweep, e.lastFullSweep = next, now
}
