// Package unittest runs `promtool test rules` unit-test files unchanged:
// rule_files, evaluation_interval, group_eval_order, fuzzy_compare and tests
// with interval, input_series (Prometheus' expanding series notation:
// `1+1x10`, `_`, `stale`), alert_rule_test, promql_expr_test,
// external_labels, external_url, name and start_timestamp.
//
// promtool's runner lives in package main (cmd/promtool/unittest.go) and
// cannot be imported; this package is fleetwatch's runner for the same file
// format, keeping promtool's evaluation loop, output and exit codes. Series
// are parsed with promql/parser's ParseSeriesDesc, stored in a throw-away
// Prometheus TSDB, and rules are evaluated by Prometheus' own rule groups
// (rules.Manager.LoadGroups, Group.Eval). It must not re-implement rule
// semantics. Rule files may be fleetwatch rule files (anomaly items are
// dropped) or "pack:NAME".
package unittest
