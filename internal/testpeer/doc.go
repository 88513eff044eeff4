// Package testpeer starts the real peers fleetwatch is compared with
// (node_exporter, Prometheus, promtool, snmpd, …) on 127.0.0.1 for tests.
//
// A peer that is not installed skips the test on a developer's machine and
// fails it when CI=true, so CI never passes by skipping. `make deps` installs
// every peer from Debian's packages.
package testpeer
