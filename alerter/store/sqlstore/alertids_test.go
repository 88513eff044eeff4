package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// schemaAt creates an SQLite database at path with the migrations up to
// version v applied, as an older fleetwatch left it.
func schemaAt(t *testing.T, path string, v int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ms, err := loadMigrations(dialectSQLite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:v] {
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatalf("migration %d: %v", m.version, err)
		}
		if _, err := db.Exec("INSERT INTO schema_migrations VALUES (?, ?, 0)", m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// countRows counts the alert rows of fp.
func countRows(t *testing.T, s *Store, fp string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow("SELECT COUNT(*) FROM alerts WHERE fingerprint = ?", fp).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAlertIDsMigration: alerts stored by a fleetwatch keyed by
// fingerprint (schema 4) are all there after the move to ids, and a
// re-sent one updates its row.
func TestAlertIDsMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerter.db")
	old := schemaAt(t, path, 4)
	now := time.Now()
	for i := range 50 {
		a := benchAlert(i, now)
		if _, err := old.Exec("INSERT INTO alerts ("+alertCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			a.Fingerprint, `{"alertname":"HostDown","instance":"h`+a.Fingerprint+`"}`, `{}`, nanos(a.StartsAt), nanos(a.EndsAt), "", nanos(a.UpdatedAt), "", ""); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	s, err := OpenSQLite(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	got, err := s.ListAlerts(ctx, store.AlertFilter{})
	if err != nil || len(got) != 50 {
		t.Fatalf("after the migration: %d alerts (%v), want 50", len(got), err)
	}
	a := benchAlert(7, now)
	a.Annotations = map[string]string{"summary": "again"}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.PutAlert(ctx, a) }); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, a.Fingerprint); n != 1 {
		t.Fatalf("alert %s has %d rows after a re-send, want 1", a.Fingerprint, n)
	}
	got, _ = s.ListAlerts(ctx, store.AlertFilter{Fingerprint: []string{a.Fingerprint}})
	if len(got) != 1 || got[0].Annotations["summary"] != "again" {
		t.Fatalf("re-sent alert: %+v", got)
	}
}

// TestAlertIDsNeverDuplicate: whatever deletes a row (retention in a
// transaction, Prune, a rolled-back transaction), putting the alert again
// leaves exactly one row, and a database with duplicate rows (written by
// hand, or by a second process) is healed on open.
func TestAlertIDsNeverDuplicate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerter.db")
	s, err := OpenSQLite(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	ended := benchAlert(1, now)
	ended.EndsAt = now.Add(-time.Hour)
	ended.StartsAt = now.Add(-2 * time.Hour)
	put := func(tx store.Tx, a store.Alert) error {
		return tx.(store.AlertBatchPutter).PutAlerts(ctx, []store.Alert{a, benchAlert(2, now)})
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"put", func() error { return s.Update(ctx, func(tx store.Tx) error { return put(tx, ended) }) }},
		{"delete and put again in one transaction", func() error {
			return s.Update(ctx, func(tx store.Tx) error {
				if n, err := tx.DeleteAlerts(ctx, now); err != nil || n != 1 {
					t.Errorf("DeleteAlerts: %d, %v; want 1", n, err)
				}
				return put(tx, ended)
			})
		}},
		{"prune, then put", func() error {
			if p, err := s.Prune(ctx, Retention{Alerts: now}); err != nil || p.Alerts != 1 {
				t.Errorf("Prune: %+v, %v; want 1 alert", p, err)
			}
			return s.Update(ctx, func(tx store.Tx) error { return put(tx, ended) })
		}},
		{"a rolled-back delete", func() error {
			_ = s.Update(ctx, func(tx store.Tx) error {
				if _, err := tx.DeleteAlerts(ctx, now); err != nil {
					return err
				}
				return context.Canceled // roll back
			})
			return s.Update(ctx, func(tx store.Tx) error { return put(tx, ended) })
		}},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for _, fp := range []string{ended.Fingerprint, benchAlert(2, now).Fingerprint} {
			if n := countRows(t, s, fp); n != 1 {
				t.Fatalf("%s: alert %s has %d rows, want 1", st.name, fp, n)
			}
		}
	}
	// A second row for the same fingerprint, as another process could
	// write it: the next open keeps the newest.
	if _, err := s.w.Exec("INSERT INTO alerts ("+alertCols+") SELECT fingerprint, labels, '{\"summary\":\"newest\"}', starts_at, ends_at, generator_url, updated_at, incident_id, suppressed FROM alerts WHERE fingerprint = ?", ended.Fingerprint); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenSQLite(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := countRows(t, s, ended.Fingerprint); n != 1 {
		t.Fatalf("after reopening: %d rows, want 1", n)
	}
	got, _ := s.ListAlerts(ctx, store.AlertFilter{Fingerprint: []string{ended.Fingerprint}})
	if len(got) != 1 || got[0].Annotations["summary"] != "newest" {
		t.Fatalf("kept %+v, want the newest row", got)
	}
}
