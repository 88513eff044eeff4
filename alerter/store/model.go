package store

import (
	"encoding/json"
	"time"
)

// Alert is one alert, identified by the fingerprint of its labels as in
// Alertmanager. An alert whose EndsAt has passed is resolved.
type Alert struct {
	Fingerprint  string            `json:"fingerprint"` // 16 hex digits of model.LabelSet.Fingerprint
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	// IncidentID is the incident the alert belongs to ("" while it waits in
	// no incident, e.g. silenced or inhibited).
	IncidentID string `json:"incidentID,omitempty"`
	// Suppressed says why the alert pages nobody: "silenced:<id>",
	// "inhibited", "maintenance:<lifecycle state>", or "".
	Suppressed string `json:"suppressed,omitempty"`
}

// Resolved reports whether the alert had ended at now.
func (a *Alert) Resolved(now time.Time) bool {
	return !a.EndsAt.IsZero() && !a.EndsAt.After(now)
}

// IncidentState is where an incident is in its life.
type IncidentState string

// The incident states: triggered → acknowledged → resolved (and back to
// triggered if it re-fires within its group's window).
const (
	Triggered    IncidentState = "triggered"
	Acknowledged IncidentState = "acknowledged"
	Resolved     IncidentState = "resolved"
)

// Incident is one real problem: the alerts of one group (route and group_by
// labels) or of one topology correlation, paged once.
type Incident struct {
	// ID is stable, sortable by creation, and the PagerDuty dedup_key.
	ID string `json:"id"`
	// GroupKey identifies the group the incident's alerts fell into (route
	// + group_by label values, or a correlation key).
	GroupKey string `json:"groupKey"`
	// Route is the path of the route that matched, Receiver its receiver.
	Route    string `json:"route"`
	Receiver string `json:"receiver"`
	Title    string `json:"title"`
	// Cause names the probable common cause when topology correlation
	// joined the alerts (e.g. "switch sw-r12 port Et49 down").
	Cause    string        `json:"cause,omitempty"`
	Severity string        `json:"severity"` // critical, error, warning, info
	State    IncidentState `json:"state"`
	// Labels are the group labels plus the labels every alert shares.
	Labels   map[string]string `json:"labels"`
	Assignee string            `json:"assignee,omitempty"`
	// AlertCount and FiringCount are kept with every change for lists.
	AlertCount  int `json:"alertCount"`
	FiringCount int `json:"firingCount"`

	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	AcknowledgedAt time.Time `json:"acknowledgedAt,omitzero"`
	ResolvedAt     time.Time `json:"resolvedAt,omitzero"`
	// LastNotifiedAt is when the receiver was last told (repeat_interval).
	LastNotifiedAt time.Time `json:"lastNotifiedAt,omitzero"`
	// Version increases with every update (optimistic concurrency between
	// instances sharing PostgreSQL).
	Version int64 `json:"version"`
}

// Event kinds written to the timeline. Other kinds may be added; readers
// must show unknown kinds as they are.
const (
	EventAlertFiring         = "alert_firing"
	EventAlertResolved       = "alert_resolved"
	EventAlertSuppressed     = "alert_suppressed"
	EventIncidentCreated     = "incident_created"
	EventIncidentGrouped     = "incident_grouped" // an alert joined
	EventIncidentEscalated   = "incident_escalated"
	EventAcknowledged        = "acknowledged"
	EventResolved            = "resolved"
	EventReopened            = "reopened"
	EventNote                = "note"
	EventNotificationQueued  = "notification_queued"
	EventNotificationSent    = "notification_sent"
	EventNotificationFailed  = "notification_failed"
	EventRemediationProposed = "remediation_proposed"
	EventRemediationSkipped  = "remediation_skipped"
	EventRemediationApproved = "remediation_approved"
	EventRemediationStarted  = "remediation_started"
	EventRemediationFinished = "remediation_finished"
	EventSilenceCreated      = "silence_created"
	EventSilenceExpired      = "silence_expired"
	EventExternal            = "event" // a trap, a Redfish log entry, a change event
	EventConfigReload        = "config_reload"
	EventLifecycle           = "lifecycle"
)

// TimelineEvent is one entry of the append-only timeline. Entries are never
// updated or deleted (except by retention).
type TimelineEvent struct {
	ID int64 `json:"id"` // assigned by the store, increasing
	// IncidentID is the incident it belongs to, "" for fleet-level events
	// (a trap that matched no incident, a config reload).
	IncidentID string    `json:"incidentID,omitempty"`
	Time       time.Time `json:"time"`
	Kind       string    `json:"kind"`
	// Actor is who did it: "fleetwatch", "rule:<name>", "user:<name>",
	// "api:<token name>", "pagerduty".
	Actor   string `json:"actor"`
	Summary string `json:"summary"`
	// Labels identify what it concerns (the alert's or device's labels).
	Labels map[string]string `json:"labels,omitempty"`
	// Data holds kind-specific details as JSON; never secrets.
	Data json.RawMessage `json:"data,omitempty"`
}

// Silence mutes matching alerts between StartsAt and EndsAt, with
// Alertmanager's matcher semantics.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Matcher is one label matcher of a silence (Alertmanager API v2's shape).
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// Notification is one message due to a receiver, kept in the outbox until
// it is sent or given up.
type Notification struct {
	ID         int64  `json:"id"` // assigned by the store
	IncidentID string `json:"incidentID"`
	Receiver   string `json:"receiver"`
	// Action is what the receiver is told: "trigger", "acknowledge",
	// "resolve" or "change".
	Action string `json:"action"`
	// Payload is the message as the sender will build it (JSON), fixed when
	// the change that caused it was committed.
	Payload     json.RawMessage `json:"payload"`
	CreatedAt   time.Time       `json:"createdAt"`
	NextAttempt time.Time       `json:"nextAttempt"`
	Attempts    int             `json:"attempts"`
	LastError   string          `json:"lastError,omitempty"`
	// State: "pending", "sent" or "failed" (given up).
	State  string    `json:"state"`
	SentAt time.Time `json:"sentAt,omitzero"`
}

// Outbox states.
const (
	NotificationPending = "pending"
	NotificationSent    = "sent"
	NotificationFailed  = "failed"
)

// RemediationRun is the audit record of one remediation decision and its
// outcome; guards read them back (rate per hour, cooldown per server).
type RemediationRun struct {
	ID         int64     `json:"id"`
	IncidentID string    `json:"incidentID"`
	Action     string    `json:"action"` // the configured action's name
	Target     string    `json:"target"` // the server (hostname) acted on, or ""
	Status     string    `json:"status"` // proposed, awaiting_approval, skipped, running, verifying, succeeded, failed, escalated
	Reason     string    `json:"reason"` // why skipped/failed/escalated, which guard
	Actor      string    `json:"actor"`  // who approved, or "fleetwatch"
	DryRun     bool      `json:"dryRun"`
	CreatedAt  time.Time `json:"createdAt"`
	// StartedAt is when the action began running (zero until then).
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	Output     string    `json:"output,omitempty"` // bounded, secrets redacted
}
