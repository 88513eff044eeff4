// Package promapi serves the Prometheus HTTP API (/api/v1/query, query_range,
// series, labels, label values, metadata, targets, status/buildinfo, …) and
// /federate over any storage.Queryable and a promql.QueryEngine, so that
// Grafana's Prometheus datasource, promtool and other Prometheus clients work
// against fleetwatch's embedded TSDB unchanged.
//
// The JSON it writes has the same keys, types, error types and HTTP status
// codes as Prometheus 2.42/3.x; parameter parsing (times, durations, step,
// match[], start/end, limit) follows web/api/v1 of the Prometheus version in
// go.mod.
//
// What it must not do: open, own or close the storage (the caller passes it
// in and closes it), start listeners (the caller mounts Register on its own
// mux), write samples, evaluate rules, or keep state beyond its own metrics.
// It must not import web/api/v1, which drags in the OTLP collector and
// OpenAPI libraries and registers global JSON encoders.
package promapi
