package alerter

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a notifier that keeps every message, failing while fail
// returns an error.
type recorder struct {
	mu   sync.Mutex
	msgs []notify.Message
	fail func(m notify.Message) (bool, error)
	errs int
}

func (r *recorder) Notify(_ context.Context, m notify.Message) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if retry, err := r.fail(m); err != nil {
			r.errs++
			return retry, err
		}
	}
	r.msgs = append(r.msgs, m)
	return false, nil
}

func (r *recorder) Messages() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.msgs...)
}

func (r *recorder) actions() []string {
	var out []string
	for _, m := range r.Messages() {
		out = append(out, m.Action)
	}
	return out
}

type harness struct {
	t     *testing.T
	e     *Engine
	st    *sqlstore.Store
	clock *clock
	rec   map[string]*recorder
	reg   *prometheus.Registry
	path  string
}

// newHarness builds an engine on SQLite in a temporary directory with a
// fake clock and recording notifiers for every receiver of cfgYAML.
func newHarness(t *testing.T, cfgYAML string, inv *inventory.Inventory, opts ...func(*Options)) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "alerter.db")
	return openHarness(t, path, cfgYAML, inv, newClock(), opts...)
}

func openHarness(t *testing.T, path, cfgYAML string, inv *inventory.Inventory, c *clock, opts ...func(*Options)) *harness {
	t.Helper()
	cfg, err := ParseConfig("alerting.yml", []byte(cfgYAML))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	st, err := sqlstore.OpenSQLite(path, sqlstore.Options{Synchronous: sqlstore.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, st: st, clock: c, rec: map[string]*recorder{}, reg: prometheus.NewRegistry(), path: path}
	nfs := map[string]notify.Notifier{}
	for _, n := range cfg.ReceiverNames() {
		h.rec[n] = &recorder{}
		nfs[n] = h.rec[n]
	}
	o := Options{Config: cfg, Store: st, Notifiers: nfs, Now: c.Now, Registerer: h.reg, ExternalURL: "http://fleetwatch.test"}
	if inv != nil {
		o.Inventory = func() *inventory.Inventory { return inv }
	}
	for _, f := range opts {
		f(&o)
	}
	h.e, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.e.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

// post sends alerts with the given label sets, firing, EndsAt in 1h.
func (h *harness) post(lsets ...map[string]string) {
	h.t.Helper()
	var as []store.Alert
	now := h.clock.Now()
	for _, ls := range lsets {
		as = append(as, store.Alert{Labels: ls, Annotations: map[string]string{"summary": "s"}, StartsAt: now, EndsAt: now.Add(time.Hour)})
	}
	if err := h.e.PostAlerts(context.Background(), as); err != nil {
		h.t.Fatal(err)
	}
}

// resolve sends the label sets as resolved now.
func (h *harness) resolve(lsets ...map[string]string) {
	h.t.Helper()
	var as []store.Alert
	now := h.clock.Now()
	for _, ls := range lsets {
		as = append(as, store.Alert{Labels: ls, Annotations: map[string]string{"summary": "s"}, StartsAt: now.Add(-time.Hour), EndsAt: now})
	}
	if err := h.e.PostAlerts(context.Background(), as); err != nil {
		h.t.Fatal(err)
	}
}

// step advances the clock, fires due timers and delivers the outbox.
func (h *harness) step(d time.Duration) {
	h.t.Helper()
	h.clock.Advance(d)
	ctx := context.Background()
	if err := h.e.Sweep(ctx); err != nil {
		h.t.Fatal(err)
	}
	if err := h.e.FlushDue(ctx); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.e.DeliverDue(ctx); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) incidents(states ...store.IncidentState) []store.Incident {
	h.t.Helper()
	incs, err := h.st.ListIncidents(context.Background(), store.IncidentFilter{States: states})
	if err != nil {
		h.t.Fatal(err)
	}
	return incs
}

func (h *harness) timeline(id string) []store.TimelineEvent {
	h.t.Helper()
	evs, err := h.st.ListEvents(context.Background(), store.EventFilter{IncidentID: id})
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

func kinds(evs []store.TimelineEvent) map[string]int {
	m := map[string]int{}
	for _, e := range evs {
		m[e.Kind]++
	}
	return m
}

func ls(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var errDown = errors.New("connection refused")
