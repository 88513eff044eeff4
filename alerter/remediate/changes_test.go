package remediate

import (
	"context"
	"sync"
	"testing"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// changeRecorder is a ChangeQueuer that keeps what it is given.
type changeRecorder struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (c *changeRecorder) QueueChange(_ context.Context, _ store.Tx, m notify.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
	return nil
}

func (c *changeRecorder) got() []notify.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]notify.Message(nil), c.msgs...)
}

// TestRunChangeEvents: a run that acts is two change events for its
// incident (started, finished, with its outcome); a dry run and a run a
// guard refused are none.
func TestRunChangeEvents(t *testing.T) {
	for _, tc := range []struct {
		name, guards string
		want         []string // statuses of the change events
	}{
		{"runs", "{}", []string{StatusRunning, StatusSucceeded}},
		{"dry run", "{dry_run: true}", nil},
		{"refused", "{blast_radius: {max_servers: 1}}", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, clk := openStore(t), newClock()
			life := &fakeLifecycle{}
			changes := &changeRecorder{}
			e := newEngine(t, st, clk, `
remediations:
  - name: drain
    match: ['alertname="HostDown"']
    action: {lifecycle: {state: repair}}
    guards: `+tc.guards+`
`, func(o *Options) { o.Lifecycle = life; o.Changes = changes })
			alerts := []store.Alert{firing(clk, "srv-r12-03", "HostDown")}
			if tc.name == "refused" { // two servers at once: over the blast radius
				alerts = append(alerts, firing(clk, "srv-r12-04", "HostDown"))
			}
			openIncident(t, st, e, "inc-1", alerts...)
			startWorker(t, e)
			waitRun(t, st, 1, StatusSucceeded, StatusFailed, StatusSkipped, StatusEscalated)
			msgs := changes.got()
			if len(msgs) != len(tc.want) {
				t.Fatalf("%d change events, want %d: %+v", len(msgs), len(tc.want), msgs)
			}
			for i, m := range msgs {
				if m.IncidentID != "inc-1" || m.Source != "srv-r12-03" || m.Details["status"] != tc.want[i] ||
					m.Details["remediation"] != "drain" || m.Details["action"] != "lifecycle" || m.Summary == "" {
					t.Errorf("change event %d: %+v, want status %s for inc-1 on srv-r12-03", i, m, tc.want[i])
				}
			}
		})
	}
}
