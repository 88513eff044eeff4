// Package simulate holds fleetwatch's simulated devices, for demos, tests
// and benchmarks on one machine: bmc (Redfish services built from real
// mockups), switch (SNMP agents replaying real recordings) and fleet, which
// runs both as a small datacenter on loopback with a matching inventory.
// Nothing here is used when fleetwatch watches real hardware.
package simulate
