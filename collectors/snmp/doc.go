// Package snmp polls switches, routers, PDUs and hosts over SNMP v1, v2c and
// v3 and turns what they answer into samples, as Prometheus' snmp_exporter
// does: the same module format (snmp_exporter's generated snmp.yml, loaded
// by LoadExporterConfig), the same metric names, label sets and values.
//
// Built-in modules need no snmp.yml: if_mib (IF-MIB ifTable and ifXTable),
// entity_sensor (ENTITY-SENSOR-MIB readings scaled to base units),
// host_resources (HOST-RESOURCES-MIB), ucd (net-snmp's load, memory and CPU)
// and lldp (LLDP-MIB neighbours, exposed as snmp_lldp_neighbor_info and as
// Neighbor values for the inventory's topology).
//
// A poll asks with GETBULK (GETNEXT for v1) under a per-request timeout and
// retries and a per-device deadline. One subtree failing (an agent walking
// backwards, an error-status, a truncated or too big response that stays so
// with max-repetitions 1) keeps what the rest returned; a device that never
// answers costs one request's timeouts and never another device's time.
// Walk and Get serve `fleetwatch snmp walk|get`.
//
// Traps are received by the traps subpackage.
//
// What it must not do: attach target labels, write `up`, commit samples or
// keep package-level state (the scheduler in package collectors does the
// first three); write a community or password to a log line, an error or a
// label; import the rule engine or the alerter.
package snmp
