package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// Retention says what Prune deletes. A zero time keeps everything of that
// kind. Incidents are never pruned: they are the postmortem's record.
type Retention struct {
	// Events deletes timeline events whose Time is before it.
	Events time.Time
	// Alerts deletes resolved alerts that ended before it.
	Alerts time.Time
	// Notifications deletes sent and failed outbox entries created before it
	// (pending ones are kept whatever their age).
	Notifications time.Time
	// RemediationRuns deletes audit records created before it.
	RemediationRuns time.Time
	// Silences deletes silences that ended before it.
	Silences time.Time
}

// Pruned counts what Prune deleted.
type Pruned struct {
	Events, Alerts, Notifications, RemediationRuns, Silences int
}

// pruneBatch bounds each delete so a large prune never holds SQLite's write
// lock for long: alerts keep flowing between batches.
const pruneBatch = 5000

// Prune deletes old rows in batches, each its own transaction; it can run
// while the store is in use and be interrupted by ctx at any batch.
func (s *Store) Prune(ctx context.Context, r Retention) (Pruned, error) {
	var p Pruned
	steps := []struct {
		name  string
		at    time.Time
		table string
		key   string
		cond  string
		count *int
	}{
		{"events", r.Events, "events", "id", "time < ?", &p.Events},
		{"alerts", r.Alerts, "alerts", "fingerprint", "ends_at <> 0 AND ends_at < ?", &p.Alerts},
		{"notifications", r.Notifications, "notifications", "id", "state <> 'pending' AND created_at < ?", &p.Notifications},
		{"remediation runs", r.RemediationRuns, "remediation_runs", "id", "created_at < ?", &p.RemediationRuns},
		{"silences", r.Silences, "silences", "id", "ends_at <> 0 AND ends_at < ?", &p.Silences},
	}
	for _, st := range steps {
		if st.at.IsZero() {
			continue
		}
		if st.table == "alerts" && s.ids != nil {
			n, err := s.pruneAlertsSQLite(ctx, st.cond, nanos(st.at))
			*st.count += n
			if err != nil {
				return p, fmt.Errorf("prune %s: %w", st.name, err)
			}
			continue
		}
		q := s.queries.get(fmt.Sprintf("DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s LIMIT %d)",
			st.table, st.key, st.key, st.table, st.cond, pruneBatch))
		for {
			res, err := s.w.ExecContext(ctx, q, nanos(st.at))
			if err != nil {
				return p, fmt.Errorf("prune %s: %w", st.name, s.mapErr(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return p, fmt.Errorf("prune %s: %w", st.name, err)
			}
			*st.count += int(n)
			if n < pruneBatch {
				break
			}
		}
	}
	return p, nil
}

// pruneAlertsSQLite is Prune's alerts step on SQLite: each batch's
// fingerprints leave the id map while the writer connection is held, so
// no writer can take a pruned row's id in between.
func (s *Store) pruneAlertsSQLite(ctx context.Context, cond string, at int64) (int, error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	q := fmt.Sprintf("DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE %s LIMIT %d) RETURNING fingerprint", cond, pruneBatch)
	total := 0
	for {
		fps, err := deleteReturning(ctx, conn, q, at)
		if err != nil {
			return total, err
		}
		var tx idTx
		for _, fp := range fps {
			tx.forget(fp)
		}
		s.ids.apply(&tx)
		total += len(fps)
		if len(fps) < pruneBatch {
			return total, nil
		}
	}
}
