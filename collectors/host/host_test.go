package host

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetwatch/fleetwatch/collectors"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/expected.prom from the current output")

// fixedNow is the clock of the fixture tests: durations come out as 0 and
// node_time_seconds is constant.
func fixedNow() time.Time {
	return time.Date(2026, 11, 25, 12, 0, 0, 0, time.FixedZone("CET", 3600))
}

func fakeUname() (utsname, error) {
	return utsname{sysname: "Linux", nodename: "web-1", release: "6.1.0-18-amd64",
		version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1", machine: "x86_64", domainname: "(none)"}, nil
}

// fakeStatfs answers from a table keyed by path; other paths fail with EIO.
func fakeStatfs(table map[string]fsStat) statfsFunc {
	return func(path string) (fsStat, error) {
		if s, ok := table[path]; ok {
			return s, nil
		}
		return fsStat{}, &os.PathError{Op: "statfs", Path: path, Err: syscall.EIO}
	}
}

// newFixture builds a Collector on testdata/<name> with the test clock,
// uname and statfs.
func newFixture(t *testing.T, name string, cfg Config, statfs statfsFunc, reg prometheus.Registerer) *Collector {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Procfs = filepath.Join(dir, "proc")
	cfg.Sysfs = filepath.Join(dir, "sys")
	cfg.UdevData = filepath.Join(dir, "udev")
	c, err := New(cfg, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	c.now = fixedNow
	c.uname = fakeUname
	c.statfs = statfs
	return c
}

func TestGolden(t *testing.T) {
	full := fakeStatfs(map[string]fsStat{
		"/":            {blocks: 1000, bfree: 400, bavail: 300, files: 100, ffree: 60, bsize: 4096},
		"/srv/my data": {blocks: 2000, bfree: 2000, bavail: 1900, files: 50, ffree: 50, bsize: 512},
		"/mnt2/nfs":    {blocks: 10, bfree: 5, bavail: 5, files: 1, ffree: 0, bsize: 1 << 20},
	})
	for _, tc := range []struct {
		name   string
		cfg    Config
		statfs statfsFunc
	}{
		{"full", Config{}, full},
		{"empty", Config{}, full},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFixture(t, tc.name, tc.cfg, tc.statfs, nil)
			got := collect(t, c).text()
			golden := filepath.Join("testdata", tc.name, "expected.prom")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run with -update after checking):\n%s", golden, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// TestFixtureValues checks, independently of the golden file, the values a
// user would look at first, computed from the fixture files by hand.
func TestFixtureValues(t *testing.T) {
	c := newFixture(t, "full", Config{}, fakeStatfs(map[string]fsStat{
		"/": {blocks: 1000, bfree: 400, bavail: 300, files: 100, ffree: 60, bsize: 4096},
	}), nil)
	rec := collect(t, c)
	for _, tc := range []struct {
		family string
		kv     []string
		want   float64
	}{
		{"node_cpu_seconds_total", []string{"cpu", "1", "mode", "user"}, 85.41},
		{"node_cpu_seconds_total", []string{"cpu", "0", "mode", "steal"}, 0.91},
		{"node_cpu_guest_seconds_total", []string{"cpu", "1", "mode", "nice"}, 0.05},
		{"node_boot_time_seconds", nil, 1795643450},
		{"node_procs_blocked", nil, 1},
		{"node_memory_MemTotal_bytes", nil, 24684092 * 1024},
		{"node_memory_Active_anon_bytes", nil, 733104 * 1024},
		{"node_memory_HugePages_Total", nil, 0},
		{"node_load5", nil, 0.77},
		{"node_disk_read_bytes_total", []string{"device", "vda"}, 1663682 * 512},
		{"node_disk_io_time_weighted_seconds_total", []string{"device", "vda"}, 38.833},
		{"node_disk_flush_requests_total", []string{"device", "vda"}, 1297},
		{"node_disk_info", []string{"device", "vda", "model", "QEMU_HARDDISK", "serial", "QM00001", "path", "pci-0000:00:05.0"}, 1},
		{"node_filesystem_size_bytes", []string{"mountpoint", "/"}, 4096000},
		{"node_filesystem_avail_bytes", []string{"mountpoint", "/"}, 300 * 4096},
		{"node_filesystem_device_error", []string{"mountpoint", "/var/broken"}, 1},
		{"node_filesystem_device_error", []string{"mountpoint", "/"}, 0},
		{"node_network_receive_frame_total", []string{"device", "eth0"}, 4},
		{"node_network_transmit_colls_total", []string{"device", "eth0"}, 10},
		{"node_network_speed_bytes", []string{"device", "eth0"}, 1250000000},
		{"node_network_flags", []string{"device", "eth0"}, 4099},
		{"node_network_up", []string{"device", "eth0"}, 1},
		{"node_network_up", []string{"device", "lo"}, 0},
		{"node_pressure_io_stalled_seconds_total", nil, 2.427625},
		{"node_hwmon_temp_celsius", []string{"chip", "coretemp", "sensor", "temp1"}, 45},
		{"node_hwmon_temp_max_celsius", []string{"chip", "coretemp", "sensor", "temp1"}, 100},
		{"node_hwmon_fan_rpm", []string{"sensor", "fan1"}, 1200},
		{"node_hwmon_in_volts", []string{"sensor", "in0"}, 1.05},
		{"node_hwmon_power_average_watt", []string{"sensor", "power1"}, 15},
		{"node_edac_correctable_errors_total", []string{"controller", "0"}, 3},
		{"node_edac_csrow_correctable_errors_total", []string{"controller", "0", "csrow", "unknown"}, 1},
		{"node_thermal_zone_temp", []string{"zone", "0", "type", "x86_pkg_temp"}, 47},
		{"node_time_zone_offset_seconds", []string{"time_zone", "CET"}, 3600},
		{"node_time_clocksource_available_info", []string{"clocksource", "hpet"}, 1},
		{"node_uname_info", []string{"nodename", "web-1"}, 1},
		{"node_scrape_collector_success", []string{"collector", "filesystem"}, 1},
	} {
		t.Run(tc.family+"/"+strings.Join(tc.kv, ","), func(t *testing.T) {
			got, ok := rec.value(tc.family, tc.kv...)
			if !ok {
				t.Fatalf("no single series %s%v", tc.family, tc.kv)
			}
			if diff := got - tc.want; diff > 1e-9 || diff < -1e-9 {
				t.Errorf("%s%v = %v, want %v", tc.family, tc.kv, got, tc.want)
			}
		})
	}
	for _, absent := range []struct{ family, label, value string }{
		{"node_disk_reads_completed_total", "device", "loop0"},      // diskstats.device_exclude
		{"node_disk_reads_completed_total", "device", "vda1"},       // partition
		{"node_network_receive_bytes_total", "device", "lo"},        // netdev.device_exclude
		{"node_filesystem_size_bytes", "mountpoint", "/proc"},       // excluded mount point
		{"node_filesystem_size_bytes", "fstype", "cgroup2"},         // excluded type
		{"node_filesystem_size_bytes", "mountpoint", "/run"},        // excluded mount point
		{"node_filesystem_size_bytes", "mountpoint", "/var/broken"}, // statfs failed
		{"node_disk_discards_completed_total", "device", "sda"},     // old kernel: 11 fields only
	} {
		for _, s := range rec.series[absent.family] {
			if s.ls.Get(absent.label) == absent.value {
				t.Errorf("%s has a series with %s=%q: %v", absent.family, absent.label, absent.value, s.ls)
			}
		}
	}
	if _, ok := rec.value("node_disk_reads_completed_total", "device", "sda"); !ok {
		t.Error("sda (11 fields) lost its first counters")
	}
}

func TestSubCollectorFailureKeepsOthers(t *testing.T) {
	c := newFixture(t, "empty", Config{}, fakeStatfs(nil), nil)
	rec := collect(t, c)
	for sub, want := range map[string]float64{
		"cpu": 1, "meminfo": 1, "netdev": 1,
		"netclass": 0, // no sysfs at all
		"pressure": 0, // no /proc/pressure: no data, like node_exporter
		"hwmon":    0,
		"edac":     1, // nothing found is not a failure
	} {
		if got, ok := rec.value("node_scrape_collector_success", "collector", sub); !ok || got != want {
			t.Errorf("success{collector=%q} = %v (found %v), want %v", sub, got, ok, want)
		}
	}
	if _, ok := rec.value("node_memory_MemTotal_bytes"); !ok {
		t.Error("meminfo missing after netclass failed")
	}
	if n := len(rec.series["node_hwmon_temp_celsius"]) + len(rec.series["node_edac_correctable_errors_total"]); n != 0 {
		t.Errorf("hwmon/edac emitted %d series on a host without them", n)
	}
}

func TestSelfMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c := newFixture(t, "empty", Config{}, fakeStatfs(nil), reg)
	collect(t, c)
	if got := testutil.ToFloat64(c.stats.errors.WithLabelValues("netclass")); got != 1 {
		t.Errorf("fleetwatch_host_collector_errors_total{collector=netclass} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(c.stats.errors.WithLabelValues("pressure")); got != 0 {
		t.Errorf("no-data pressure counted as an error: %v", got)
	}
	if _, err := New(Config{}, nil, reg); err == nil {
		t.Error("registering the self-metrics twice on one registry did not fail")
	}
}

func TestCollectHonoursContext(t *testing.T) {
	c := newFixture(t, "full", Config{}, fakeStatfs(nil), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Collect(ctx, collectors.Target{}, newRecorder())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Collect with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestCPUCountersNeverGoBack(t *testing.T) {
	var s cpuState
	s.last = map[int64]cpuTimes{}
	s.update(map[int64]cpuTimes{0: {User: 10, Idle: 100}, 1: {User: 5, Idle: 50}})
	got := s.update(map[int64]cpuTimes{0: {User: 9.99, Idle: 100.5}, 1: {User: 6, Idle: 10}})
	if got[0].User != 10 {
		t.Errorf("cpu0 user went back to %v, want it held at 10", got[0].User)
	}
	if got[0].Idle != 100.5 {
		t.Errorf("cpu0 idle = %v, want 100.5", got[0].Idle)
	}
	if got[1].Idle != 10 || got[1].User != 6 {
		t.Errorf("cpu1 idle jumped back 40s (hotplug) but counters were not reset: %+v", got[1])
	}
	got = s.update(map[int64]cpuTimes{0: {User: 11, Idle: 101}})
	if _, ok := got[1]; ok {
		t.Error("offline cpu1 is still reported")
	}
}
