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
// Hostile input: every PromQL expression a client sends (query on
// query, query_range, query_exemplars and format_query; each match[]
// selector) is checked with exprdepth before it is parsed — at most 1,000
// levels of brackets, calls and operators, and at most 10,000,000 tokens ×
// depth — and refused as bad_data (400) above that, because Prometheus'
// parser takes time quadratic in the depth before the query timeout
// applies. A form body over net/http's 10 MiB (or a smaller
// http.MaxBytesReader limit set by the server) is answered 413 with
// errorType bad_data and the limit in the message; Prometheus answers 400.
//
// What it must not do: open, own or close the storage (the caller passes it
// in and closes it), start listeners (the caller mounts Register on its own
// mux), write samples, evaluate rules, or keep state beyond its own metrics.
// It must not import web/api/v1, which drags in the OTLP collector and
// OpenAPI libraries and registers global JSON encoders.
package promapi
