package remediate

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// openStore opens a fresh SQLite store in a temporary directory.
func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "alerter.db"), sqlstore.Options{Synchronous: sqlstore.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clock is a settable clock for the engine.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)} }

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

// testFleet: site dc1 with racks R12 and R13 of 40 servers each
// (srv-r12-01 … srv-r12-40 behind switch sw-r12), rack R14 of 4 servers,
// site dc2 with rack R1 of 2 servers, plus odd ones: srv-maint (in
// maintenance) and srv-nobmc (no BMC), both in rack R99 of dc1.
func testFleet() *InventoryFleet {
	inv := &inventory.Inventory{}
	add := func(site, rack string, n int, sw string) {
		for i := 1; i <= n; i++ {
			h := fmt.Sprintf("srv-%s-%02d", strings.ToLower(rack), i)
			inv.Servers = append(inv.Servers, inventory.Server{
				Hostname: h, Address: h, BMC: h + "-bmc",
				Location:   inventory.Location{Site: site, Row: "A", Rack: rack},
				Switch:     sw,
				SwitchPort: fmt.Sprintf("Et%d", i),
				Lifecycle:  inventory.InService,
			})
		}
	}
	add("dc1", "R12", 40, "sw-r12")
	add("dc1", "R13", 40, "sw-r13")
	add("dc1", "R14", 4, "sw-r14")
	add("dc2", "R1", 2, "sw-dc2-r1")
	inv.Servers = append(inv.Servers,
		inventory.Server{Hostname: "srv-maint", BMC: "srv-maint-bmc", Location: inventory.Location{Site: "dc1", Rack: "R99"}, Lifecycle: inventory.Maintenance},
		inventory.Server{Hostname: "srv-nobmc", Location: inventory.Location{Site: "dc1", Rack: "R99"}, Lifecycle: inventory.InService},
	)
	return NewInventoryFleet(inv)
}

func mustParse(t testing.TB, yml string) *Config {
	t.Helper()
	c, err := Parse("test.yml", []byte(yml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return c
}

// newEngine builds an engine over st with the config, the test fleet and
// the clock; mod adjusts the options.
func newEngine(t testing.TB, st store.Store, clk *clock, yml string, mod ...func(*Options)) *Engine {
	t.Helper()
	o := Options{Store: st, Config: mustParse(t, yml), Fleet: testFleet(), Now: clk.Now, PollInterval: 5 * time.Millisecond}
	for _, m := range mod {
		m(&o)
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// firing returns a firing alert on server with alertname and extra labels
// (pairs).
func firing(clk *clock, server, alertname string, extra ...string) store.Alert {
	ls := map[string]string{"alertname": alertname}
	if server != "" {
		ls["server"] = server
	}
	for i := 0; i+1 < len(extra); i += 2 {
		ls[extra[i]] = extra[i+1]
	}
	lset := model.LabelSet{}
	for k, v := range ls {
		lset[model.LabelName(k)] = model.LabelValue(v)
	}
	now := clk.Now()
	return store.Alert{
		Fingerprint: lset.Fingerprint().String(),
		Labels:      ls,
		Annotations: map[string]string{"summary": alertname + " on " + server},
		StartsAt:    now.Add(-time.Minute),
		UpdatedAt:   now,
	}
}

// openIncident stores an incident with its alerts and calls OnIncident in
// the same transaction, as the engine does.
func openIncident(t testing.TB, st store.Store, e *Engine, id string, alerts ...store.Alert) store.Incident {
	t.Helper()
	now := e.now()
	inc := store.Incident{
		ID: id, GroupKey: "{}:" + id, Route: "/", Receiver: "pager", Title: "test " + id,
		Severity: "critical", State: store.Triggered, Labels: map[string]string{},
		AlertCount: len(alerts), FiringCount: len(alerts), CreatedAt: now, UpdatedAt: now,
	}
	err := st.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.CreateIncident(context.Background(), inc); err != nil {
			return err
		}
		for i := range alerts {
			alerts[i].IncidentID = id
			if err := tx.PutAlert(context.Background(), alerts[i]); err != nil {
				return err
			}
		}
		return e.OnIncident(context.Background(), tx, inc, alerts)
	})
	if err != nil {
		t.Fatalf("open incident %s: %v", id, err)
	}
	return inc
}

// resolveAlerts ends the given alerts now (and the incident when all is
// true), calling the engine in the same transaction.
func resolveAlerts(t testing.TB, st store.Store, e *Engine, incID string, all bool, alerts ...store.Alert) {
	t.Helper()
	ctx := context.Background()
	err := st.Update(ctx, func(tx store.Tx) error {
		for _, a := range alerts {
			a.IncidentID = incID
			a.EndsAt = e.now().Add(-time.Second)
			if err := tx.PutAlert(ctx, a); err != nil {
				return err
			}
		}
		if !all {
			return nil
		}
		inc, err := tx.GetIncident(ctx, incID)
		if err != nil {
			return err
		}
		inc.State, inc.ResolvedAt = store.Resolved, e.now()
		if inc, err = tx.UpdateIncident(ctx, inc); err != nil {
			return err
		}
		return e.OnIncident(ctx, tx, inc, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func listRuns(t testing.TB, st store.Store, f store.RemediationFilter) []store.RemediationRun {
	t.Helper()
	runs, err := st.ListRemediationRuns(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func listEvents(t testing.TB, st store.Store, incID string, kinds ...string) []store.TimelineEvent {
	t.Helper()
	evs, err := st.ListEvents(context.Background(), store.EventFilter{IncidentID: incID, Kinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// addRun stores an audit record as an earlier run would have left it.
func addRun(t testing.TB, st store.Store, r store.RemediationRun) int64 {
	t.Helper()
	var id int64
	err := st.Update(context.Background(), func(tx store.Tx) error {
		var err error
		id, err = tx.AddRemediationRun(context.Background(), r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// startWorker runs the engine's worker until the test ends.
func startWorker(t testing.TB, e *Engine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitRun waits (bounded) until the run has one of the statuses and
// returns it.
func waitRun(t testing.TB, st store.Store, id int64, statuses ...string) store.RemediationRun {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last store.RemediationRun
	for time.Now().Before(deadline) {
		for _, r := range listRuns(t, st, store.RemediationFilter{}) {
			if r.ID == id {
				last = r
				for _, s := range statuses {
					if r.Status == s {
						return r
					}
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("run %d: status %q (reason %q), want one of %v", id, last.Status, last.Reason, statuses)
	return last
}
