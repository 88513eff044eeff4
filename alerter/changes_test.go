package alerter

import (
	"context"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/remediate"
	"github.com/fleetwatch/fleetwatch/alerter/store"
)

const changeConfig = `
route:
  receiver: pd
  group_by: [alertname]
  group_wait: 0s
  routes:
    - matchers: ['team="net"']
      receiver: chat
receivers: [{name: pd}, {name: chat}]
`

// noChanges is a notifier that sends no change events, as a webhook.
type noChanges struct{ *recorder }

func (noChanges) Sends(action string) bool { return action != notify.ActionChange }

// changes returns the change events r received.
func changes(r *recorder) []notify.Message {
	var out []notify.Message
	for _, m := range r.Messages() {
		if m.Action == notify.ActionChange {
			out = append(out, m)
		}
	}
	return out
}

// TestConfigReloadChangeEvent: a reload that changes the alerter
// configuration is a change event for every receiver that sends them; a
// reload of the same configuration is none.
func TestConfigReloadChangeEvent(t *testing.T) {
	h := newHarness(t, changeConfig, nil)
	nfs := map[string]notify.Notifier{"pd": h.rec["pd"], "chat": noChanges{h.rec["chat"]}}
	apply := func(yml string) {
		t.Helper()
		cfg, err := ParseConfig("alerting.yml", []byte(yml))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.e.ApplyConfig(cfg, nfs); err != nil {
			t.Fatal(err)
		}
		h.step(time.Second)
	}
	apply(changeConfig)
	if got := changes(h.rec["pd"]); len(got) != 0 {
		t.Fatalf("reload of the same configuration: %d change events", len(got))
	}
	apply(changeConfig + "repage_on_escalation: true\n")
	got := changes(h.rec["pd"])
	if len(got) != 1 {
		t.Fatalf("reload of a changed configuration: %d change events to pd, want 1", len(got))
	}
	if m := got[0]; m.IncidentID != "" || m.Details["change"] != "config_reload" || m.Summary == "" || m.Source != "fleetwatch" {
		t.Errorf("change event %+v", m)
	}
	if got := changes(h.rec["chat"]); len(got) != 0 {
		t.Errorf("a receiver without change events got %d", len(got))
	}
}

// TestQueueChange: a change event about an incident (a remediation run)
// goes to the incident's receiver, after its trigger, with a link to it.
func TestQueueChange(t *testing.T) {
	h := newHarness(t, changeConfig, nil)
	if err := h.e.ApplyConfig(h.e.Config(), map[string]notify.Notifier{"pd": h.rec["pd"], "chat": noChanges{h.rec["chat"]}}); err != nil {
		t.Fatal(err)
	}
	h.post(ls("alertname", "HostDown", "instance", "h1"))
	h.step(time.Second)
	incs := h.incidents(store.Triggered)
	if len(incs) != 1 {
		t.Fatalf("%d incidents", len(incs))
	}
	ctx := context.Background()
	err := h.st.Update(ctx, func(tx store.Tx) error {
		return h.e.QueueChange(ctx, tx, notify.Message{IncidentID: incs[0].ID, Summary: "remediation drain on h1 (run 1) started", Source: "h1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	h.step(time.Second)
	msgs := h.rec["pd"].Messages()
	if len(msgs) != 2 || msgs[0].Action != notify.ActionTrigger || msgs[1].Action != notify.ActionChange {
		t.Fatalf("pd got %+v, want the trigger then the change", msgs)
	}
	m := msgs[1]
	if m.IncidentID != incs[0].ID || m.Receiver != "pd" || len(m.Links) != 1 || m.Links[0].Href != "http://fleetwatch.test/incidents/"+incs[0].ID {
		t.Errorf("change event %+v", m)
	}
	// An incident routed to a receiver without change events: nothing.
	h.post(ls("alertname", "LinkDown", "team", "net"))
	h.step(time.Second)
	for _, inc := range h.incidents(store.Triggered) {
		if inc.Receiver != "chat" {
			continue
		}
		err := h.st.Update(ctx, func(tx store.Tx) error {
			return h.e.QueueChange(ctx, tx, notify.Message{IncidentID: inc.ID, Summary: "x"})
		})
		if err != nil {
			t.Fatal(err)
		}
		h.step(time.Second)
		if got := changes(h.rec["chat"]); len(got) != 0 {
			t.Errorf("chat got %d change events", len(got))
		}
		return
	}
	t.Fatal("no incident for the chat receiver")
}

// TestRunVerifiedByResolveQueuesChange: a run being verified when its
// incident resolves finishes inside the engine's own transaction (the
// sweep's, under the engine's lock); its change event is queued there
// without the engine waiting on itself.
func TestRunVerifiedByResolveQueuesChange(t *testing.T) {
	var rem *remediate.Engine
	h := newHarness(t, changeConfig, nil, func(o *Options) {
		cfg, err := remediate.Parse("remediations.yml", []byte(`
remediations:
  - name: reboot
    match: ['alertname="NeverMatches"']
    action: {redfish: {reset_type: ForceRestart}}
`))
		if err != nil {
			t.Fatal(err)
		}
		rem, err = remediate.New(remediate.Options{Store: o.Store, Config: cfg, Now: o.Now})
		if err != nil {
			t.Fatal(err)
		}
		o.Remediator = rem
	})
	rem.SetChanges(h.e)
	alert := ls("alertname", "HostDown", "instance", "h1")
	h.post(alert)
	h.step(time.Second)
	incs := h.incidents(store.Triggered)
	if len(incs) != 1 {
		t.Fatalf("%d incidents", len(incs))
	}
	ctx := context.Background()
	now := h.clock.Now()
	err := h.st.Update(ctx, func(tx store.Tx) error {
		_, err := tx.AddRemediationRun(ctx, store.RemediationRun{IncidentID: incs[0].ID, Action: "reboot", Target: "h1",
			Status: remediate.StatusVerifying, Actor: "fleetwatch", CreatedAt: now, StartedAt: now, FinishedAt: now})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The alert's end passes without a resolve: the sweep, which
		// holds the engine's lock, resolves the incident.
		h.step(2 * time.Hour)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("resolving the incident did not return: the engine waits on itself")
	}
	var got []notify.Message
	for _, m := range changes(h.rec["pd"]) {
		if m.IncidentID == incs[0].ID {
			got = append(got, m)
		}
	}
	if len(got) != 1 || got[0].Details["status"] != remediate.StatusSucceeded {
		t.Fatalf("change events for the incident: %+v, want the run's success", got)
	}
}
