package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/storetest"
)

func openSQLite(t testing.TB) *Store {
	t.Helper()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "alerter.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openSQLite(t) })
}

func TestPostgres(t *testing.T) {
	pg := storetest.StartPostgres(t, storetest.PostgresOptions{})
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := OpenPostgres(context.Background(), pg.NewDatabase(t), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestPostgresSeveralInstances: two processes' stores on one database
// migrate together and never claim the same notification.
func TestPostgresSeveralInstances(t *testing.T) {
	pg := storetest.StartPostgres(t, storetest.PostgresOptions{})
	dsn := pg.NewDatabase(t)
	ctx := context.Background()
	type res struct {
		s   *Store
		err error
	}
	ch := make(chan res, 2)
	for range 2 {
		go func() {
			s, err := OpenPostgres(ctx, dsn, Options{MaxConns: 4})
			ch <- res{s, err}
		}()
	}
	var stores []*Store
	for range 2 {
		r := <-ch
		if r.err != nil {
			t.Fatalf("open while another instance migrates: %v", r.err)
		}
		stores = append(stores, r.s)
		t.Cleanup(func() { r.s.Close() })
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const total = 200
	err := stores[0].Update(ctx, func(tx store.Tx) error {
		for i := range total {
			if _, err := tx.Enqueue(ctx, store.Notification{IncidentID: fmt.Sprintf("inc-%d", i),
				Receiver: "pd", Action: "trigger", CreatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	done := make(chan []int64, 2)
	for i, s := range stores {
		go func() {
			var got []int64
			for {
				ns, err := s.ClaimNotifications(ctx, fmt.Sprintf("instance-%d", i), t0, time.Minute, 5)
				if err != nil {
					t.Error(err)
					break
				}
				if len(ns) == 0 {
					break
				}
				for _, n := range ns {
					got = append(got, n.ID)
					if err := s.FinishNotification(ctx, n.ID, t0, "", time.Time{}); err != nil {
						t.Error(err)
					}
				}
			}
			done <- got
		}()
	}
	per := []int{}
	for range 2 {
		ids := <-done
		per = append(per, len(ids))
		for _, id := range ids {
			seen[id]++
		}
	}
	if len(seen) != total {
		t.Errorf("%d distinct notifications claimed, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("notification %d claimed %d times", id, n)
		}
	}
	t.Logf("claims per instance: %v", per)
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerter.db")
	s, err := OpenSQLite(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = OpenSQLite(path, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{path, "999", fmt.Sprintf("knows up to %d", SchemaVersion("sqlite"))} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestMigrationsRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerter.db")
	for range 2 { // the second open finds nothing to do
		s, err := OpenSQLite(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var n, v int
		if err := s.r.QueryRow("SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		if want := SchemaVersion("sqlite"); n != want || v != want {
			t.Errorf("schema_migrations: %d rows, version %d; want %d rows, version %d", n, v, want, want)
		}
		s.Close()
	}
	if SchemaVersion("sqlite") != SchemaVersion("postgres") {
		t.Errorf("schema versions differ: sqlite %d postgres %d", SchemaVersion("sqlite"), SchemaVersion("postgres"))
	}
}

func TestSQLiteSettings(t *testing.T) {
	s := openSQLite(t)
	defer s.Close()
	var mode string
	var sync int
	if err := s.w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := s.w.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode %s synchronous %d, want wal and 2 (FULL)", mode, sync)
	}
	if _, err := s.r.Exec("DELETE FROM incidents"); err == nil {
		t.Error("the read pool accepted a write")
	}
	if _, err := OpenSQLite(filepath.Join(t.TempDir(), "x.db"), Options{Synchronous: "OFF"}); err == nil || !strings.Contains(err.Error(), "synchronous") {
		t.Errorf("synchronous=OFF: %v, want an error naming synchronous", err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		open func() error
		want []string
		not  string
	}{
		{"sqlite: missing directory", func() error {
			_, err := OpenSQLite(filepath.Join(t.TempDir(), "no", "such", "dir", "a.db"), Options{})
			return err
		}, []string{"a.db"}, ""},
		{"postgres: bad DSN keeps the password out", func() error {
			_, err := OpenPostgres(context.Background(), "postgres://fw:s3cr3t-pass@127.0.0.1:notaport/db", Options{})
			return err
		}, []string{"postgres", "invalid DSN"}, "s3cr3t-pass"},
		{"postgres: nobody listening", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := OpenPostgres(ctx, "postgres://fw:s3cr3t-pass@127.0.0.1:1/fleetwatch?sslmode=disable&connect_timeout=2", Options{})
			return err
		}, []string{"127.0.0.1:1/fleetwatch"}, "s3cr3t-pass"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.open()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if tc.not != "" && strings.Contains(err.Error(), tc.not) {
				t.Errorf("error %q shows %q", err, tc.not)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "a.db"), Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Enqueue(ctx, store.Notification{IncidentID: "i", Receiver: "pd", Action: "trigger", CreatedAt: t0})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "fleetwatch_store_update_duration_seconds"); err != nil || n != 1 {
		t.Errorf("update duration series: %d %v", n, err)
	}
	want := `
# HELP fleetwatch_store_outbox_pending_notifications Notifications waiting in the outbox (pending, due or not), counted at scrape time.
# TYPE fleetwatch_store_outbox_pending_notifications gauge
fleetwatch_store_outbox_pending_notifications{engine="sqlite"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fleetwatch_store_outbox_pending_notifications"); err != nil {
		t.Error(err)
	}
	ns, err := s.ClaimNotifications(ctx, "w", t0, time.Minute, 10)
	if err != nil || len(ns) != 1 {
		t.Fatalf("claim: %v %v", ns, err)
	}
	if err := s.FinishNotification(ctx, ns[0].ID, t0, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.metrics.claims); got != 1 {
		t.Errorf("claimed_total %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.metrics.finishes.WithLabelValues("sent")); got != 1 {
		t.Errorf("finished_total{outcome=sent} %v, want 1", got)
	}
	// A second store on the same registry is refused, not a panic.
	if _, err := OpenSQLite(filepath.Join(t.TempDir(), "b.db"), Options{Registerer: reg}); err == nil {
		t.Error("second store on one registry: no error")
	}
}

func TestPrune(t *testing.T) {
	s := openSQLite(t)
	defer s.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cut := t0.Add(24 * time.Hour)
	const oldEvents = pruneBatch + 17 // more than one batch
	var ids []int64
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := range oldEvents + 3 {
			at := t0.Add(time.Duration(i) * time.Second)
			if i >= oldEvents {
				at = cut.Add(time.Hour)
			}
			if _, err := tx.AddEvent(ctx, store.TimelineEvent{IncidentID: "inc", Time: at, Kind: store.EventNote}); err != nil {
				return err
			}
		}
		for _, inc := range []string{"sent", "failed", "pending", "recent"} {
			created := t0
			if inc == "recent" {
				created = cut.Add(time.Minute)
			}
			id, err := tx.Enqueue(ctx, store.Notification{IncidentID: inc, Receiver: "pd", Action: "trigger", CreatedAt: created})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		for _, a := range []store.Alert{
			{Fingerprint: "resolved-old", StartsAt: t0, EndsAt: t0.Add(time.Hour)},
			{Fingerprint: "firing", StartsAt: t0},
			{Fingerprint: "resolved-recent", StartsAt: t0, EndsAt: cut.Add(time.Hour)},
		} {
			if err := tx.PutAlert(ctx, a); err != nil {
				return err
			}
		}
		if _, err := tx.AddRemediationRun(ctx, store.RemediationRun{Action: "drain", CreatedAt: t0}); err != nil {
			return err
		}
		return tx.PutSilence(ctx, store.Silence{ID: "s1", StartsAt: t0, EndsAt: t0.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishNotification(ctx, ids[0], t0, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishNotification(ctx, ids[1], t0, "HTTP 400", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishNotification(ctx, ids[3], t0, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Prune(ctx, Retention{Events: cut, Alerts: cut, Notifications: cut, RemediationRuns: cut, Silences: cut})
	if err != nil {
		t.Fatal(err)
	}
	want := Pruned{Events: oldEvents, Alerts: 1, Notifications: 2, RemediationRuns: 1, Silences: 1}
	if got != want {
		t.Errorf("pruned %+v, want %+v", got, want)
	}
	evs, _ := s.ListEvents(ctx, store.EventFilter{})
	alerts, _ := s.ListAlerts(ctx, store.AlertFilter{})
	ns, _ := s.ListNotifications(ctx, store.NotificationFilter{})
	if len(evs) != 3 || len(alerts) != 2 || len(ns) != 2 {
		t.Errorf("kept %d events, %d alerts, %d notifications; want 3, 2, 2 (the pending one stays)", len(evs), len(alerts), len(ns))
	}
	// Nothing is pruned by a zero Retention.
	if got, err := s.Prune(ctx, Retention{}); err != nil || got != (Pruned{}) {
		t.Errorf("zero retention pruned %+v %v", got, err)
	}
}

// TestQueryPlans: the UI's, the postmortem's and the outbox's queries use
// an index on SQLite, not a scan of the table (which would grow with it).
func TestQueryPlans(t *testing.T) {
	s := openSQLite(t)
	defer s.Close()
	tests := []struct {
		name, query string
		index       string
		args        int
	}{
		{"claim", fmt.Sprintf(claimSQL, ""), "notifications_due", 5},
		{"events of an incident", "SELECT " + eventCols + " FROM events WHERE incident_id = ? ORDER BY id", "events_incident", 1},
		{"events in a window", "SELECT " + eventCols + " FROM events WHERE time >= ? AND time < ? ORDER BY id", "events_time", 2},
		{"events tail", "SELECT " + eventCols + " FROM events WHERE id > ? ORDER BY id LIMIT 100", "PRIMARY KEY", 1},
		{"open incidents", "SELECT " + incidentCols + " FROM incidents WHERE state IN (?, ?) ORDER BY created_at DESC, id DESC", "incidents_state_created", 2},
		{"open incident of a group", "SELECT " + incidentCols + " FROM incidents WHERE group_key = ? AND state <> 'resolved'", "incidents_open_group", 1},
		{"alerts of an incident", "SELECT " + alertCols + " FROM alerts WHERE incident_id = ? ORDER BY starts_at, fingerprint", "alerts_incident", 1},
		{"runs on a server since", "SELECT " + remediationCols + " FROM remediation_runs WHERE target = ? AND created_at >= ? ORDER BY id", "remediation_target", 2},
		{"notifications of an incident", "SELECT " + notificationCols + " FROM notifications WHERE incident_id = ? ORDER BY id", "notifications_incident", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := make([]any, tc.args)
			for i := range args {
				args[i] = 1
			}
			rows, err := s.r.Query("EXPLAIN QUERY PLAN "+tc.query, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			all := strings.Join(plan, "; ")
			if !strings.Contains(all, tc.index) {
				t.Errorf("plan does not use %s: %s", tc.index, all)
			}
			for _, step := range plan {
				if strings.HasPrefix(step, "SCAN ") {
					t.Errorf("plan scans a table: %s", all)
				}
			}
		})
	}
}

// TestBackgroundCheckpoint: commits do not checkpoint (the writer's
// wal_autocheckpoint is 0); the background checkpointer copies what they
// wrote into the database file soon after, and the WAL does not keep
// growing under a steady load.
func TestBackgroundCheckpoint(t *testing.T) {
	reg := prometheus.NewRegistry()
	path := filepath.Join(t.TempDir(), "a.db")
	s, err := OpenSQLite(path, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var auto int
	if err := s.w.QueryRow("PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("writer wal_autocheckpoint %d (%v), want 0", auto, err)
	}
	ctx := context.Background()
	now := time.Now()
	put := func(from int) {
		batch := make([]store.Alert, 100)
		for j := range batch {
			batch[j] = benchAlert(from+j, now)
		}
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.(store.AlertBatchPutter).PutAlerts(ctx, batch) }); err != nil {
			t.Fatal(err)
		}
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size(path)
	var walSizes []int64
	for round := range 5 {
		for i := range 20 {
			put((round*20 + i) * 100)
		}
		walSizes = append(walSizes, size(path+"-wal"))
		time.Sleep(3 * checkpointInterval)
	}
	if after := size(path); after <= before {
		t.Fatalf("database file %d bytes after 10,000 alerts, %d before: nothing was checkpointed", after, before)
	}
	// The WAL is reused from its start once checkpointed: it stays near
	// the size one round of writes needs.
	if walSizes[4] > 2*walSizes[0] {
		t.Errorf("WAL grew round after round: %v bytes", walSizes)
	}
	if n, err := testutil.GatherAndCount(reg, "fleetwatch_store_wal_checkpoint_duration_seconds"); err != nil || n != 1 {
		t.Errorf("checkpoint histogram: %d series, %v", n, err)
	}
	if v := testutil.ToFloat64(s.metrics.walBehind); v != 0 {
		t.Errorf("fleetwatch_store_wal_uncheckpointed_pages %v after an idle interval, want 0", v)
	}
}
