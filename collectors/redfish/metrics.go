package redfish

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/metadata"
)

// selfMetrics are the collector's own metrics, shared by every Collector
// registered on the same Registerer.
type selfMetrics struct {
	requests    *prometheus.CounterVec   // method, code
	duration    *prometheus.HistogramVec // method
	auth        *prometheus.CounterVec   // event
	logEvents   *prometheus.CounterVec   // severity
	eventsLost  prometheus.Counter
	partial     prometheus.Counter
	budget      prometheus.Counter
	pollSeconds prometheus.Histogram
}

func newSelfMetrics(reg prometheus.Registerer) (*selfMetrics, error) {
	m := &selfMetrics{}
	var err error
	m.requests, err = registerAs(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetwatch_redfish_requests_total",
		Help: "HTTP requests sent to BMCs by the redfish collector, by method and status code (code \"error\" for no answer).",
	}, []string{"method", "code"}))
	if err != nil {
		return nil, err
	}
	m.duration, err = registerAs(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fleetwatch_redfish_request_duration_seconds",
		Help:    "Duration of one HTTP request to a BMC, in seconds.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method"}))
	if err != nil {
		return nil, err
	}
	m.auth, err = registerAs(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetwatch_redfish_auth_events_total",
		Help: "Authentication events with BMCs: session (login), relogin (after a 401), basic_fallback (no session possible), login_failed, logout.",
	}, []string{"event"}))
	if err != nil {
		return nil, err
	}
	m.logEvents, err = registerAs(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetwatch_redfish_log_events_total",
		Help: "BMC log entries handed to the event sink, by severity.",
	}, []string{"severity"}))
	if err != nil {
		return nil, err
	}
	m.eventsLost, err = registerAs(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fleetwatch_redfish_log_events_rejected_total",
		Help: "BMC log entries the event sink refused; they are offered again at the next poll.",
	}))
	if err != nil {
		return nil, err
	}
	m.partial, err = registerAs(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fleetwatch_redfish_resource_errors_total",
		Help: "Resources that could not be read during polls that still succeeded (missing pages, 404s, bad JSON of one resource).",
	}))
	if err != nil {
		return nil, err
	}
	m.budget, err = registerAs(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fleetwatch_redfish_budget_exhausted_total",
		Help: "Polls that stopped early because they spent request_budget.",
	}))
	if err != nil {
		return nil, err
	}
	m.pollSeconds, err = registerAs(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "fleetwatch_redfish_poll_duration_seconds",
		Help:    "Duration of one poll of one BMC, in seconds.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}))
	if err != nil {
		return nil, err
	}
	return m, nil
}

// registerAs registers c, or returns the collector already registered under
// the same description.
func registerAs[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

func (m *selfMetrics) observe(method string, status int, d time.Duration) {
	code := "error"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(method, code).Inc()
	m.duration.WithLabelValues(method).Observe(d.Seconds())
}

// family describes one metric family the collector writes.
type family struct {
	name, help, unit string
	typ              model.MetricType
}

func (f family) metadata() metadata.Metadata {
	return metadata.Metadata{Type: f.typ, Help: f.help, Unit: f.unit}
}

const healthHelp = " (0 = OK, 1 = Warning, 2 = Critical; no sample when the BMC reports no health)."

// families lists every metric family the collector writes, with its help.
// docs/collectors/redfish.md lists the same names; a test checks it.
func families() []family {
	g := model.MetricTypeGauge
	c := model.MetricTypeCounter
	return []family{
		{"redfish_health", "Status.Health of a Redfish resource (type: system, chassis, manager, processor, memory, storage, storage_controller, drive, network_adapter)" + healthHelp, "", g},
		{"redfish_health_rollup", "Status.HealthRollup of a Redfish resource: its own health and its children's" + healthHelp, "", g},
		{"redfish_system_info", "Constant 1 with a system's manufacturer, model, serial, SKU and BIOS version as labels.", "", g},
		{"redfish_system_power_on", "1 when the system's PowerState is On, 0 otherwise.", "", g},
		{"redfish_system_processors", "Processors in the system (ProcessorSummary.Count).", "", g},
		{"redfish_system_memory_bytes", "Memory installed in the system (MemorySummary.TotalSystemMemoryGiB), in bytes.", "bytes", g},
		{"redfish_processor_cores", "Cores of a processor (TotalCores).", "", g},
		{"redfish_processor_threads", "Threads of a processor (TotalThreads).", "", g},
		{"redfish_memory_capacity_bytes", "Capacity of a DIMM, in bytes.", "bytes", g},
		{"redfish_memory_correctable_errors_total", "Correctable ECC errors of a DIMM over its lifetime (MemoryMetrics.LifeTime), where the BMC exposes them.", "", c},
		{"redfish_memory_uncorrectable_errors_total", "Uncorrectable ECC errors of a DIMM over its lifetime (MemoryMetrics.LifeTime), where the BMC exposes them.", "", c},
		{"redfish_drive_capacity_bytes", "Capacity of a drive, in bytes.", "bytes", g},
		{"redfish_drive_failure_predicted", "1 when the drive predicts its own failure (FailurePredicted), 0 otherwise.", "", g},
		{"redfish_drive_media_life_left_ratio", "Predicted media life left of a drive (PredictedMediaLifeLeftPercent / 100).", "ratio", g},
		{"redfish_ethernet_link_up", "1 when a system's Ethernet interface has LinkStatus LinkUp, 0 when down.", "", g},
		{"redfish_network_port_link_up", "1 when a network adapter port has LinkStatus Up, 0 when down.", "", g},
		{"redfish_temperature_celsius", "Temperature reading of a sensor, in degrees Celsius.", "celsius", g},
		{"redfish_temperature_upper_warning_celsius", "Upper non-critical (caution) threshold the BMC reports for a temperature sensor, in degrees Celsius.", "celsius", g},
		{"redfish_temperature_upper_critical_celsius", "Upper critical threshold the BMC reports for a temperature sensor, in degrees Celsius.", "celsius", g},
		{"redfish_temperature_upper_fatal_celsius", "Upper fatal threshold the BMC reports for a temperature sensor, in degrees Celsius.", "celsius", g},
		{"redfish_temperature_lower_critical_celsius", "Lower critical threshold the BMC reports for a temperature sensor, in degrees Celsius.", "celsius", g},
		{"redfish_sensor_health", "Status.Health of a temperature, voltage or other sensor" + healthHelp, "", g},
		{"redfish_fan_rpm", "Fan speed, in revolutions per minute.", "rpm", g},
		{"redfish_fan_percent", "Fan speed, in percent of its maximum.", "percent", g},
		{"redfish_fan_health", "Status.Health of a fan" + healthHelp, "", g},
		{"redfish_psu_health", "Status.Health of a power supply" + healthHelp, "", g},
		{"redfish_psu_input_watts", "Input power of a power supply, in watts.", "watts", g},
		{"redfish_psu_output_watts", "Output power of a power supply, in watts.", "watts", g},
		{"redfish_psu_capacity_watts", "Rated capacity of a power supply, in watts.", "watts", g},
		{"redfish_psu_input_volts", "Line input voltage of a power supply, in volts.", "volts", g},
		{"redfish_power_consumed_watts", "Power consumed by a chassis (PowerControl.PowerConsumedWatts or EnvironmentMetrics.PowerWatts), in watts.", "watts", g},
		{"redfish_power_capacity_watts", "Power available to a chassis (PowerControl.PowerCapacityWatts or PowerSubsystem.CapacityWatts), in watts.", "watts", g},
		{"redfish_voltage_volts", "Voltage reading of a sensor, in volts.", "volts", g},
		{"redfish_voltage_upper_critical_volts", "Upper critical threshold of a voltage sensor, in volts.", "volts", g},
		{"redfish_voltage_lower_critical_volts", "Lower critical threshold of a voltage sensor, in volts.", "volts", g},
		{"redfish_current_amps", "Current reading of a sensor, in amperes.", "amps", g},
		{"redfish_sensor_power_watts", "Power reading of a sensor, in watts.", "watts", g},
		{"redfish_sensor_reading", "Reading of a sensor of another type (humidity, frequency, energy, …) in its ReadingUnits.", "", g},
		{"redfish_redundancy_health", "Status.Health of a fan or power supply redundancy group" + healthHelp, "", g},
		{"redfish_manager_info", "Constant 1 with a BMC's firmware version, type and model as labels.", "", g},
		{"redfish_poll_requests", "HTTP requests this poll of the BMC sent.", "", g},
		{"redfish_poll_resource_errors", "Resources this poll could not read (the poll still succeeded).", "", g},
		{"redfish_poll_budget_exhausted", "1 when this poll stopped early because it spent request_budget.", "", g},
		{"redfish_poll_expand", "1 when this poll used $expand.", "", g},
	}
}
