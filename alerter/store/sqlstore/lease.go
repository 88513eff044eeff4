package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

var _ store.Leaser = (*Store)(nil)

// pgNow is the database's clock in nanoseconds since the Unix epoch:
// instances sharing PostgreSQL judge leases by one clock.
const pgNow = `(extract(epoch from clock_timestamp()) * 1000000000)::bigint`

// tryLeaseSQL takes, renews or reports the lease in one statement: the
// update happens only when the row is owner's or has lapsed. %[1]s is the
// current time (the database's clock, or a parameter on SQLite).
const tryLeaseSQL = `INSERT INTO leases (name, owner, term, acquired_at, expires_at)
VALUES (?, ?, 1, %[1]s, %[1]s + ?)
ON CONFLICT (name) DO UPDATE SET
	term = CASE WHEN leases.owner = excluded.owner THEN leases.term ELSE leases.term + 1 END,
	acquired_at = CASE WHEN leases.owner = excluded.owner THEN leases.acquired_at ELSE excluded.acquired_at END,
	owner = excluded.owner, expires_at = excluded.expires_at
WHERE leases.owner = excluded.owner OR leases.expires_at <= excluded.acquired_at
RETURNING owner, term`

// TryLease takes or renews the lease name for owner; see store.Leaser.
func (s *Store) TryLease(ctx context.Context, name, owner string, ttl time.Duration) (store.Lease, error) {
	if name == "" || owner == "" {
		return store.Lease{}, errors.New("lease: name and owner must be set")
	}
	if ttl <= 0 {
		return store.Lease{}, fmt.Errorf("lease %q: ttl %v must be positive", name, ttl)
	}
	var (
		row *sql.Row
		l   = store.Lease{TTL: ttl}
	)
	if s.dialect == dialectPostgres {
		row = s.w.QueryRowContext(ctx, s.queries.get(fmt.Sprintf(tryLeaseSQL, pgNow)), name, owner, int64(ttl))
	} else {
		// SQLite: one machine, one clock (the time is given twice).
		now := nanos(time.Now())
		row = preparedDB{s}.QueryRowContext(ctx, fmt.Sprintf(tryLeaseSQL, "?"), name, owner, now, now, int64(ttl))
	}
	err := row.Scan(&l.Holder, &l.Term)
	if errors.Is(err, sql.ErrNoRows) {
		// Held by someone else and not lapsed: report who.
		err = s.r.QueryRowContext(ctx, s.queries.get("SELECT owner, term FROM leases WHERE name = ?"), name).Scan(&l.Holder, &l.Term)
	}
	if err != nil {
		return store.Lease{}, fmt.Errorf("lease %q for %s: %w", name, owner, s.mapErr(err))
	}
	return l, nil
}

// ReleaseLease lets the lease lapse now if owner holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	q := s.queries.get("UPDATE leases SET expires_at = 0 WHERE name = ? AND owner = ?")
	if _, err := (preparedDB{s}).ExecContext(ctx, q, name, owner); err != nil {
		return fmt.Errorf("lease %q for %s: release: %w", name, owner, s.mapErr(err))
	}
	return nil
}

// Shared is true on PostgreSQL, which several instances may share.
func (s *Store) Shared() bool { return s.dialect == dialectPostgres }
