// Package host collects the metrics of the machine fleetwatch runs on, as
// Prometheus' node_exporter 1.5 does: the same metric names, label names,
// label values, units and HELP text for the cpu, stat, meminfo, loadavg,
// diskstats, filesystem, netdev, netclass, pressure, hwmon, edac,
// thermal_zone, uname and time collectors, plus node_scrape_collector_success
// and node_scrape_collector_duration_seconds. Dashboards and alert rules
// written for node_exporter work unchanged.
//
// It reads procfs and sysfs through github.com/prometheus/procfs, writes
// samples straight into a collectors.Appender (no client_golang Desc/Metric
// objects), and bounds every statfs call with filesystem.mount_timeout so a
// hung NFS mount cannot stall a collection.
//
// It must not open network connections, run external commands, write to the
// host, keep package-level state, or emit a family node_exporter does not
// have (deliberate differences are listed in docs/collectors/host.md).
package host
