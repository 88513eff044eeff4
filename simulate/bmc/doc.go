// Package bmc simulates a fleet of Redfish BMCs on loopback for demos
// (`fleetwatch simulate`), tests and benchmarks of the redfish collector.
//
// Each simulated BMC serves one of the embedded mockups (real Redfish trees
// from DMTF, HPE iLO 5 and Intel, see testdata/mockups/SOURCE.md) with its own
// serial numbers and sensor readings that drift slowly, sessions and basic
// authentication, one-level $expand of collections, ComputerSystem.Reset and
// PATCH of Boot, and faults injected on a schedule or through an HTTP control
// endpoint: a fan stops, a PSU fails, a DIMM logs uncorrectable errors, the BMC
// hangs, answers 500, an HTML page, truncated or malformed JSON, a redirect
// loop, or has no session slot left.
//
// It is a test double: it must not be exposed beyond loopback, it keeps no
// state on disk, and it must not be imported by production code paths other
// than the simulate command.
package bmc
