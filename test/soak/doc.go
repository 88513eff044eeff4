// Package soak runs the fleetwatch binary against a simulated datacenter
// (1,000 Redfish BMCs, 25 SNMP switches, rule packs) with alert storms and
// injected BMC faults for a bounded time, sampling the process from
// outside, and checks that memory, goroutines, open files and TSDB head
// series stay flat after warm-up and that healthy targets keep being
// collected.
//
// It runs 2 minutes by default (FLEETWATCH_SOAK=30m for a long run) and is
// skipped under -short. It must not import fleetwatch's packages: it tests
// the binary.
package soak
