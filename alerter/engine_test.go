package alerter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/events"
	"github.com/fleetwatch/fleetwatch/inventory"
)

const basicConfig = `
route:
  receiver: pd
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: pd
`

func TestGroupTimers(t *testing.T) {
	h := newHarness(t, basicConfig, nil)
	a1 := ls("alertname", "DiskFull", "instance", "a")
	a2 := ls("alertname", "DiskFull", "instance", "b")
	h.post(a1)
	h.step(29 * time.Second)
	if got := len(h.rec["pd"].Messages()); got != 0 {
		t.Fatalf("sent %d messages before group_wait", got)
	}
	h.step(time.Second)
	msgs := h.rec["pd"].Messages()
	if len(msgs) != 1 || msgs[0].Action != notify.ActionTrigger || len(msgs[0].Alerts) != 1 {
		t.Fatalf("after group_wait: %+v", msgs)
	}
	id := msgs[0].IncidentID

	// A second alert of the group waits for group_interval, then updates
	// the same incident (same dedup key, no second incident).
	h.post(a2)
	h.step(time.Minute)
	if got := len(h.rec["pd"].Messages()); got != 1 {
		t.Fatalf("update sent before group_interval: %d messages", got)
	}
	h.step(4 * time.Minute)
	msgs = h.rec["pd"].Messages()
	if len(msgs) != 2 || msgs[1].IncidentID != id || len(msgs[1].Alerts) != 2 {
		t.Fatalf("update at group_interval: %+v", msgs)
	}
	if n := len(h.incidents()); n != 1 {
		t.Fatalf("%d incidents, want 1", n)
	}

	// Re-sends of unchanged alerts tell nobody.
	h.post(a1, a2)
	h.step(5 * time.Minute)
	if got := len(h.rec["pd"].Messages()); got != 2 {
		t.Fatalf("re-send caused a notification: %d messages", got)
	}

	// The last alert resolving resolves the incident at once, not at the
	// next group_interval.
	h.resolve(a1, a2)
	h.step(0)
	msgs = h.rec["pd"].Messages()
	if len(msgs) != 3 || msgs[2].Action != notify.ActionResolve || msgs[2].IncidentID != id {
		t.Fatalf("resolve: %+v", h.rec["pd"].actions())
	}
	inc, err := h.st.GetIncident(context.Background(), id)
	if err != nil || inc.State != store.Resolved {
		t.Fatalf("incident after resolve: %+v %v", inc, err)
	}
	k := kinds(h.timeline(id))
	for _, want := range []string{store.EventIncidentCreated, store.EventIncidentGrouped, store.EventResolved, store.EventNotificationSent} {
		if k[want] == 0 {
			t.Errorf("timeline lacks %s: %v", want, k)
		}
	}
}

func TestRepeatInterval(t *testing.T) {
	h := newHarness(t, strings.Replace(basicConfig, "repeat_interval: 4h", "repeat_interval: 1h", 1), nil)
	a := ls("alertname", "X")
	h.post(a)
	h.step(30 * time.Second)
	for i := 0; i < 8; i++ { // keep it firing for 2 h, re-sending every 15 m
		h.step(15 * time.Minute)
		h.post(a)
	}
	// Sent at 30 s, 1 h 30 s and 2 h 30 s: repeat_interval counts from the
	// last notification, to the second.
	msgs := h.rec["pd"].Messages()
	if len(msgs) != 3 {
		t.Fatalf("actions over 2 h with repeat 1 h: %v", h.rec["pd"].actions())
	}
	for i := 1; i < len(msgs); i++ {
		if d := msgs[i].Timestamp.Sub(msgs[i-1].Timestamp); d != time.Hour {
			t.Errorf("notification %d came %v after the previous one, want 1h", i, d)
		}
	}
}

func TestRouting(t *testing.T) {
	cfg := `
route:
  receiver: default
  group_by: ['...']
  group_wait: 0s
  routes:
    - matchers: ['severity="critical"']
      receiver: pd
      continue: true
    - matchers: ['team=~"net|storage"']
      receiver: team
    - matchers: ['team="db"']
      receiver: db
      routes:
        - matchers: ['env="prod"']
          receiver: dbprod
receivers: [{name: default}, {name: pd}, {name: team}, {name: db}, {name: dbprod}]
`
	cases := []struct {
		name   string
		labels map[string]string
		want   []string
	}{
		{"nothing matches", ls("alertname", "A"), []string{"default"}},
		{"critical continues", ls("alertname", "A", "severity", "critical", "team", "net"), []string{"pd", "team"}},
		{"critical alone stops at its match", ls("alertname", "A", "severity", "critical"), []string{"pd"}},
		{"regexp", ls("alertname", "A", "team", "storage"), []string{"team"}},
		{"nested", ls("alertname", "A", "team", "db", "env", "prod"), []string{"dbprod"}},
		{"nested falls back to parent", ls("alertname", "A", "team", "db", "env", "dev"), []string{"db"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, cfg, nil)
			h.post(c.labels)
			h.step(0)
			var got []string
			for _, name := range []string{"default", "pd", "team", "db", "dbprod"} {
				if n := len(h.rec[name].Messages()); n > 0 {
					got = append(got, name)
				}
			}
			if strings.Join(sorted(got), ",") != strings.Join(sorted(c.want), ",") {
				t.Fatalf("receivers %v, want %v", got, c.want)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestSuppression(t *testing.T) {
	cfg := `
route:
  receiver: pd
  group_by: [alertname, instance]
  group_wait: 0s
receivers: [{name: pd}]
inhibit_rules:
  - source_matchers: ['alertname="SwitchDown"']
    target_matchers: ['alertname="HostDown"']
    equal: [rack]
`
	inv := &inventory.Inventory{Servers: []inventory.Server{
		{Hostname: "srv-ok", Lifecycle: inventory.InService},
		{Hostname: "srv-repair", Lifecycle: inventory.Repair},
		{Hostname: "srv-prov", Lifecycle: inventory.Provisioning},
	}}
	cases := []struct {
		name     string
		before   func(h *harness)
		alert    map[string]string
		wantSupp string // prefix of store.Alert.Suppressed; "" pages
	}{
		{"pages", nil, ls("alertname", "HostDown", "instance", "srv-ok:9100"), ""},
		{"repair does not page", nil, ls("alertname", "HostDown", "instance", "srv-repair:9100"), "maintenance:repair"},
		{"provisioning does not page", nil, ls("alertname", "HostDown", "instance", "srv-prov"), "maintenance:provisioning"},
		{"silenced", func(h *harness) {
			_, err := h.e.PutSilence(context.Background(), store.Silence{
				Matchers: []store.Matcher{{Name: "instance", Value: "srv-ok.*", IsRegex: true, IsEqual: true}},
				StartsAt: h.clock.Now(), EndsAt: h.clock.Now().Add(time.Hour), CreatedBy: "ops", Comment: "planned"})
			if err != nil {
				t.Fatal(err)
			}
		}, ls("alertname", "HostDown", "instance", "srv-ok:9100"), "silenced:"},
		{"negative silence matcher leaves others", func(h *harness) {
			_, err := h.e.PutSilence(context.Background(), store.Silence{
				Matchers: []store.Matcher{{Name: "alertname", Value: "HostDown", IsEqual: false}},
				StartsAt: h.clock.Now(), EndsAt: h.clock.Now().Add(time.Hour), CreatedBy: "ops"})
			if err != nil {
				t.Fatal(err)
			}
		}, ls("alertname", "HostDown", "instance", "srv-ok:9100"), ""},
		{"inhibited by switch in same rack", func(h *harness) {
			h.post(ls("alertname", "SwitchDown", "rack", "R1", "instance", "sw1"))
		}, ls("alertname", "HostDown", "instance", "srv-ok", "rack", "R1"), "inhibited"},
		{"not inhibited in another rack", func(h *harness) {
			h.post(ls("alertname", "SwitchDown", "rack", "R2", "instance", "sw2"))
		}, ls("alertname", "HostDown", "instance", "srv-ok", "rack", "R1"), ""},
		{"maintenance event", func(h *harness) {
			err := h.e.HandleEvent(context.Background(), events.Event{Source: events.SourceAPI, Kind: EventMaintenanceStart,
				Labels: ls("instance", "srv-ok:9100"), Summary: "BIOS update", Attributes: map[string]string{"duration": "2h"}})
			if err != nil {
				t.Fatal(err)
			}
		}, ls("alertname", "HostDown", "instance", "srv-ok:9100"), "maintenance:api"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, cfg, inv)
			if c.before != nil {
				c.before(h)
				h.step(0)
			}
			before := len(h.rec["pd"].Messages())
			h.post(c.alert)
			h.step(0)
			paged := len(h.rec["pd"].Messages()) - before
			got, err := h.st.ListAlerts(context.Background(), store.AlertFilter{Fingerprint: []string{fingerprint(c.alert)}})
			if err != nil || len(got) != 1 {
				t.Fatalf("stored alert: %v %v", got, err)
			}
			if c.wantSupp == "" {
				if paged != 1 || got[0].Suppressed != "" {
					t.Fatalf("want a page: %d messages, suppressed %q", paged, got[0].Suppressed)
				}
				return
			}
			if paged != 0 {
				t.Fatalf("suppressed alert paged: %+v", h.rec["pd"].Messages())
			}
			if !strings.HasPrefix(got[0].Suppressed, c.wantSupp) {
				t.Fatalf("suppressed %q, want %q…", got[0].Suppressed, c.wantSupp)
			}
			evs, _ := h.st.ListEvents(context.Background(), store.EventFilter{Kinds: []string{store.EventAlertSuppressed}})
			if len(evs) == 0 {
				t.Fatal("suppressed alert not recorded on the timeline")
			}
		})
	}
}

func TestMaintenanceEndPagesAgain(t *testing.T) {
	h := newHarness(t, strings.Replace(basicConfig, "group_wait: 30s", "group_wait: 0s", 1), nil)
	dev := ls("instance", "srv-1")
	ctx := context.Background()
	if err := h.e.HandleEvent(ctx, events.Event{Source: "lifecycle", Kind: EventMaintenanceStart, Labels: dev}); err != nil {
		t.Fatal(err)
	}
	h.post(ls("alertname", "HostDown", "instance", "srv-1"))
	h.step(0)
	if n := len(h.rec["pd"].Messages()); n != 0 {
		t.Fatalf("paged during maintenance: %d", n)
	}
	if err := h.e.HandleEvent(ctx, events.Event{Source: "lifecycle", Kind: EventMaintenanceEnd, Labels: dev}); err != nil {
		t.Fatal(err)
	}
	h.step(0)
	if n := len(h.rec["pd"].Messages()); n != 1 {
		t.Fatalf("after maintenance_end, still firing alert: %d messages, want 1", n)
	}
}

func TestUnreachableReceiverRetried(t *testing.T) {
	h := newHarness(t, strings.Replace(basicConfig, "group_wait: 30s", "group_wait: 0s", 1), nil)
	failures := 3
	h.rec["pd"].fail = func(notify.Message) (bool, error) {
		if failures > 0 {
			failures--
			return true, errDown
		}
		return false, nil
	}
	h.post(ls("alertname", "X"))
	for i := 0; i < 10 && len(h.rec["pd"].Messages()) == 0; i++ {
		h.step(30 * time.Second)
	}
	msgs := h.rec["pd"].Messages()
	if len(msgs) != 1 || h.rec["pd"].errs != 3 {
		t.Fatalf("sent %d after %d errors", len(msgs), h.rec["pd"].errs)
	}
	inc, err := h.st.GetIncident(context.Background(), msgs[0].IncidentID)
	if err != nil || inc.State != store.Triggered || inc.FiringCount != 1 {
		t.Fatalf("incident after retries: %+v %v", inc, err)
	}
	k := kinds(h.timeline(inc.ID))
	if k[store.EventNotificationFailed] != 3 || k[store.EventNotificationSent] != 1 {
		t.Fatalf("timeline: %v", k)
	}
}

func TestBadRequestNotRetried(t *testing.T) {
	h := newHarness(t, strings.Replace(basicConfig, "group_wait: 30s", "group_wait: 0s", 1), nil)
	h.rec["pd"].fail = func(notify.Message) (bool, error) { return false, fmt.Errorf("status 400: invalid routing key") }
	h.post(ls("alertname", "X"))
	for i := 0; i < 5; i++ {
		h.step(time.Minute)
	}
	if h.rec["pd"].errs != 1 {
		t.Fatalf("a 400 was tried %d times", h.rec["pd"].errs)
	}
	ns, _ := h.st.ListNotifications(context.Background(), store.NotificationFilter{})
	if len(ns) != 1 || ns[0].State != store.NotificationFailed || !strings.Contains(ns[0].LastError, "400") {
		t.Fatalf("outbox: %+v", ns)
	}
}

func TestResendCostsNoWrite(t *testing.T) {
	h := newHarness(t, basicConfig, nil)
	var batch []map[string]string
	for i := 0; i < 100; i++ {
		batch = append(batch, ls("alertname", "X", "instance", fmt.Sprintf("h%d", i)))
	}
	h.post(batch...)
	first := testutil.ToFloat64(h.e.metrics.alertWrites)
	if first != 100 {
		t.Fatalf("first arrival wrote %v alerts, want 100", first)
	}
	for i := 0; i < 3; i++ {
		h.clock.Advance(time.Second)
		h.post(batch...) // EndsAt moves by a second each time
	}
	if got := testutil.ToFloat64(h.e.metrics.alertWrites); got != first {
		t.Fatalf("re-sends wrote %v alerts", got-first)
	}
	// Once the stored EndsAt would lapse soon, a re-send renews it.
	h.clock.Advance(35 * time.Minute)
	h.post(batch...)
	if got := testutil.ToFloat64(h.e.metrics.alertWrites); got != first+100 {
		t.Fatalf("lease renewal wrote %v alerts, want 100", got-first)
	}
}

func TestRestartKeepsIncidents(t *testing.T) {
	cfg := strings.Replace(basicConfig, "group_wait: 30s", "group_wait: 0s", 1)
	h := newHarness(t, cfg, nil)
	a := ls("alertname", "X", "instance", "h1")
	h.post(a)
	h.step(0)
	msgs := h.rec["pd"].Messages()
	if len(msgs) != 1 {
		t.Fatalf("before restart: %d messages", len(msgs))
	}
	h.st.Close()

	// A new engine on the same database, ten minutes later, with the alert
	// still firing: no new page; then the resolve goes to the same incident.
	h.clock.Advance(10 * time.Minute)
	h2 := openHarness(t, h.path, cfg, nil, h.clock)
	h2.post(a)
	h2.step(time.Second)
	if n := len(h2.rec["pd"].Messages()); n != 0 {
		t.Fatalf("restart re-paged: %+v", h2.rec["pd"].Messages())
	}
	h2.resolve(a)
	h2.step(0)
	got := h2.rec["pd"].Messages()
	if len(got) != 1 || got[0].Action != notify.ActionResolve || got[0].IncidentID != msgs[0].IncidentID {
		t.Fatalf("after restart: %+v", got)
	}
}

func TestAcknowledgeAndManualResolve(t *testing.T) {
	h := newHarness(t, strings.Replace(basicConfig, "group_wait: 30s", "group_wait: 0s", 1), nil)
	h.post(ls("alertname", "X"))
	h.step(0)
	id := h.rec["pd"].Messages()[0].IncidentID
	ctx := context.Background()
	inc, err := h.e.Acknowledge(ctx, id, "user:alice")
	if err != nil || inc.State != store.Acknowledged || inc.Assignee != "alice" {
		t.Fatalf("ack: %+v %v", inc, err)
	}
	if _, err := h.e.AddNote(ctx, id, "user:alice", "rebooting the ToR"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.Resolve(ctx, id, "user:alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.Acknowledge(ctx, id, "user:bob"); err == nil {
		t.Fatal("acknowledging a resolved incident worked")
	}
	h.step(0)
	if got := strings.Join(h.rec["pd"].actions(), ","); got != "trigger,acknowledge,resolve" {
		t.Fatalf("actions %s", got)
	}
	k := kinds(h.timeline(id))
	if k[store.EventAcknowledged] != 1 || k[store.EventNote] != 1 || k[store.EventResolved] != 1 {
		t.Fatalf("timeline %v", k)
	}
}

func TestReopenWithinWindow(t *testing.T) {
	h := newHarness(t, strings.Replace(basicConfig, "group_wait: 30s", "group_wait: 0s", 1), nil)
	a := ls("alertname", "Flappy")
	h.post(a)
	h.step(0)
	h.resolve(a)
	h.step(0)
	h.step(time.Minute)
	h.post(a)
	h.step(0)
	if n := len(h.incidents()); n != 1 {
		t.Fatalf("flap within reopen_window made %d incidents", n)
	}
	inc := h.incidents()[0]
	if inc.State != store.Triggered || kinds(h.timeline(inc.ID))[store.EventReopened] != 1 {
		t.Fatalf("not reopened: %+v", inc)
	}
}

// TestSweepFindsEarlierEnd: an alert posted with an end earlier than any
// the sweep saw before is resolved when that end passes, not at the next
// full walk.
func TestSweepFindsEarlierEnd(t *testing.T) {
	h := newHarness(t, `
route: {receiver: pd, group_by: [alertname], group_wait: 0s}
receivers: [{name: pd}]
`, nil)
	h.post(ls("alertname", "Long", "instance", "h1"))
	h.step(time.Second) // a sweep: nothing ends before the next full walk
	now := h.clock.Now()
	if err := h.e.PostAlerts(context.Background(), []store.Alert{{Labels: ls("alertname", "Short", "instance", "h2"),
		StartsAt: now, EndsAt: now.Add(10 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	h.step(time.Second)
	h.step(10 * time.Second)
	for _, inc := range h.incidents() {
		if inc.Labels["alertname"] == "Short" && inc.State != store.Resolved {
			t.Fatalf("incident of the expired alert is %s 11 s after a 10 s end, want resolved", inc.State)
		}
	}
	if len(h.incidents(store.Resolved)) != 1 {
		t.Fatalf("resolved incidents: %+v", h.incidents(store.Resolved))
	}
}
