// Package packs holds fleetwatch's built-in Prometheus rule packs (server,
// network, latency), embedded in the binary and loadable by name as
// `pack:<name>` in rule_files.
//
// The packs are plain Prometheus rule files: each also passes `promtool check
// rules` and has promtool-format unit tests next to it (<name>_test.yml). The
// metric names they expect are listed in docs/rules.md; collectors must
// produce exactly those names. This package must not evaluate anything: it
// only serves the files.
package packs
