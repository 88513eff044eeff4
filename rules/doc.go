// Package rules loads Prometheus rule files unchanged and evaluates them with
// Prometheus' own rule manager (github.com/prometheus/prometheus/rules) and
// PromQL engine.
//
// It provides:
//   - Engine: recording and alerting rules evaluated on a schedule, with
//     ALERTS / ALERTS_FOR_STATE written back, the `for` state restored after
//     a restart, reloads that keep the old rules when a file is broken, and
//     the Prometheus JSON of GET /api/v1/rules and /api/v1/alerts;
//   - CheckFiles: `fleetwatch rules check`, promtool's messages and exit codes;
//   - Backtest: what the rules would have done over stored history;
//   - RemoteQueryFunc: rule queries sent to a remote PromQL endpoint;
//   - built-in rule packs, loadable as `pack:<name>` (see package packs).
//
// Rule files may also hold anomaly rules (items keyed `anomaly:`); this
// package drops them before handing the file to rulefmt and leaves them to
// the anomaly package.
//
// This package must not re-implement rule semantics (pending/firing, `for`,
// templates, staleness): those stay Prometheus'. It never imports the
// alerter: alerts leave through the injected rules.NotifyFunc. It keeps no
// global state: metrics go to the injected prometheus.Registerer, logs to the
// injected *slog.Logger.
package rules
