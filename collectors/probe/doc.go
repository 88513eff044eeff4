// Package probe measures the network from this host to targets, as
// Prometheus' blackbox_exporter does and with its metric names: ICMP echo
// (an unprivileged ping socket where the kernel allows it, a raw socket as
// root), TCP connect, HTTP(S) with resolve/connect/tls/processing/transfer
// phases, and DNS queries to a given server. Besides blackbox_exporter's
// probe_success, probe_duration_seconds and per-prober gauges, each target
// gets a cumulative RTT histogram (probe_rtt_seconds) and sent/received
// packet counters, the data latency and loss anomaly rules work on.
//
// A failed probe is a sample (probe_success 0), not a collection error; only
// an address the prober cannot use is an error.
//
// What it must not do: send more than the configured packets per probe,
// listen on a port, follow a redirect to another scheme when told not to,
// write samples other than through the Appender, or keep package-level
// state.
package probe
