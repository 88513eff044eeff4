// Package fwds is fleetwatch's Grafana backend datasource: it reads the
// incidents API (GET /api/v1/incidents and /api/v1/incidents/{id}) with a
// bearer token and answers Grafana's QueryData (incidents as a table, an
// incident's or a filtered set of incidents' timeline usable as a table and
// as annotations, incident metrics over time), CheckHealth (fleetwatch
// reachable, token accepted) and resource calls (incident lists and
// details for the query editor).
//
// It must not change incidents (it only sends GETs), log or return the
// token, import anything of fleetwatch beyond the alerter's JSON model
// (alerter/store), or be imported by the fleetwatch binary: it links the
// Grafana SDK and Apache Arrow.
package fwds
