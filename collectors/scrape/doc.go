// Package scrape collects samples from targets that already expose metrics in
// the Prometheus text format or OpenMetrics: node_exporter, snmp_exporter,
// application /metrics endpoints.
//
// A Collector fetches a target's metrics path over HTTP(S) with the Accept,
// Accept-Encoding and X-Prometheus-Scrape-Timeout-Seconds headers Prometheus
// sends, parses the body with Prometheus' own model/textparse parsers chosen by
// the response's Content-Type, and writes every sample, with its labels exactly
// as exposed, through the collectors.Appender, together with the TYPE, HELP and
// UNIT metadata of every family.
//
// What it must not do: attach target labels, apply relabeling, write `up` or
// other per-target self metrics, keep stale markers or commit samples. Those are
// the scheduler's (package collectors). It never reads secrets from the config
// text itself (only from files) and never writes a secret to a log line or an
// error.
package scrape
