package remediate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// fakeLifecycle records SetLifecycle calls and how many ran at once.
type fakeLifecycle struct {
	mu      sync.Mutex
	calls   []string
	now     atomic.Int32
	maxSeen atomic.Int32
	hold    time.Duration
	err     error
}

func (f *fakeLifecycle) SetLifecycle(ctx context.Context, host string, state inventory.Lifecycle, reason string) error {
	n := f.now.Add(1)
	defer f.now.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-time.After(f.hold):
	case <-ctx.Done():
		return ctx.Err()
	}
	f.mu.Lock()
	f.calls = append(f.calls, host+"="+string(state)+" ("+reason+")")
	f.mu.Unlock()
	return f.err
}

// fakeRedfish records the actions asked of BMCs.
type fakeRedfish struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeRedfish) Reset(ctx context.Context, bmc, resetType string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "reset "+resetType+" "+bmc)
	return nil
}

func (f *fakeRedfish) PXEBootOnce(ctx context.Context, bmc string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "pxe "+bmc)
	return nil
}

const approvalConfig = `
remediations:
  - name: repair
    match: ['alertname="HostDown"']
    action:
      lifecycle: {state: repair}
    guards: {require_approval: true}
`

// TestApprovalFlow: a run that requires approval waits; Approve records
// who approved and the worker runs it; Reject records the refusal.
func TestApprovalFlow(t *testing.T) {
	st, clk := openStore(t), newClock()
	life := &fakeLifecycle{}
	reg := prometheus.NewPedanticRegistry()
	e := newEngine(t, st, clk, approvalConfig, func(o *Options) { o.Lifecycle = life; o.Registerer = reg })
	openIncident(t, st, e, "inc-1", firing(clk, "srv-r12-01", "HostDown"), firing(clk, "srv-r12-02", "HostDown"))
	runs := listRuns(t, st, store.RemediationFilter{IncidentID: "inc-1"})
	if len(runs) != 2 || runs[0].Status != StatusAwaitingApproval || runs[1].Status != StatusAwaitingApproval {
		t.Fatalf("runs %+v", runs)
	}
	startWorker(t, e)
	// Nothing runs before approval (the worker has had rounds to try).
	time.Sleep(50 * time.Millisecond)
	if len(life.calls) != 0 {
		t.Fatalf("ran before approval: %v", life.calls)
	}
	if err := e.Approve(t.Context(), runs[0].ID, "user:alice"); err != nil {
		t.Fatal(err)
	}
	done := waitRun(t, st, runs[0].ID, StatusSucceeded, StatusFailed)
	if done.Status != StatusSucceeded || done.Actor != "user:alice" {
		t.Fatalf("approved run %+v", done)
	}
	if len(life.calls) != 1 || !strings.HasPrefix(life.calls[0], "srv-r12-01=repair (remediation repair, incident inc-1, run ") {
		t.Errorf("lifecycle calls %v", life.calls)
	}
	if err := e.Reject(t.Context(), runs[1].ID, "user:bob", "rack is being moved"); err != nil {
		t.Fatal(err)
	}
	rej := waitRun(t, st, runs[1].ID, StatusSkipped)
	if rej.Reason != "rejected by user:bob: rack is being moved" || rej.Actor != "user:bob" {
		t.Errorf("rejected run %+v", rej)
	}
	// Approving again, or an unknown run, is refused.
	if err := e.Approve(t.Context(), runs[0].ID, "user:alice"); !errors.Is(err, ErrNotAwaitingApproval) {
		t.Errorf("second approval: %v", err)
	}
	if err := e.Approve(t.Context(), 9999, "user:alice"); !errors.Is(err, ErrNotAwaitingApproval) {
		t.Errorf("unknown run: %v", err)
	}
	// The timeline tells who approved, who started, who rejected.
	appr := listEvents(t, st, "inc-1", store.EventRemediationApproved)
	if len(appr) != 1 || appr[0].Actor != "user:alice" {
		t.Errorf("approved events %+v", appr)
	}
	started := listEvents(t, st, "inc-1", store.EventRemediationStarted)
	if len(started) != 1 || started[0].Actor != "user:alice" {
		t.Errorf("started events %+v", started)
	}
	var rejected bool
	for _, ev := range listEvents(t, st, "inc-1", store.EventRemediationSkipped) {
		rejected = rejected || (ev.Actor == "user:bob" && strings.Contains(ev.Summary, "rack is being moved"))
	}
	if !rejected {
		t.Error("no timeline event for the rejection")
	}
	for status, want := range map[string]float64{StatusAwaitingApproval: 2, StatusProposed: 1, StatusRunning: 1, StatusSucceeded: 1, StatusSkipped: 1} {
		if got := testutil.ToFloat64(e.metrics.runs.WithLabelValues("repair", status)); got != want {
			t.Errorf("fleetwatch_remediation_runs_total{action=repair,status=%s} = %g, want %g", status, got, want)
		}
	}
}

// TestApprovalAfterResolve: a run approved after its incident resolved is
// skipped, not run.
func TestApprovalAfterResolve(t *testing.T) {
	st, clk := openStore(t), newClock()
	life := &fakeLifecycle{}
	e := newEngine(t, st, clk, approvalConfig, func(o *Options) { o.Lifecycle = life })
	a := firing(clk, "srv-r12-01", "HostDown")
	openIncident(t, st, e, "inc-1", a)
	runs := listRuns(t, st, store.RemediationFilter{IncidentID: "inc-1"})
	resolveAlerts(t, st, e, "inc-1", true, a)
	got := listRuns(t, st, store.RemediationFilter{IncidentID: "inc-1"})
	if got[0].Status != StatusSkipped || guardOf(got[0].Reason) != "incident_resolved" {
		t.Fatalf("run after resolve %+v", got[0])
	}
	if err := e.Approve(t.Context(), runs[0].ID, "user:alice"); !errors.Is(err, ErrNotAwaitingApproval) {
		t.Errorf("approve after resolve: %v", err)
	}
}

const verifyConfig = `
remediations:
  - name: reset
    match: ['alertname="HostDown"']
    action:
      redfish: {reset_type: ForceRestart}
    verify: {window: 10m}
`

// TestVerifyWindow: after a successful run the alert must clear within
// the window; when it does the run is verified, when it does not the run
// fails and the incident is escalated.
func TestVerifyWindow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		clear   bool
		resolve bool
		status  string
		reason  string
	}{
		{"alert clears", true, false, StatusSucceeded, "verified: the alert cleared"},
		{"incident resolves", true, true, StatusSucceeded, "verified: the incident resolved"},
		{"alert still firing", false, false, StatusFailed, "verify: HostDown still firing 11m0s after the action (window 10m)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, clk := openStore(t), newClock()
			rf := &fakeRedfish{}
			e := newEngine(t, st, clk, verifyConfig, func(o *Options) { o.Redfish = rf })
			a := firing(clk, "srv-r12-07", "HostDown")
			openIncident(t, st, e, "inc-1", a)
			id := listRuns(t, st, store.RemediationFilter{})[0].ID
			stop := startWorker(t, e)
			run := waitRun(t, st, id, StatusVerifying, StatusFailed)
			if run.Status != StatusVerifying || len(rf.calls) != 1 || rf.calls[0] != "reset ForceRestart srv-r12-07-bmc" {
				t.Fatalf("run %+v, redfish calls %v", run, rf.calls)
			}
			stop()
			// Within the window and still firing: nothing changes.
			clk.Advance(5 * time.Minute)
			if err := e.verifyDue(t.Context()); err != nil {
				t.Fatal(err)
			}
			if r := waitRun(t, st, id, StatusVerifying); r.Status != StatusVerifying {
				t.Fatalf("run %+v", r)
			}
			if tc.clear {
				resolveAlerts(t, st, e, "inc-1", tc.resolve, a)
			}
			clk.Advance(6 * time.Minute)
			if err := e.verifyDue(t.Context()); err != nil {
				t.Fatal(err)
			}
			run = waitRun(t, st, id, tc.status)
			if !strings.HasPrefix(run.Reason, tc.reason) {
				t.Errorf("reason %q, want %q", run.Reason, tc.reason)
			}
			esc := listEvents(t, st, "inc-1", store.EventIncidentEscalated)
			if (tc.status == StatusFailed) != (len(esc) == 1) {
				t.Errorf("escalations %+v", esc)
			}
		})
	}
}

// TestMaxConcurrentUnderLoad: many incidents decided at once from several
// goroutines; never more than max_concurrent actions run at once, every
// decision is a run, and every run that was let through finishes.
func TestMaxConcurrentUnderLoad(t *testing.T) {
	st, clk := openStore(t), newClock()
	life := &fakeLifecycle{hold: 20 * time.Millisecond}
	e := newEngine(t, st, clk, `
remediations:
  - name: repair
    match: ['alertname="HostDown"']
    action:
      lifecycle: {state: repair}
    guards: {max_concurrent: 2}
`, func(o *Options) { o.Lifecycle = life; o.Workers = 4 })
	startWorker(t, e)
	const n = 24
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			openIncident(t, st, e, fmt.Sprintf("inc-%02d", i), firing(clk, fmt.Sprintf("srv-r13-%02d", i+1), "HostDown"))
		}()
	}
	wg.Wait()
	var done []store.RemediationRun
	deadline := time.Now().Add(20 * time.Second)
	for {
		done = listRuns(t, st, store.RemediationFilter{Statuses: []string{StatusSucceeded, StatusSkipped}})
		if len(done) == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(done) != n {
		t.Fatalf("%d of %d runs finished: %+v", len(done), n, listRuns(t, st, store.RemediationFilter{}))
	}
	succeeded := 0
	for _, r := range done {
		switch {
		case r.Status == StatusSucceeded:
			succeeded++
		case guardOf(r.Reason) != GuardMaxConcurrent:
			t.Errorf("run %+v skipped for another reason", r)
		}
	}
	if succeeded == 0 || len(life.calls) != succeeded {
		t.Errorf("%d succeeded, %d lifecycle calls", succeeded, len(life.calls))
	}
	if m := life.maxSeen.Load(); m > 2 {
		t.Errorf("%d actions ran at once, max_concurrent is 2", m)
	}
	if got := testutil.ToFloat64(e.metrics.running); got != 0 {
		t.Errorf("fleetwatch_remediation_running = %g after all finished", got)
	}
}

// TestInterruptedRunRecovered: a run left "running" by an instance that
// died is failed (not retried) once its timeout and grace have passed.
func TestInterruptedRunRecovered(t *testing.T) {
	st, clk := openStore(t), newClock()
	life := &fakeLifecycle{}
	e := newEngine(t, st, clk, `
remediations:
  - name: repair
    match: ['alertname="HostDown"']
    action:
      lifecycle: {state: repair}
    guards: {timeout: 2m}
`, func(o *Options) { o.Lifecycle = life; o.InterruptGrace = time.Minute })
	openIncident(t, st, e, "inc-1", firing(clk, "srv-r12-01", "HostDown"))
	run := listRuns(t, st, store.RemediationFilter{})[0]
	// Claim it as a worker would, then "die" before running it.
	if _, ok, err := e.claim(t.Context(), run); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if err := e.recoverInterrupted(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, st, run.ID, StatusRunning); r.Status != StatusRunning {
		t.Fatal("declared interrupted before its timeout")
	}
	clk.Advance(3*time.Minute + time.Second)
	startWorker(t, e)
	r := waitRun(t, st, run.ID, StatusFailed)
	if !strings.HasPrefix(r.Reason, "interrupted: the run started 3m1s ago") {
		t.Errorf("reason %q", r.Reason)
	}
	if len(life.calls) != 0 {
		t.Errorf("an interrupted run was retried: %v", life.calls)
	}
	if esc := listEvents(t, st, "inc-1", store.EventIncidentEscalated); len(esc) != 1 {
		t.Errorf("escalations %+v", esc)
	}
}

// TestShutdownCancelsRunning: stopping the worker kills running actions
// and records them as interrupted.
func TestShutdownCancelsRunning(t *testing.T) {
	st, clk := openStore(t), newClock()
	life := &fakeLifecycle{hold: time.Hour}
	e := newEngine(t, st, clk, approvalConfig, func(o *Options) { o.Lifecycle = life })
	openIncident(t, st, e, "inc-1", firing(clk, "srv-r12-01", "HostDown"))
	run := listRuns(t, st, store.RemediationFilter{})[0]
	if err := e.Approve(t.Context(), run.ID, "user:alice"); err != nil {
		t.Fatal(err)
	}
	stop := startWorker(t, e)
	waitRun(t, st, run.ID, StatusRunning)
	for life.now.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	stop()
	r := waitRun(t, st, run.ID, StatusFailed)
	if !strings.HasPrefix(r.Reason, "interrupted: fleetwatch shut down") {
		t.Errorf("reason %q", r.Reason)
	}
}

// TestRedfishAndLifecycleActions: the redfish action resets or PXE-boots
// through the server's BMC, the lifecycle action sets the state with the
// run named in the reason.
func TestRedfishAndLifecycleActions(t *testing.T) {
	for _, tc := range []struct {
		action string
		want   string
	}{
		{"redfish: {reset_type: GracefulRestart}", "reset GracefulRestart srv-r12-03-bmc"},
		{"redfish: {pxe_once: true}", "pxe srv-r12-03-bmc"},
		{"lifecycle: {state: decommissioned}", "srv-r12-03=decommissioned (remediation act, incident inc-1, run 1)"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			st, clk := openStore(t), newClock()
			rf, life := &fakeRedfish{}, &fakeLifecycle{}
			e := newEngine(t, st, clk, `
remediations:
  - name: act
    match: ['alertname="HostDown"']
    action: {`+tc.action+`}
`, func(o *Options) { o.Redfish = rf; o.Lifecycle = life })
			openIncident(t, st, e, "inc-1", firing(clk, "srv-r12-03", "HostDown"))
			startWorker(t, e)
			run := waitRun(t, st, 1, StatusSucceeded, StatusFailed)
			if run.Status != StatusSucceeded {
				t.Fatalf("run %+v", run)
			}
			calls := append(rf.calls, life.calls...)
			if len(calls) != 1 || calls[0] != tc.want {
				t.Errorf("calls %v, want %q", calls, tc.want)
			}
		})
	}
}

// TestRemovedRemediationSkipped: a queued run whose remediation a reload
// removed is skipped, not run.
func TestRemovedRemediationSkipped(t *testing.T) {
	st, clk := openStore(t), newClock()
	life := &fakeLifecycle{}
	e := newEngine(t, st, clk, approvalConfig, func(o *Options) { o.Lifecycle = life })
	openIncident(t, st, e, "inc-1", firing(clk, "srv-r12-01", "HostDown"))
	if err := e.Approve(t.Context(), 1, "user:alice"); err != nil {
		t.Fatal(err)
	}
	e.SetConfig(mustParse(t, "remediations: []"))
	startWorker(t, e)
	if r := waitRun(t, st, 1, StatusSkipped); !strings.HasPrefix(r.Reason, "config: ") {
		t.Errorf("run %+v", r)
	}
	if len(life.calls) != 0 {
		t.Errorf("ran: %v", life.calls)
	}
}
