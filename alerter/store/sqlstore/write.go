package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// txn is the store.Tx of one Update: its reads see its own writes.
type txn struct {
	s  *Store
	tx preparedTx
	// ids are the transaction's changes to the alert id map (SQLite).
	ids idTx
}

var _ store.Tx = (*txn)(nil)

func (t *txn) r() reader { return reader{s: t.s, q: t.tx} }

func (t *txn) q(query string) string { return t.s.queries.get(query) }

func (t *txn) GetIncident(ctx context.Context, id string) (store.Incident, error) {
	return t.r().GetIncident(ctx, id)
}
func (t *txn) ListIncidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	return t.r().ListIncidents(ctx, f)
}
func (t *txn) ListAlerts(ctx context.Context, f store.AlertFilter) ([]store.Alert, error) {
	return t.r().ListAlerts(ctx, f)
}
func (t *txn) ListEvents(ctx context.Context, f store.EventFilter) ([]store.TimelineEvent, error) {
	return t.r().ListEvents(ctx, f)
}
func (t *txn) ListSilences(ctx context.Context) ([]store.Silence, error) {
	return t.r().ListSilences(ctx)
}
func (t *txn) ListNotifications(ctx context.Context, f store.NotificationFilter) ([]store.Notification, error) {
	return t.r().ListNotifications(ctx, f)
}
func (t *txn) ListRemediationRuns(ctx context.Context, f store.RemediationFilter) ([]store.RemediationRun, error) {
	return t.r().ListRemediationRuns(ctx, f)
}
func (t *txn) GetSilence(ctx context.Context, id string) (store.Silence, error) {
	return t.r().GetSilence(ctx, id)
}

const putAlertSQL = `INSERT INTO alerts (` + alertCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (fingerprint) DO UPDATE SET ` + putAlertSet

// putAlertSet is what a put changes in a stored alert: everything.
const putAlertSet = `labels = excluded.labels, annotations = excluded.annotations,
	starts_at = excluded.starts_at, ends_at = excluded.ends_at, generator_url = excluded.generator_url,
	updated_at = excluded.updated_at, incident_id = excluded.incident_id, suppressed = excluded.suppressed`

// sqlitePutAlertSQL and sqliteObserveAlertSQL are putAlertSQL and
// observeAlertSQL for SQLite's alerts table, keyed by id (alertIDs).
const (
	sqliteInsertAlertSQL  = `INSERT INTO alerts (id, ` + alertCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlitePutAlertSQL     = sqliteInsertAlertSQL + "\nON CONFLICT (id) DO UPDATE SET " + putAlertSet
	sqliteObserveAlertSQL = sqliteInsertAlertSQL + "\nON CONFLICT (id) DO UPDATE SET " + observeAlertSet
)

func (t *txn) PutAlert(ctx context.Context, a store.Alert) error {
	if a.Fingerprint == "" {
		return errors.New("put alert: fingerprint is empty")
	}
	if t.s.ids != nil {
		return t.putAlerts(ctx, []store.Alert{a}, false)
	}
	labels, err := labelsJSON(a.Labels)
	if err != nil {
		return fmt.Errorf("alert %s: labels: %w", a.Fingerprint, err)
	}
	annotations, err := labelsJSON(a.Annotations)
	if err != nil {
		return fmt.Errorf("alert %s: annotations: %w", a.Fingerprint, err)
	}
	_, err = t.tx.ExecContext(ctx, t.q(putAlertSQL), a.Fingerprint, labels, annotations,
		nanos(a.StartsAt), nanos(a.EndsAt), a.GeneratorURL, nanos(a.UpdatedAt), a.IncidentID, a.Suppressed)
	if err != nil {
		return fmt.Errorf("alert %s: %w", a.Fingerprint, t.s.mapErr(err))
	}
	return nil
}

var _ store.AlertBatchPutter = (*txn)(nil)

// alertBatch is the rows per INSERT: 9 values each, under both engines'
// bound on parameters per statement.
const alertBatch = 100

// observeAlertSQL is putAlertSQL for a standby instance: a stored alert
// of the same episode keeps what the active instance decided.
const observeAlertSQL = `INSERT INTO alerts (` + alertCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (fingerprint) DO UPDATE SET ` + observeAlertSet

// observeAlertSet is what a standby's write changes in a stored alert.
const observeAlertSet = `labels = excluded.labels, annotations = excluded.annotations,
	starts_at = CASE WHEN (alerts.ends_at = 0 OR alerts.ends_at > excluded.starts_at) AND alerts.starts_at < excluded.starts_at
		THEN alerts.starts_at ELSE excluded.starts_at END,
	ends_at = excluded.ends_at, generator_url = excluded.generator_url, updated_at = excluded.updated_at,
	incident_id = CASE WHEN alerts.ends_at = 0 OR alerts.ends_at > excluded.starts_at THEN alerts.incident_id ELSE '' END,
	suppressed = CASE WHEN alerts.ends_at = 0 OR alerts.ends_at > excluded.starts_at THEN alerts.suppressed ELSE '' END`

var _ store.AlertObserver = (*txn)(nil)

// ObserveAlerts stores as for a standby instance; see store.AlertObserver.
func (t *txn) ObserveAlerts(ctx context.Context, as []store.Alert) error {
	return t.putAlerts(ctx, as, true)
}

// PutAlerts stores as with multi-row INSERTs; see store.AlertBatchPutter.
func (t *txn) PutAlerts(ctx context.Context, as []store.Alert) error {
	return t.putAlerts(ctx, as, false)
}

// putAlerts writes as with the put statements, or the observe ones.
func (t *txn) putAlerts(ctx context.Context, as []store.Alert, observe bool) error {
	// One statement may not touch a row twice (PostgreSQL): keep the last.
	last, _ := t.s.lastIdx.Get().(map[string]int)
	if last == nil {
		last = map[string]int{}
	}
	defer func() {
		clear(last)
		t.s.lastIdx.Put(last)
	}()
	for i, a := range as {
		if a.Fingerprint == "" {
			return fmt.Errorf("put alerts: alert %d: fingerprint is empty", i)
		}
		last[a.Fingerprint] = i
	}
	single, cols := putAlertSQL, 9
	if observe {
		single = observeAlertSQL
	}
	if t.s.ids != nil {
		single, cols = sqlitePutAlertSQL, 10 // the id first
		if observe {
			single = sqliteObserveAlertSQL
		}
	}
	n := min(len(as), alertBatch)
	upserts := alertRows{t: t, single: single, cols: cols, args: make([]any, 0, cols*n)}
	// New alerts on SQLite need no conflict clause: a plain INSERT at
	// the end of the table.
	inserts := alertRows{t: t, single: sqliteInsertAlertSQL, cols: cols}
	for i, a := range as {
		if last[a.Fingerprint] != i {
			continue
		}
		labels, _ := labelsJSON(a.Labels)
		annotations, _ := labelsJSON(a.Annotations)
		rows := &upserts
		if t.s.ids != nil {
			id, isNew := t.s.ids.id(&t.ids, a.Fingerprint)
			if isNew {
				rows = &inserts
			}
			rows.args = append(rows.args, id)
		}
		rows.args = append(rows.args, a.Fingerprint, labels, annotations, nanos(a.StartsAt), nanos(a.EndsAt),
			a.GeneratorURL, nanos(a.UpdatedAt), a.IncidentID, a.Suppressed)
		if err := rows.added(ctx); err != nil {
			return err
		}
	}
	if err := inserts.flush(ctx); err != nil {
		return err
	}
	return upserts.flush(ctx)
}

// alertRows accumulates the rows of one multi-row statement.
type alertRows struct {
	t      *txn
	single string
	cols   int
	args   []any
	rows   int
}

// added counts the row just appended to args.
func (r *alertRows) added(ctx context.Context) error {
	r.rows++
	if r.rows == alertBatch {
		return r.flush(ctx)
	}
	return nil
}

func (r *alertRows) flush(ctx context.Context) error {
	if r.rows == 0 {
		return nil
	}
	q := r.t.s.batchPutAlertSQL(r.single, r.cols, r.rows)
	if _, err := r.t.tx.ExecContext(ctx, q, r.args...); err != nil {
		return fmt.Errorf("put %d alerts: %w", r.rows, r.t.s.mapErr(err))
	}
	r.args, r.rows = r.args[:0], 0
	return nil
}

// batchPutAlertSQL is single (one of the put or observe statements, with
// cols values per row) for n rows, in the dialect; built once per shape.
func (s *Store) batchPutAlertSQL(single string, cols, n int) string {
	key := batchKey{single, n}
	if q, ok := s.batchSQL.Load(key); ok {
		return q.(string)
	}
	tuple := "(" + placeholders(cols) + ")"
	head, tail, _ := strings.Cut(single, tuple)
	var b strings.Builder
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	b.WriteString(tail)
	q := s.queries.get(b.String())
	s.batchSQL.Store(key, q)
	return q
}

// batchKey names a multi-row statement: its one-row form and its rows
// (at most alertBatch of each of the few statements).
type batchKey struct {
	single string
	rows   int
}

func (t *txn) DeleteAlerts(ctx context.Context, endedBefore time.Time) (int, error) {
	if t.s.ids != nil {
		fps, err := deleteReturning(ctx, t.tx, "DELETE FROM alerts WHERE ends_at <> 0 AND ends_at < ? RETURNING fingerprint", nanos(endedBefore))
		if err != nil {
			return 0, fmt.Errorf("delete alerts: %w", err)
		}
		for _, fp := range fps {
			t.ids.forget(fp)
		}
		return len(fps), nil
	}
	res, err := t.tx.ExecContext(ctx, t.q("DELETE FROM alerts WHERE ends_at <> 0 AND ends_at < ?"), nanos(endedBefore))
	if err != nil {
		return 0, fmt.Errorf("delete alerts: %w", t.s.mapErr(err))
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func incidentArgs(inc store.Incident) ([]any, error) {
	labels, err := labelsJSON(inc.Labels)
	if err != nil {
		return nil, fmt.Errorf("incident %q: labels: %w", inc.ID, err)
	}
	return []any{inc.GroupKey, inc.Route, inc.Receiver, inc.Title, inc.Cause, inc.Severity, string(inc.State),
		labels, inc.Assignee, inc.AlertCount, inc.FiringCount,
		nanos(inc.CreatedAt), nanos(inc.UpdatedAt), nanos(inc.AcknowledgedAt), nanos(inc.ResolvedAt),
		nanos(inc.LastNotifiedAt)}, nil
}

func (t *txn) CreateIncident(ctx context.Context, inc store.Incident) error {
	if inc.ID == "" {
		return errors.New("create incident: id is empty")
	}
	args, err := incidentArgs(inc)
	if err != nil {
		return err
	}
	args = append([]any{inc.ID}, args...)
	args = append(args, inc.Version)
	_, err = t.tx.ExecContext(ctx, t.q("INSERT INTO incidents ("+incidentCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), args...)
	if isUniqueViolation(err) {
		return fmt.Errorf("incident %q (group %q): the id or an open incident of the group exists: %w", inc.ID, inc.GroupKey, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("incident %q: %w", inc.ID, t.s.mapErr(err))
	}
	return nil
}

func (t *txn) UpdateIncident(ctx context.Context, inc store.Incident) (store.Incident, error) {
	args, err := incidentArgs(inc)
	if err != nil {
		return store.Incident{}, err
	}
	args = append(args, inc.ID, inc.Version)
	res, err := t.tx.ExecContext(ctx, t.q(`UPDATE incidents SET group_key = ?, route = ?, receiver = ?, title = ?, cause = ?,
		severity = ?, state = ?, labels = ?, assignee = ?, alert_count = ?, firing_count = ?,
		created_at = ?, updated_at = ?, acknowledged_at = ?, resolved_at = ?, last_notified_at = ?,
		version = version + 1
		WHERE id = ? AND version = ?`), args...)
	if isUniqueViolation(err) {
		return store.Incident{}, fmt.Errorf("incident %q: another open incident has group %q: %w", inc.ID, inc.GroupKey, store.ErrConflict)
	}
	if err != nil {
		return store.Incident{}, fmt.Errorf("incident %q: %w", inc.ID, t.s.mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return store.Incident{}, fmt.Errorf("incident %q: %w", inc.ID, err)
	}
	if n == 0 {
		var v int64
		err := t.tx.QueryRowContext(ctx, t.q("SELECT version FROM incidents WHERE id = ?"), inc.ID).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return store.Incident{}, fmt.Errorf("incident %q: %w", inc.ID, store.ErrNotFound)
		}
		if err != nil {
			return store.Incident{}, fmt.Errorf("incident %q: %w", inc.ID, t.s.mapErr(err))
		}
		t.s.metrics.conflict()
		return store.Incident{}, fmt.Errorf("incident %q: version %d, stored %d: %w", inc.ID, inc.Version, v, store.ErrConflict)
	}
	inc.Version++
	return inc, nil
}

func (t *txn) OpenIncident(ctx context.Context, groupKey string) (store.Incident, error) {
	row := t.tx.QueryRowContext(ctx, t.q("SELECT "+incidentCols+" FROM incidents WHERE group_key = ? AND state <> 'resolved'"), groupKey)
	inc, err := scanIncident(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Incident{}, fmt.Errorf("open incident of group %q: %w", groupKey, store.ErrNotFound)
	}
	if err != nil {
		return store.Incident{}, fmt.Errorf("open incident of group %q: %w", groupKey, err)
	}
	return inc, nil
}

func (t *txn) AddEvent(ctx context.Context, e store.TimelineEvent) (int64, error) {
	labels, err := labelsJSON(e.Labels)
	if err != nil {
		return 0, fmt.Errorf("event %s: labels: %w", e.Kind, err)
	}
	data, err := rawJSON("data", e.Data)
	if err != nil {
		return 0, fmt.Errorf("event %s of incident %q: %w", e.Kind, e.IncidentID, err)
	}
	var id int64
	err = t.tx.QueryRowContext(ctx, t.q(`INSERT INTO events (incident_id, time, kind, actor, summary, labels, data)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		e.IncidentID, nanos(e.Time), e.Kind, e.Actor, e.Summary, labels, data).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("event %s of incident %q: %w", e.Kind, e.IncidentID, t.s.mapErr(err))
	}
	return id, nil
}

func (t *txn) PutSilence(ctx context.Context, s store.Silence) error {
	if s.ID == "" {
		return errors.New("put silence: id is empty")
	}
	matchers := s.Matchers
	if matchers == nil {
		matchers = []store.Matcher{}
	}
	mb, err := json.Marshal(matchers)
	if err != nil {
		return fmt.Errorf("silence %q: matchers: %w", s.ID, err)
	}
	_, err = t.tx.ExecContext(ctx, t.q(`INSERT INTO silences (`+silenceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at,
		ends_at = excluded.ends_at, created_by = excluded.created_by, comment = excluded.comment,
		updated_at = excluded.updated_at`),
		s.ID, string(mb), nanos(s.StartsAt), nanos(s.EndsAt), s.CreatedBy, s.Comment, nanos(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("silence %q: %w", s.ID, t.s.mapErr(err))
	}
	return nil
}

func (t *txn) Enqueue(ctx context.Context, n store.Notification) (int64, error) {
	payload, err := rawJSON("payload", n.Payload)
	if err != nil {
		return 0, fmt.Errorf("notification %s of incident %q to %s: %w", n.Action, n.IncidentID, n.Receiver, err)
	}
	next := n.NextAttempt
	if next.IsZero() {
		next = n.CreatedAt
	}
	var id int64
	err = t.tx.QueryRowContext(ctx, t.q(`INSERT INTO notifications
		(incident_id, receiver, action, payload, created_at, next_attempt, attempts, last_error, state, sent_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, '', 'pending', 0) RETURNING id`),
		n.IncidentID, n.Receiver, n.Action, payload, nanos(n.CreatedAt), nanos(next)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("notification %s of incident %q to %s: %w", n.Action, n.IncidentID, n.Receiver, t.s.mapErr(err))
	}
	return id, nil
}

func (t *txn) AddRemediationRun(ctx context.Context, r store.RemediationRun) (int64, error) {
	var id int64
	err := t.tx.QueryRowContext(ctx, t.q(`INSERT INTO remediation_runs
		(incident_id, action, target, status, reason, actor, dry_run, created_at, finished_at, output, started_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		r.IncidentID, r.Action, r.Target, r.Status, r.Reason, r.Actor, r.DryRun,
		nanos(r.CreatedAt), nanos(r.FinishedAt), r.Output, nanos(r.StartedAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("remediation run %s of incident %q: %w", r.Action, r.IncidentID, t.s.mapErr(err))
	}
	return id, nil
}

func (t *txn) UpdateRemediationRun(ctx context.Context, r store.RemediationRun) error {
	res, err := t.tx.ExecContext(ctx, t.q(`UPDATE remediation_runs SET incident_id = ?, action = ?, target = ?,
		status = ?, reason = ?, actor = ?, dry_run = ?, created_at = ?, finished_at = ?, output = ?, started_at = ? WHERE id = ?`),
		r.IncidentID, r.Action, r.Target, r.Status, r.Reason, r.Actor, r.DryRun,
		nanos(r.CreatedAt), nanos(r.FinishedAt), r.Output, nanos(r.StartedAt), r.ID)
	if err != nil {
		return fmt.Errorf("remediation run %d: %w", r.ID, t.s.mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("remediation run %d: %w", r.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("remediation run %d: %w", r.ID, store.ErrNotFound)
	}
	return nil
}
