package alerter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// ErrStandby is returned by the changes only the active instance makes
// (acknowledge, resolve, silences, events) when this instance is the
// standby of several sharing one store. The API answers 503: send it to
// the active instance, or again after a takeover.
var ErrStandby = errors.New("this fleetwatch instance is a standby: the change must be made on the active instance")

// HAOptions tune how instances sharing one store (PostgreSQL) elect the
// active one. See docs/alerter.md, "Several instances (HA)".
type HAOptions struct {
	// Disabled makes the engine act as the only instance even on a shared
	// store (a store whose Leaser says Shared).
	Disabled bool
	// LeaseTTL is how long the active instance's lease lasts without a
	// renewal: the bound on failover after it dies. 0 means 10 s.
	LeaseTTL time.Duration
	// RetryInterval is how often a standby tries to take the lease; 0
	// means 1 s.
	RetryInterval time.Duration
}

// leaseName is the store lease the active alerter holds.
const leaseName = "alerter"

// Defaults of HAOptions.
const (
	DefaultLeaseTTL      = 10 * time.Second
	DefaultRetryInterval = time.Second
)

// haState is the engine's side of the election.
type haState struct {
	leases store.Leaser
	ttl    time.Duration
	retry  time.Duration
	renew  time.Duration

	mu         sync.Mutex
	validUntil time.Time // local monotonic clock; zero when not active
	holder     string    // the active instance as last seen
	term       int64
}

func newHAState(o Options) *haState {
	l, ok := o.Store.(store.Leaser)
	if !ok || !l.Shared() || o.HA.Disabled {
		return nil
	}
	h := &haState{leases: l, ttl: o.HA.LeaseTTL, retry: o.HA.RetryInterval}
	if h.ttl <= 0 {
		h.ttl = DefaultLeaseTTL
	}
	if h.retry <= 0 {
		h.retry = DefaultRetryInterval
	}
	h.renew = h.ttl / 4
	return h
}

// try takes or renews the lease. When owner holds it afterwards, it is
// valid here until the moment the request was sent plus 90% of the TTL:
// the database started its TTL later than that, so this instance stops
// acting as the active one before any other may start.
func (h *haState) try(ctx context.Context, owner string) (store.Lease, error) {
	start := time.Now()
	l, err := h.leases.TryLease(ctx, leaseName, owner, h.ttl)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		return l, err
	}
	h.holder, h.term = l.Holder, l.Term
	if l.Holder == owner {
		h.validUntil = start.Add(h.ttl - h.ttl/10)
	} else {
		h.validUntil = time.Time{}
	}
	return l, nil
}

// valid reports whether this instance may act as the active one now.
func (h *haState) valid() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return time.Now().Before(h.validUntil)
}

func (h *haState) invalidate() {
	h.mu.Lock()
	h.validUntil = time.Time{}
	h.mu.Unlock()
}

func (h *haState) active() (holder string, term int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.holder, h.term
}

// Active reports whether this instance is the one grouping, opening
// incidents and sending notifications: always true for a single instance,
// true for the lease holder of several sharing a store.
func (e *Engine) Active() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.standby
}

// ActiveInstance names the instance holding the alerter's lease (this one's
// Owner when it is active) and its term; "" for a single instance.
func (e *Engine) ActiveInstance() (owner string, term int64) {
	if e.ha == nil {
		return "", 0
	}
	return e.ha.active()
}

// errStandby is ErrStandby naming the active instance; e.mu is held.
func (e *Engine) errStandby() error {
	if holder, _ := e.ha.active(); holder != "" {
		return fmt.Errorf("%w (%s)", ErrStandby, holder)
	}
	return ErrStandby
}

// runHA is Run for one of several instances sharing the store: a standby
// until it takes the lease, then the active instance until ctx ends or it
// loses the lease, then a standby again.
func (e *Engine) runHA(ctx context.Context) error {
	h := e.ha
	lastHolder := ""
	t := time.NewTicker(h.retry)
	defer t.Stop()
	for {
		l, err := h.try(ctx, e.owner)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			e.log.Warn("trying the alerter lease", "err", err)
		case l.Holder == e.owner:
			if err := e.becomeActive(ctx, l); err != nil {
				e.log.Error("taking over as the active alerter", "err", err)
				h.invalidate()
				if rerr := h.leases.ReleaseLease(context.WithoutCancel(ctx), leaseName, e.owner); rerr != nil {
					e.log.Warn("releasing the alerter lease", "err", rerr)
				}
				break
			}
			e.runActive(ctx, l.Term)
			e.becomeStandby(ctx)
			if ctx.Err() != nil {
				// A clean stop: the other instance takes over without
				// waiting for the lease to lapse.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				if err := h.leases.ReleaseLease(rctx, leaseName, e.owner); err != nil {
					e.log.Warn("releasing the alerter lease", "err", err)
				}
				cancel()
				return nil
			}
			lastHolder = ""
		default:
			if l.Holder != lastHolder {
				e.log.Info("standby: another alerter instance is active", "active", l.Holder, "term", l.Term)
				lastHolder = l.Holder
			}
		}
		// A standby keeps its memory small: resolved alerts it no longer
		// needs go.
		if err := e.Sweep(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("standby sweep", "err", err)
		}
		if err := e.syncSilences(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("reading silences", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// becomeActive rebuilds the engine's memory from the store (the state the
// previous active instance committed, and the alerts this one stored as a
// standby) and starts acting on it.
func (e *Engine) becomeActive(ctx context.Context, l store.Lease) error {
	start := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	// This instance's own standby writes in flight are in the store
	// before the state is read.
	if err := e.commits.drain(ctx, e); err != nil {
		e.resetStandbyLocked()
		e.commits.repaired()
		return err
	}
	e.standby = false
	if err := e.load(ctx); err != nil {
		e.resetStandbyLocked()
		return err
	}
	e.commits.repaired()
	e.metrics.haActive.Set(1)
	e.metrics.haTakeovers.Inc()
	e.log.Info("this instance is now the active alerter", "owner", e.owner, "term", l.Term,
		"alerts", len(e.alerts), "groups", len(e.groups), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// runActive runs the group timers and the outbox worker while the lease
// is renewed every quarter of its TTL. It returns when ctx ends or the
// lease is lost (another instance took it, or it could not be renewed in
// time), after its workers stopped.
func (e *Engine) runActive(ctx context.Context, term int64) {
	h := e.ha
	actx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.runOutbox(actx) }()
	go func() { defer wg.Done(); e.runTimers(actx) }()
	defer func() {
		cancel()
		wg.Wait()
	}()
	t := time.NewTicker(h.renew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l, err := h.try(ctx, e.owner)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && l.Holder == e.owner && l.Term == term:
			continue
		case err == nil:
			e.log.Warn("lost the alerter lease: stepping down to standby", "active", l.Holder, "term", l.Term)
			e.metrics.haLost.Inc()
			return
		case !h.valid():
			e.log.Error("could not renew the alerter lease before it lapsed: stepping down to standby", "err", err)
			e.metrics.haLost.Inc()
			return
		default:
			e.log.Warn("renewing the alerter lease failed; retrying", "err", err)
		}
	}
}

// becomeStandby drops the groups and timers: the active instance owns
// them now.
func (e *Engine) becomeStandby(ctx context.Context) {
	e.ha.invalidate()
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.commits.drain(ctx, e)
	e.resetStandbyLocked()
	e.commits.repaired()
}

// resetStandbyLocked puts the engine's memory in its standby shape:
// alerts only (to spare writes of re-sends), no groups, timers or
// clusters. e.mu is held.
func (e *Engine) resetStandbyLocked() {
	e.standby = true
	e.loaded = false
	e.groups = map[string]*group{}
	e.timers = nil
	e.recent = map[string]recentIncident{}
	e.corr = newCorrelator()
	e.corr.cfg = &e.cfg.Correlation
	for _, ent := range e.alerts {
		ent.groups = nil
		// Memory may be ahead of the store: the next re-send is written.
		ent.persistedEnd = time.Time{}
	}
	e.metrics.haActive.Set(0)
}

// ingestStandby stores an alert as a standby does: durably, keeping the
// incident the active instance gave it, and without grouping it (the
// active instance received it too). A re-send costs no write, as on the
// active instance.
func (e *Engine) ingestStandby(b *batch, in *store.Alert, k *RawKey, now time.Time, api bool) {
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
		ent = &alertEntry{a: *in}
		e.alerts[in.Fingerprint] = ent
		e.indexRaw(ent, k)
		b.observe(ent)
		return
	}
	old := ent.a
	wasFiring, isFiring := !old.Resolved(now), !in.Resolved(now)
	switch {
	case wasFiring != isFiring:
		ent.a = *in
		e.indexRaw(ent, k)
		b.observe(ent)
		return
	case !isFiring:
		return // a resolved alert re-sent
	}
	changed := !maps.Equal(old.Annotations, in.Annotations) || old.GeneratorURL != in.GeneratorURL || in.StartsAt.Before(old.StartsAt)
	if !in.StartsAt.Before(old.StartsAt) {
		in.StartsAt = old.StartsAt
	}
	ent.a = *in
	e.indexRaw(ent, k)
	if changed || leaseLapsing(ent.persistedEnd, in.EndsAt, now) {
		b.observe(ent)
	}
}

// syncSilences installs silences other instances stored (created, changed
// or expired there). On the active instance they take effect at once:
// alerts they mute or unmute leave or join their groups.
func (e *Engine) syncSilences(ctx context.Context) error {
	sils, err := e.st.ListSilences(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	changed := false
	for _, s := range sils {
		if cur, ok := e.silences[s.ID]; ok && cur.s.UpdatedAt.Equal(s.UpdatedAt) && cur.s.EndsAt.Equal(s.EndsAt) {
			continue
		}
		e.putSilenceLocked(s)
		changed = true
	}
	if !changed || e.standby {
		return nil
	}
	now := e.now()
	b := e.newBatch(now)
	e.recheckAll(b, now)
	e.flushDueLocked(b, now)
	return e.commit(ctx, b)
}
