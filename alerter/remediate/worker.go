package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Run is the worker: it starts due runs (at most Options.Workers at once
// here, at most max_concurrent per remediation across instances), checks
// verifications, and declares runs left behind by a stopped instance
// interrupted. It returns when ctx ends, after cancelling its running
// actions and recording them as failed.
func (e *Engine) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	var wg sync.WaitGroup
	slots := make(chan struct{}, e.workers)
	tick := time.NewTicker(e.poll)
	defer tick.Stop()
	for {
		e.step(ctx, runCtx, &wg, slots)
		select {
		case <-ctx.Done():
			cancel(errShutdown)
			wg.Wait()
			return nil
		case <-tick.C:
		case <-e.wake:
		}
	}
}

var errShutdown = errors.New("fleetwatch is shutting down")

// step does one round of the worker's work; errors are logged, the next
// round tries again.
func (e *Engine) step(ctx, runCtx context.Context, wg *sync.WaitGroup, slots chan struct{}) {
	if err := e.recoverInterrupted(ctx); err != nil && ctx.Err() == nil {
		e.log.Warn("checking interrupted remediation runs", "err", err)
	}
	if err := e.startDue(ctx, runCtx, wg, slots); err != nil && ctx.Err() == nil {
		e.log.Warn("starting remediation runs", "err", err)
	}
	if err := e.verifyDue(ctx); err != nil && ctx.Err() == nil {
		e.log.Warn("verifying remediation runs", "err", err)
	}
}

func (e *Engine) running(id int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.inFlight[id]
	return ok
}

func (e *Engine) startDue(ctx, runCtx context.Context, wg *sync.WaitGroup, slots chan struct{}) error {
	due, err := e.store.ListRemediationRuns(ctx, store.RemediationFilter{Statuses: []string{StatusProposed}})
	if err != nil {
		return err
	}
	sort.Slice(due, func(i, j int) bool { return due[i].ID < due[j].ID })
	for _, run := range due {
		if e.running(run.ID) {
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			return nil // every slot busy: the next round goes on
		}
		job, ok, err := e.claim(ctx, run)
		if err != nil || !ok {
			<-slots
			if err != nil {
				e.log.Warn("claiming remediation run", "run", run.ID, "remediation", run.Action, "err", err)
			}
			continue
		}
		e.mu.Lock()
		e.inFlight[run.ID] = struct{}{}
		e.mu.Unlock()
		e.metrics.running.Inc()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			e.execute(runCtx, job)
			e.mu.Lock()
			delete(e.inFlight, job.run.ID)
			e.mu.Unlock()
			e.metrics.running.Dec()
		}()
	}
	return nil
}

// job is a claimed run with what its action needs.
type job struct {
	run   store.RemediationRun
	r     *Remediation
	doc   Document
	start time.Time
}

var errConflictRetry = errors.New("claim lost to a concurrent change")

// claim moves a proposed run to running in one transaction, unless the
// run moved on, its remediation is gone, the incident resolved (the run is
// skipped) or max_concurrent is reached (it stays proposed). The claim
// also bumps the incident's Version, so two instances sharing PostgreSQL
// cannot both claim runs of one incident: the second gets ErrConflict.
func (e *Engine) claim(ctx context.Context, cand store.RemediationRun) (job, bool, error) {
	var j job
	claimed := false
	err := e.store.Update(ctx, func(tx store.Tx) error {
		claimed = false
		run, ok, err := findRun(ctx, tx, cand, StatusProposed)
		if err != nil || !ok {
			return err
		}
		now := e.now()
		r := e.remediation(run.Action)
		if r == nil {
			run.Status, run.FinishedAt = StatusSkipped, now
			run.Reason = "config: the remediation is no longer configured"
			return e.record(ctx, tx, run, store.EventRemediationSkipped, Actor, nil)
		}
		inc, err := tx.GetIncident(ctx, run.IncidentID)
		if err != nil {
			return fmt.Errorf("incident %q: %w", run.IncidentID, err)
		}
		if inc.State == store.Resolved {
			run.Status, run.FinishedAt = StatusSkipped, now
			run.Reason = "incident_resolved: the incident resolved before the action ran"
			return e.record(ctx, tx, run, store.EventRemediationSkipped, Actor, nil)
		}
		if n := r.Guards.MaxConcurrent; n > 0 {
			busy, err := tx.ListRemediationRuns(ctx, store.RemediationFilter{Action: r.Name, Statuses: []string{StatusRunning}})
			if err != nil {
				return err
			}
			if len(busy) >= n {
				return nil
			}
		}
		if _, err := tx.UpdateIncident(ctx, inc); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errConflictRetry
			}
			return fmt.Errorf("incident %q: %w", inc.ID, err)
		}
		alerts, err := tx.ListAlerts(ctx, store.AlertFilter{IncidentID: inc.ID, Active: now})
		if err != nil {
			return fmt.Errorf("incident %q: alerts: %w", inc.ID, err)
		}
		run.Status, run.StartedAt = StatusRunning, now
		timeout := r.timeout()
		err = e.record(ctx, tx, run, store.EventRemediationStarted, run.Actor, func(d *runEventData) {
			d.StartedAt = now.UTC().Format(time.RFC3339Nano)
			d.Timeout = timeout.String()
		})
		if err != nil {
			return err
		}
		j = job{run: run, r: r, start: now, doc: e.document(run, r, inc, alerts, timeout)}
		claimed = true
		return nil
	})
	if errors.Is(err, errConflictRetry) {
		return job{}, false, nil
	}
	return j, claimed && err == nil, err
}

// findRun reads run again inside tx; ok is false when it no longer has
// status.
func findRun(ctx context.Context, tx store.Tx, run store.RemediationRun, status string) (store.RemediationRun, bool, error) {
	runs, err := tx.ListRemediationRuns(ctx, store.RemediationFilter{
		IncidentID: run.IncidentID, Action: run.Action, Target: run.Target, Statuses: []string{status},
	})
	if err != nil {
		return run, false, err
	}
	for _, r := range runs {
		if r.ID == run.ID {
			return r, true, nil
		}
	}
	return run, false, nil
}

// document builds what the action receives.
func (e *Engine) document(run store.RemediationRun, r *Remediation, inc store.Incident, alerts []store.Alert, timeout time.Duration) Document {
	doc := Document{
		Version: 1,
		Run: DocumentRun{
			ID: run.ID, Remediation: r.Name, Action: r.Action.Kind(), Actor: run.Actor, Timeout: timeout.String(),
		},
		Server:   DocumentServer{Hostname: run.Target},
		Incident: inc,
		Alerts:   []store.Alert{},
	}
	if f := e.loadFleet(); f != nil {
		if s, ok := f.Server(run.Target); ok {
			doc.Server = DocumentServer{
				Hostname: s.Hostname, BMC: s.BMC, Site: s.Site, Row: s.Row, Rack: s.Rack,
				Switch: s.Switch, SwitchPort: s.SwitchPort, Lifecycle: s.Lifecycle, Labels: s.Labels,
			}
		}
	}
	for _, a := range alerts {
		if r.Matches(a.Labels) && targetOf(a.Labels) == run.Target {
			doc.Alerts = append(doc.Alerts, a)
		}
	}
	return doc
}

// execute runs a claimed job's action and records the outcome.
func (e *Engine) execute(runCtx context.Context, j job) {
	timeout := j.r.timeout()
	ctx, cancel := context.WithTimeout(runCtx, timeout)
	out, err := e.act(ctx, j.r, j.doc)
	ctxErr := ctx.Err()
	cancel()
	end := e.now()
	e.metrics.duration.WithLabelValues(j.r.Name).Observe(end.Sub(j.start).Seconds())

	run := j.run
	run.Output = out
	run.FinishedAt = end
	escalate := false
	switch {
	case err == nil && j.r.Verify.Window > 0:
		run.Status = StatusVerifying
		run.Reason = fmt.Sprintf("verify: the alert must clear within %s", j.r.Verify.Window)
	case err == nil:
		run.Status, run.Reason = StatusSucceeded, ""
	case errors.Is(context.Cause(runCtx), errShutdown):
		run.Status, escalate = StatusFailed, true
		run.Reason = "interrupted: fleetwatch shut down during the run; outcome unknown, not retried: " + err.Error()
	case errors.Is(ctxErr, context.DeadlineExceeded):
		run.Status, escalate = StatusFailed, true
		run.Reason = fmt.Sprintf("timeout: killed after %s: %v", timeout, err)
	default:
		run.Status, escalate = StatusFailed, true
		run.Reason = "failed: " + err.Error()
	}
	// The outcome is written even while shutting down.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(runCtx), 30*time.Second)
	defer wcancel()
	werr := e.store.Update(wctx, func(tx store.Tx) error {
		if err := e.record(wctx, tx, run, store.EventRemediationFinished, Actor, nil); err != nil {
			return err
		}
		if escalate {
			return e.escalateRun(wctx, tx, run)
		}
		return nil
	})
	log := e.log.With("run", run.ID, "remediation", run.Action, "target", run.Target, "incident", run.IncidentID)
	if werr != nil {
		log.Error("recording remediation outcome", "status", run.Status, "err", werr)
		return
	}
	if run.Status == StatusFailed {
		log.Warn("remediation failed", "reason", run.Reason)
	} else {
		log.Info("remediation finished", "status", run.Status, "took", end.Sub(j.start))
	}
}

// escalateRun adds the incident_escalated event of a run that failed.
func (e *Engine) escalateRun(ctx context.Context, tx store.Tx, run store.RemediationRun) error {
	data, err := json.Marshal(map[string]any{
		"remediation": run.Action, "run_id": run.ID, "targets": []string{run.Target}, "reason": run.Reason,
	})
	if err != nil {
		return err
	}
	_, err = tx.AddEvent(ctx, store.TimelineEvent{
		IncidentID: run.IncidentID,
		Time:       e.now(),
		Kind:       store.EventIncidentEscalated,
		Actor:      Actor,
		Summary:    fmt.Sprintf("remediation %s on %s (run %d) did not fix it: %s; a human must decide", run.Action, run.Target, run.ID, run.Reason),
		Labels:     map[string]string{"server": run.Target},
		Data:       data,
	})
	return err
}

// verifyDue settles runs being verified: succeeded when the server's
// matching alerts cleared (or the incident resolved), failed and escalated
// when they still fire after verify.window.
func (e *Engine) verifyDue(ctx context.Context) error {
	runs, err := e.store.ListRemediationRuns(ctx, store.RemediationFilter{Statuses: []string{StatusVerifying}})
	if err != nil {
		return err
	}
	for _, cand := range runs {
		err := e.store.Update(ctx, func(tx store.Tx) error {
			run, ok, err := findRun(ctx, tx, cand, StatusVerifying)
			if err != nil || !ok {
				return err
			}
			return e.verify(ctx, tx, run)
		})
		if err != nil {
			e.log.Warn("verifying remediation run", "run", cand.ID, "remediation", cand.Action, "err", err)
		}
	}
	return nil
}

func (e *Engine) verify(ctx context.Context, tx store.Tx, run store.RemediationRun) error {
	now := e.now()
	r := e.remediation(run.Action)
	inc, err := tx.GetIncident(ctx, run.IncidentID)
	if err != nil {
		return fmt.Errorf("incident %q: %w", run.IncidentID, err)
	}
	after := fmtAge(now.Sub(run.FinishedAt))
	if inc.State == store.Resolved {
		run.Status, run.Reason = StatusSucceeded, "verified: the incident resolved "+after+" after the action"
		return e.record(ctx, tx, run, store.EventRemediationFinished, Actor, nil)
	}
	if r == nil {
		run.Status, run.Reason = StatusSucceeded, "verified: not checked, the remediation is no longer configured"
		return e.record(ctx, tx, run, store.EventRemediationFinished, Actor, nil)
	}
	alerts, err := tx.ListAlerts(ctx, store.AlertFilter{IncidentID: inc.ID, Active: now})
	if err != nil {
		return fmt.Errorf("incident %q: alerts: %w", inc.ID, err)
	}
	firing := ""
	for _, a := range alerts {
		if !a.Resolved(now) && r.Matches(a.Labels) && targetOf(a.Labels) == run.Target {
			firing = a.Labels["alertname"]
			break
		}
	}
	if firing == "" {
		run.Status, run.Reason = StatusSucceeded, "verified: the alert cleared "+after+" after the action"
		return e.record(ctx, tx, run, store.EventRemediationFinished, Actor, nil)
	}
	window := time.Duration(r.Verify.Window)
	if now.Before(run.FinishedAt.Add(window)) {
		return nil
	}
	run.Status = StatusFailed
	run.Reason = fmt.Sprintf("verify: %s still firing %s after the action (window %s)", firing, after, r.Verify.Window)
	if err := e.record(ctx, tx, run, store.EventRemediationFinished, Actor, nil); err != nil {
		return err
	}
	return e.escalateRun(ctx, tx, run)
}

// recoverInterrupted fails runs left "running" by an instance that stopped:
// those not running here whose start is older than their timeout plus
// InterruptGrace. They are not retried (an action may not be safe twice);
// the incident is escalated.
func (e *Engine) recoverInterrupted(ctx context.Context) error {
	runs, err := e.store.ListRemediationRuns(ctx, store.RemediationFilter{Statuses: []string{StatusRunning}})
	if err != nil {
		return err
	}
	for _, cand := range runs {
		if e.running(cand.ID) {
			continue
		}
		err := e.store.Update(ctx, func(tx store.Tx) error {
			run, ok, err := findRun(ctx, tx, cand, StatusRunning)
			if err != nil || !ok {
				return err
			}
			started, timeout, err := startOf(ctx, tx, run)
			if err != nil {
				return err
			}
			if r := e.remediation(run.Action); r != nil && timeout == 0 {
				timeout = r.timeout()
			}
			if timeout == 0 {
				timeout = DefaultTimeout
			}
			now := e.now()
			if now.Before(started.Add(timeout + e.grace)) {
				return nil
			}
			run.Status, run.FinishedAt = StatusFailed, now
			run.Reason = fmt.Sprintf("interrupted: the run started %s ago and never finished (fleetwatch stopped during it); outcome unknown, not retried",
				fmtAge(now.Sub(started)))
			if err := e.record(ctx, tx, run, store.EventRemediationFinished, Actor, nil); err != nil {
				return err
			}
			return e.escalateRun(ctx, tx, run)
		})
		if err != nil {
			e.log.Warn("recovering remediation run", "run", cand.ID, "err", err)
		}
	}
	return nil
}

// startOf finds when run started and its timeout, from its
// remediation_started timeline event (its creation time if there is none).
func startOf(ctx context.Context, tx store.Tx, run store.RemediationRun) (time.Time, time.Duration, error) {
	evs, err := tx.ListEvents(ctx, store.EventFilter{IncidentID: run.IncidentID, Kinds: []string{store.EventRemediationStarted}})
	if err != nil {
		return time.Time{}, 0, err
	}
	started, timeout := run.CreatedAt, time.Duration(0)
	for _, ev := range evs {
		var d runEventData
		if json.Unmarshal(ev.Data, &d) != nil || d.RunID != run.ID {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, d.StartedAt); err == nil {
			started = t
		} else {
			started = ev.Time
		}
		if to, err := time.ParseDuration(d.Timeout); err == nil {
			timeout = to
		}
	}
	return started, timeout, nil
}
