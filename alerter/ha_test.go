package alerter

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
	"github.com/fleetwatch/fleetwatch/alerter/store/storetest"
)

const haConfig = `
route:
  receiver: pd
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: pd
outbox:
  lease: 1s
`

// haInstance is one engine on its own connection pool to the shared
// database, as one fleetwatch process would have.
type haInstance struct {
	e    *Engine
	rec  *recorder
	reg  *prometheus.Registry
	stop context.CancelFunc
	done chan struct{}
}

func startHAInstance(t *testing.T, dsn, owner string) *haInstance {
	t.Helper()
	cfg, err := ParseConfig("alerting.yml", []byte(haConfig))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.OpenPostgres(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	in := &haInstance{rec: &recorder{}, reg: prometheus.NewRegistry(), done: make(chan struct{})}
	in.e, err = New(Options{
		Config: cfg, Store: st, Notifiers: map[string]notify.Notifier{"pd": in.rec}, Registerer: in.reg, Owner: owner,
		SweepInterval: 100 * time.Millisecond,
		HA:            HAOptions{LeaseTTL: 2 * time.Second, RetryInterval: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.stop = cancel
	go func() { defer close(in.done); _ = in.e.Run(ctx) }()
	t.Cleanup(in.shutdown)
	return in
}

func (in *haInstance) shutdown() {
	in.stop()
	<-in.done
}

func (in *haInstance) post(t *testing.T, endsAt time.Time, lsets ...map[string]string) {
	t.Helper()
	var as []store.Alert
	for _, l := range lsets {
		as = append(as, store.Alert{Labels: l, Annotations: map[string]string{"summary": "s"}, StartsAt: time.Now().Add(-time.Minute), EndsAt: endsAt})
	}
	if err := in.e.PostAlerts(context.Background(), as); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countActions(recs ...*recorder) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		for _, a := range r.actions() {
			m[a]++
		}
	}
	return m
}

// TestHATwoInstances runs two engines on one PostgreSQL database, both
// given every alert: only the lease holder pages; the standby stores the
// alerts, refuses incident changes with ErrStandby, and its silences take
// effect on the active instance; after the active stops, the standby takes
// over without paging again and sends the resolve.
func TestHATwoInstances(t *testing.T) {
	pg := storetest.StartPostgres(t, storetest.PostgresOptions{})
	dsn := pg.NewDatabase(t)
	a := startHAInstance(t, dsn, "instance-a")
	eventually(t, "a to become active", a.e.Active)
	b := startHAInstance(t, dsn, "instance-b")
	eventually(t, "b to see a as the active instance", func() bool { o, _ := b.e.ActiveInstance(); return o == "instance-a" })
	if b.e.Active() {
		t.Fatal("b is active while a holds the lease")
	}
	if got := testutil.ToFloat64(b.e.metrics.haActive); got != 0 {
		t.Errorf("b: fleetwatch_alerter_ha_active = %v, want 0", got)
	}

	x := ls("alertname", "HostDown", "instance", "x")
	firing := time.Now().Add(time.Hour)
	for _, in := range []*haInstance{a, b} {
		in.post(t, firing, x)
	}
	eventually(t, "a's trigger", func() bool { return len(a.rec.Messages()) == 1 })
	stored, err := b.e.Store().ListAlerts(context.Background(), store.AlertFilter{})
	if err != nil || len(stored) != 1 || stored[0].IncidentID == "" {
		t.Fatalf("stored alerts after both took X: %+v, %v; want one, in a's incident", stored, err)
	}
	incID := stored[0].IncidentID

	t.Run("standby refuses incident changes", func(t *testing.T) {
		_, err := b.e.Acknowledge(context.Background(), incID, "user:alice")
		if !errors.Is(err, ErrStandby) {
			t.Errorf("Acknowledge on the standby: %v, want ErrStandby", err)
		}
		if _, err := b.e.Resolve(context.Background(), incID, "user:alice", ""); !errors.Is(err, ErrStandby) {
			t.Errorf("Resolve on the standby: %v, want ErrStandby", err)
		}
	})

	t.Run("a silence made on the standby mutes on the active", func(t *testing.T) {
		id, err := b.e.PutSilence(context.Background(), store.Silence{
			Matchers: []store.Matcher{{Name: "alertname", Value: "Noisy", IsEqual: true}},
			StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour), CreatedBy: "alice", Comment: "known",
		})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "a to read the silence", func() bool { _, ok := a.e.Silence(id); return ok })
		noisy := ls("alertname", "Noisy", "instance", "n")
		for _, in := range []*haInstance{a, b} {
			in.post(t, firing, noisy)
		}
		var st string
		for _, v := range a.e.Alerts() {
			if v.Alert.Labels["alertname"] == "Noisy" {
				st = v.Alert.Suppressed
			}
		}
		if st != "silenced:"+id {
			t.Errorf("Noisy on the active instance: suppressed %q, want silenced:%s", st, id)
		}
	})

	// a stops (its lease is released): b takes over.
	a.shutdown()
	eventually(t, "b to take over", b.e.Active)
	if got := testutil.ToFloat64(b.e.metrics.haTakeovers); got != 1 {
		t.Errorf("b: takeovers %v, want 1", got)
	}
	b.post(t, time.Now().Add(-time.Second), x)
	eventually(t, "b's resolve", func() bool { return len(b.rec.Messages()) >= 1 })
	time.Sleep(300 * time.Millisecond) // a few more sweeps and outbox polls
	got := countActions(a.rec, b.rec)
	if got[notify.ActionTrigger] != 1 || got[notify.ActionResolve] != 1 || len(got) != 2 {
		t.Errorf("messages of both instances: %v, want one trigger (a) and one resolve (b)", got)
	}
	for _, m := range b.rec.Messages() {
		if m.IncidentID != incID {
			t.Errorf("b sent %s for incident %s, want %s", m.Action, m.IncidentID, incID)
		}
	}
}

// TestHALeaseLapse shows that an active instance whose lease lapses (its
// renewals failed) stops writing before another can take the lease.
func TestHALeaseLapse(t *testing.T) {
	pg := storetest.StartPostgres(t, storetest.PostgresOptions{})
	dsn := pg.NewDatabase(t)
	st, err := sqlstore.OpenPostgres(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := &haState{leases: st, ttl: 500 * time.Millisecond, retry: 50 * time.Millisecond, renew: 125 * time.Millisecond}
	ctx := context.Background()
	l, err := h.try(ctx, "me")
	if err != nil || l.Holder != "me" {
		t.Fatalf("try: %+v, %v", l, err)
	}
	if !h.valid() {
		t.Fatal("lease just taken is not valid")
	}
	// No renewal: locally invalid before anyone else can take it.
	var takenAt, invalidAt time.Time
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && (takenAt.IsZero() || invalidAt.IsZero()) {
		now := time.Now()
		if invalidAt.IsZero() && !h.valid() {
			invalidAt = now
		}
		if takenAt.IsZero() {
			if o, err := st.TryLease(ctx, leaseName, "other", time.Minute); err == nil && o.Holder == "other" {
				takenAt = time.Now()
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if takenAt.IsZero() || invalidAt.IsZero() {
		t.Fatalf("taken at %v, invalid at %v", takenAt, invalidAt)
	}
	if !invalidAt.Before(takenAt) {
		t.Errorf("the holder still believed it was active at %v, after another took the lease at %v", invalidAt, takenAt)
	}
}
