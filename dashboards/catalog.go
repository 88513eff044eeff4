package dashboards

import "strings"

// All returns fleetwatch's dashboards, in the order of the README. The JSON
// files under grafana/ are these, rendered (file name: <UID>.json).
func All() []Dashboard {
	return []Dashboard{fleet(), hardware(), host(), network(), latency(), incidents(), self()}
}

// sel builds a selector body from site/rack (and more) matchers.
func sel(extra ...string) string {
	return "{" + strings.Join(append([]string{`site=~"$site"`, `rack=~"$rack"`}, extra...), ",") + "}"
}

func f(v float64) *float64 { return &v }

// topN bounds the series of per-item panels: with "All" selected over a
// fleet, a panel shows the worst items rather than tens of thousands of
// lines (and the dashboard refreshes in well under a second).
const topN = "20"

var (
	siteVar = Var{Name: "site", Label: "Site", Query: "label_values(up, site)"}
	rackVar = Var{Name: "rack", Label: "Rack", Query: `label_values(up{site=~"$site"}, rack)`}
	// Servers are the ones with a BMC collected over Redfish.
	serverVar = Var{Name: "server", Label: "Server", Query: `label_values(redfish_system_info{site=~"$site",rack=~"$rack"}, server)`}

	healthMaps = []ValueMap{{"0", "OK", "green"}, {"1", "Warning", "orange"}, {"2", "Critical", "red"}}
	healthStep = []Step{{1, "orange"}, {2, "red"}}
)

func fleet() Dashboard {
	s := sel()
	return Dashboard{
		UID: "fleetwatch-fleet", Title: "fleetwatch / Fleet overview", Tags: []string{"fleet"},
		Description: "Targets, hardware health, power, temperature and alerts across sites and racks.",
		Vars:        []Var{siteVar, rackVar},
		Panels: []Panel{
			{Title: "Targets up", Type: "stat", W: 6, H: 4, Queries: []Query{{Expr: "sum(up" + s + ")", Instant: true}}},
			{Title: "Targets down", Type: "stat", W: 6, H: 4, Thresholds: []Step{{1, "red"}},
				Queries: []Query{{Expr: "count(up" + s + " == 0) or vector(0)", Instant: true}}},
			{Title: "Servers with hardware not OK", Type: "stat", W: 6, H: 4, Thresholds: []Step{{1, "orange"}},
				Description: "Servers whose BMC reports a resource (system, drive, DIMM, …) in Warning or Critical.",
				Queries:     []Query{{Expr: "count(max by (site, rack, server) (redfish_health" + s + ") > 0) or vector(0)", Instant: true}}},
			{Title: "Alerts firing / pending", Type: "stat", W: 6, H: 4, Thresholds: []Step{{1, "red"}},
				Queries: []Query{
					{Expr: `count(ALERTS` + sel(`alertstate="firing"`) + `) or vector(0)`, Legend: "firing", Instant: true},
					{Expr: `count(ALERTS` + sel(`alertstate="pending"`) + `) or vector(0)`, Legend: "pending", Instant: true},
				}},
			{Title: "Targets up by job", Type: "timeseries", Queries: []Query{{Expr: "sum by (job) (up" + s + ")", Legend: "{{job}}"}}},
			{Title: "Power consumed per rack", Type: "timeseries", Unit: "watt", Stacked: true,
				Queries: []Query{{Expr: "sum by (site, rack) (redfish_power_consumed_watts" + s + ")", Legend: "{{site}}/{{rack}}"}}},
			{Title: "Hottest sensor per rack", Type: "timeseries", Unit: "celsius",
				Queries: []Query{{Expr: "max by (site, rack) (redfish_temperature_celsius" + s + ")", Legend: "{{site}}/{{rack}}"}}},
			{Title: "Targets", Type: "table", W: 24, Mappings: []ValueMap{{"0", "down", "red"}, {"1", "up", "green"}},
				Queries: []Query{{Expr: "up" + s, Instant: true, Table: true}}},
		},
	}
}

func hardware() Dashboard {
	s := sel(`server=~"$server"`)
	return Dashboard{
		UID: "fleetwatch-hardware", Title: "fleetwatch / Server hardware", Tags: []string{"redfish", "hardware"},
		Description: "Redfish: temperatures against the BMC's thresholds, fans, power supplies, power and health.",
		Vars:        []Var{siteVar, rackVar, serverVar},
		Panels: []Panel{
			{Title: "Resources not OK", Type: "state-timeline", W: 24, Mappings: healthMaps, Thresholds: healthStep,
				Description: "Systems, chassis, managers, processors, DIMMs, storage and drives whose Status.Health is Warning (1) or Critical (2).",
				Queries:     []Query{{Expr: "max by (server, type, resource) (redfish_health" + s + ") > 0", Legend: "{{server}} {{type}} {{resource}}"}}},
			{Title: "Hottest sensors (top " + topN + ")", Type: "timeseries", Unit: "celsius",
				Queries: []Query{{Expr: "topk(" + topN + ", redfish_temperature_celsius" + s + ")", Legend: "{{server}} {{sensor}}"}}},
			{Title: "Sensors closest to their critical threshold", Type: "table", W: 24, Unit: "celsius",
				Description: "Degrees left before the upper critical threshold the BMC reports.",
				Queries: []Query{
					{Expr: "bottomk(" + topN + ", redfish_temperature_upper_critical_celsius" + s + " - redfish_temperature_celsius" + s + ")", Instant: true, Table: true},
				}},
			{Title: "Slowest fans (RPM, bottom " + topN + ")", Type: "timeseries", Unit: "rotrpm",
				Queries: []Query{{Expr: "bottomk(" + topN + ", redfish_fan_rpm" + s + ")", Legend: "{{server}} {{fan}}"}}},
			{Title: "Slowest fans (percent, bottom " + topN + ")", Type: "timeseries", Unit: "percent", Min: f(0), Max: f(100),
				Description: "BMCs that report fan speed in percent (HPE iLO) rather than RPM.",
				Queries:     []Query{{Expr: "bottomk(" + topN + ", redfish_fan_percent" + s + ")", Legend: "{{server}} {{fan}}"}}},
			{Title: "Fans not OK", Type: "state-timeline", Mappings: healthMaps, Thresholds: healthStep,
				Queries: []Query{{Expr: "redfish_fan_health" + s + " > 0", Legend: "{{server}} {{fan}}"}}},
			{Title: "PSUs not OK", Type: "state-timeline", Mappings: healthMaps, Thresholds: healthStep,
				Queries: []Query{{Expr: "redfish_psu_health" + s + " > 0", Legend: "{{server}} {{psu}}"}}},
			{Title: "PSU input / output power (top " + topN + ")", Type: "timeseries", Unit: "watt",
				Queries: []Query{
					{Expr: "topk(" + topN + ", redfish_psu_input_watts" + s + ")", Legend: "{{server}} {{psu}} in"},
					{Expr: "topk(" + topN + ", redfish_psu_output_watts" + s + ")", Legend: "{{server}} {{psu}} out"},
				}},
			{Title: "Power consumed / capacity (top " + topN + " servers)", Type: "timeseries", Unit: "percentunit", Min: f(0),
				Queries: []Query{
					{Expr: "topk(" + topN + ", sum by (server) (redfish_power_consumed_watts" + s + ") / sum by (server) (redfish_power_capacity_watts" + s + "))", Legend: "{{server}}"},
				}},
			{Title: "Power consumed (top " + topN + " servers)", Type: "timeseries", Unit: "watt",
				Queries: []Query{
					{Expr: "topk(" + topN + ", sum by (server) (redfish_power_consumed_watts" + s + "))", Legend: "{{server}}"},
				}},
			{Title: "DIMMs with uncorrectable errors", Type: "table",
				Description: "Lifetime uncorrectable ECC errors, for BMCs exposing MemoryMetrics.",
				Queries:     []Query{{Expr: "redfish_memory_uncorrectable_errors_total" + s + " > 0", Instant: true, Table: true}}},
			{Title: "Slowest BMC polls (top " + topN + ")", Type: "timeseries", Unit: "s",
				Queries: []Query{{Expr: `topk(` + topN + `, scrape_duration_seconds` + sel(`job="redfish"`, `server=~"$server"`) + `)`, Legend: "{{server}}"}}},
			{Title: "Systems", Type: "table", W: 24,
				Queries: []Query{{Expr: "redfish_system_info" + s, Instant: true, Table: true}}},
		},
	}
}

func host() Dashboard {
	s := `{job=~"$job",instance=~"$instance"}`
	m := func(name, extra string) string {
		return name + `{job=~"$job",instance=~"$instance"` + extra + `}`
	}
	return Dashboard{
		UID: "fleetwatch-host", Title: "fleetwatch / Host", Tags: []string{"host", "node-exporter"},
		Description: "Hosts with node_exporter's metric names: fleetwatch's host collector or node_exporter scraped.",
		Vars: []Var{
			{Name: "job", Label: "Job", Query: "label_values(node_uname_info, job)"},
			{Name: "instance", Label: "Host", Query: `label_values(node_uname_info{job=~"$job"}, instance)`},
		},
		Panels: []Panel{
			{Title: "Shortest uptime", Type: "stat", W: 6, H: 4, Unit: "s",
				Queries: []Query{{Expr: "min(node_time_seconds" + s + " - node_boot_time_seconds" + s + ")", Instant: true}}},
			{Title: "CPUs", Type: "stat", W: 6, H: 4,
				Queries: []Query{{Expr: `count(` + m("node_cpu_seconds_total", `,mode="idle"`) + `)`, Instant: true}}},
			{Title: "Memory total", Type: "stat", W: 6, H: 4, Unit: "bytes",
				Queries: []Query{{Expr: "sum(node_memory_MemTotal_bytes" + s + ")", Instant: true}}},
			{Title: "Fullest root file system", Type: "stat", W: 6, H: 4, Unit: "percentunit", Thresholds: []Step{{0.8, "orange"}, {0.9, "red"}},
				Queries: []Query{{Expr: `max(1 - ` + m("node_filesystem_avail_bytes", `,mountpoint="/"`) + ` / ` + m("node_filesystem_size_bytes", `,mountpoint="/"`) + `)`, Instant: true}}},
			{Title: "CPU busy (top " + topN + " hosts)", Type: "timeseries", Unit: "percentunit", Min: f(0), Max: f(1),
				Queries: []Query{{Expr: `topk(` + topN + `, 1 - avg by (instance) (rate(` + m("node_cpu_seconds_total", `,mode="idle"`) + `[$__rate_interval])))`, Legend: "{{instance}}"}}},
			{Title: "CPU by mode (average of the selection)", Type: "timeseries", Unit: "percentunit", Stacked: true,
				Queries: []Query{{Expr: `avg by (mode) (rate(` + m("node_cpu_seconds_total", `,mode!="idle"`) + `[$__rate_interval]))`, Legend: "{{mode}}"}}},
			{Title: "Load 1m (top " + topN + " hosts)", Type: "timeseries",
				Queries: []Query{{Expr: "topk(" + topN + ", node_load1" + s + ")", Legend: "{{instance}}"}}},
			{Title: "Memory used (top " + topN + " hosts)", Type: "timeseries", Unit: "percentunit", Min: f(0), Max: f(1),
				Queries: []Query{{Expr: "topk(" + topN + ", 1 - node_memory_MemAvailable_bytes" + s + " / node_memory_MemTotal_bytes" + s + ")", Legend: "{{instance}}"}}},
			{Title: "Disk I/O (top " + topN + ")", Type: "timeseries", Unit: "Bps",
				Queries: []Query{
					{Expr: "topk(" + topN + ", rate(node_disk_read_bytes_total" + s + "[$__rate_interval]))", Legend: "{{instance}} {{device}} read"},
					{Expr: "topk(" + topN + ", rate(node_disk_written_bytes_total" + s + "[$__rate_interval]))", Legend: "{{instance}} {{device}} written"},
				}},
			{Title: "File system space used (top " + topN + ")", Type: "timeseries", Unit: "percentunit", Min: f(0), Max: f(1),
				Queries: []Query{{Expr: `topk(` + topN + `, 1 - ` + m("node_filesystem_avail_bytes", `,fstype!~"tmpfs|ramfs"`) + ` / ` + m("node_filesystem_size_bytes", `,fstype!~"tmpfs|ramfs"`) + `)`, Legend: "{{instance}} {{mountpoint}}"}}},
			{Title: "Network traffic (top " + topN + ")", Type: "timeseries", Unit: "bps",
				Queries: []Query{
					{Expr: "topk(" + topN + ", rate(node_network_receive_bytes_total" + s + "[$__rate_interval]) * 8)", Legend: "{{instance}} {{device}} in"},
					{Expr: "topk(" + topN + ", rate(node_network_transmit_bytes_total" + s + "[$__rate_interval]) * 8)", Legend: "{{instance}} {{device}} out"},
				}},
			{Title: "Network errors and drops (top " + topN + ")", Type: "timeseries", Unit: "pps",
				Queries: []Query{
					{Expr: "topk(" + topN + ", rate(node_network_receive_errs_total" + s + "[$__rate_interval]) + rate(node_network_transmit_errs_total" + s + "[$__rate_interval]))", Legend: "{{instance}} {{device}} errors"},
					{Expr: "topk(" + topN + ", rate(node_network_receive_drop_total" + s + "[$__rate_interval]) + rate(node_network_transmit_drop_total" + s + "[$__rate_interval]))", Legend: "{{instance}} {{device}} drops"},
				}},
		},
	}
}

func network() Dashboard {
	s := sel(`switch=~"$switch"`, `ifName=~"$interface"`)
	return Dashboard{
		UID: "fleetwatch-network", Title: "fleetwatch / Network", Tags: []string{"snmp", "network"},
		Description: "Switches over SNMP: interface traffic, utilisation, errors, status, sensors and LLDP neighbours.",
		Vars: []Var{siteVar, rackVar,
			{Name: "switch", Label: "Switch", Query: `label_values(ifOperStatus{site=~"$site",rack=~"$rack"}, switch)`},
			{Name: "interface", Label: "Interface", Query: `label_values(ifOperStatus{switch=~"$switch"}, ifName)`},
		},
		Panels: []Panel{
			{Title: "Ports admin up but down", Type: "bargauge", Thresholds: []Step{{1, "red"}},
				Queries: []Query{{Expr: "sum by (switch) ((ifAdminStatus" + s + " == bool 1) * (ifOperStatus" + s + " != bool 1))", Legend: "{{switch}}", Instant: true}}},
			{Title: "Top 10 interfaces by utilisation", Type: "bargauge", Unit: "percentunit", Max: f(1), Thresholds: []Step{{0.7, "orange"}, {0.9, "red"}},
				Queries: []Query{{Expr: "topk(10, max by (switch, ifName) (rate(ifHCInOctets" + s + "[$__rate_interval]) * 8 / (ifHighSpeed" + s + " * 1000000 > 0)))", Legend: "{{switch}} {{ifName}}", Instant: true}}},
			{Title: "Traffic (top " + topN + " ports)", Type: "timeseries", Unit: "bps",
				Queries: []Query{
					{Expr: "topk(" + topN + ", rate(ifHCInOctets" + s + "[$__rate_interval]) * 8)", Legend: "{{switch}} {{ifName}} in"},
					{Expr: "topk(" + topN + ", rate(ifHCOutOctets" + s + "[$__rate_interval]) * 8)", Legend: "{{switch}} {{ifName}} out"},
				}},
			{Title: "Utilisation (top " + topN + " ports)", Type: "timeseries", Unit: "percentunit", Min: f(0),
				Description: "Inbound traffic against ifHighSpeed; ports without a speed are left out.",
				Queries: []Query{{Expr: "topk(" + topN + ", max by (switch, ifName) (rate(ifHCInOctets" + s + "[$__rate_interval]) * 8 / (ifHighSpeed" + s + " * 1000000 > 0)))",
					Legend: "{{switch}} {{ifName}}"}}},
			{Title: "Errors (top " + topN + " ports)", Type: "timeseries", Unit: "pps",
				Queries: []Query{
					{Expr: "topk(" + topN + ", rate(ifInErrors" + s + "[$__rate_interval]))", Legend: "{{switch}} {{ifName}} in"},
					{Expr: "topk(" + topN + ", rate(ifOutErrors" + s + "[$__rate_interval]))", Legend: "{{switch}} {{ifName}} out"},
				}},
			{Title: "Discards (top " + topN + " ports)", Type: "timeseries", Unit: "pps",
				Queries: []Query{
					{Expr: "topk(" + topN + ", rate(ifInDiscards" + s + "[$__rate_interval]))", Legend: "{{switch}} {{ifName}} in"},
					{Expr: "topk(" + topN + ", rate(ifOutDiscards" + s + "[$__rate_interval]))", Legend: "{{switch}} {{ifName}} out"},
				}},
			{Title: "Ports not up", Type: "state-timeline", W: 24, H: 10,
				Description: "Operational status of every port that is not up (1): down, testing, dormant, notPresent, lowerLayerDown.",
				Mappings:    []ValueMap{{"1", "up", "green"}, {"2", "down", "red"}, {"3", "testing", "blue"}, {"5", "dormant", "orange"}, {"6", "notPresent", "text"}, {"7", "lowerLayerDown", "red"}},
				Thresholds:  []Step{{2, "red"}},
				Queries:     []Query{{Expr: "ifOperStatus" + s + " != 1", Legend: "{{switch}} {{ifName}}"}}},
			{Title: "Switch temperatures", Type: "timeseries", Unit: "celsius",
				Queries: []Query{{Expr: "entPhySensorValue" + sel(`switch=~"$switch"`, `entPhySensorType="celsius"`), Legend: "{{switch}} {{entPhysicalName}}"}}},
			{Title: "SNMP poll duration", Type: "timeseries", Unit: "s",
				Queries: []Query{{Expr: "snmp_scrape_duration_seconds" + sel(`switch=~"$switch"`), Legend: "{{switch}}"}}},
			{Title: "LLDP neighbours", Type: "table", W: 24,
				Description: "Who is on each port, as the switch learnt it over LLDP.",
				Queries:     []Query{{Expr: "snmp_lldp_neighbor_info" + sel(`switch=~"$switch"`), Instant: true, Table: true}}},
		},
	}
}

func latency() Dashboard {
	s := `{job=~"$job",instance=~"$instance"}`
	return Dashboard{
		UID: "fleetwatch-latency", Title: "fleetwatch / Latency", Tags: []string{"probe", "latency", "anomaly"},
		Description: "Probes (ICMP, TCP, HTTP, DNS, blackbox_exporter's names) and anomaly scores.",
		Vars: []Var{
			{Name: "job", Label: "Probe job", Query: "label_values(probe_success, job)"},
			{Name: "instance", Label: "Target", Query: `label_values(probe_success{job=~"$job"}, instance)`},
		},
		Panels: []Panel{
			{Title: "Probe success", Type: "state-timeline", W: 24, Mappings: []ValueMap{{"0", "failed", "red"}, {"1", "ok", "green"}},
				Thresholds: []Step{{1, "green"}},
				Queries:    []Query{{Expr: "probe_success" + s, Legend: "{{job}} {{instance}}"}}},
			{Title: "Probe duration", Type: "timeseries", Unit: "s",
				Queries: []Query{{Expr: "probe_duration_seconds" + s, Legend: "{{job}} {{instance}}"}}},
			{Title: "Round trip p50 / p99", Type: "timeseries", Unit: "s",
				Queries: []Query{
					{Expr: "histogram_quantile(0.5, sum by (job, instance, le) (rate(probe_rtt_seconds_bucket" + s + "[$__rate_interval])))", Legend: "{{instance}} p50"},
					{Expr: "histogram_quantile(0.99, sum by (job, instance, le) (rate(probe_rtt_seconds_bucket" + s + "[$__rate_interval])))", Legend: "{{instance}} p99"},
				}},
			{Title: "Loss", Type: "timeseries", Unit: "percentunit", Min: f(0), Max: f(1),
				Queries: []Query{{Expr: "1 - rate(probe_packets_received_total" + s + "[$__rate_interval]) / rate(probe_packets_sent_total" + s + "[$__rate_interval])", Legend: "{{job}} {{instance}}"}}},
			{Title: "Phases", Type: "timeseries", Unit: "s", Stacked: true,
				Description: "Resolve, connect, TLS, processing and transfer times of the probe.",
				Queries:     []Query{{Expr: `sum by (instance, phase) ({__name__=~"probe_(icmp|tcp|http)_duration_seconds",job=~"$job",instance=~"$instance"})`, Legend: "{{instance}} {{phase}}"}}},
			{Title: "Anomaly scores", Type: "timeseries", Thresholds: []Step{{3.5, "red"}},
				Description: "anomaly_score of fleetwatch's anomaly rules (docs/anomaly.md): robust z-score of each series against its learnt baseline; the presets alert above 3.5.",
				Queries:     []Query{{Expr: "anomaly_score", Legend: "{{alertname}} {{instance}}"}}},
			{Title: "Highest anomaly scores now", Type: "bargauge", Thresholds: []Step{{3.5, "red"}},
				Queries: []Query{{Expr: "topk(10, anomaly_score)", Legend: "{{alertname}} {{instance}}", Instant: true}}},
		},
	}
}

func incidents() Dashboard {
	s := sel(`severity=~"$severity"`)
	return Dashboard{
		UID: "fleetwatch-incidents", Title: "fleetwatch / Incidents and alerts", Tags: []string{"alerts", "incidents"},
		Description: "Alerts from fleetwatch's rules (ALERTS) and incidents from the incidents API (needs the fleetwatch datasource plugin).",
		Vars: []Var{siteVar, rackVar,
			{Name: "severity", Label: "Severity", Query: "label_values(ALERTS, severity)"}},
		Incidents:   true,
		Annotations: []PluginQuery{{QueryType: "timeline", Site: "$site"}},
		Panels: []Panel{
			{Title: "Alerts firing", Type: "stat", W: 6, H: 4, Thresholds: []Step{{1, "red"}},
				Queries: []Query{{Expr: `count(ALERTS` + sel(`severity=~"$severity"`, `alertstate="firing"`) + `) or vector(0)`, Instant: true}}},
			{Title: "Alerts pending", Type: "stat", W: 6, H: 4, Thresholds: []Step{{1, "orange"}},
				Queries: []Query{{Expr: `count(ALERTS` + sel(`severity=~"$severity"`, `alertstate="pending"`) + `) or vector(0)`, Instant: true}}},
			{Title: "Open incidents", Type: "stat", W: 6, H: 4, Thresholds: []Step{{1, "red"}},
				Plugin: []PluginQuery{{QueryType: "metrics", State: "open", Site: "$site", Rack: "$rack"}}},
			{Title: "Racks with alerts", Type: "stat", W: 6, H: 4, Thresholds: []Step{{1, "orange"}},
				Queries: []Query{{Expr: `count(count by (site, rack) (ALERTS` + s + `)) or vector(0)`, Instant: true}}},
			{Title: "Alerts by name and state", Type: "timeseries", Stacked: true,
				Queries: []Query{{Expr: "count by (alertname, alertstate) (ALERTS" + s + ")", Legend: "{{alertname}} {{alertstate}}"}}},
			{Title: "Alerts by rack", Type: "timeseries", Stacked: true,
				Queries: []Query{{Expr: "count by (site, rack) (ALERTS" + s + ")", Legend: "{{site}}/{{rack}}"}}},
			{Title: "Active alerts", Type: "table", W: 24,
				Queries: []Query{{Expr: "ALERTS" + s, Instant: true, Table: true}}},
			{Title: "Incidents", Type: "table", W: 24,
				Plugin: []PluginQuery{{QueryType: "incidents", State: "open", Site: "$site", Rack: "$rack", Limit: 100}}},
			{Title: "Incidents opened and open over time", Type: "timeseries", W: 24,
				Plugin: []PluginQuery{{QueryType: "metrics", Site: "$site", Rack: "$rack"}}},
			{Title: "Rule evaluation failures", Type: "timeseries", Unit: "ops",
				Queries: []Query{{Expr: "sum by (rule_group) (rate(prometheus_rule_evaluation_failures_total[$__rate_interval]))", Legend: "{{rule_group}}"}}},
			{Title: "Rule group evaluation time", Type: "timeseries", Unit: "s",
				Queries: []Query{{Expr: "prometheus_rule_group_last_duration_seconds", Legend: "{{rule_group}}"}}},
		},
	}
}

func self() Dashboard {
	j := `{job=~"$job",instance=~"$instance"}`
	m := func(name, by string) string {
		return "sum by (" + by + ") (rate(" + name + j + "[$__rate_interval]))"
	}
	return Dashboard{
		UID: "fleetwatch-self", Title: "fleetwatch / fleetwatch health", Tags: []string{"self"},
		Description: "fleetwatch's own /metrics, scraped into itself (job fleetwatch in examples/fleetwatch.yml).",
		Vars: []Var{
			{Name: "job", Label: "Job", Query: "label_values(fleetwatch_build_info, job)"},
			{Name: "instance", Label: "Instance", Query: `label_values(fleetwatch_build_info{job=~"$job"}, instance)`},
		},
		Panels: []Panel{
			{Title: "Version", Type: "table", W: 12, H: 4,
				Queries: []Query{{Expr: "fleetwatch_build_info" + j, Instant: true, Table: true}}},
			{Title: "Config loaded", Type: "stat", W: 6, H: 4, Mappings: []ValueMap{{"0", "reload failed", "red"}, {"1", "OK", "green"}},
				Queries: []Query{{Expr: "fleetwatch_config_last_reload_successful" + j, Instant: true}}},
			{Title: "Head series", Type: "stat", W: 6, H: 4,
				Queries: []Query{{Expr: "fleetwatch_prometheus_tsdb_head_series" + j, Instant: true}}},
			{Title: "Collections per second by job", Type: "timeseries", Unit: "ops",
				Queries: []Query{{Expr: m("fleetwatch_collector_collections_total", "job"), Legend: "{{job}}"}}},
			{Title: "Targets down by job", Type: "timeseries",
				Description: "Targets whose last collection failed (up 0), per collecting job.",
				Queries:     []Query{{Expr: "sum by (job) (1 - up)", Legend: "{{job}}"}}},
			{Title: "Collection duration p99 by job", Type: "timeseries", Unit: "s",
				Queries: []Query{{Expr: "histogram_quantile(0.99, " + m("fleetwatch_collector_duration_seconds_bucket", "job, le") + ")", Legend: "{{job}}"}}},
			{Title: "Samples stored per second", Type: "timeseries", Unit: "ops",
				Queries: []Query{
					{Expr: m("fleetwatch_collector_samples_appended_total", "job"), Legend: "{{job}}"},
					{Expr: "rate(fleetwatch_prometheus_tsdb_head_samples_appended_total" + j + "[$__rate_interval])", Legend: "TSDB {{type}}"},
				}},
			{Title: "Query API requests", Type: "timeseries", Unit: "reqps",
				Queries: []Query{{Expr: m("fleetwatch_api_requests_total", "handler, code"), Legend: "{{handler}} {{code}}"}}},
			{Title: "Query API latency p99", Type: "timeseries", Unit: "s",
				Queries: []Query{{Expr: "histogram_quantile(0.99, " + m("fleetwatch_api_request_duration_seconds_bucket", "handler, le") + ")", Legend: "{{handler}}"}}},
			{Title: "Memory and goroutines", Type: "timeseries", Unit: "bytes",
				Queries: []Query{
					{Expr: "process_resident_memory_bytes" + j, Legend: "resident"},
					{Expr: "go_memstats_heap_inuse_bytes" + j, Legend: "heap in use"},
				}},
			{Title: "CPU", Type: "timeseries", Unit: "percentunit",
				Queries: []Query{{Expr: "rate(process_cpu_seconds_total" + j + "[$__rate_interval])", Legend: "{{instance}}"}}},
			{Title: "Redfish requests by code", Type: "timeseries", Unit: "reqps",
				Queries: []Query{{Expr: m("fleetwatch_redfish_requests_total", "code"), Legend: "{{code}}"}}},
			{Title: "SNMP packets and retries", Type: "timeseries", Unit: "pps",
				Queries: []Query{
					{Expr: "sum(rate(fleetwatch_snmp_packets_sent_total" + j + "[$__rate_interval]))", Legend: "sent"},
					{Expr: "sum(rate(fleetwatch_snmp_packet_retries_total" + j + "[$__rate_interval]))", Legend: "retried"},
				}},
		},
	}
}
