// Package collectors defines what every fleetwatch collector implements and runs
// them: the Collector interface, the Target a collector is pointed at, and the
// Scheduler that polls every target at its job's interval with a timeout, jitter
// and a global concurrency limit, writing `up`, duration and error self-metrics.
//
// One subpackage per protocol (host, scrape, snmp, redfish, probe) implements
// Collector. Collectors write samples through an Appender; they never import the
// rule engine or the alerter. Events (traps, log entries) go to an event sink
// defined outside this package.
package collectors
