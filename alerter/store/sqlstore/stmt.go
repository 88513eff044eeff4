package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxPrepared bounds the prepared statements a Store keeps: queries built
// from filters (IN lists of any length) beyond it run unprepared.
const maxPrepared = 256

// stmtCache keeps the writer's prepared statements. SQLite spends most of a
// small write parsing its SQL; the one writer connection prepares each
// query once. (pgx caches prepared statements per connection itself.)
//
// A statement is prepared only while the writer connection is free (never
// from inside a transaction, which holds it): a query first seen in a
// transaction runs unprepared and is prepared after the transaction ends.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[q]
}

// prepare prepares q on db unless it is cached or the cache is full. It
// must not be called while the caller holds the writer connection.
func (c *stmtCache) prepare(ctx context.Context, db *sql.DB, q string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[q]
	full := len(c.m) >= maxPrepared
	c.mu.Unlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil // run unprepared: the error shows there, with its context
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[q]; ok {
		st.Close()
		return prev
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// preparedTx runs a transaction's queries through the writer's prepared
// statements on SQLite, and as they are on PostgreSQL.
type preparedTx struct {
	s  *Store
	tx *sql.Tx
	// unprepared collects the queries to prepare after the transaction.
	unprepared *[]string
}

func (p preparedTx) stmt(ctx context.Context, q string) *sql.Stmt {
	if p.s.dialect != dialectSQLite {
		return nil
	}
	st := p.s.stmts.lookup(q)
	if st == nil {
		*p.unprepared = append(*p.unprepared, q)
		return nil
	}
	return p.tx.StmtContext(ctx, st)
}

func (p preparedTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.tx.ExecContext(ctx, q, args...)
}

func (p preparedTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.tx.QueryContext(ctx, q, args...)
}

func (p preparedTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.tx.QueryRowContext(ctx, q, args...)
}

// preparedDB does the same for the writer's statements outside Update
// (claims and finishes).
type preparedDB struct{ s *Store }

func (p preparedDB) stmt(ctx context.Context, q string) *sql.Stmt {
	if p.s.dialect != dialectSQLite {
		return nil
	}
	return p.s.stmts.prepare(ctx, p.s.w, q)
}

func (p preparedDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.s.w.ExecContext(ctx, q, args...)
}

func (p preparedDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.s.w.QueryContext(ctx, q, args...)
}

func (p preparedDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.s.w.QueryRowContext(ctx, q, args...)
}
