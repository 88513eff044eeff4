package host

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

func collectLoadavg(r *run) error {
	l, err := r.c.proc.LoadAvg()
	if err != nil {
		return err
	}
	e := &r.e
	e.family("node_load1", gauge, "1m load average.")
	e.sample0("node_load1", l.Load1)
	e.family("node_load5", gauge, "5m load average.")
	e.sample0("node_load5", l.Load5)
	e.family("node_load15", gauge, "15m load average.")
	e.sample0("node_load15", l.Load15)
	return nil
}

func collectPressure(r *run) error {
	e := &r.e
	for _, res := range [...]string{"cpu", "io", "memory"} {
		s, err := r.c.proc.PSIStatsForResource(res)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("pressure information needs Linux >= 4.20 with CONFIG_PSI: %w: %w", errNoData, err)
			}
			return fmt.Errorf("pressure %s: %w", res, err)
		}
		switch res {
		case "cpu":
			if s.Some != nil {
				e.family("node_pressure_cpu_waiting_seconds_total", counter, "Total time in seconds that processes have waited for CPU time")
				e.sample0("node_pressure_cpu_waiting_seconds_total", float64(s.Some.Total)/1e6)
			}
		case "io":
			if s.Some != nil {
				e.family("node_pressure_io_waiting_seconds_total", counter, "Total time in seconds that processes have waited due to IO congestion")
				e.sample0("node_pressure_io_waiting_seconds_total", float64(s.Some.Total)/1e6)
			}
			if s.Full != nil {
				e.family("node_pressure_io_stalled_seconds_total", counter, "Total time in seconds no process could make progress due to IO congestion")
				e.sample0("node_pressure_io_stalled_seconds_total", float64(s.Full.Total)/1e6)
			}
		case "memory":
			if s.Some != nil {
				e.family("node_pressure_memory_waiting_seconds_total", counter, "Total time in seconds that processes have waited for memory")
				e.sample0("node_pressure_memory_waiting_seconds_total", float64(s.Some.Total)/1e6)
			}
			if s.Full != nil {
				e.family("node_pressure_memory_stalled_seconds_total", counter, "Total time in seconds no process could make progress due to memory congestion")
				e.sample0("node_pressure_memory_stalled_seconds_total", float64(s.Full.Total)/1e6)
			}
		}
	}
	return nil
}

// utsname is what uname(2) reports, as strings.
type utsname struct {
	sysname, nodename, release, version, machine, domainname string
}

func realUname() (utsname, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return utsname{}, fmt.Errorf("uname: %w", err)
	}
	return utsname{
		sysname:    unix.ByteSliceToString(u.Sysname[:]),
		nodename:   unix.ByteSliceToString(u.Nodename[:]),
		release:    unix.ByteSliceToString(u.Release[:]),
		version:    unix.ByteSliceToString(u.Version[:]),
		machine:    unix.ByteSliceToString(u.Machine[:]),
		domainname: unix.ByteSliceToString(u.Domainname[:]),
	}, nil
}

func collectUname(r *run) error {
	u, err := r.c.uname()
	if err != nil {
		return err
	}
	e := &r.e
	e.family("node_uname_info", gauge, "Labeled system information as provided by the uname system call.")
	e.sampleN("node_uname_info", []string{
		"domainname", u.domainname,
		"machine", u.machine,
		"nodename", u.nodename,
		"release", u.release,
		"sysname", u.sysname,
		"version", u.version,
	}, 1)
	return nil
}

func collectTime(r *run) error {
	e := &r.e
	now := r.c.now()
	e.family("node_time_seconds", gauge, "System time in seconds since epoch (1970).")
	e.sample0("node_time_seconds", float64(now.UnixNano())/1e9)
	zone, off := now.Zone()
	e.family("node_time_zone_offset_seconds", gauge, "System time zone offset in seconds.")
	e.sample1("node_time_zone_offset_seconds", "time_zone", zone, float64(off))

	cs, err := r.c.sys.ClockSources()
	if err != nil {
		return fmt.Errorf("clocksources: %w", err)
	}
	e.family("node_time_clocksource_available_info", gauge, "Available clocksources read from '/sys/devices/system/clocksource'.")
	for i, c := range cs {
		dev := strconv.Itoa(i)
		for _, a := range c.Available {
			e.sample2("node_time_clocksource_available_info", "clocksource", a, "device", dev, 1)
		}
	}
	e.family("node_time_clocksource_current_info", gauge, "Current clocksource read from '/sys/devices/system/clocksource'.")
	for i, c := range cs {
		e.sample2("node_time_clocksource_current_info", "clocksource", c.Current, "device", strconv.Itoa(i), 1)
	}
	return nil
}
