package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Run statuses (store.RemediationRun.Status).
const (
	// StatusSkipped: a guard refused the run (Reason names it), a dry run,
	// a rejection, or the incident resolved before the run started.
	StatusSkipped = "skipped"
	// StatusEscalated: blast_radius refused automatic action; a human must
	// decide (the incident gets an incident_escalated timeline event).
	StatusEscalated = "escalated"
	// StatusAwaitingApproval: require_approval holds the run until Approve.
	StatusAwaitingApproval = "awaiting_approval"
	// StatusProposed: due to run; the worker starts it when a slot is free.
	StatusProposed = "proposed"
	// StatusRunning: the action is running.
	StatusRunning = "running"
	// StatusVerifying: the action succeeded; the alert has verify.window
	// to clear.
	StatusVerifying = "verifying"
	// StatusSucceeded: the action succeeded (and, with verify, the alert
	// cleared in time).
	StatusSucceeded = "succeeded"
	// StatusFailed: the action failed, timed out, was interrupted, or the
	// alert did not clear within verify.window; the incident is escalated.
	StatusFailed = "failed"
)

// actedStatuses are runs that ran, run or will run: what cooldown_per_server
// and max_per_hour count.
var actedStatuses = []string{StatusAwaitingApproval, StatusProposed, StatusRunning, StatusVerifying, StatusSucceeded, StatusFailed}

// Errors of Approve and Reject.
var (
	ErrRunNotFound         = errors.New("remediation run not found")
	ErrNotAwaitingApproval = errors.New("remediation run is not awaiting approval")
)

// Actor is the timeline actor of the engine's own decisions.
const Actor = "fleetwatch"

// Options configure an Engine. Store is required; the rest have defaults
// or are needed only by the actions that use them.
type Options struct {
	Store  store.Store
	Config *Config
	// Fleet resolves servers (inventory). Without it no server is known:
	// percentages of blast_radius escalate and redfish/lifecycle fail.
	Fleet     Fleet
	Redfish   RedfishActuator
	Lifecycle LifecycleSetter
	// HTTPClient sends http actions (default: a client with no timeout of
	// its own; each attempt is bounded by the action's timeout).
	HTTPClient *http.Client
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// PollInterval is how often the worker looks for due runs and
	// verifications (default 1s).
	PollInterval time.Duration
	// Workers bounds the actions running at once on this instance
	// (default 8); max_concurrent bounds them per remediation across all.
	Workers int
	// InterruptGrace is how long after its timeout a run left "running"
	// by a stopped instance is declared interrupted (default 1m).
	InterruptGrace time.Duration
	// Changes queues a change event when a run starts and when it
	// finishes (the alerter engine; SetChanges sets it later). nil: none.
	Changes ChangeQueuer
}

// ChangeQueuer queues change events in the transaction that records
// them: a remediation run that starts or finishes is a change to the
// incident's service (PagerDuty shows it on the service's timeline).
// *alerter.Engine implements it.
type ChangeQueuer interface {
	QueueChange(ctx context.Context, tx store.Tx, m notify.Message) error
}

type changesBox struct{ c ChangeQueuer }

// Engine decides, runs and verifies remediations. Its methods are safe for
// concurrent use.
type Engine struct {
	store    store.Store
	cfg      atomic.Pointer[Config]
	fleet    atomic.Pointer[fleetBox]
	changes  atomic.Pointer[changesBox]
	redfish  RedfishActuator
	life     LifecycleSetter
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time
	poll     time.Duration
	workers  int
	grace    time.Duration
	backoff  time.Duration // first pause between http attempts
	metrics  *metrics
	wake     chan struct{}
	mu       sync.Mutex
	inFlight map[int64]struct{}
}

// New builds an Engine; it starts nothing (see Run).
func New(o Options) (*Engine, error) {
	if o.Store == nil {
		return nil, errors.New("remediate: Options.Store is required")
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("remediate: metrics: %w", err)
	}
	e := &Engine{
		store:    o.Store,
		redfish:  o.Redfish,
		life:     o.Lifecycle,
		client:   o.HTTPClient,
		log:      o.Logger,
		now:      o.Now,
		poll:     o.PollInterval,
		workers:  o.Workers,
		grace:    o.InterruptGrace,
		backoff:  time.Second,
		metrics:  m,
		wake:     make(chan struct{}, 1),
		inFlight: map[int64]struct{}{},
	}
	if e.client == nil {
		e.client = &http.Client{}
	}
	if o.Changes != nil {
		e.SetChanges(o.Changes)
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("component", "remediation")
	if e.now == nil {
		e.now = time.Now
	}
	if e.poll <= 0 {
		e.poll = time.Second
	}
	if e.workers <= 0 {
		e.workers = 8
	}
	if e.grace <= 0 {
		e.grace = time.Minute
	}
	cfg := o.Config
	if cfg == nil {
		cfg = &Config{}
	}
	e.cfg.Store(cfg)
	e.SetFleet(o.Fleet)
	return e, nil
}

type fleetBox struct{ f Fleet }

// SetFleet replaces the fleet (on an inventory reload); nil means no
// inventory.
func (e *Engine) SetFleet(f Fleet) { e.fleet.Store(&fleetBox{f: f}) }

// SetChanges sets where change events go (see Options.Changes).
func (e *Engine) SetChanges(c ChangeQueuer) { e.changes.Store(&changesBox{c: c}) }

func (e *Engine) loadFleet() Fleet { return e.fleet.Load().f }

// SetConfig replaces the remediations (on a config reload). cfg must have
// passed Validate. Runs already decided keep going; a queued run whose
// remediation is gone is skipped.
func (e *Engine) SetConfig(cfg *Config) {
	if cfg == nil {
		cfg = &Config{}
	}
	e.cfg.Store(cfg)
}

func (e *Engine) remediation(name string) *Remediation {
	cfg := e.cfg.Load()
	for i := range cfg.Remediations {
		if cfg.Remediations[i].Name == name {
			return &cfg.Remediations[i]
		}
	}
	return nil
}

// kick wakes the worker (without waiting for the poll interval).
func (e *Engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// OnIncident decides the remediations for an incident that was created or
// changed; call it inside the transaction that changed it, with all the
// incident's alerts. It is idempotent: a server already decided for a
// remediation in this incident is not decided again. For a resolved
// incident it does what OnIncidentResolved does.
func (e *Engine) OnIncident(ctx context.Context, tx store.Tx, inc store.Incident, alerts []store.Alert) error {
	if inc.State == store.Resolved {
		return e.OnIncidentResolved(ctx, tx, inc)
	}
	cfg := e.cfg.Load()
	now := e.now()
	var decided map[string]bool // remediation + "\x00" + target
	var active []store.Alert    // every active alert in the store, for blast_radius
	proposed := false
	for i := range cfg.Remediations {
		r := &cfg.Remediations[i]
		byTarget := map[string][]store.Alert{}
		for _, a := range alerts {
			if a.Resolved(now) || !r.Matches(a.Labels) {
				continue
			}
			t := targetOf(a.Labels)
			byTarget[t] = append(byTarget[t], a)
		}
		if len(byTarget) == 0 {
			continue
		}
		if decided == nil {
			runs, err := tx.ListRemediationRuns(ctx, store.RemediationFilter{IncidentID: inc.ID})
			if err != nil {
				return fmt.Errorf("incident %q: reading remediation runs: %w", inc.ID, err)
			}
			decided = make(map[string]bool, len(runs))
			for _, run := range runs {
				decided[run.Action+"\x00"+run.Target] = true
			}
		}
		var fresh []string
		for t := range byTarget {
			if !decided[r.Name+"\x00"+t] {
				fresh = append(fresh, t)
			}
		}
		if len(fresh) == 0 {
			continue
		}
		sort.Strings(fresh)
		d := &decision{e: e, fleet: e.loadFleet(), tx: tx, r: r, inc: inc, now: now, byTarget: byTarget}
		d.countAffected(alerts, nil)
		// Counts only grow with more alerts: when the incident alone trips
		// the blast radius for every new server, the rest of the store
		// need not be read.
		if r.needsFleetWide() && !d.allTripped(fresh) {
			if active == nil {
				var err error
				active, err = tx.ListAlerts(ctx, store.AlertFilter{Active: now})
				if err != nil {
					return fmt.Errorf("incident %q: reading active alerts: %w", inc.ID, err)
				}
				if active == nil {
					active = []store.Alert{}
				}
			}
			d.countAffected(alerts, active)
		}
		for _, t := range fresh {
			run, err := d.decide(ctx, t)
			if err != nil {
				return fmt.Errorf("incident %q: remediation %q: server %q: %w", inc.ID, r.Name, t, err)
			}
			decided[r.Name+"\x00"+t] = true
			if run.Status == StatusProposed {
				proposed = true
			}
		}
		if err := d.escalate(ctx); err != nil {
			return fmt.Errorf("incident %q: remediation %q: %w", inc.ID, r.Name, err)
		}
	}
	if proposed {
		e.kick()
	}
	return nil
}

// OnIncidentResolved closes the incident's open runs: a run being verified
// is verified (its alert cleared), a run awaiting approval or not yet
// started is skipped. Call it inside the transaction that resolved the
// incident.
func (e *Engine) OnIncidentResolved(ctx context.Context, tx store.Tx, inc store.Incident) error {
	runs, err := tx.ListRemediationRuns(ctx, store.RemediationFilter{
		IncidentID: inc.ID,
		Statuses:   []string{StatusVerifying, StatusAwaitingApproval, StatusProposed},
	})
	if err != nil {
		return fmt.Errorf("incident %q: reading remediation runs: %w", inc.ID, err)
	}
	now := e.now()
	for _, run := range runs {
		kind := store.EventRemediationSkipped
		if run.Status == StatusVerifying {
			run.Status = StatusSucceeded
			run.Reason = fmt.Sprintf("verified: the incident resolved %s after the action", fmtAge(now.Sub(run.FinishedAt)))
			kind = store.EventRemediationFinished
		} else {
			run.Status = StatusSkipped
			run.Reason = "incident_resolved: the incident resolved before the action ran"
			run.FinishedAt = now
		}
		if err := e.record(ctx, tx, run, kind, Actor, nil); err != nil {
			return fmt.Errorf("incident %q: run %d: %w", inc.ID, run.ID, err)
		}
	}
	return nil
}

// Approve lets a run held by require_approval go ahead; actor is who
// approved ("user:alice", "api:oncall-token"). The worker starts it when a
// slot is free, unless the incident resolved meanwhile.
func (e *Engine) Approve(ctx context.Context, runID int64, actor string) error {
	err := e.store.Update(ctx, func(tx store.Tx) error {
		run, err := awaitingRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		run.Status = StatusProposed
		run.Actor = actor
		run.Reason = "approved by " + actor
		return e.record(ctx, tx, run, store.EventRemediationApproved, actor, nil)
	})
	if err != nil {
		return fmt.Errorf("approve remediation run %d: %w", runID, err)
	}
	e.kick()
	return nil
}

// Reject refuses a run held by require_approval; it is recorded as skipped
// with actor and reason.
func (e *Engine) Reject(ctx context.Context, runID int64, actor, reason string) error {
	err := e.store.Update(ctx, func(tx store.Tx) error {
		run, err := awaitingRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		run.Status = StatusSkipped
		run.Actor = actor
		run.Reason = "rejected by " + actor
		if reason != "" {
			run.Reason += ": " + reason
		}
		run.FinishedAt = e.now()
		return e.record(ctx, tx, run, store.EventRemediationSkipped, actor, nil)
	})
	if err != nil {
		return fmt.Errorf("reject remediation run %d: %w", runID, err)
	}
	return nil
}

func awaitingRun(ctx context.Context, tx store.Tx, id int64) (store.RemediationRun, error) {
	runs, err := tx.ListRemediationRuns(ctx, store.RemediationFilter{Statuses: []string{StatusAwaitingApproval}})
	if err != nil {
		return store.RemediationRun{}, err
	}
	for _, r := range runs {
		if r.ID == id {
			return r, nil
		}
	}
	return store.RemediationRun{}, ErrNotAwaitingApproval
}

// runEventData is the Data of every remediation timeline event.
type runEventData struct {
	RunID       int64  `json:"run_id"`
	Remediation string `json:"remediation"`
	Action      string `json:"action"` // exec, http, redfish, lifecycle
	Target      string `json:"target,omitempty"`
	Status      string `json:"status"`
	Guard       string `json:"guard,omitempty"`
	Reason      string `json:"reason,omitempty"`
	DryRun      bool   `json:"dry_run,omitempty"`
	Output      string `json:"output,omitempty"`
	StartedAt   string `json:"started_at,omitempty"`
	Timeout     string `json:"timeout,omitempty"`
}

// record stores run (new when ID is 0, else updated) and its timeline
// event, and counts it. extra adjusts the event's data.
func (e *Engine) record(ctx context.Context, tx store.Tx, run store.RemediationRun, kind, actor string, extra func(*runEventData)) error {
	if run.ID == 0 {
		id, err := tx.AddRemediationRun(ctx, run)
		if err != nil {
			return fmt.Errorf("storing remediation run: %w", err)
		}
		run.ID = id
	} else if err := tx.UpdateRemediationRun(ctx, run); err != nil {
		return fmt.Errorf("updating remediation run: %w", err)
	}
	kindOfAction := ""
	if r := e.remediation(run.Action); r != nil {
		kindOfAction = r.Action.Kind()
	}
	data := runEventData{
		RunID: run.ID, Remediation: run.Action, Action: kindOfAction, Target: run.Target,
		Status: run.Status, Guard: guardOf(run.Reason), Reason: run.Reason, DryRun: run.DryRun,
	}
	if kind == store.EventRemediationFinished || run.DryRun {
		data.Output = run.Output
	}
	if extra != nil {
		extra(&data)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	ev := store.TimelineEvent{
		IncidentID: run.IncidentID,
		Time:       e.now(),
		Kind:       kind,
		Actor:      actor,
		Summary:    runSummary(run),
		Data:       raw,
	}
	if run.Target != "" {
		ev.Labels = map[string]string{"server": run.Target}
	}
	if _, err := tx.AddEvent(ctx, ev); err != nil {
		return fmt.Errorf("adding timeline event: %w", err)
	}
	if err := e.queueChange(ctx, tx, run, kind, kindOfAction, ev); err != nil {
		return fmt.Errorf("queueing change event: %w", err)
	}
	e.metrics.runs.WithLabelValues(run.Action, run.Status).Inc()
	return nil
}

// queueChange queues the change event of a run that started, or that
// finished after it started; dry runs and runs that never ran change
// nothing.
func (e *Engine) queueChange(ctx context.Context, tx store.Tx, run store.RemediationRun, kind, action string, ev store.TimelineEvent) error {
	box := e.changes.Load()
	if box == nil || box.c == nil || run.DryRun || run.StartedAt.IsZero() {
		return nil
	}
	if kind != store.EventRemediationStarted && kind != store.EventRemediationFinished {
		return nil
	}
	source := run.Target
	if source == "" {
		source = Actor
	}
	return box.c.QueueChange(ctx, tx, notify.Message{
		IncidentID: run.IncidentID, Summary: ev.Summary, Source: source, Timestamp: ev.Time,
		Details: map[string]string{
			"change": kind, "remediation": run.Action, "action": action, "status": run.Status,
			"run": strconv.FormatInt(run.ID, 10), "target": run.Target, "actor": ev.Actor,
		},
	})
}

// guardOf returns the guard (or outcome) a reason starts with: the text
// before the first colon, when it is one word.
func guardOf(reason string) string {
	for i, c := range reason {
		switch {
		case c == ':':
			return reason[:i]
		case c == ' ':
			return ""
		}
	}
	return ""
}

func runSummary(run store.RemediationRun) string {
	on := ""
	if run.Target != "" {
		on = " on " + run.Target
	}
	s := fmt.Sprintf("remediation %s%s (run %d) %s", run.Action, on, run.ID, statusWords(run))
	if run.Reason != "" {
		s += ": " + run.Reason
	}
	return s
}

func statusWords(run store.RemediationRun) string {
	switch run.Status {
	case StatusSkipped:
		if run.DryRun {
			return "not run (dry run)"
		}
		return "skipped"
	case StatusEscalated:
		return "not run, escalated to a human"
	case StatusAwaitingApproval:
		return "awaits approval"
	case StatusProposed:
		return "will run"
	case StatusRunning:
		return "started"
	case StatusVerifying:
		return "succeeded, verifying"
	}
	return run.Status
}

func fmtAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
