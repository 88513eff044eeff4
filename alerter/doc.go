// Package alerter is fleetwatch's incident engine: it takes alerts (from
// fleetwatch's rules through Notify, from any Prometheus or vmalert through
// the Alertmanager API in subpackage amapi) and events (traps, Redfish log
// entries, POST /api/v1/events through HandleEvent), and turns them into
// incidents and notifications.
//
// The pipeline, in order: dedup by fingerprint (an in-memory index of the
// alerts, persisted through the store; an alert re-sent unchanged costs no
// write) → suppression (inventory lifecycle maintenance, silences,
// inhibition) → routing (Alertmanager's tree, continue, time intervals) →
// topology correlation (servers of one switch, rack, PDU or site, with the
// upstream device's signal as the probable cause) → grouping with
// Alertmanager's group_wait / group_interval / repeat_interval → incident
// state machine (triggered → acknowledged → resolved, reopen) → one store
// transaction holding the incident change, its timeline events and its
// outbox notifications → the outbox worker, which delivers with retries,
// backoff and per-receiver rate limits.
//
// It must not: import the postmortem, web or cmd packages, or
// Alertmanager's config package (which links every integration); send a
// notification that was not committed first; keep state that a restart
// would lose (everything it holds in memory is rebuilt from the store by
// Load); put secrets in the timeline, logs or messages.
package alerter
