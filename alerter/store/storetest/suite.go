package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Run runs the suite against the stores open makes. open must return a new,
// empty store each call; Run closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Incidents", testIncidents},
		{"IncidentConflicts", testIncidentConflicts},
		{"ListIncidents", testListIncidents},
		{"Alerts", testAlerts},
		{"AlertBatches", testAlertBatches},
		{"Events", testEvents},
		{"Silences", testSilences},
		{"Outbox", testOutbox},
		{"OutboxOrder", testOutboxOrder},
		{"ConcurrentClaimers", testConcurrentClaimers},
		{"RemediationRuns", testRemediationRuns},
		{"Transactions", testTransactions},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"JSONRoundTrip", testJSONRoundTrip},
		{"Times", testTimes},
		{"Leases", testLeases},
		{"ObserveAlerts", testObserveAlerts},
		{"AlertLabelFilter", testAlertLabelFilter},
		{"RemediationFields", testRemediationFields},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// t0 has nanoseconds so a store that rounds times fails.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// update runs fn in a transaction and fails the test on error.
func update(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// must(f())(t) returns f's value, or stops the test on f's error.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// equal fails the test when got and want differ, showing both as JSON.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

func incident(id, group string, created time.Time) store.Incident {
	return store.Incident{
		ID: id, GroupKey: group, Route: "/0/1", Receiver: "pagerduty-dc1",
		Title: "switch sw-r12 port Et49 down", Cause: "switch sw-r12", Severity: "critical",
		State:      store.Triggered,
		Labels:     map[string]string{"rack": "R12", "site": "dc1"},
		AlertCount: 40, FiringCount: 39,
		CreatedAt: created, UpdatedAt: created.Add(time.Second), Version: 1,
	}
}

func testIncidents(t *testing.T, s store.Store) {
	ctx := context.Background()
	inc := incident("01J0000000000000000000000A", "grp-a", t0)
	inc.Assignee = "alice"
	inc.AcknowledgedAt = t0.Add(time.Minute)
	inc.LastNotifiedAt = t0.Add(2 * time.Second)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateIncident(ctx, inc) })

	got := must(s.GetIncident(ctx, inc.ID))(t)
	equal(t, "stored incident", got, inc)

	_, err := s.GetIncident(ctx, "no-such-incident")
	wantErr(t, "get missing incident", err, store.ErrNotFound)

	err = s.Update(ctx, func(tx store.Tx) error {
		dup := incident(inc.ID, "grp-other", t0)
		return tx.CreateIncident(ctx, dup)
	})
	wantErr(t, "create with a used id", err, store.ErrConflict)

	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateIncident(ctx, incident("01J0000000000000000000000B", "grp-a", t0))
	})
	wantErr(t, "second open incident of one group", err, store.ErrConflict)

	err = s.Update(ctx, func(tx store.Tx) error { return tx.CreateIncident(ctx, store.Incident{GroupKey: "x"}) })
	if err == nil {
		t.Error("create incident without id: no error")
	}

	update(t, s, func(ctx context.Context, tx store.Tx) error {
		open, err := tx.OpenIncident(ctx, "grp-a")
		if err != nil {
			return err
		}
		equal(t, "open incident of grp-a", open, inc)
		_, err = tx.OpenIncident(ctx, "grp-none")
		wantErr(t, "open incident of an unknown group", err, store.ErrNotFound)

		open.State = store.Resolved
		open.ResolvedAt = t0.Add(time.Hour)
		if _, err := tx.UpdateIncident(ctx, open); err != nil {
			return err
		}
		_, err = tx.OpenIncident(ctx, "grp-a")
		wantErr(t, "open incident of grp-a after resolve", err, store.ErrNotFound)
		// The group may open a new incident once the old one resolved.
		return tx.CreateIncident(ctx, incident("01J0000000000000000000000C", "grp-a", t0.Add(2*time.Hour)))
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		open, err := tx.OpenIncident(ctx, "grp-a")
		if err != nil {
			return err
		}
		if open.ID != "01J0000000000000000000000C" {
			t.Errorf("open incident of grp-a = %s, want the new one", open.ID)
		}
		return nil
	})
}

func testIncidentConflicts(t *testing.T, s store.Store) {
	ctx := context.Background()
	inc := incident("inc-1", "grp", t0)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateIncident(ctx, inc) })

	stale := must(s.GetIncident(ctx, inc.ID))(t)
	var updated store.Incident
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		next := stale
		next.State, next.Assignee, next.AcknowledgedAt = store.Acknowledged, "bob", t0.Add(time.Minute)
		var err error
		updated, err = tx.UpdateIncident(ctx, next)
		return err
	})
	if updated.Version != stale.Version+1 {
		t.Errorf("version after update = %d, want %d", updated.Version, stale.Version+1)
	}
	got := must(s.GetIncident(ctx, inc.ID))(t)
	equal(t, "incident after update", got, updated)

	err := s.Update(ctx, func(tx store.Tx) error {
		next := stale
		next.Title = "lost update"
		_, err := tx.UpdateIncident(ctx, next)
		return err
	})
	wantErr(t, "update from a stale version", err, store.ErrConflict)
	equal(t, "incident after refused update", must(s.GetIncident(ctx, inc.ID))(t), updated)

	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.UpdateIncident(ctx, incident("inc-missing", "g", t0))
		return err
	})
	wantErr(t, "update of a missing incident", err, store.ErrNotFound)

	// Two open incidents may not share a group key through an update either.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateIncident(ctx, incident("inc-2", "grp-2", t0))
	})
	err = s.Update(ctx, func(tx store.Tx) error {
		other := must(tx.GetIncident(ctx, "inc-2"))(t)
		other.GroupKey = "grp"
		_, err := tx.UpdateIncident(ctx, other)
		return err
	})
	wantErr(t, "update onto an open group", err, store.ErrConflict)
}

func testListIncidents(t *testing.T, s store.Store) {
	ctx := context.Background()
	mk := func(id string, st store.IncidentState, min int, recv string, labels map[string]string) store.Incident {
		inc := incident(id, "g-"+id, t0.Add(time.Duration(min)*time.Minute))
		inc.State, inc.Receiver, inc.Labels = st, recv, labels
		return inc
	}
	all := []store.Incident{
		mk("a", store.Triggered, 0, "pd", map[string]string{"site": "dc1", "rack": "R1"}),
		mk("b", store.Acknowledged, 1, "pd", map[string]string{"site": "dc1", "rack": "R2"}),
		mk("c", store.Resolved, 2, "slack", map[string]string{"site": "dc2", "rack": "R1"}),
		mk("d", store.Triggered, 3, "slack", map[string]string{"site": "dc2"}),
		mk("e", store.Resolved, 4, "pd", nil),
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, inc := range all {
			if err := tx.CreateIncident(ctx, inc); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		name string
		f    store.IncidentFilter
		want []string
	}{
		{"all, newest first", store.IncidentFilter{}, []string{"e", "d", "c", "b", "a"}},
		{"open states", store.IncidentFilter{States: []store.IncidentState{store.Triggered, store.Acknowledged}}, []string{"d", "b", "a"}},
		{"resolved", store.IncidentFilter{States: []store.IncidentState{store.Resolved}}, []string{"e", "c"}},
		{"one label", store.IncidentFilter{Labels: map[string]string{"site": "dc1"}}, []string{"b", "a"}},
		{"two labels", store.IncidentFilter{Labels: map[string]string{"site": "dc2", "rack": "R1"}}, []string{"c"}},
		{"label no match", store.IncidentFilter{Labels: map[string]string{"site": "dc9"}}, nil},
		{"empty label value is not absent", store.IncidentFilter{Labels: map[string]string{"rack": ""}}, nil},
		{"receiver", store.IncidentFilter{Receiver: "slack"}, []string{"d", "c"}},
		{"since", store.IncidentFilter{Since: t0.Add(3 * time.Minute)}, []string{"e", "d"}},
		{"until", store.IncidentFilter{Until: t0.Add(1 * time.Minute)}, []string{"a"}},
		{"window", store.IncidentFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{"c", "b"}},
		{"limit", store.IncidentFilter{Limit: 2}, []string{"e", "d"}},
		{"limit after label filter", store.IncidentFilter{Labels: map[string]string{"rack": "R1"}, Limit: 1}, []string{"c"}},
		{"state and receiver", store.IncidentFilter{States: []store.IncidentState{store.Triggered}, Receiver: "pd"}, []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := must(s.ListIncidents(ctx, tc.f))(t)
			var ids []string
			for _, inc := range got {
				ids = append(ids, inc.ID)
			}
			equal(t, "incident ids", ids, tc.want)
		})
	}
	// A listed incident is the whole incident.
	got := must(s.ListIncidents(ctx, store.IncidentFilter{Receiver: "pd", States: []store.IncidentState{store.Acknowledged}}))(t)
	if len(got) == 1 {
		equal(t, "listed incident", got[0], all[1])
	}
}

func alert(fp string, incID string, starts, ends time.Time) store.Alert {
	return store.Alert{
		Fingerprint: fp,
		Labels:      map[string]string{"alertname": "HostDown", "instance": fp + ":9100", "rack": "R12"},
		Annotations: map[string]string{"summary": "host " + fp + " unreachable"},
		StartsAt:    starts, EndsAt: ends,
		GeneratorURL: "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0",
		UpdatedAt:    starts.Add(time.Second),
		IncidentID:   incID,
	}
}

func testAlerts(t *testing.T, s store.Store) {
	ctx := context.Background()
	a1 := alert("0000000000000001", "inc-1", t0, time.Time{})
	a2 := alert("0000000000000002", "inc-1", t0.Add(time.Minute), t0.Add(10*time.Minute))
	a3 := alert("0000000000000003", "", t0.Add(2*time.Minute), t0.Add(time.Hour))
	a3.Suppressed = "silenced:s-1"
	a4 := alert("0000000000000004", "inc-2", t0.Add(3*time.Minute), t0.Add(5*time.Minute))
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, a := range []store.Alert{a1, a2, a3, a4} {
			if err := tx.PutAlert(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	// Replacing by fingerprint: the re-sent alert with a new EndsAt.
	a2.EndsAt = t0.Add(20 * time.Minute)
	a2.Annotations["summary"] = "still down"
	a2.UpdatedAt = t0.Add(15 * time.Minute)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutAlert(ctx, a2) })

	err := s.Update(ctx, func(tx store.Tx) error { return tx.PutAlert(ctx, store.Alert{}) })
	if err == nil {
		t.Error("put alert without fingerprint: no error")
	}

	fps := func(as []store.Alert) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Fingerprint)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.AlertFilter
		want []string
	}{
		{"all by start", store.AlertFilter{}, []string{a1.Fingerprint, a2.Fingerprint, a3.Fingerprint, a4.Fingerprint}},
		{"incident", store.AlertFilter{IncidentID: "inc-1"}, []string{a1.Fingerprint, a2.Fingerprint}},
		{"no incident", store.AlertFilter{IncidentID: "inc-none"}, nil},
		{"active at +6m", store.AlertFilter{Active: t0.Add(6 * time.Minute)}, []string{a1.Fingerprint, a2.Fingerprint, a3.Fingerprint}},
		{"active at +30m", store.AlertFilter{Active: t0.Add(30 * time.Minute)}, []string{a1.Fingerprint, a3.Fingerprint}},
		{"active at the end instant is resolved", store.AlertFilter{Active: t0.Add(time.Hour)}, []string{a1.Fingerprint}},
		{"fingerprints", store.AlertFilter{Fingerprint: []string{a4.Fingerprint, a2.Fingerprint, "ffffffffffffffff"}}, []string{a2.Fingerprint, a4.Fingerprint}},
		{"limit", store.AlertFilter{Limit: 2}, []string{a1.Fingerprint, a2.Fingerprint}},
		{"incident and active", store.AlertFilter{IncidentID: "inc-1", Active: t0.Add(30 * time.Minute)}, []string{a1.Fingerprint}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			equal(t, "fingerprints", fps(must(s.ListAlerts(ctx, tc.f))(t)), tc.want)
		})
	}
	got := must(s.ListAlerts(ctx, store.AlertFilter{Fingerprint: []string{a2.Fingerprint}}))(t)
	if len(got) == 1 {
		equal(t, "replaced alert", got[0], a2)
	}
	got = must(s.ListAlerts(ctx, store.AlertFilter{Fingerprint: []string{a3.Fingerprint}}))(t)
	if len(got) == 1 {
		equal(t, "suppressed alert", got[0], a3)
	}

	// Retention: resolved alerts ended before the cut go, firing ones stay.
	var n int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.DeleteAlerts(ctx, t0.Add(21*time.Minute))
		return err
	})
	if n != 2 {
		t.Errorf("DeleteAlerts removed %d, want 2 (a2, a4)", n)
	}
	equal(t, "alerts after retention", fps(must(s.ListAlerts(ctx, store.AlertFilter{}))(t)), []string{a1.Fingerprint, a3.Fingerprint})
}

// testAlertBatches: PutAlerts, where the Tx offers it, stores what PutAlert
// of each would: more rows than one statement takes, a fingerprint twice.
func testAlertBatches(t *testing.T, s store.Store) {
	ctx := context.Background()
	var as []store.Alert
	for i := range 250 {
		as = append(as, alert(fmt.Sprintf("%016x", i), "inc-b", t0.Add(time.Duration(i)*time.Second), time.Time{}))
	}
	again := alert(fmt.Sprintf("%016x", 7), "inc-b", t0.Add(7*time.Second), t0.Add(time.Hour))
	again.Annotations = map[string]string{"summary": "the later copy wins"}
	as = append(as, again)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		b, ok := tx.(store.AlertBatchPutter)
		if !ok {
			t.Skip("this store's Tx has no PutAlerts")
		}
		if err := b.PutAlerts(ctx, nil); err != nil {
			return err
		}
		return b.PutAlerts(ctx, as)
	})
	got := must(s.ListAlerts(ctx, store.AlertFilter{IncidentID: "inc-b"}))(t)
	want := append([]store.Alert{}, as[:250]...)
	want[7] = again
	equal(t, "alerts put in batches", got, want)

	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.(store.AlertBatchPutter).PutAlerts(ctx, []store.Alert{alert("00000000000000ff", "", t0, time.Time{}), {}})
	})
	if err == nil {
		t.Error("batch with an alert without fingerprint: no error")
	}
	if n := len(must(s.ListAlerts(ctx, store.AlertFilter{Fingerprint: []string{"00000000000000ff"}}))(t)); n != 0 {
		t.Errorf("a refused batch stored %d alerts", n)
	}
}

func testSilences(t *testing.T, s store.Store) {
	ctx := context.Background()
	s1 := store.Silence{
		ID: "8c5e2a4e-0000-4000-8000-000000000001",
		Matchers: []store.Matcher{
			{Name: "rack", Value: "R12", IsEqual: true},
			{Name: "alertname", Value: "Host.*|Node.*", IsRegex: true, IsEqual: true},
			{Name: "severity", Value: "info", IsEqual: false},
		},
		StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(3 * time.Hour),
		CreatedBy: "alice", Comment: "rack R12 recabling — ticket OPS-1", UpdatedAt: t0,
	}
	s2 := store.Silence{ID: "s-2", Matchers: []store.Matcher{{Name: "site", Value: "dc2", IsEqual: true}},
		StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "bob", UpdatedAt: t0}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutSilence(ctx, s1); err != nil {
			return err
		}
		if err := tx.PutSilence(ctx, s2); err != nil {
			return err
		}
		got, err := tx.GetSilence(ctx, s1.ID)
		if err != nil {
			return err
		}
		equal(t, "silence read in its transaction", got, s1)
		_, err = tx.GetSilence(ctx, "no-such-silence")
		wantErr(t, "get missing silence", err, store.ErrNotFound)
		return nil
	})
	equal(t, "silences by start", must(s.ListSilences(ctx))(t), []store.Silence{s2, s1})

	// Expiring a silence replaces it by ID.
	s1.EndsAt, s1.UpdatedAt = t0.Add(90*time.Minute), t0.Add(90*time.Minute)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSilence(ctx, s1) })
	equal(t, "silences after expiry", must(s.ListSilences(ctx))(t), []store.Silence{s2, s1})

	err := s.Update(ctx, func(tx store.Tx) error { return tx.PutSilence(ctx, store.Silence{}) })
	if err == nil {
		t.Error("put silence without id: no error")
	}
}

func testRemediationRuns(t *testing.T, s store.Store) {
	ctx := context.Background()
	runs := []store.RemediationRun{
		{IncidentID: "inc-1", Action: "drain", Target: "srv-001", Status: "succeeded", Actor: "fleetwatch", CreatedAt: t0, FinishedAt: t0.Add(time.Minute), Output: "drained"},
		{IncidentID: "inc-1", Action: "reimage", Target: "srv-002", Status: "skipped", Reason: "blast radius: 38 servers in rack R12 > 5", Actor: "fleetwatch", CreatedAt: t0.Add(time.Minute)},
		{IncidentID: "inc-2", Action: "drain", Target: "srv-001", Status: "awaiting_approval", Actor: "fleetwatch", DryRun: true, CreatedAt: t0.Add(2 * time.Hour)},
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var last int64
		for i := range runs {
			id, err := tx.AddRemediationRun(ctx, runs[i])
			if err != nil {
				return err
			}
			if id <= last {
				t.Errorf("run id %d after %d: ids must increase", id, last)
			}
			runs[i].ID, last = id, id
		}
		return nil
	})
	ids := func(rs []store.RemediationRun) []int64 {
		var out []int64
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.RemediationFilter
		want []int64
	}{
		{"all", store.RemediationFilter{}, []int64{runs[0].ID, runs[1].ID, runs[2].ID}},
		{"incident", store.RemediationFilter{IncidentID: "inc-1"}, []int64{runs[0].ID, runs[1].ID}},
		{"action", store.RemediationFilter{Action: "drain"}, []int64{runs[0].ID, runs[2].ID}},
		{"cooldown: target since", store.RemediationFilter{Target: "srv-001", Since: t0.Add(time.Hour)}, []int64{runs[2].ID}},
		{"statuses", store.RemediationFilter{Statuses: []string{"skipped", "awaiting_approval"}}, []int64{runs[1].ID, runs[2].ID}},
		{"limit", store.RemediationFilter{Limit: 1}, []int64{runs[0].ID}},
		{"no match", store.RemediationFilter{Action: "decommission"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			equal(t, "run ids", ids(must(s.ListRemediationRuns(ctx, tc.f))(t)), tc.want)
		})
	}
	equal(t, "stored runs", must(s.ListRemediationRuns(ctx, store.RemediationFilter{}))(t), runs)

	runs[2].Status, runs[2].Actor, runs[2].FinishedAt = "succeeded", "user:alice", t0.Add(3*time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateRemediationRun(ctx, runs[2]) })
	equal(t, "updated run", must(s.ListRemediationRuns(ctx, store.RemediationFilter{IncidentID: "inc-2"}))(t), runs[2:])

	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.UpdateRemediationRun(ctx, store.RemediationRun{ID: 999999, Status: "failed"})
	})
	wantErr(t, "update of a missing run", err, store.ErrNotFound)
}

func dataJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return b
}
