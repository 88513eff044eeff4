// Package pagerduty sends fleetwatch incidents to PagerDuty's Events API
// v2: trigger, acknowledge and resolve with dedup_key = the incident's id,
// and change events for remediation runs and config reloads. It uses
// github.com/PagerDuty/go-pagerduty's client, built with the configured
// endpoint, and classifies PagerDuty's answers for the outbox worker (429
// and 5xx and network errors are retried, with PagerDuty's Retry-After; 400
// is not).
//
// It must not use go-pagerduty's package-level functions (they post to the
// real PagerDuty whatever the config says), keep incident state (the
// outbox and PagerDuty's dedup_key do that), or let the routing key reach
// an error, a log line or a metric.
package pagerduty
