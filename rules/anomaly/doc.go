// Package anomaly detects anomalies in server, network and latency series and
// turns them into alerts.
//
// Anomaly rules live in ordinary Prometheus rule files as items keyed
// `anomaly:` (instead of `alert:` or `record:`). ParseFile and ParseBytes read
// only those items; the rules loader drops them before Prometheus' rulefmt sees
// the file. Each rule's PromQL expression yields series; every series gets its
// own Detector, kept incrementally: a rolling median/MAD window of recent
// values, an EWMA mean/variance and, optionally, daily or weekly seasonal
// offsets. A Detector holds well under 1 KiB and serialises with
// MarshalBinary so baselines survive restarts.
//
// The Evaluator queries each rule at its group's interval through a
// prometheus rules.QueryFunc, writes `anomaly_score` samples through a
// storage.Appendable and emits prometheus rules.Alert values through a
// rules.NotifyFunc. DetectCSV runs the same detector over a `timestamp,value`
// CSV file.
//
// This package must not re-query history on each evaluation (the baseline is
// incremental), must not import the alerter or keep global state, and must not
// parse `alert:` or `record:` items: those belong to prometheus' rulefmt.
package anomaly
