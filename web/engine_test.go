package web

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter"
	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
)

type pager struct {
	mu      sync.Mutex
	actions []string
}

func (p *pager) Notify(_ context.Context, m notify.Message) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.actions = append(p.actions, m.Action)
	return false, nil
}

func (p *pager) got() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.actions, ",")
}

// TestWithAlerterEngine drives the real alerter engine through the UI: an
// alert opens an incident, the UI acknowledges it (the receiver is told),
// creates a silence the engine applies, and resolves it.
func TestWithAlerterEngine(t *testing.T) {
	ctx := context.Background()
	now := testNow
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cfg, err := alerter.ParseConfig("alerting.yml", []byte(`
route:
  receiver: pd
  group_by: [alertname, site]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: pd
`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "alerter.db"), sqlstore.Options{Synchronous: sqlstore.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	pd := &pager{}
	eng, err := alerter.New(alerter.Options{Config: cfg, Store: st, Notifiers: map[string]notify.Notifier{"pd": pd}, Now: clock, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Load(ctx); err != nil {
		t.Fatal(err)
	}
	step := func(d time.Duration) {
		t.Helper()
		advance(d)
		if err := eng.FlushDue(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := eng.PostAlerts(ctx, []store.Alert{{Labels: map[string]string{"alertname": "NodeDown", "site": "dc1", "instance": "srv-a1", "severity": "critical"},
		Annotations: map[string]string{"summary": "srv-a1 down"}, StartsAt: clock(), EndsAt: clock().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	step(30 * time.Second)
	incs, err := st.ListIncidents(ctx, store.IncidentFilter{})
	if err != nil || len(incs) != 1 {
		t.Fatalf("incidents: %v %v", incs, err)
	}
	id := incs[0].ID

	ui, err := New(Options{Store: st, Now: clock,
		Actions: AlerterActions(eng, AlerterOptions{NotFound: alerter.ErrNoIncident, BadState: alerter.ErrBadState})})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ui: ui}
	srv := newServer(t, ui)
	c := f.client(t)

	code, page, _ := get(t, c, srv+"/incidents")
	if code != 200 || !strings.Contains(page, `data-id="`+id+`"`) {
		t.Fatalf("list: %d, incident %s not shown", code, id)
	}
	_, page, _ = get(t, c, srv+"/incidents/"+id)
	tok := csrfOf(t, page)
	if code, body, _ := post(t, c, srv+"/incidents/"+id+"/ack", formOf("csrf", tok)); code != http.StatusSeeOther {
		t.Fatalf("ack: %d\n%s", code, body)
	}
	step(0)
	inc, _ := st.GetIncident(ctx, id)
	if inc.State != store.Acknowledged || inc.Assignee != "anonymous" || pd.got() != "trigger,acknowledge" {
		t.Errorf("after ack: state %s, assignee %q, receiver told %q", inc.State, inc.Assignee, pd.got())
	}
	if code, body, _ := post(t, c, srv+"/silences", formOf("csrf", tok, "matchers", `{site="dc1"}`, "duration", "1h", "comment", "recabling")); code != http.StatusSeeOther {
		t.Fatalf("silence: %d\n%s", code, body)
	}
	if ss := eng.Silences(); len(ss) != 1 || ss[0].CreatedBy != "anonymous" || ss[0].Comment != "recabling" {
		t.Errorf("engine silences: %+v", ss)
	}
	if code, body, _ := post(t, c, srv+"/incidents/"+id+"/note", formOf("csrf", tok, "text", "optics swapped")); code != http.StatusSeeOther {
		t.Fatalf("note: %d\n%s", code, body)
	}
	if code, body, _ := post(t, c, srv+"/incidents/"+id+"/resolve", formOf("csrf", tok)); code != http.StatusSeeOther {
		t.Fatalf("resolve: %d\n%s", code, body)
	}
	step(0)
	if code, body, _ := post(t, c, srv+"/incidents/"+id+"/resolve", formOf("csrf", tok)); code != http.StatusConflict || !strings.Contains(body, "resolved") {
		t.Errorf("resolving twice: %d, want 409:\n%s", code, body)
	}
	if code, _, _ := post(t, c, srv+"/incidents/inc-nope/ack", formOf("csrf", tok)); code != http.StatusNotFound {
		t.Errorf("ack of an unknown incident: %d, want 404", code)
	}
	_, page, _ = get(t, c, srv+"/incidents/"+id)
	for _, want := range []string{"acknowledged by user:anonymous", "optics swapped", `id="incident-state">resolved<`} {
		if !strings.Contains(page, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
}
