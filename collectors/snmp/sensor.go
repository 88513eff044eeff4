package snmp

import (
	"math"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
)

// ENTITY-SENSOR-MIB (RFC 3433) entPhySensorTable and ENTITY-MIB's
// entPhysicalName.
const (
	oidEntPhySensorEntry = "1.3.6.1.2.1.99.1.1.1"
	oidEntPhysicalName   = "1.3.6.1.2.1.47.1.1.1.1.7"
	oidEntPhysicalDescr  = "1.3.6.1.2.1.47.1.1.1.1.2"
	colSensorType        = "1"
	colSensorScale       = "2"
	colSensorPrecision   = "3"
	colSensorValue       = "4"
	colSensorOperStatus  = "5"
)

// sensorTypes are EntitySensorDataType's names.
var sensorTypes = map[int]string{
	1: "other", 2: "unknown", 3: "voltsAC", 4: "voltsDC", 5: "amperes", 6: "watts",
	7: "hertz", 8: "celsius", 9: "percentRH", 10: "rpm", 11: "cmm", 12: "truthvalue",
	13: "specialEnum", 14: "dBm",
}

func entitySensorModule() *module {
	return &module{
		name:   "entity_sensor",
		walk:   []string{oidEntPhySensorEntry, oidEntPhysicalName, oidEntPhysicalDescr},
		custom: convertEntitySensors,
	}
}

// sensorValue scales a raw entPhySensorValue to the base unit: scale is
// EntitySensorDataScale (9 = units, each step a factor of 1,000) and
// precision the number of decimal places.
func sensorValue(raw float64, scale, precision int) float64 {
	e := 3*(scale-9) - precision
	if e < -60 || e > 60 {
		return math.NaN()
	}
	if e >= 0 {
		return raw * math.Pow10(e)
	}
	return raw / math.Pow10(-e)
}

// convertEntitySensors writes entPhySensorValue (in base units: volts,
// amperes, watts, celsius, hertz, rpm, …) and entPhySensorOperStatus, with
// the entPhysicalIndex, entPhysicalName (entPhysicalDescr when the name is
// empty) and entPhySensorType labels.
func convertEntitySensors(c *converter, _ *customResult) {
	prefix := oidEntPhySensorEntry + "." + colSensorValue + "."
	for i := range c.set.pdus {
		pdu := &c.set.pdus[i]
		name := strings.TrimPrefix(pdu.Name, ".")
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		index := name[len(prefix):]
		num := func(col string) (int, bool) {
			p, ok := c.set.get(oidEntPhySensorEntry + "." + col + "." + index)
			if !ok {
				return 0, false
			}
			return int(toInt64(p.Value)), true
		}
		typ, _ := num(colSensorType)
		scale, ok := num(colSensorScale)
		if !ok {
			scale = 9
		}
		precision, _ := num(colSensorPrecision)
		typeName, ok := sensorTypes[typ]
		if !ok {
			typeName = strconv.Itoa(typ)
		}
		c.pairs = c.pairs[:0]
		c.setLabel("entPhysicalIndex", index)
		// Agents that leave entPhysicalName empty (Arista does) name the
		// sensor in entPhysicalDescr.
		var physName string
		if p, ok := c.set.get(oidEntPhysicalName + "." + index); ok {
			physName = c.valueAsString(p, "DisplayString")
		}
		if physName == "" {
			if p, ok := c.set.get(oidEntPhysicalDescr + "." + index); ok {
				physName = c.valueAsString(p, "DisplayString")
			}
		}
		c.setLabel("entPhysicalName", physName)
		c.setLabel("entPhySensorType", typeName)
		c.meta("entPhySensorValue", model.MetricTypeGauge,
			"The sensor's most recent reading in its base unit (volts, amperes, watts, celsius, hertz, rpm, percentRH), entPhySensorValue scaled by entPhySensorScale and entPhySensorPrecision - 1.3.6.1.2.1.99.1.1.1.4")
		c.emit("entPhySensorValue", sensorValue(c.pduValue(pdu), scale, precision))
		if status, ok := num(colSensorOperStatus); ok {
			c.meta("entPhySensorOperStatus", model.MetricTypeGauge,
				"The operational status of the sensor: 1 ok, 2 unavailable, 3 nonoperational - 1.3.6.1.2.1.99.1.1.1.5")
			c.emit("entPhySensorOperStatus", float64(status))
		}
		if c.err != nil {
			return
		}
	}
}
