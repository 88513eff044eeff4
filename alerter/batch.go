package alerter

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	observed   []*alertEntry // a standby's alert writes (store.AlertObserver)
	events     []store.TimelineEvent
	outbox     []store.Notification
	silences   []store.Silence
	after      []func(ctx context.Context, tx store.Tx) error
}

func (e *Engine) newBatch(now time.Time) *batch {
	return &batch{now: now, createdSet: map[*store.Incident]bool{}, updSet: map[*store.Incident]bool{}, alertSet: map[*alertEntry]bool{}}
}

func (b *batch) empty() bool {
	return len(b.created)+len(b.updated)+len(b.alerts)+len(b.observed)+len(b.events)+len(b.outbox)+len(b.silences)+len(b.after) == 0
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

// observe queues a standby's write of a (once per batch).
func (b *batch) observe(a *alertEntry) {
	if b.alertSet[a] {
		return
	}
	b.observed = append(b.observed, a)
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

// commit writes b and waits for it to be durable. Callers hold e.mu. On
// failure the in-memory state, which already holds b's changes, is
// rebuilt from the store, so memory never runs ahead of what is durable.
func (e *Engine) commit(ctx context.Context, b *batch) error {
	s, err := e.seal(ctx, b)
	if err != nil || s == nil {
		return err
	}
	if err := e.commits.await(ctx, e, s); err != nil {
		e.recoverLocked(ctx)
		return err
	}
	return nil
}

// commitUnlocked is commit for a caller that built b under e.mu, sealed
// it and released e.mu: concurrent callers share one transaction (group
// commit) while the next batches are being built.
func (e *Engine) commitUnlocked(ctx context.Context, s *sealed) error {
	if s == nil {
		return nil
	}
	if err := e.commits.await(ctx, e, s); err != nil {
		e.mu.Lock()
		e.recoverLocked(ctx)
		e.mu.Unlock()
		return err
	}
	return nil
}

// sealed is a batch frozen for writing: values copied from memory under
// e.mu, so the writer needs no lock.
type sealed struct {
	created, updated []store.Incident
	alerts           []store.Alert
	observed         []store.Alert
	events           []store.TimelineEvent
	outbox           []store.Notification
	silences         []store.Silence
	after            []func(ctx context.Context, tx store.Tx) error
	// active is set for a batch the active instance built: with several
	// instances it is written only while this one holds the lease.
	active bool

	done bool // guarded by commitQueue.mu
	err  error
}

// errLeaseLapsed refuses a write of the active instance whose lease was
// not renewed in time: another instance may be active already.
var errLeaseLapsed = errors.New("this instance's alerter lease lapsed")

// errReloaded answers a batch built on state that a failed commit made
// stale: the state was rebuilt from the store and the batch dropped.
var errReloaded = errors.New("alerter state was reloaded after a failed commit; send again")

// seal freezes b (e.mu held) and queues it for the next group commit; nil
// when b is empty. The in-memory records are updated as the commit will
// leave them (UpdatedAt, the written EndsAt, incident versions); a failed
// commit reloads them all.
func (e *Engine) seal(ctx context.Context, b *batch) (*sealed, error) {
	if b.empty() && !e.commits.isBroken() {
		return nil, nil
	}
	s := &sealed{events: b.events, outbox: b.outbox, silences: b.silences, after: b.after, active: !e.standby}
	for _, inc := range b.created {
		s.created = append(s.created, *inc)
	}
	for _, inc := range b.updated {
		s.updated = append(s.updated, *inc)
		// UpdateIncident stores Version+1.
		inc.Version++
	}
	s.alerts = make([]store.Alert, 0, len(b.alerts))
	for _, a := range b.alerts {
		a.a.UpdatedAt = b.now
		a.persistedEnd = a.a.EndsAt
		s.alerts = append(s.alerts, a.a)
	}
	for _, a := range b.observed {
		a.a.UpdatedAt = b.now
		a.persistedEnd = a.a.EndsAt
		s.observed = append(s.observed, a.a)
	}
	if !e.commits.push(s) {
		// An earlier group failed: memory (and b, built on it) is ahead
		// of the store.
		e.recoverLocked(ctx)
		return nil, fmt.Errorf("alerter store: %w", errReloaded)
	}
	return s, nil
}

// recoverLocked rebuilds memory from the store after a failed group
// commit. e.mu is held.
func (e *Engine) recoverLocked(ctx context.Context) {
	if !e.commits.isBroken() {
		return
	}
	if e.standby {
		e.resetStandbyLocked()
		e.commits.repaired()
		return
	}
	if err := e.load(ctx); err != nil {
		e.log.Error("reloading alerter state after a failed commit", "err", err)
		return
	}
	e.commits.repaired()
}

// commitQueue is the group commit: batches sealed while a transaction is
// being written wait, and the first of them to find the writer free
// writes them all in one transaction, in the order they were sealed (the
// order of the changes in memory). One fsync then serves every sender
// that was waiting.
type commitQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	pending []*sealed
	busy    bool
	// broken is set when a group failed: memory is ahead of the store
	// until recoverLocked reloads it.
	broken bool
}

func newCommitQueue() *commitQueue {
	q := &commitQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push queues s unless a failed group left memory ahead of the store.
func (q *commitQueue) push(s *sealed) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.broken {
		return false
	}
	q.pending = append(q.pending, s)
	return true
}

func (q *commitQueue) isBroken() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.broken
}

func (q *commitQueue) repaired() {
	q.mu.Lock()
	q.broken = false
	q.mu.Unlock()
}

// drain returns once every batch sealed before it is written (nil) or
// failed (the error; the queue is then broken until the caller rebuilds
// memory and calls repaired).
func (q *commitQueue) drain(ctx context.Context, e *Engine) error {
	s := &sealed{}
	if !q.push(s) {
		return fmt.Errorf("alerter store: %w", errReloaded)
	}
	return q.await(ctx, e, s)
}

// await returns once s is written (nil) or failed. It never takes e.mu,
// so a caller may hold it.
func (q *commitQueue) await(ctx context.Context, e *Engine, s *sealed) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for !s.done {
		if q.busy {
			q.cond.Wait()
			continue
		}
		group := q.pending
		q.pending = nil
		q.busy = true
		q.mu.Unlock()
		err := e.write(context.WithoutCancel(ctx), group)
		q.mu.Lock()
		q.busy = false
		if err != nil {
			q.broken = true
			// Batches sealed after the failed ones were built on them.
			group = append(group, q.pending...)
			q.pending = nil
		}
		for _, g := range group {
			g.done, g.err = true, err
		}
		q.cond.Broadcast()
	}
	return s.err
}

// write stores a group of sealed batches in one transaction.
func (e *Engine) write(ctx context.Context, group []*sealed) error {
	start := time.Now()
	alerts, outbox := 0, 0
	if e.ha != nil {
		for _, b := range group {
			if b.active && !e.ha.valid() {
				e.metrics.commitFailures.Inc()
				return fmt.Errorf("alerter store: not written: %w", errLeaseLapsed)
			}
		}
	}
	err := e.st.Update(ctx, func(tx store.Tx) error {
		bp, _ := tx.(store.AlertBatchPutter)
		for _, b := range group {
			if len(b.observed) > 0 {
				ob, ok := tx.(store.AlertObserver)
				if !ok {
					return errors.New("the store cannot take a standby's alerts (store.AlertObserver)")
				}
				if err := ob.ObserveAlerts(ctx, b.observed); err != nil {
					return err
				}
				alerts += len(b.observed)
			}
			for _, inc := range b.created {
				if err := tx.CreateIncident(ctx, inc); err != nil {
					return fmt.Errorf("incident %s: %w", inc.ID, err)
				}
			}
			for _, inc := range b.updated {
				if _, err := tx.UpdateIncident(ctx, inc); err != nil {
					return fmt.Errorf("incident %s: %w", inc.ID, err)
				}
			}
			if bp != nil && len(b.alerts) > 1 {
				if err := bp.PutAlerts(ctx, b.alerts); err != nil {
					return err
				}
			} else {
				for _, a := range b.alerts {
					if err := tx.PutAlert(ctx, a); err != nil {
						return fmt.Errorf("alert %s: %w", a.Fingerprint, err)
					}
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
			alerts += len(b.alerts)
			outbox += len(b.outbox)
		}
		return nil
	})
	e.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		e.metrics.commitFailures.Inc()
		return fmt.Errorf("alerter store: %w", err)
	}
	e.metrics.alertWrites.Add(float64(alerts))
	if outbox > 0 {
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
	e.byRaw = map[uint64]*alertEntry{}
	e.nextSweep = time.Time{} // the first sweep looks at every alert
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
				if g.sentFiring == nil {
					g.sentFiring = map[string]bool{}
				}
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
