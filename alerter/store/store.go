package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when the incident, silence or notification asked
// for does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by UpdateIncident when the incident changed since
// it was read (its Version moved): the caller reads it again and retries.
var ErrConflict = errors.New("changed concurrently")

// Store is the alerter's durable state. Implementations are safe for
// concurrent use.
type Store interface {
	// Update runs fn in one transaction: everything fn writes through tx is
	// committed together when fn returns nil, and nothing when it returns an
	// error (which Update returns).
	Update(ctx context.Context, fn func(tx Tx) error) error

	Reader

	// ClaimNotifications hands out up to limit pending notifications whose
	// NextAttempt has come, oldest first, leasing them to owner until
	// now+lease: nobody else claims them meanwhile. A lease that runs out
	// (its owner died) makes them claimable again. Each claim counts one
	// Attempt. Notifications of one incident to one receiver are handed
	// out one at a time in ID order: a later one (a resolve) waits while
	// an earlier one (its trigger) is pending, leased or waiting to retry.
	ClaimNotifications(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Notification, error)
	// FinishNotification records the outcome of a claimed notification:
	// sent, retried at next (err != "" and next non-zero), or failed for
	// good (err != "" and next zero). It also releases the lease. It
	// returns ErrNotFound for an unknown id and ErrConflict when the
	// notification is no longer pending (finished by another sender after
	// this one's lease ran out).
	FinishNotification(ctx context.Context, id int64, at time.Time, errMsg string, next time.Time) error

	// Close releases the database.
	Close() error
}

// Reader is the read side, used by the API, the UI and the postmortem.
type Reader interface {
	GetIncident(ctx context.Context, id string) (Incident, error)
	// ListIncidents returns incidents newest first (CreatedAt, then ID).
	ListIncidents(ctx context.Context, f IncidentFilter) ([]Incident, error)
	// ListAlerts returns the stored alerts matching f by StartsAt, then
	// fingerprint.
	ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error)
	// ListEvents returns timeline events matching f in ID order.
	ListEvents(ctx context.Context, f EventFilter) ([]TimelineEvent, error)
	// ListSilences returns every stored silence by StartsAt, then ID.
	ListSilences(ctx context.Context) ([]Silence, error)
	// ListNotifications and ListRemediationRuns return ID order.
	ListNotifications(ctx context.Context, f NotificationFilter) ([]Notification, error)
	ListRemediationRuns(ctx context.Context, f RemediationFilter) ([]RemediationRun, error)
}

// Tx is what a transaction can write (and read, seeing its own writes).
type Tx interface {
	Reader

	// PutAlert inserts or replaces the alert with a.Fingerprint.
	PutAlert(ctx context.Context, a Alert) error
	// DeleteAlerts removes resolved alerts that ended before t (retention).
	DeleteAlerts(ctx context.Context, endedBefore time.Time) (int, error)

	// CreateIncident stores a new incident; inc.ID must be set and unique.
	// It returns ErrConflict when the ID exists or when another incident of
	// inc.GroupKey is still open (at most one open incident per group, even
	// across instances sharing PostgreSQL).
	CreateIncident(ctx context.Context, inc Incident) error
	// UpdateIncident replaces the incident if its stored Version equals
	// inc.Version, and stores it with Version+1; otherwise ErrConflict.
	UpdateIncident(ctx context.Context, inc Incident) (Incident, error)
	// OpenIncident returns the not-resolved incident with groupKey, or
	// ErrNotFound.
	OpenIncident(ctx context.Context, groupKey string) (Incident, error)

	// AddEvent appends to the timeline and returns the event's ID. Data
	// must be valid JSON (or empty).
	AddEvent(ctx context.Context, e TimelineEvent) (int64, error)

	PutSilence(ctx context.Context, s Silence) error
	GetSilence(ctx context.Context, id string) (Silence, error)

	// Enqueue adds a pending notification to the outbox and returns its ID.
	// A zero NextAttempt means CreatedAt; State and Attempts are ignored.
	Enqueue(ctx context.Context, n Notification) (int64, error)

	// AddRemediationRun stores a run and returns its ID; UpdateRemediationRun
	// replaces one by ID.
	AddRemediationRun(ctx context.Context, r RemediationRun) (int64, error)
	UpdateRemediationRun(ctx context.Context, r RemediationRun) error
}

// IncidentFilter selects incidents. Zero fields match everything.
type IncidentFilter struct {
	States []IncidentState
	// Labels must all match exactly (site, rack, severity, …).
	Labels   map[string]string
	Receiver string
	Since    time.Time // created at or after
	Until    time.Time // created before
	Limit    int       // 0 = no limit; newest first
}

// AlertFilter selects alerts. Zero fields match everything.
type AlertFilter struct {
	IncidentID string
	// Active keeps alerts not resolved at this time (zero: all).
	Active      time.Time
	Fingerprint []string
	// Labels must all match exactly; done in SQL (json_extract on
	// SQLite, ->> on PostgreSQL).
	Labels map[string]string
	Limit  int
}

// EventFilter selects timeline events. Zero fields match everything.
type EventFilter struct {
	IncidentID string
	Kinds      []string
	Since      time.Time // at or after
	Until      time.Time // before
	// Labels must all match exactly.
	Labels  map[string]string
	AfterID int64 // ID greater than this (for paging and tailing)
	Limit   int
}

// NotificationFilter selects outbox entries.
type NotificationFilter struct {
	IncidentID string
	States     []string
	Limit      int
}

// RemediationFilter selects remediation runs.
type RemediationFilter struct {
	ID         int64 // one run (0: any)
	IncidentID string
	Action     string
	Target     string
	Since      time.Time
	Statuses   []string
	Limit      int
}

// AlertBatchPutter is an optional capability of a Tx: storing many alerts
// in one statement (one round trip on PostgreSQL, one statement on SQLite)
// instead of one PutAlert each, for a POST of 100 alerts. PutAlerts(as) is
// equivalent to PutAlert of each in order (a fingerprint given twice keeps
// the last). Callers type-assert and fall back to PutAlert:
//
//	if b, ok := tx.(store.AlertBatchPutter); ok { err = b.PutAlerts(ctx, as) }
type AlertBatchPutter interface {
	PutAlerts(ctx context.Context, as []Alert) error
}

// Lease is the state of a named lease after TryLease.
type Lease struct {
	// Holder is the owner holding the lease ("" if nobody does).
	Holder string
	// Term counts the lease's changes of holder: a new holder gets a
	// larger term than every holder before it.
	Term int64
	// TTL is how long the lease stays valid from the moment TryLease
	// asked, for its holder.
	TTL time.Duration
}

// Leaser is an optional capability of a Store: named leases, each held by
// one owner at a time until it lapses. The active instance of several
// sharing one database holds the alerter's lease.
type Leaser interface {
	// TryLease takes the lease name for owner when it is free, lapsed or
	// already owner's, and renews it for ttl; otherwise it reports who
	// holds it. Expiry is judged by the database's clock where it has one
	// (PostgreSQL), so the instances' clocks need not agree.
	TryLease(ctx context.Context, name, owner string, ttl time.Duration) (Lease, error)
	// ReleaseLease gives the lease up if owner holds it (a clean stop), so
	// another instance takes over without waiting for it to lapse.
	ReleaseLease(ctx context.Context, name, owner string) error
	// Shared reports whether several processes may use the store at once
	// (PostgreSQL), so that the alerter must elect an active instance;
	// false for a store only one process opens (SQLite).
	Shared() bool
}

// AlertObserver is an optional capability of a Tx, used by a standby
// instance: storing alerts as AlertBatchPutter does, except that a stored
// alert of the same episode (its stored EndsAt is unset or after the new
// StartsAt) keeps its IncidentID and Suppressed, which only the active
// instance decides. A new episode starts with both empty.
type AlertObserver interface {
	ObserveAlerts(ctx context.Context, as []Alert) error
}
