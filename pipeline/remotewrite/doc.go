// Package remotewrite sends what the pipeline stores to Prometheus
// remote-write receivers (VictoriaMetrics, Mimir, Thanos, Prometheus): one
// queue per remote_write endpoint tails the embedded TSDB's write-ahead log
// under <data>/wal, relabels each series with write_relabel_configs, and
// sends snappy-compressed protobuf WriteRequests from sharded senders with
// retries and backoff. Metric metadata is sent periodically.
//
// Nothing is written twice: the TSDB's WAL is the queue. Each queue keeps
// the WAL position up to which the receiver has acknowledged every sample in
// a small file under <data>/remote_write/<name>.position, so a receiver
// outage loses no sample while its segments are still in the WAL, and a
// restart of fleetwatch resumes from that position instead of from "now".
//
// Why not prometheus' storage/remote: its WAL watcher restarts from the
// wall clock on every start (samples older than the start are skipped), so a
// restart of the process loses whatever had not been sent yet, and its
// metrics are package-level and named prometheus_remote_storage_*. This
// package reuses prometheus' tsdb/wlog reader, tsdb/record decoder,
// model/relabel and prompb instead, and adds the acknowledged position.
//
// The package must not write into the TSDB's directory other than its own
// remote_write/ folder, must not log credentials (tokens and passwords are
// read from files per request and never appear in errors or logs), and
// knows nothing of rules, alerts or collectors.
package remotewrite
