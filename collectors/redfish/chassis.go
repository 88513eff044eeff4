package redfish

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

func (p *poll) chassis(ctx context.Context, path string) error {
	all, err := members[chassis](ctx, p, path, maxCollectionPages)
	if err != nil {
		return err
	}
	var g group
	for _, ch := range all {
		id := memberID(path, &ch.common)
		p.addHealth("redfish_health", ch.Status.Health, "type", "chassis", "resource", id)
		p.addHealth("redfish_health_rollup", ch.Status.HealthRollup, "type", "chassis", "resource", id)
		sys := ""
		if len(ch.Links.ComputerSystems) > 0 {
			l := ch.Links.ComputerSystems[0].ID
			sys = memberID("/redfish/v1/Systems", &common{ODataID: l})
		}
		lb := chassisLabels{chassis: id, system: sys}
		if p.useSubsystems(ch) {
			g.Go(func() { p.subsystems(ctx, ch, lb) })
		} else {
			if ch.Thermal.ID != "" && !p.c.cfg.skips("thermal") {
				g.Go(func() { p.thermal(ctx, ch.Thermal.ID, lb) })
			}
			if ch.Power.ID != "" && !p.c.cfg.skips("power") {
				g.Go(func() { p.power(ctx, ch.Power.ID, lb) })
			}
		}
		if ch.NetworkAdapters.ID != "" && !p.c.cfg.skips("network_adapters") {
			g.Go(func() { p.networkAdapters(ctx, ch.NetworkAdapters.ID, lb) })
		}
		if ch.LogServices.ID != "" && p.logsWanted() {
			g.Go(func() { p.logServices(ctx, ch.LogServices.ID, "chassis", id) })
		}
	}
	g.Wait()
	return nil
}

type chassisLabels struct{ chassis, system string }

// useSubsystems decides between the classic Thermal/Power resources and the
// newer ThermalSubsystem/PowerSubsystem/Sensors for one chassis.
func (p *poll) useSubsystems(ch *chassis) bool {
	modern := ch.Sensors.ID != "" || ch.ThermalSubsystem.ID != "" || ch.PowerSubsystem.ID != ""
	classic := ch.Thermal.ID != "" || ch.Power.ID != ""
	switch p.c.cfg.ThermalPower {
	case "subsystem":
		return modern
	case "classic":
		return !classic && modern
	}
	// Without $expand the Sensors collection costs a request per sensor;
	// the classic resources carry the same readings in two.
	return modern && (p.expand != "" || !classic)
}

func (p *poll) thermal(ctx context.Context, path string, lb chassisLabels) {
	th, err := fetch[thermal](ctx, p, path)
	if err != nil {
		p.partial(path, err)
		return
	}
	names, ids := make([]string, len(th.Temperatures)), make([]string, len(th.Temperatures))
	for i, t := range th.Temperatures {
		names[i], ids[i] = string(t.Name), string(t.MemberID)
	}
	names = uniqueNames(names, ids)
	for i, t := range th.Temperatures {
		if t.Status.absent() || !t.ReadingCelsius.ok {
			continue
		}
		kv := []string{"chassis", lb.chassis, "system", lb.system, "sensor", names[i], "physical_context", string(t.PhysicalContext)}
		p.add("redfish_temperature_celsius", t.ReadingCelsius.v, kv...)
		p.addNum("redfish_temperature_upper_warning_celsius", t.UpperThresholdNonCritical, kv...)
		p.addNum("redfish_temperature_upper_critical_celsius", t.UpperThresholdCritical, kv...)
		p.addNum("redfish_temperature_upper_fatal_celsius", t.UpperThresholdFatal, kv...)
		p.addNum("redfish_temperature_lower_critical_celsius", t.LowerThresholdCritical, kv...)
		p.addHealth("redfish_sensor_health", t.Status.Health, "chassis", lb.chassis, "sensor", names[i])
	}
	names, ids = make([]string, len(th.Fans)), make([]string, len(th.Fans))
	for i, f := range th.Fans {
		names[i], ids[i] = string(f.Name), string(f.MemberID)
		if names[i] == "" {
			names[i] = string(f.FanName)
		}
	}
	names = uniqueNames(names, ids)
	for i, f := range th.Fans {
		if f.Status.absent() {
			continue
		}
		kv := []string{"chassis", lb.chassis, "fan", names[i]}
		if f.Reading.ok {
			if strings.EqualFold(string(f.ReadingUnits), "Percent") || string(f.ReadingUnits) == "%" {
				p.add("redfish_fan_percent", f.Reading.v, kv...)
			} else {
				p.add("redfish_fan_rpm", f.Reading.v, kv...)
			}
		}
		p.addHealth("redfish_fan_health", f.Status.Health, kv...)
	}
	p.redundancy(th.Redundancy, "fan", lb)
}

func (p *poll) redundancy(rs []redundancy, kind string, lb chassisLabels) {
	names, ids := make([]string, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		names[i], ids[i] = string(r.Name), string(r.MemberID)
	}
	names = uniqueNames(names, ids)
	for i, r := range rs {
		p.addHealth("redfish_redundancy_health", r.Status.Health, "chassis", lb.chassis, "kind", kind, "group", names[i])
	}
}

func (p *poll) power(ctx context.Context, path string, lb chassisLabels) {
	pw, err := fetch[power](ctx, p, path)
	if err != nil {
		p.partial(path, err)
		return
	}
	names, ids := make([]string, len(pw.PowerControl)), make([]string, len(pw.PowerControl))
	for i, c := range pw.PowerControl {
		names[i], ids[i] = string(c.Name), string(c.MemberID)
	}
	names = uniqueNames(names, ids)
	for i, c := range pw.PowerControl {
		kv := []string{"chassis", lb.chassis, "control", names[i]}
		if c.PowerConsumedWatts.ok {
			p.add("redfish_power_consumed_watts", c.PowerConsumedWatts.v, kv...)
		} else {
			p.addNum("redfish_power_consumed_watts", c.PowerMetrics.AverageConsumedWatts, kv...)
		}
		p.addNum("redfish_power_capacity_watts", c.PowerCapacityWatts, kv...)
	}
	names, ids = make([]string, len(pw.Voltages)), make([]string, len(pw.Voltages))
	for i, v := range pw.Voltages {
		names[i], ids[i] = string(v.Name), string(v.MemberID)
	}
	names = uniqueNames(names, ids)
	for i, v := range pw.Voltages {
		if v.Status.absent() || !v.ReadingVolts.ok {
			continue
		}
		kv := []string{"chassis", lb.chassis, "sensor", names[i]}
		p.add("redfish_voltage_volts", v.ReadingVolts.v, kv...)
		p.addNum("redfish_voltage_upper_critical_volts", v.UpperThresholdCritical, kv...)
		p.addNum("redfish_voltage_lower_critical_volts", v.LowerThresholdCritical, kv...)
		p.addHealth("redfish_sensor_health", v.Status.Health, kv...)
	}
	names, ids = make([]string, len(pw.PowerSupplies)), make([]string, len(pw.PowerSupplies))
	for i, s := range pw.PowerSupplies {
		names[i], ids[i] = string(s.Name), string(s.MemberID)
	}
	names = uniqueNames(names, ids)
	for i, s := range pw.PowerSupplies {
		if s.Status.absent() {
			continue
		}
		kv := []string{"chassis", lb.chassis, "psu", names[i]}
		p.addHealth("redfish_psu_health", s.Status.Health, kv...)
		p.addNum("redfish_psu_input_watts", s.PowerInputWatts, kv...)
		if s.PowerOutputWatts.ok {
			p.add("redfish_psu_output_watts", s.PowerOutputWatts.v, kv...)
		} else {
			p.addNum("redfish_psu_output_watts", s.LastPowerOutputWatts, kv...)
		}
		p.addNum("redfish_psu_capacity_watts", s.PowerCapacityWatts, kv...)
		p.addNum("redfish_psu_input_volts", s.LineInputVoltage, kv...)
	}
	p.redundancy(pw.Redundancy, "psu", lb)
}

// subsystems reads ThermalSubsystem, PowerSubsystem, EnvironmentMetrics and
// Sensors. A reading is reported once: sensors that a fan, power supply or
// the environment metrics already quote (DataSourceUri) are left out.
func (p *poll) subsystems(ctx context.Context, ch *chassis, lb chassisLabels) {
	var (
		mu      sync.Mutex
		quoted  = map[string]bool{}
		sensors []*sensor
		g       group
	)
	quote := func(uri string) {
		if uri != "" {
			mu.Lock()
			quoted[norm(uri)] = true
			mu.Unlock()
		}
	}
	if ch.ThermalSubsystem.ID != "" && !p.c.cfg.skips("thermal") {
		g.Go(func() { p.thermalSubsystem(ctx, ch.ThermalSubsystem.ID, lb, quote) })
	}
	if ch.PowerSubsystem.ID != "" && !p.c.cfg.skips("power") {
		g.Go(func() { p.powerSubsystem(ctx, ch.PowerSubsystem.ID, lb, quote) })
	}
	if ch.EnvironmentMetrics.ID != "" && !p.c.cfg.skips("power") {
		g.Go(func() {
			em, err := fetch[environmentMetrics](ctx, p, ch.EnvironmentMetrics.ID)
			if err != nil {
				p.partial(ch.EnvironmentMetrics.ID, err)
				return
			}
			if em.PowerWatts.Reading.ok {
				p.add("redfish_power_consumed_watts", em.PowerWatts.Reading.v, "chassis", lb.chassis, "control", "EnvironmentMetrics")
				quote(em.PowerWatts.DataSourceURI)
			}
		})
	}
	if ch.Sensors.ID != "" {
		g.Go(func() {
			s, err := members[sensor](ctx, p, ch.Sensors.ID, maxCollectionPages)
			if err != nil {
				p.partial(ch.Sensors.ID, err)
				return
			}
			sensors = s
		})
	}
	g.Wait()
	names, ids := make([]string, len(sensors)), make([]string, len(sensors))
	for i, s := range sensors {
		names[i], ids[i] = string(s.Name), string(s.ID)
	}
	names = uniqueNames(names, ids)
	for i, s := range sensors {
		if quoted[norm(s.ODataID)] || s.Status.absent() {
			continue
		}
		p.sensor(s, names[i], lb)
	}
}

func (p *poll) sensor(s *sensor, name string, lb chassisLabels) {
	rt := strings.ToLower(string(s.ReadingType))
	units := string(s.ReadingUnits)
	kv := []string{"chassis", lb.chassis, "sensor", name}
	fanKV := []string{"chassis", lb.chassis, "fan", name}
	fanish := strings.EqualFold(string(s.PhysicalContext), "Fan") || strings.Contains(strings.ToLower(name+" "+string(s.ID)), "fan")
	switch {
	case rt == "temperature" || units == "Cel":
		if !s.Reading.ok {
			return
		}
		tkv := []string{"chassis", lb.chassis, "system", lb.system, "sensor", name, "physical_context", string(s.PhysicalContext)}
		p.add("redfish_temperature_celsius", s.Reading.v, tkv...)
		p.addNum("redfish_temperature_upper_warning_celsius", s.Thresholds.UpperCaution.Reading, tkv...)
		p.addNum("redfish_temperature_upper_critical_celsius", s.Thresholds.UpperCritical.Reading, tkv...)
		p.addNum("redfish_temperature_upper_fatal_celsius", s.Thresholds.UpperFatal.Reading, tkv...)
		p.addNum("redfish_temperature_lower_critical_celsius", s.Thresholds.LowerCritical.Reading, tkv...)
	case rt == "rotational" || strings.EqualFold(units, "RPM") || (rt == "percent" || units == "%") && fanish:
		if s.Reading.ok {
			if strings.EqualFold(units, "RPM") {
				p.add("redfish_fan_rpm", s.Reading.v, fanKV...)
			} else {
				p.add("redfish_fan_percent", s.Reading.v, fanKV...)
			}
		}
		p.addNum("redfish_fan_rpm", s.SpeedRPM, fanKV...)
		p.addHealth("redfish_fan_health", s.Status.Health, fanKV...)
		return
	case rt == "voltage" || units == "V":
		if !s.Reading.ok {
			return
		}
		p.add("redfish_voltage_volts", s.Reading.v, kv...)
		p.addNum("redfish_voltage_upper_critical_volts", s.Thresholds.UpperCritical.Reading, kv...)
		p.addNum("redfish_voltage_lower_critical_volts", s.Thresholds.LowerCritical.Reading, kv...)
	case rt == "current" || units == "A":
		p.addNum("redfish_current_amps", s.Reading, kv...)
	case rt == "power" || units == "W":
		p.addNum("redfish_sensor_power_watts", s.Reading, kv...)
	default:
		if s.Reading.ok {
			p.add("redfish_sensor_reading", s.Reading.v, "chassis", lb.chassis, "sensor", name,
				"reading_type", string(s.ReadingType), "units", units)
		}
	}
	p.addHealth("redfish_sensor_health", s.Status.Health, kv...)
}

func (p *poll) thermalSubsystem(ctx context.Context, path string, lb chassisLabels, quote func(string)) {
	ts, err := fetch[thermalSubsystem](ctx, p, path)
	if err != nil {
		p.partial(path, err)
		return
	}
	p.redundancyGroups(ts.FanRedundancy, "fan", lb)
	if ts.Fans.ID == "" {
		return
	}
	fans, err := members[modernFan](ctx, p, ts.Fans.ID, maxCollectionPages)
	if err != nil {
		p.partial(ts.Fans.ID, err)
		return
	}
	for _, f := range fans {
		if f.Status.absent() {
			continue
		}
		name := string(f.Name)
		if name == "" {
			name = memberID(ts.Fans.ID, &f.common)
		}
		kv := []string{"chassis", lb.chassis, "fan", name}
		p.addHealth("redfish_fan_health", f.Status.Health, kv...)
		p.addNum("redfish_fan_percent", f.SpeedPercent.Reading, kv...)
		p.addNum("redfish_fan_rpm", f.SpeedPercent.SpeedRPM, kv...)
		quote(f.SpeedPercent.DataSourceURI)
	}
}

func (p *poll) redundancyGroups(rs []redundancyGroup, kind string, lb chassisLabels) {
	for i, r := range rs {
		name := fmt.Sprintf("%s %d", r.RedundancyType, i)
		p.addHealth("redfish_redundancy_health", r.Status.Health, "chassis", lb.chassis, "kind", kind, "group", strings.TrimSpace(name))
	}
}

func (p *poll) powerSubsystem(ctx context.Context, path string, lb chassisLabels, quote func(string)) {
	ps, err := fetch[powerSubsystem](ctx, p, path)
	if err != nil {
		p.partial(path, err)
		return
	}
	p.addNum("redfish_power_capacity_watts", ps.CapacityWatts, "chassis", lb.chassis, "control", "PowerSubsystem")
	p.redundancyGroups(ps.PowerSupplyRedundancy, "psu", lb)
	if ps.PowerSupplies.ID == "" {
		return
	}
	psus, err := members[modernPSU](ctx, p, ps.PowerSupplies.ID, maxCollectionPages)
	if err != nil {
		p.partial(ps.PowerSupplies.ID, err)
		return
	}
	var g group
	for _, s := range psus {
		if s.Status.absent() {
			continue
		}
		name := string(s.Name)
		if name == "" {
			name = memberID(ps.PowerSupplies.ID, &s.common)
		}
		kv := []string{"chassis", lb.chassis, "psu", name}
		p.addHealth("redfish_psu_health", s.Status.Health, kv...)
		p.addNum("redfish_psu_capacity_watts", s.PowerCapacityWatts, kv...)
		if s.Metrics.ID == "" {
			continue
		}
		g.Go(func() {
			m, err := fetch[psuMetrics](ctx, p, s.Metrics.ID)
			if err != nil {
				p.partial(s.Metrics.ID, err)
				return
			}
			p.addNum("redfish_psu_input_watts", m.InputPowerWatts.Reading, kv...)
			p.addNum("redfish_psu_output_watts", m.OutputPowerWatts.Reading, kv...)
			p.addNum("redfish_psu_input_volts", m.InputVoltage.Reading, kv...)
			for _, e := range []excerpt{m.InputPowerWatts, m.OutputPowerWatts, m.InputVoltage, m.InputCurrentAmps} {
				quote(e.DataSourceURI)
			}
		})
	}
	g.Wait()
}

func (p *poll) networkAdapters(ctx context.Context, path string, lb chassisLabels) {
	nas, err := members[networkAdapter](ctx, p, path, maxCollectionPages)
	if err != nil {
		p.partial(path, err)
		return
	}
	var g group
	for _, na := range nas {
		id := memberID(path, &na.common)
		p.addHealth("redfish_health", na.Status.Health, "type", "network_adapter", "chassis", lb.chassis, "resource", id)
		ports := na.Ports.ID
		if ports == "" {
			ports = na.NetworkPorts.ID
		}
		if ports == "" {
			continue
		}
		g.Go(func() {
			ps, err := members[port](ctx, p, ports, maxCollectionPages)
			if err != nil {
				p.partial(ports, err)
				return
			}
			for _, pt := range ps {
				if v, ok := linkUp(pt.LinkStatus); ok {
					p.add("redfish_network_port_link_up", v, "chassis", lb.chassis, "adapter", id, "port", memberID(ports, &pt.common))
				}
			}
		})
	}
	g.Wait()
}
