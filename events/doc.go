// Package events is the hand-off point for things that happen rather than
// things that are measured: SNMP traps, Redfish log entries, lifecycle
// changes, deploys, maintenance windows, config reloads. Collectors and the
// HTTP event intake produce an Event and give it to a Sink; the alerter
// implements Sink. The package holds only the type and the interface, so
// collectors can emit events without importing the alerter.
package events
