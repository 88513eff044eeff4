package host

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// readUint reads a sysfs file holding one unsigned integer.
func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// numberedDirs returns the numbers N of the entries "<prefix>N" of dir,
// sorted; a missing dir has none.
func numberedDirs(dir, prefix string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || n == "" || strings.Trim(n, "0123456789") != "" {
			continue
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i])
		b, _ := strconv.Atoi(out[j])
		return a < b
	})
	return out, nil
}

func collectEDAC(r *run) error {
	base := filepath.Join(r.c.cfg.Sysfs, "devices", "system", "edac", "mc")
	mcs, err := numberedDirs(base, "mc")
	if err != nil {
		return err
	}
	e := &r.e
	type row struct {
		ctl, csrow string
		ce, ue     uint64
	}
	var ctls, rows []row
	for _, mc := range mcs {
		dir := filepath.Join(base, "mc"+mc)
		var v [4]uint64
		for i, f := range [...]string{"ce_count", "ce_noinfo_count", "ue_count", "ue_noinfo_count"} {
			if v[i], err = readUint(filepath.Join(dir, f)); err != nil {
				return fmt.Errorf("controller %s: %w", mc, err)
			}
		}
		ctls = append(ctls, row{ctl: mc, ce: v[0], ue: v[2]})
		rows = append(rows, row{ctl: mc, csrow: "unknown", ce: v[1], ue: v[3]})
		csrows, err := numberedDirs(dir, "csrow")
		if err != nil {
			return fmt.Errorf("controller %s: %w", mc, err)
		}
		for _, cs := range csrows {
			ce, err := readUint(filepath.Join(dir, "csrow"+cs, "ce_count"))
			if err != nil {
				return fmt.Errorf("controller %s csrow %s: %w", mc, cs, err)
			}
			ue, err := readUint(filepath.Join(dir, "csrow"+cs, "ue_count"))
			if err != nil {
				return fmt.Errorf("controller %s csrow %s: %w", mc, cs, err)
			}
			rows = append(rows, row{ctl: mc, csrow: cs, ce: ce, ue: ue})
		}
	}
	if len(ctls) == 0 {
		return nil
	}
	e.family("node_edac_correctable_errors_total", counter, "Total correctable memory errors.")
	for _, c := range ctls {
		e.sample1("node_edac_correctable_errors_total", "controller", c.ctl, float64(c.ce))
	}
	e.family("node_edac_uncorrectable_errors_total", counter, "Total uncorrectable memory errors.")
	for _, c := range ctls {
		e.sample1("node_edac_uncorrectable_errors_total", "controller", c.ctl, float64(c.ue))
	}
	e.family("node_edac_csrow_correctable_errors_total", counter, "Total correctable memory errors for this csrow.")
	for _, c := range rows {
		e.sample2("node_edac_csrow_correctable_errors_total", "controller", c.ctl, "csrow", c.csrow, float64(c.ce))
	}
	e.family("node_edac_csrow_uncorrectable_errors_total", counter, "Total uncorrectable memory errors for this csrow.")
	for _, c := range rows {
		e.sample2("node_edac_csrow_uncorrectable_errors_total", "controller", c.ctl, "csrow", c.csrow, float64(c.ue))
	}
	return nil
}

func collectThermalZone(r *run) error {
	c := r.c
	zones, err := c.sys.ClassThermalZoneStats()
	if err != nil {
		return err
	}
	e := &r.e
	if len(zones) > 0 {
		e.family("node_thermal_zone_temp", gauge, "Zone temperature in Celsius")
	}
	for _, z := range zones {
		if z.ReadErrors != nil {
			c.logger.Debug("thermal zone unreadable", "zone", z.Name, "err", z.ReadErrors)
			continue
		}
		e.sample2("node_thermal_zone_temp", "type", z.Type, "zone", z.Name, float64(z.Temp)/1000.0)
	}
	cds, err := c.sys.ClassCoolingDeviceStats()
	if err != nil {
		return err
	}
	if len(cds) == 0 {
		return nil
	}
	e.family("node_cooling_device_cur_state", gauge, "Current throttle state of the cooling device")
	for _, d := range cds {
		e.sample2("node_cooling_device_cur_state", "name", d.Name, "type", d.Type, float64(d.CurState))
	}
	e.family("node_cooling_device_max_state", gauge, "Maximum throttle state of the cooling device")
	for _, d := range cds {
		e.sample2("node_cooling_device_max_state", "name", d.Name, "type", d.Type, float64(d.MaxState))
	}
	return nil
}
