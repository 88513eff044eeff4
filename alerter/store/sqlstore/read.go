package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements store.Reader over a pool or a transaction.
type reader struct {
	s *Store
	q queryer
}

func (s *Store) reader() reader { return reader{s: s, q: s.r} }

// The Store's read side reads committed data from the read pool.

func (s *Store) GetIncident(ctx context.Context, id string) (store.Incident, error) {
	return s.reader().GetIncident(ctx, id)
}
func (s *Store) ListIncidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	return s.reader().ListIncidents(ctx, f)
}
func (s *Store) ListAlerts(ctx context.Context, f store.AlertFilter) ([]store.Alert, error) {
	return s.reader().ListAlerts(ctx, f)
}
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]store.TimelineEvent, error) {
	return s.reader().ListEvents(ctx, f)
}
func (s *Store) ListSilences(ctx context.Context) ([]store.Silence, error) {
	return s.reader().ListSilences(ctx)
}
func (s *Store) ListNotifications(ctx context.Context, f store.NotificationFilter) ([]store.Notification, error) {
	return s.reader().ListNotifications(ctx, f)
}
func (s *Store) ListRemediationRuns(ctx context.Context, f store.RemediationFilter) ([]store.RemediationRun, error) {
	return s.reader().ListRemediationRuns(ctx, f)
}

// where collects SQL conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) in(col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	w.add(col+" IN ("+placeholders(len(vals))+")", args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// matchLabels reports whether have holds every pair of want.
func matchLabels(have, want map[string]string) bool {
	for k, v := range want {
		hv, ok := have[k]
		if !ok || hv != v {
			return false
		}
	}
	return true
}

func limitClause(limit int) string {
	if limit <= 0 {
		return ""
	}
	return fmt.Sprintf(" LIMIT %d", limit)
}

const incidentCols = `id, group_key, route, receiver, title, cause, severity, state, labels, assignee,
	alert_count, firing_count, created_at, updated_at, acknowledged_at, resolved_at, last_notified_at, version`

func scanIncident(sc interface{ Scan(...any) error }) (store.Incident, error) {
	var (
		inc                                  store.Incident
		state, labels                        string
		created, updated, acked, res, notifd int64
	)
	err := sc.Scan(&inc.ID, &inc.GroupKey, &inc.Route, &inc.Receiver, &inc.Title, &inc.Cause, &inc.Severity,
		&state, &labels, &inc.Assignee, &inc.AlertCount, &inc.FiringCount,
		&created, &updated, &acked, &res, &notifd, &inc.Version)
	if err != nil {
		return inc, err
	}
	inc.State = store.IncidentState(state)
	if inc.Labels, err = parseLabels("labels", labels); err != nil {
		return inc, fmt.Errorf("incident %q: %w", inc.ID, err)
	}
	inc.CreatedAt, inc.UpdatedAt = fromNanos(created), fromNanos(updated)
	inc.AcknowledgedAt, inc.ResolvedAt, inc.LastNotifiedAt = fromNanos(acked), fromNanos(res), fromNanos(notifd)
	return inc, nil
}

func (r reader) GetIncident(ctx context.Context, id string) (store.Incident, error) {
	row := r.q.QueryRowContext(ctx, r.s.queries.get("SELECT "+incidentCols+" FROM incidents WHERE id = ?"), id)
	inc, err := scanIncident(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Incident{}, fmt.Errorf("incident %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Incident{}, fmt.Errorf("incident %q: %w", id, err)
	}
	return inc, nil
}

func (r reader) ListIncidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	var w where
	states := make([]string, len(f.States))
	for i, st := range f.States {
		states[i] = string(st)
	}
	w.in("state", states)
	if f.Receiver != "" {
		w.add("receiver = ?", f.Receiver)
	}
	if !f.Since.IsZero() {
		w.add("created_at >= ?", nanos(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("created_at < ?", nanos(f.Until))
	}
	q := "SELECT " + incidentCols + " FROM incidents" + w.String() + " ORDER BY created_at DESC, id DESC"
	if len(f.Labels) == 0 {
		q += limitClause(f.Limit)
	}
	rows, err := r.q.QueryContext(ctx, r.s.queries.get(q), w.args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []store.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		if !matchLabels(inc.Labels, f.Labels) {
			continue
		}
		out = append(out, inc)
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

const alertCols = `fingerprint, labels, annotations, starts_at, ends_at, generator_url, updated_at, incident_id, suppressed`

func scanAlert(sc interface{ Scan(...any) error }) (store.Alert, error) {
	var (
		a                       store.Alert
		labels, annotations     string
		starts, ends, updatedAt int64
	)
	if err := sc.Scan(&a.Fingerprint, &labels, &annotations, &starts, &ends, &a.GeneratorURL, &updatedAt, &a.IncidentID, &a.Suppressed); err != nil {
		return a, err
	}
	var err error
	if a.Labels, err = parseLabels("labels", labels); err != nil {
		return a, fmt.Errorf("alert %s: %w", a.Fingerprint, err)
	}
	if a.Annotations, err = parseLabels("annotations", annotations); err != nil {
		return a, fmt.Errorf("alert %s: %w", a.Fingerprint, err)
	}
	a.StartsAt, a.EndsAt, a.UpdatedAt = fromNanos(starts), fromNanos(ends), fromNanos(updatedAt)
	return a, nil
}

func (r reader) ListAlerts(ctx context.Context, f store.AlertFilter) ([]store.Alert, error) {
	var w where
	if f.IncidentID != "" {
		w.add("incident_id = ?", f.IncidentID)
	}
	if !f.Active.IsZero() {
		w.add("(ends_at = 0 OR ends_at > ?)", nanos(f.Active))
	}
	w.in("fingerprint", f.Fingerprint)
	for _, k := range sortedLabelNames(f.Labels) {
		if r.s.dialect == dialectPostgres {
			w.add("labels->>(?::text) = ?", k, f.Labels[k])
		} else {
			w.add("json_extract(labels, ?) = ?", sqliteJSONPath(k), f.Labels[k])
		}
	}
	q := "SELECT " + alertCols + " FROM alerts" + w.String() + " ORDER BY starts_at, fingerprint" + limitClause(f.Limit)
	rows, err := r.q.QueryContext(ctx, r.s.queries.get(q), w.args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	var out []store.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

const eventCols = `id, incident_id, time, kind, actor, summary, labels, data`

func (r reader) ListEvents(ctx context.Context, f store.EventFilter) ([]store.TimelineEvent, error) {
	var w where
	if f.IncidentID != "" {
		w.add("incident_id = ?", f.IncidentID)
	}
	w.in("kind", f.Kinds)
	if !f.Since.IsZero() {
		w.add("time >= ?", nanos(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("time < ?", nanos(f.Until))
	}
	if f.AfterID > 0 {
		w.add("id > ?", f.AfterID)
	}
	q := "SELECT " + eventCols + " FROM events" + w.String() + " ORDER BY id"
	if len(f.Labels) == 0 {
		q += limitClause(f.Limit)
	}
	rows, err := r.q.QueryContext(ctx, r.s.queries.get(q), w.args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []store.TimelineEvent
	for rows.Next() {
		var (
			e      store.TimelineEvent
			at     int64
			labels string
			data   *string
		)
		if err := rows.Scan(&e.ID, &e.IncidentID, &at, &e.Kind, &e.Actor, &e.Summary, &labels, &data); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		if e.Labels, err = parseLabels("labels", labels); err != nil {
			return nil, fmt.Errorf("list events: event %d: %w", e.ID, err)
		}
		if !matchLabels(e.Labels, f.Labels) {
			continue
		}
		e.Time = fromNanos(at)
		e.Data = fromRawJSON(data)
		out = append(out, e)
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

const silenceCols = `id, matchers, starts_at, ends_at, created_by, comment, updated_at`

func scanSilence(sc interface{ Scan(...any) error }) (store.Silence, error) {
	var (
		s                       store.Silence
		matchers                string
		starts, ends, updatedAt int64
	)
	if err := sc.Scan(&s.ID, &matchers, &starts, &ends, &s.CreatedBy, &s.Comment, &updatedAt); err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(matchers), &s.Matchers); err != nil {
		return s, fmt.Errorf("silence %q: column matchers: %w", s.ID, err)
	}
	s.StartsAt, s.EndsAt, s.UpdatedAt = fromNanos(starts), fromNanos(ends), fromNanos(updatedAt)
	return s, nil
}

func (r reader) GetSilence(ctx context.Context, id string) (store.Silence, error) {
	row := r.q.QueryRowContext(ctx, r.s.queries.get("SELECT "+silenceCols+" FROM silences WHERE id = ?"), id)
	s, err := scanSilence(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Silence{}, fmt.Errorf("silence %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Silence{}, fmt.Errorf("silence %q: %w", id, err)
	}
	return s, nil
}

func (r reader) ListSilences(ctx context.Context) ([]store.Silence, error) {
	rows, err := r.q.QueryContext(ctx, "SELECT "+silenceCols+" FROM silences ORDER BY starts_at, id")
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	defer rows.Close()
	var out []store.Silence
	for rows.Next() {
		s, err := scanSilence(rows)
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	return out, nil
}

const notificationCols = `id, incident_id, receiver, action, payload, created_at, next_attempt, attempts, last_error, state, sent_at`

func scanNotification(sc interface{ Scan(...any) error }) (store.Notification, error) {
	var (
		n                   store.Notification
		payload             *string
		created, next, sent int64
	)
	if err := sc.Scan(&n.ID, &n.IncidentID, &n.Receiver, &n.Action, &payload, &created, &next, &n.Attempts, &n.LastError, &n.State, &sent); err != nil {
		return n, err
	}
	n.Payload = fromRawJSON(payload)
	n.CreatedAt, n.NextAttempt, n.SentAt = fromNanos(created), fromNanos(next), fromNanos(sent)
	return n, nil
}

func (r reader) ListNotifications(ctx context.Context, f store.NotificationFilter) ([]store.Notification, error) {
	var w where
	if f.IncidentID != "" {
		w.add("incident_id = ?", f.IncidentID)
	}
	w.in("state", f.States)
	q := "SELECT " + notificationCols + " FROM notifications" + w.String() + " ORDER BY id" + limitClause(f.Limit)
	rows, err := r.q.QueryContext(ctx, r.s.queries.get(q), w.args...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	var out []store.Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return out, nil
}

const remediationCols = `id, incident_id, action, target, status, reason, actor, dry_run, created_at, finished_at, output, started_at`

func (r reader) ListRemediationRuns(ctx context.Context, f store.RemediationFilter) ([]store.RemediationRun, error) {
	var w where
	if f.ID != 0 {
		w.add("id = ?", f.ID)
	}
	if f.IncidentID != "" {
		w.add("incident_id = ?", f.IncidentID)
	}
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if f.Target != "" {
		w.add("target = ?", f.Target)
	}
	if !f.Since.IsZero() {
		w.add("created_at >= ?", nanos(f.Since))
	}
	w.in("status", f.Statuses)
	q := "SELECT " + remediationCols + " FROM remediation_runs" + w.String() + " ORDER BY id" + limitClause(f.Limit)
	rows, err := r.q.QueryContext(ctx, r.s.queries.get(q), w.args...)
	if err != nil {
		return nil, fmt.Errorf("list remediation runs: %w", err)
	}
	defer rows.Close()
	var out []store.RemediationRun
	for rows.Next() {
		var (
			run                      store.RemediationRun
			created, finish, started int64
		)
		if err := rows.Scan(&run.ID, &run.IncidentID, &run.Action, &run.Target, &run.Status, &run.Reason, &run.Actor,
			&run.DryRun, &created, &finish, &run.Output, &started); err != nil {
			return nil, fmt.Errorf("list remediation runs: %w", err)
		}
		run.CreatedAt, run.FinishedAt, run.StartedAt = fromNanos(created), fromNanos(finish), fromNanos(started)
		out = append(out, run)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list remediation runs: %w", err)
	}
	return out, nil
}

func sortedLabelNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sqliteJSONPath is the json_extract path of an object key: $."key",
// with " and \ escaped.
func sqliteJSONPath(key string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `$."` + r.Replace(key) + `"`
}
