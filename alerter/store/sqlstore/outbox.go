package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// claimSQL leases the due notifications in one statement. A notification
// waits while an older pending one of the same incident and receiver exists
// (not yet due, or leased to a sender): a resolve never overtakes its
// trigger. Fleet-level notifications (incident "") are not ordered.
const claimSQL = `WITH c AS (
	SELECT n.id FROM notifications n
	WHERE n.state = 'pending' AND n.next_attempt <= ? AND n.lease_until <= ?
	AND (n.incident_id = '' OR NOT EXISTS (
		SELECT 1 FROM notifications o
		WHERE o.incident_id = n.incident_id AND o.receiver = n.receiver
		AND o.state = 'pending' AND o.id < n.id))
	ORDER BY n.next_attempt, n.id
	LIMIT ?%s
)
UPDATE notifications SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
WHERE id IN (SELECT id FROM c)
RETURNING ` + notificationCols

// ClaimNotifications leases due notifications to owner; see store.Store.
// Attempts counts claims: a sender that dies mid-send still used one.
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.Notification, error) {
	if limit <= 0 {
		return nil, nil
	}
	if lease <= 0 {
		return nil, fmt.Errorf("claim notifications: lease %v must be positive", lease)
	}
	lock := ""
	if s.dialect == dialectPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	n := nanos(now)
	rows, err := preparedDB{s}.QueryContext(ctx, s.queries.get(fmt.Sprintf(claimSQL, lock)), n, n, limit, owner, nanos(now.Add(lease)))
	if err != nil {
		return nil, fmt.Errorf("claim notifications for %s: %w", owner, s.mapErr(err))
	}
	defer rows.Close()
	var out []store.Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("claim notifications for %s: %w", owner, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim notifications for %s: %w", owner, s.mapErr(err))
	}
	// RETURNING follows no ORDER BY: restore the claim order.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NextAttempt.Equal(out[j].NextAttempt) {
			return out[i].NextAttempt.Before(out[j].NextAttempt)
		}
		return out[i].ID < out[j].ID
	})
	s.metrics.claimed(len(out))
	return out, nil
}

// FinishNotification records a claimed notification's outcome; see
// store.Store. It returns ErrNotFound for an unknown id and ErrConflict when
// the notification is no longer pending (another sender, whose lease it was
// after this one's ran out, already finished it).
func (s *Store) FinishNotification(ctx context.Context, id int64, at time.Time, errMsg string, next time.Time) error {
	var (
		res     sql.Result
		err     error
		outcome string
	)
	switch {
	case errMsg == "":
		outcome = store.NotificationSent
		res, err = preparedDB{s}.ExecContext(ctx, s.queries.get(`UPDATE notifications SET state = 'sent', sent_at = ?,
			lease_owner = '', lease_until = 0 WHERE id = ? AND state = 'pending'`), nanos(at), id)
	case !next.IsZero():
		outcome = "retry"
		res, err = preparedDB{s}.ExecContext(ctx, s.queries.get(`UPDATE notifications SET next_attempt = ?, last_error = ?,
			lease_owner = '', lease_until = 0 WHERE id = ? AND state = 'pending'`), nanos(next), errMsg, id)
	default:
		outcome = store.NotificationFailed
		res, err = preparedDB{s}.ExecContext(ctx, s.queries.get(`UPDATE notifications SET state = 'failed', last_error = ?,
			lease_owner = '', lease_until = 0 WHERE id = ? AND state = 'pending'`), errMsg, id)
	}
	if err != nil {
		return fmt.Errorf("notification %d: %w", id, s.mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("notification %d: %w", id, err)
	}
	if n == 1 {
		s.metrics.finished(outcome)
		return nil
	}
	var state string
	err = preparedDB{s}.QueryRowContext(ctx, s.queries.get("SELECT state FROM notifications WHERE id = ?"), id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("notification %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("notification %d: %w", id, s.mapErr(err))
	}
	return fmt.Errorf("notification %d is already %s: %w", id, state, store.ErrConflict)
}
