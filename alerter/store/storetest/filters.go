package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// testAlertLabelFilter checks AlertFilter.Labels: every pair must match
// exactly, with the other filters and the limit.
func testAlertLabelFilter(t *testing.T, s store.Store) {
	ctx := context.Background()
	mk := func(fp string, kv ...string) store.Alert {
		ls := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			ls[kv[i]] = kv[i+1]
		}
		return store.Alert{Fingerprint: fp, Labels: ls, Annotations: map[string]string{}, StartsAt: t0.Add(time.Duration(len(fp)) * time.Second),
			EndsAt: t0.Add(time.Hour), UpdatedAt: t0}
	}
	alerts := []store.Alert{
		mk("a1", "alertname", "HostDown", "rack", "R12", "site", "fra"),
		mk("a22", "alertname", "HostDown", "rack", "R13", "site", "fra"),
		mk("a333", "alertname", "DiskFull", "rack", "R12", "site", "ams"),
		mk("a4444", "alertname", "HostDown", "rack", "R12", "site", "fra", `we"ird\key`, "x"),
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, a := range alerts {
			if err := tx.PutAlert(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	cases := []struct {
		name string
		f    store.AlertFilter
		want []string
	}{
		{"one label", store.AlertFilter{Labels: map[string]string{"rack": "R12"}}, []string{"a1", "a333", "a4444"}},
		{"two labels", store.AlertFilter{Labels: map[string]string{"rack": "R12", "alertname": "HostDown"}}, []string{"a1", "a4444"}},
		{"no match", store.AlertFilter{Labels: map[string]string{"rack": "R99"}}, nil},
		{"missing label never matches", store.AlertFilter{Labels: map[string]string{"pdu": ""}}, nil},
		{"odd key", store.AlertFilter{Labels: map[string]string{`we"ird\key`: "x"}}, []string{"a4444"}},
		{"with fingerprints", store.AlertFilter{Labels: map[string]string{"site": "fra"}, Fingerprint: []string{"a22", "a333"}}, []string{"a22"}},
		{"with limit", store.AlertFilter{Labels: map[string]string{"site": "fra"}, Limit: 2}, []string{"a1", "a22"}},
		{"value is exact, not a pattern", store.AlertFilter{Labels: map[string]string{"rack": "R1%"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAlerts(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var fps []string
			for _, a := range got {
				fps = append(fps, a.Fingerprint)
			}
			equal(t, "fingerprints", fps, tc.want)
		})
	}
}

// testRemediationFields checks RemediationRun.StartedAt round trips and
// RemediationFilter.ID selects one run.
func testRemediationFields(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := store.RemediationRun{IncidentID: "inc-1", Action: "drain", Target: "h1", Status: "proposed", Actor: "fleetwatch", CreatedAt: t0}
	var ids []int64
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for range 3 {
			id, err := tx.AddRemediationRun(ctx, run)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	got := must(s.ListRemediationRuns(ctx, store.RemediationFilter{ID: ids[1]}))(t)
	if len(got) != 1 || got[0].ID != ids[1] || !got[0].StartedAt.IsZero() {
		t.Fatalf("filter by ID %d: %+v, want that run, not started", ids[1], got)
	}
	started := got[0]
	started.Status, started.StartedAt = "verifying", t0.Add(90*time.Second)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateRemediationRun(ctx, started) })
	got = must(s.ListRemediationRuns(ctx, store.RemediationFilter{ID: ids[1], Statuses: []string{"verifying"}}))(t)
	if len(got) != 1 {
		t.Fatalf("filter by ID and status: %+v", got)
	}
	equal(t, "started run", got[0], started)
	if n := len(must(s.ListRemediationRuns(ctx, store.RemediationFilter{ID: ids[2] + 100}))(t)); n != 0 {
		t.Errorf("unknown ID: %d runs, want 0", n)
	}
	added := run
	added.StartedAt = t0.Add(time.Second)
	var id int64
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		id, err = tx.AddRemediationRun(ctx, added)
		return err
	})
	added.ID = id
	got = must(s.ListRemediationRuns(ctx, store.RemediationFilter{ID: id}))(t)
	if len(got) != 1 {
		t.Fatalf("run %d: %+v", id, got)
	}
	equal(t, "run added with StartedAt", got[0], added)
}
