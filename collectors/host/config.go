package host

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// Names of the sub-collectors, as node_exporter names them (they are the
// values of the collector label of node_scrape_collector_*).
const (
	SubCPU         = "cpu"
	SubStat        = "stat"
	SubMeminfo     = "meminfo"
	SubLoadavg     = "loadavg"
	SubDiskstats   = "diskstats"
	SubFilesystem  = "filesystem"
	SubNetdev      = "netdev"
	SubNetclass    = "netclass"
	SubPressure    = "pressure"
	SubHwmon       = "hwmon"
	SubEDAC        = "edac"
	SubThermalZone = "thermal_zone"
	SubUname       = "uname"
	SubTime        = "time"
)

// AllCollectors returns the names of every sub-collector, in the order they
// run. It is the default of Config.Collectors.
func AllCollectors() []string {
	return []string{
		SubCPU, SubStat, SubMeminfo, SubLoadavg, SubDiskstats, SubFilesystem,
		SubNetdev, SubNetclass, SubPressure, SubHwmon, SubEDAC, SubThermalZone,
		SubUname, SubTime,
	}
}

// Defaults of node_exporter 1.5 as shipped by Debian (prometheus-node-exporter),
// the exporter fleetwatch replaces on these hosts.
const (
	DefaultProcfs                 = "/proc"
	DefaultSysfs                  = "/sys"
	DefaultRootfs                 = "/"
	DefaultUdevData               = "/run/udev/data"
	DefaultMountTimeout           = 5 * time.Second
	DefaultFSTypesExclude         = `^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$`
	DefaultMountPointsExclude     = `^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)`
	DefaultNetdevDeviceExclude    = `^lo$`
	DefaultDiskstatsDeviceExclude = `^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`
	DefaultNetclassIgnoredDevices = `^$`
	maxMountTimeout               = 10 * time.Minute
)

// Config selects what the host collector reads and where. The zero value of a
// field means its default; ApplyDefaults fills them in and Validate checks the
// result. Unknown keys are rejected by ParseConfig.
type Config struct {
	// Procfs is the mount point of procfs (default /proc).
	Procfs string `yaml:"procfs,omitempty"`
	// Sysfs is the mount point of sysfs (default /sys).
	Sysfs string `yaml:"sysfs,omitempty"`
	// Rootfs is the host's root file system, for running in a container with
	// the host's / mounted elsewhere (default /). Mount points are statfs'd
	// below it and reported without the prefix.
	Rootfs string `yaml:"rootfs,omitempty"`
	// UdevData is udev's database, read for node_disk_info's labels (default
	// /run/udev/data). A missing directory leaves those labels empty.
	UdevData string `yaml:"udev_data,omitempty"`
	// Collectors lists the enabled sub-collectors (default: all of them).
	Collectors []string `yaml:"collectors,omitempty"`

	Filesystem FilesystemConfig `yaml:"filesystem,omitempty"`
	Netdev     DeviceConfig     `yaml:"netdev,omitempty"`
	Netclass   NetclassConfig   `yaml:"netclass,omitempty"`
	Diskstats  DeviceConfig     `yaml:"diskstats,omitempty"`
}

// FilesystemConfig configures the filesystem sub-collector.
type FilesystemConfig struct {
	// MountTimeout bounds each statfs call; a mount that does not answer in
	// time is reported with node_filesystem_device_error 1 and not asked
	// again until its pending call returns (default 5s).
	MountTimeout time.Duration `yaml:"mount_timeout,omitempty"`
	// FSTypesExclude is a regexp of file system types to skip.
	FSTypesExclude string `yaml:"fs_types_exclude,omitempty"`
	// MountPointsExclude is a regexp of mount points to skip.
	MountPointsExclude string `yaml:"mount_points_exclude,omitempty"`
}

// DeviceConfig holds a device exclusion regexp.
type DeviceConfig struct {
	// DeviceExclude is a regexp of device names to skip. Use "^$" to keep all.
	DeviceExclude string `yaml:"device_exclude,omitempty"`
}

// NetclassConfig configures the netclass sub-collector.
type NetclassConfig struct {
	// IgnoredDevices is a regexp of interfaces to skip (default "^$": none).
	IgnoredDevices string `yaml:"ignored_devices,omitempty"`
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	var c Config
	c.ApplyDefaults()
	return c
}

// ApplyDefaults fills every zero field with its default.
func (c *Config) ApplyDefaults() {
	setDefault(&c.Procfs, DefaultProcfs)
	setDefault(&c.Sysfs, DefaultSysfs)
	setDefault(&c.Rootfs, DefaultRootfs)
	setDefault(&c.UdevData, DefaultUdevData)
	if c.Collectors == nil {
		c.Collectors = AllCollectors()
	}
	if c.Filesystem.MountTimeout == 0 {
		c.Filesystem.MountTimeout = DefaultMountTimeout
	}
	setDefault(&c.Filesystem.FSTypesExclude, DefaultFSTypesExclude)
	setDefault(&c.Filesystem.MountPointsExclude, DefaultMountPointsExclude)
	setDefault(&c.Netdev.DeviceExclude, DefaultNetdevDeviceExclude)
	setDefault(&c.Diskstats.DeviceExclude, DefaultDiskstatsDeviceExclude)
	setDefault(&c.Netclass.IgnoredDevices, DefaultNetclassIgnoredDevices)
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

// ParseConfig decodes YAML strictly (unknown keys are errors), applies the
// defaults and validates the result. Errors name the line or the field.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // empty document: all defaults
		return Config{}, fmt.Errorf("host config: %w", err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks a Config after ApplyDefaults and names the first bad field.
func (c *Config) Validate() error {
	for _, p := range []struct{ field, v string }{
		{"procfs", c.Procfs}, {"sysfs", c.Sysfs}, {"rootfs", c.Rootfs}, {"udev_data", c.UdevData},
	} {
		if p.v == "" {
			return fmt.Errorf("host config: field %s: must not be empty", p.field)
		}
		if !filepath.IsAbs(p.v) {
			return fmt.Errorf("host config: field %s: %q is not an absolute path", p.field, p.v)
		}
	}
	known := map[string]bool{}
	for _, n := range AllCollectors() {
		known[n] = true
	}
	seen := map[string]bool{}
	for i, n := range c.Collectors {
		if !known[n] {
			return fmt.Errorf("host config: field collectors[%d]: unknown collector %q (known: %v)", i, n, AllCollectors())
		}
		if seen[n] {
			return fmt.Errorf("host config: field collectors[%d]: collector %q listed twice", i, n)
		}
		seen[n] = true
	}
	if c.Filesystem.MountTimeout <= 0 || c.Filesystem.MountTimeout > maxMountTimeout {
		return fmt.Errorf("host config: field filesystem.mount_timeout: %v is outside (0, %v]", c.Filesystem.MountTimeout, maxMountTimeout)
	}
	for _, r := range []struct{ field, v string }{
		{"filesystem.fs_types_exclude", c.Filesystem.FSTypesExclude},
		{"filesystem.mount_points_exclude", c.Filesystem.MountPointsExclude},
		{"netdev.device_exclude", c.Netdev.DeviceExclude},
		{"netclass.ignored_devices", c.Netclass.IgnoredDevices},
		{"diskstats.device_exclude", c.Diskstats.DeviceExclude},
	} {
		if _, err := regexp.Compile(r.v); err != nil {
			return fmt.Errorf("host config: field %s: %w", r.field, err)
		}
	}
	return nil
}

// compiled holds the regexps of a validated Config.
type compiled struct {
	fsTypesExclude     *regexp.Regexp
	mountPointsExclude *regexp.Regexp
	netdevExclude      *regexp.Regexp
	netclassIgnored    *regexp.Regexp
	diskExclude        *regexp.Regexp
}

func (c *Config) compile() compiled {
	return compiled{
		fsTypesExclude:     regexp.MustCompile(c.Filesystem.FSTypesExclude),
		mountPointsExclude: regexp.MustCompile(c.Filesystem.MountPointsExclude),
		netdevExclude:      regexp.MustCompile(c.Netdev.DeviceExclude),
		netclassIgnored:    regexp.MustCompile(c.Netclass.IgnoredDevices),
		diskExclude:        regexp.MustCompile(c.Diskstats.DeviceExclude),
	}
}
