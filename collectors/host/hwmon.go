package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
)

// hwmonSensorTypes are the sensor file prefixes node_exporter reads.
func isHwmonSensorType(t string) bool {
	switch t {
	case "vrm", "beep_enable", "update_interval", "in", "cpu", "fan",
		"pwm", "temp", "curr", "power", "energy", "humidity", "intrusion":
		return true
	}
	return false
}

// cleanMetricName lower-cases s, replaces every character outside
// [a-z0-9:_] by '_' and trims leading and trailing '_' (node_exporter's
// rule for chip and sensor names).
func cleanMetricName(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == ':' || r == '_' {
			b = append(b, byte(r))
		} else {
			b = append(b, '_')
		}
	}
	return strings.Trim(string(b), "_")
}

// hwmonFilenameFormat is node_exporter's split of a hwmon file name into
// <type><num>_<property> (temp1_input, fan2_min, beep_enable). Its
// backtracking rules have corner cases (A_0A is type A, property 0A), so the
// regexp itself is used rather than a hand-written copy.
const hwmonFilenameFormat = `^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$`

// explodeSensorFilename splits a hwmon file name with re (hwmonFilenameFormat).
func explodeSensorFilename(re *regexp.Regexp, name string) (ok bool, sensorType string, num int, property string) {
	m := re.FindStringSubmatch(name)
	if m == nil {
		return false, "", 0, ""
	}
	if m[2] != "" {
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return false, "", 0, ""
		}
		num = n
	}
	return true, m[1], num, m[4]
}

func hwmonReadFile(path string) (string, error) {
	// Some hwmon drivers return EAGAIN forever; read once, never loop.
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var b [128]byte
	n, err := f.Read(b[:])
	if err != nil {
		return "", err
	}
	return strings.Trim(string(b[:n]), "\n"), nil
}

func collectSensorData(re *regexp.Regexp, dir string, data map[string]map[string]string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, f := range ents {
		ok, typ, num, prop := explodeSensorFilename(re, f.Name())
		if !ok || !isHwmonSensorType(typ) {
			continue
		}
		v, err := hwmonReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			continue
		}
		sensor := typ + strconv.Itoa(num)
		if data[sensor] == nil {
			data[sensor] = map[string]string{}
		}
		data[sensor][prop] = v
	}
	return nil
}

// hwmonName gives a chip a stable name: from its device path when it has
// one (e.g. platform_coretemp_0), else its name file, else hwmonN.
func hwmonName(dir string) (string, error) {
	if dev, err := filepath.EvalSymlinks(filepath.Join(dir, "device")); err == nil {
		prefix, devName := filepath.Split(dev)
		_, devType := filepath.Split(strings.TrimRight(prefix, "/"))
		cn, ct := cleanMetricName(devName), cleanMetricName(devType)
		if ct != "" && cn != "" {
			return ct + "_" + cn, nil
		}
		if cn != "" {
			return cn, nil
		}
	}
	if n, err := os.ReadFile(filepath.Join(dir, "name")); err == nil {
		if cn := cleanMetricName(string(n)); cn != "" {
			return cn, nil
		}
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	if cn := cleanMetricName(filepath.Base(real)); cn != "" {
		return cn, nil
	}
	return "", fmt.Errorf("hwmon %s: no usable chip name", dir)
}

func collectHwmon(r *run) error {
	base := filepath.Join(r.c.cfg.Sysfs, "class", "hwmon")
	ents, err := os.ReadDir(base)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %w", errNoData, err)
		}
		return err
	}
	var last error
	for _, ent := range ents {
		dir := filepath.Join(base, ent.Name())
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			continue
		}
		if err := emitHwmon(&r.e, r.c.hwmonRE, dir); err != nil {
			last = fmt.Errorf("hwmon %s: %w", ent.Name(), err)
		}
	}
	return last
}

func emitHwmon(e *emitter, re *regexp.Regexp, dir string) error {
	chip, err := hwmonName(dir)
	if err != nil {
		return err
	}
	data := map[string]map[string]string{}
	if err := collectSensorData(re, dir, data); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "device")); err == nil {
		if err := collectSensorData(re, filepath.Join(dir, "device"), data); err != nil {
			return err
		}
	}
	if n, err := os.ReadFile(filepath.Join(dir, "name")); err == nil {
		if cn := cleanMetricName(string(n)); cn != "" {
			e.family("node_hwmon_chip_names", gauge, "Annotation metric for human-readable chip names")
			e.sample2("node_hwmon_chip_names", "chip", chip, "chip_name", cn, 1)
		}
	}
	sensors := make([]string, 0, len(data))
	for s := range data {
		sensors = append(sensors, s)
	}
	sort.Strings(sensors)
	out := func(name string, typ model.MetricType, help, sensor string, v float64) {
		e.family(name, typ, help)
		e.sample2(name, "chip", chip, "sensor", sensor, v)
	}
	for _, sensor := range sensors {
		sd := data[sensor]
		_, typ, _, _ := explodeSensorFilename(re, sensor)
		if l, ok := sd["label"]; ok {
			if cl := cleanMetricName(l); cl != "" {
				e.family("node_hwmon_sensor_label", gauge, "Label for given chip and sensor")
				e.sample3("node_hwmon_sensor_label", "chip", chip, "label", cl, "sensor", sensor, 1)
			}
		}
		switch typ {
		case "beep_enable":
			out("node_hwmon_beep_enabled", gauge, "Hardware beep enabled", sensor, b2f(sd[""] == "1"))
			continue
		case "vrm":
			if v, err := strconv.ParseFloat(sd[""], 64); err == nil {
				out("node_hwmon_voltage_regulator_version", gauge, "Hardware voltage regulator", sensor, v)
			}
			continue
		case "update_interval":
			if v, err := strconv.ParseFloat(sd[""], 64); err == nil {
				out("node_hwmon_update_interval_seconds", gauge, "Hardware monitor update interval", sensor, v*0.001)
			}
			continue
		}
		elements := make([]string, 0, len(sd))
		for el := range sd {
			elements = append(elements, el)
		}
		sort.Strings(elements)
		for _, el := range elements {
			if el == "label" {
				continue
			}
			name := "node_hwmon_" + typ
			if el == "input" {
				if _, ok := sd[""]; ok {
					name += "_input"
				}
			} else if el != "" {
				name += "_" + cleanMetricName(el)
			}
			v, err := strconv.ParseFloat(sd[el], 64)
			if err != nil {
				continue
			}
			switch {
			case el == "fault" || el == "alarm":
				out(name, gauge, "Hardware sensor "+el+" status ("+typ+")", sensor, v)
			case el == "beep":
				out(name+"_enabled", gauge, "Hardware monitor sensor has beeping enabled", sensor, v)
			case typ == "in" || typ == "cpu":
				out(name+"_volts", gauge, "Hardware monitor for voltage ("+el+")", sensor, v*0.001)
			case typ == "temp" && el != "type":
				if el == "" {
					el = "input"
				}
				out(name+"_celsius", gauge, "Hardware monitor for temperature ("+el+")", sensor, v*0.001)
			case typ == "curr":
				out(name+"_amps", gauge, "Hardware monitor for current ("+el+")", sensor, v*0.001)
			case typ == "energy":
				out(name+"_joule_total", counter, "Hardware monitor for joules used so far ("+el+")", sensor, v/1e6)
			case typ == "power" && el == "accuracy":
				out(name, gauge, "Hardware monitor power meter accuracy, as a ratio", sensor, v/1e6)
			case typ == "power" && (el == "average_interval" || el == "average_interval_min" || el == "average_interval_max"):
				out(name+"_seconds", gauge, "Hardware monitor power usage update interval ("+el+")", sensor, v*0.001)
			case typ == "power":
				out(name+"_watt", gauge, "Hardware monitor for power usage in watts ("+el+")", sensor, v/1e6)
			case typ == "humidity":
				out(name, gauge, "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ("+el+")", sensor, v/1e6)
			case typ == "fan" && (el == "input" || el == "min" || el == "max" || el == "target"):
				out(name+"_rpm", gauge, "Hardware monitor for fan revolutions per minute ("+el+")", sensor, v)
			default:
				out(name, gauge, "Hardware monitor "+typ+" element "+el, sensor, v)
			}
		}
	}
	return nil
}
