// Package amapi serves Alertmanager's API v2 over the alerter engine, so a
// Prometheus or vmalert can send its alerts to fleetwatch and Grafana's
// Alertmanager datasource can read alerts and groups and manage silences:
// POST/GET /api/v2/alerts, GET /api/v2/alerts/groups, GET/POST
// /api/v2/silences, GET/DELETE /api/v2/silence/{id}, GET /api/v2/status,
// GET /api/v2/receivers. It also serves POST /api/v1/events, the intake for
// outside systems (lifecycle, deploy pipelines), which takes the same path
// as SNMP traps and Redfish log entries.
//
// It must not keep state of its own, store anything when a request is
// malformed (a bad alert JSON is answered 400 naming the field, before the
// engine sees any of the batch), or show receiver settings (which may hold
// tokens) in /api/v2/status.
package amapi
