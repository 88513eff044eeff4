package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// On SQLite the alerts table is keyed by an integer id given in arrival
// order, and the store keeps the fingerprint → id map in memory
// (alertIDs). An index on the fingerprint, the natural key, would take
// every new alert at a random place: with a batch of 100 new alerts that
// is about 100 index pages rewritten, written to the WAL and fsynced,
// where the rows themselves fill 10. With ids, new rows are appended and
// the same batch writes a tenth of the pages (store benchmarks:
// BenchmarkInsert100Alerts). PostgreSQL keeps the fingerprint as its key.
//
// The map is only read and changed by a holder of the writer connection
// (inside Update, or in Prune with the connection taken), so it always
// matches the committed table for the next writer. SQLite's file belongs
// to one fleetwatch process: another process writing alerts into the same
// file would not be seen.

// alertIDs maps fingerprints to alert row ids.
type alertIDs struct {
	mu    sync.Mutex
	byFP  map[string]int64
	next  int64
	stale bool // a commit failed: reload before use
}

// loadAlertIDs reads the map from the table. Should a fingerprint have
// several rows (the table does not forbid it), the newest wins and the
// others are reported for deletion.
func loadAlertIDs(ctx context.Context, q querier) (byFP map[string]int64, next int64, dups []int64, err error) {
	rows, err := q.QueryContext(ctx, "SELECT id, fingerprint FROM alerts ORDER BY id")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("alert ids: %w", err)
	}
	defer rows.Close()
	byFP = map[string]int64{}
	next = 1
	for rows.Next() {
		var id int64
		var fp string
		if err := rows.Scan(&id, &fp); err != nil {
			return nil, 0, nil, fmt.Errorf("alert ids: %w", err)
		}
		if old, ok := byFP[fp]; ok {
			dups = append(dups, old)
		}
		byFP[fp] = id
		next = id + 1
	}
	if err := rows.Err(); err != nil {
		return nil, 0, nil, fmt.Errorf("alert ids: %w", err)
	}
	return byFP, next, dups, nil
}

// querier is an *sql.DB, *sql.Conn or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// reloadAlertIDs rebuilds m from the table through q (which holds the
// writer connection), deleting any older duplicate rows.
func (m *alertIDs) reload(ctx context.Context, q querier) error {
	byFP, next, dups, err := loadAlertIDs(ctx, q)
	if err != nil {
		return err
	}
	for len(dups) > 0 {
		n := min(len(dups), 500)
		args := make([]any, n)
		for i, id := range dups[:n] {
			args[i] = id
		}
		if _, err := q.ExecContext(ctx, "DELETE FROM alerts WHERE id IN ("+placeholders(n)+")", args...); err != nil {
			return fmt.Errorf("alert ids: removing duplicate rows: %w", err)
		}
		dups = dups[n:]
	}
	m.reset(byFP, next)
	return nil
}

// idTx is one transaction's changes to the map, applied when it commits.
type idTx struct {
	added   map[string]int64
	deleted map[string]bool
}

// id returns fp's row id; isNew says the id was just given, the row does
// not exist. A new fingerprint gets the next id (an id a rolled-back
// transaction took is not reused).
func (m *alertIDs) id(tx *idTx, fp string) (id int64, isNew bool) {
	if id, ok := tx.added[fp]; ok {
		return id, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !tx.deleted[fp] {
		if id, ok := m.byFP[fp]; ok {
			return id, false
		}
	}
	id = m.next
	m.next++
	if tx.added == nil {
		tx.added = map[string]int64{}
	}
	tx.added[fp] = id
	return id, true
}

// forget records that tx deleted fp's row.
func (tx *idTx) forget(fp string) {
	delete(tx.added, fp)
	if tx.deleted == nil {
		tx.deleted = map[string]bool{}
	}
	tx.deleted[fp] = true
}

// apply makes tx's changes part of the map. The caller still holds the
// writer connection, right before the commit; a failed commit marks the
// map stale.
func (m *alertIDs) apply(tx *idTx) {
	if len(tx.added) == 0 && len(tx.deleted) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for fp := range tx.deleted {
		delete(m.byFP, fp)
	}
	for fp, id := range tx.added {
		m.byFP[fp] = id
	}
}

func (m *alertIDs) markStale() {
	m.mu.Lock()
	m.stale = true
	m.mu.Unlock()
}

func (m *alertIDs) isStale() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stale
}

func (m *alertIDs) reset(byFP map[string]int64, next int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byFP, m.next, m.stale = byFP, next, false
}

// deleteReturning runs a DELETE … RETURNING fingerprint and returns the
// fingerprints of the deleted rows.
func deleteReturning(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fps []string
	for rows.Next() {
		var fp string
		if err := rows.Scan(&fp); err != nil {
			return nil, err
		}
		fps = append(fps, fp)
	}
	return fps, rows.Err()
}
