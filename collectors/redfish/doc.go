// Package redfish collects server hardware health from BMCs over Redfish:
// systems, processors, memory, storage and drives, chassis temperatures, fans,
// power supplies, voltages and power (from the classic Thermal/Power resources
// and from ThermalSubsystem, PowerSubsystem, Sensors and EnvironmentMetrics),
// managers, network ports, and the log services read incrementally into
// events.
//
// A Collector implements collectors.Collector for any number of BMCs: it
// keeps one client (and one session) per BMC across polls, uses $expand when
// the service advertises it, spends at most a request budget per poll and
// reads only log entries newer than the last seen. Vendor differences are
// handled by data (links with trailing slashes or lower case, ids with
// slashes, Members or Links, missing fields, Oem ignored), not by vendor
// branches.
//
// It must not import the rule engine or the alerter: log entries go to an
// events.Sink. It must not log, return or expose the BMC password or session
// token, and one BMC's failure must never affect another's poll. The HTTP
// client is in the client subpackage, the remediation actions in action.
package redfish
