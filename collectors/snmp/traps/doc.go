// Package traps receives SNMP notifications on UDP (default 127.0.0.1:9162):
// v1 traps, v2c traps and informs, and v3 traps from configured USM users.
// Each becomes an events.Event (source snmp_trap, kind linkDown, linkUp,
// coldStart, warmStart, authenticationFailure or a configured name) labelled
// with the sending device's inventory labels, handed to an events.Sink (the
// alerter's intake), and counted in fleetwatch_snmp_traps_received_total.
// Informs are acknowledged.
//
// What it must not do: crash or stop on any packet (malformed ones are
// counted in fleetwatch_snmp_traps_dropped_total and dropped), block on a
// slow sink beyond the sink's own HandleEvent, put a community or password
// into an event, a log line or a metric, or keep package-level state.
// SNMPv3 informs (which need fleetwatch to be the authoritative engine) are
// not answered.
package traps
