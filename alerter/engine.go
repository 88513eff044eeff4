package alerter

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// Remediator is told about every incident the engine opens or that gains
// firing alerts, inside the transaction that records the change, so the
// runs it proposes and the timeline events it writes through tx commit
// with it. It must not block: slow work (running an action) happens in
// its own goroutines after the commit. An error is logged and recorded on
// the timeline; it does not undo the incident change.
type Remediator interface {
	OnIncident(ctx context.Context, tx store.Tx, inc store.Incident, alerts []store.Alert) error
}

// Approver is implemented by a Remediator whose runs may wait for a human:
// Approve lets run go ahead on behalf of actor.
type Approver interface {
	Approve(ctx context.Context, run int64, actor string) error
}

// ResolveHook is implemented by a Remediator that wants to know when an
// incident resolves (to cancel runs not started); it is called in the
// transaction that resolves it.
type ResolveHook interface {
	OnIncidentResolved(ctx context.Context, tx store.Tx, inc store.Incident) error
}

// Options build an Engine.
type Options struct {
	Config *Config
	Store  store.Store
	// Notifiers deliver to the receivers of Config by name.
	Notifiers map[string]notify.Notifier
	// Inventory returns the current fleet (lifecycle and topology lookups);
	// nil means no inventory.
	Inventory  func() *inventory.Inventory
	Remediator Remediator
	// ExternalURL is fleetwatch's base URL, for links in notifications.
	ExternalURL string
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Owner names this instance in outbox leases; empty picks a random one.
	Owner string
	// SweepInterval is how often expired alerts (EndsAt passed with no
	// resolve sent) are looked for; 0 means one second.
	SweepInterval time.Duration
	// HA tunes the election of the active instance when several share
	// the store (its store.Leaser says Shared); ignored otherwise.
	HA HAOptions
}

// Engine turns alerts and events into incidents and notifications.
type Engine struct {
	o       Options
	log     *slog.Logger
	now     func() time.Time
	st      store.Store
	owner   string
	metrics *metrics
	ha      *haState // nil: the only instance

	mu        sync.Mutex
	standby   bool // another instance is active (HA): store alerts, nothing else
	cfg       *Config
	routes    *routeNode
	iv        *timeinterval.Intervener
	maint     map[inventory.Lifecycle]bool
	notifiers atomic.Pointer[map[string]notify.Notifier] // by receiver; read without mu

	alerts map[string]*alertEntry // by fingerprint: firing, or resolved and not yet told
	byRaw  map[uint64]*alertEntry // by RawKey.Labels, for LookupRaw
	keyBuf []byte                 // scratch for group keys
	// nextSweep is when Sweep next walks the alerts (zero: at once);
	// lastFullSweep when it last did.
	nextSweep, lastFullSweep time.Time
	groups                   map[string]*group // by group key
	timers                   timerHeap
	silences                 map[string]*silenceEntry
	suppGen                  uint64 // bumps when silences, inhibition sources or config change
	inhibit                  []*inhibitState
	corr                     *correlator
	recent                   map[string]recentIncident // group key → resolved incident, for reopen
	inv                      invIndex
	loaded                   bool

	wakeOutbox chan struct{}
	wakeTimers chan struct{}
	limiters   *limiterSet
	commits    *commitQueue
}

// New builds an engine. It does no I/O: Run loads the state and starts
// the timers and the outbox worker.
func New(o Options) (*Engine, error) {
	if o.Config == nil {
		return nil, errors.New("alerter: Options.Config is nil")
	}
	if o.Store == nil {
		return nil, errors.New("alerter: Options.Store is nil")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = time.Second
	}
	if o.Owner == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "fleetwatch"
		}
		o.Owner = host + "-" + hex.EncodeToString(b[:])
	}
	e := &Engine{
		o: o, log: o.Logger, now: o.Now, st: o.Store, owner: o.Owner,
		alerts:     map[string]*alertEntry{},
		byRaw:      map[uint64]*alertEntry{},
		groups:     map[string]*group{},
		silences:   map[string]*silenceEntry{},
		recent:     map[string]recentIncident{},
		wakeOutbox: make(chan struct{}, 1),
		wakeTimers: make(chan struct{}, 1),
		commits:    newCommitQueue(),
	}
	m, err := newMetrics(o.Registerer, e)
	if err != nil {
		return nil, err
	}
	e.metrics = m
	e.setConfig(o.Config, o.Notifiers)
	if e.ha = newHAState(o); e.ha != nil {
		e.standby = true
		m.haActive.Set(0)
	} else {
		m.haActive.Set(1)
	}
	return e, nil
}

// setConfig installs cfg; callers hold mu (or own e exclusively).
func (e *Engine) setConfig(cfg *Config, notifiers map[string]notify.Notifier) {
	e.cfg = cfg
	e.routes = buildRoutes(cfg.Route)
	e.iv = intervener(cfg)
	e.maint = cfg.maintenanceStates()
	if notifiers != nil {
		e.notifiers.Store(&notifiers)
	}
	e.inhibit = make([]*inhibitState, len(cfg.InhibitRules))
	for i := range cfg.InhibitRules {
		e.inhibit[i] = &inhibitState{rule: &cfg.InhibitRules[i], sources: map[string]map[string]bool{}}
	}
	if e.corr == nil {
		e.corr = newCorrelator()
	}
	e.corr.cfg = &cfg.Correlation
	e.limiters = newLimiterSet(cfg.Outbox.RateLimits, e.limiters)
	e.suppGen++
	// Routing results and inhibition sources are recomputed against the
	// new tree and rules.
	for _, a := range e.alerts {
		a.routes = nil
		e.trackInhibitSource(a)
	}
	// Groups keep their state; their timers follow the route of the same
	// key in the new tree.
	byKey := map[string]*routeNode{}
	e.routes.walk(func(n *routeNode) { byKey[n.key] = n })
	for _, g := range e.groups {
		if n, ok := byKey[g.route.key]; ok {
			g.route = n
		}
	}
}

// ApplyConfig switches to cfg (a reload). Open incidents keep their group;
// alerts that arrive or change afterwards are routed by the new tree.
// notifiers, when non-nil, replace the receivers' notifiers.
func (e *Engine) ApplyConfig(cfg *Config, notifiers map[string]notify.Notifier) error {
	if cfg == nil {
		return errors.New("alerter: nil config")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	e.mu.Lock()
	digest := cfg.digest()
	changed := e.cfg.digest() != digest
	// The active instance tells the receivers; a standby's reload is the
	// same change.
	tell := changed && !e.standby
	e.setConfig(cfg, notifiers)
	var changeTakers []string
	for _, r := range cfg.Receivers {
		if nf := e.notifier(r.Name); nf != nil && notify.Sends(nf, notify.ActionChange) {
			changeTakers = append(changeTakers, r.Name)
		}
	}
	e.mu.Unlock()
	e.kick(e.wakeTimers)
	now := e.now()
	summary := fmt.Sprintf("alerter configuration applied: %d receivers, %d inhibit rules", len(cfg.Receivers), len(cfg.InhibitRules))
	if !changed {
		summary += " (unchanged)"
	}
	err := e.st.Update(context.Background(), func(tx store.Tx) error {
		ctx := context.Background()
		if _, err := tx.AddEvent(ctx, store.TimelineEvent{Time: now, Kind: store.EventConfigReload, Actor: "fleetwatch", Summary: summary}); err != nil {
			return err
		}
		if !tell {
			return nil
		}
		// A change event for every receiver that sends them (PagerDuty
		// shows it on the service's change timeline), in the outbox with
		// the timeline event.
		for _, name := range changeTakers {
			if _, err := tx.Enqueue(ctx, e.changeNotification(name, summary, "fleetwatch", now, map[string]string{
				"change": "config_reload", "config_digest": digest[:12],
			})); err != nil {
				return fmt.Errorf("change event for %s: %w", name, err)
			}
		}
		return nil
	})
	if err == nil && tell {
		e.kick(e.wakeOutbox)
	}
	return err
}

// changeNotification is an outbox entry telling receiver of a change (a
// config reload, a remediation run): not tied to an incident.
func (e *Engine) changeNotification(receiver, summary, source string, now time.Time, details map[string]string) store.Notification {
	return ChangeNotification(receiver, notify.Message{
		Action: notify.ActionChange, Summary: summary, Source: source,
		Receiver: receiver, ExternalURL: e.o.ExternalURL, Timestamp: now, Details: details,
	})
}

// QueueChange queues m, a change event about incident m.IncidentID (a
// remediation run that started or finished), for the incident's receiver
// in tx, when that receiver sends change events. It implements
// remediate.ChangeQueuer.
func (e *Engine) QueueChange(ctx context.Context, tx store.Tx, m notify.Message) error {
	inc, err := tx.GetIncident(ctx, m.IncidentID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	// No e.mu here: the engine may hold it while this transaction runs
	// (a run verified by the incident's resolve).
	nf := e.notifier(inc.Receiver)
	if nf == nil || !notify.Sends(nf, notify.ActionChange) {
		return nil
	}
	m.ExternalURL = e.o.ExternalURL
	if e.o.ExternalURL != "" {
		m.Links = append(m.Links, notify.Link{Href: strings.TrimRight(e.o.ExternalURL, "/") + "/incidents/" + inc.ID, Text: "fleetwatch incident"})
	}
	_, err = tx.Enqueue(ctx, ChangeNotification(inc.Receiver, m))
	return err
}

// notifier returns receiver's notifier, nil if none. It takes no lock.
func (e *Engine) notifier(receiver string) notify.Notifier {
	if m := e.notifiers.Load(); m != nil {
		return (*m)[receiver]
	}
	return nil
}

// ChangeNotification is the outbox entry that sends m, a change event
// (m.Action is notify.ActionChange), to receiver. With m.IncidentID set it
// is sent after the incident's earlier notifications to that receiver.
func ChangeNotification(receiver string, m notify.Message) store.Notification {
	m.Action, m.Receiver = notify.ActionChange, receiver
	payload, _ := json.Marshal(m) // a Message always encodes
	return store.Notification{
		IncidentID: m.IncidentID, Receiver: receiver, Action: notify.ActionChange, Payload: payload,
		CreatedAt: m.Timestamp, NextAttempt: m.Timestamp, State: store.NotificationPending,
	}
}

// Config returns the configuration in use.
func (e *Engine) Config() *Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

func (e *Engine) kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run loads the state from the store (unless Load was called), then runs the group timers, the
// expiry sweep and the outbox worker until ctx ends.
//
// With several instances sharing the store (HA), Run is a standby until
// this instance takes the alerter's lease, then loads the state and acts
// as above until the lease is lost or ctx ends (see runHA).
func (e *Engine) Run(ctx context.Context) error {
	if e.ha != nil {
		return e.runHA(ctx)
	}
	e.mu.Lock()
	loaded := e.loaded
	e.mu.Unlock()
	if !loaded {
		if err := e.Load(ctx); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.runOutbox(ctx) }()
	e.runTimers(ctx)
	wg.Wait()
	return nil
}

// runTimers flushes groups when their timer is due and sweeps expired
// alerts.
func (e *Engine) runTimers(ctx context.Context) {
	sweep := time.NewTicker(e.o.SweepInterval)
	defer sweep.Stop()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		e.mu.Lock()
		next := time.Hour
		if len(e.timers) > 0 {
			next = e.timers[0].at.Sub(e.now())
		}
		e.mu.Unlock()
		if next < 0 {
			next = 0
		}
		t.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-e.wakeTimers:
		case <-sweep.C:
			if err := e.Sweep(ctx); err != nil {
				e.log.Error("expiry sweep failed", "err", err)
			}
			if e.ha != nil {
				if err := e.syncSilences(ctx); err != nil && ctx.Err() == nil {
					e.log.Warn("reading silences made on other instances", "err", err)
				}
			}
		case <-t.C:
			if err := e.FlushDue(ctx); err != nil {
				e.log.Error("group flush failed, retrying", "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}
	}
}

// timer is one scheduled group flush; stale ones (the group was
// rescheduled or deleted) are skipped when popped.
type timer struct {
	at  time.Time
	key string
}

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// schedule sets g's next flush to at unless an earlier one is set.
func (e *Engine) schedule(g *group, at time.Time) {
	if !g.flushAt.IsZero() && !at.Before(g.flushAt) {
		return
	}
	g.flushAt = at
	heap.Push(&e.timers, timer{at: at, key: g.key})
	if len(e.timers) > 0 && e.timers[0].key == g.key {
		e.kick(e.wakeTimers)
	}
}

// FlushDue flushes every group whose timer has come, in one transaction.
func (e *Engine) FlushDue(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	var due []*group
	for len(e.timers) > 0 && !e.timers[0].at.After(now) {
		t := heap.Pop(&e.timers).(timer)
		g := e.groups[t.key]
		if g == nil || !g.flushAt.Equal(t.at) {
			continue
		}
		g.flushAt = time.Time{}
		due = append(due, g)
	}
	if len(due) == 0 {
		return nil
	}
	b := e.newBatch(now)
	for _, g := range due {
		e.flush(b, g, now)
	}
	return e.commit(ctx, b)
}
