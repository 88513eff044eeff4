package host

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		wantErr    string // substring naming the field or line; "" = valid
		check      func(t *testing.T, c Config)
	}{
		{name: "empty means defaults", yaml: "", check: func(t *testing.T, c Config) {
			if c.Procfs != "/proc" || c.Sysfs != "/sys" || c.Rootfs != "/" || len(c.Collectors) != len(AllCollectors()) ||
				c.Filesystem.MountTimeout != 5*time.Second || c.Netdev.DeviceExclude != "^lo$" {
				t.Errorf("defaults not applied: %+v", c)
			}
		}},
		{name: "full", yaml: `
procfs: /host/proc
sysfs: /host/sys
rootfs: /host/root
collectors: [cpu, meminfo, filesystem]
filesystem:
  mount_timeout: 2s
  fs_types_exclude: "^(tmpfs)$"
  mount_points_exclude: "^/boot"
netdev:
  device_exclude: "^(lo|veth.*)$"
diskstats:
  device_exclude: "^loop"
`, check: func(t *testing.T, c Config) {
			if c.Rootfs != "/host/root" || c.Filesystem.MountTimeout != 2*time.Second || len(c.Collectors) != 3 ||
				c.Netdev.DeviceExclude != "^(lo|veth.*)$" || c.Filesystem.MountPointsExclude != "^/boot" {
				t.Errorf("not decoded: %+v", c)
			}
		}},
		{name: "unknown key", yaml: "procfs: /proc\nmount_timeout: 1s\n", wantErr: "line 2"},
		{name: "unknown nested key", yaml: "filesystem:\n  timeout: 1s\n", wantErr: "line 2"},
		{name: "relative path", yaml: "sysfs: sys\n", wantErr: "field sysfs"},
		{name: "unknown collector", yaml: "collectors: [cpu, wifi]\n", wantErr: "field collectors[1]"},
		{name: "duplicate collector", yaml: "collectors: [cpu, cpu]\n", wantErr: "field collectors[1]"},
		{name: "negative timeout", yaml: "filesystem: {mount_timeout: -1s}\n", wantErr: "field filesystem.mount_timeout"},
		{name: "bad regexp", yaml: "diskstats: {device_exclude: '(sd'}\n", wantErr: "field diskstats.device_exclude"},
		{name: "bad fs regexp", yaml: "filesystem: {fs_types_exclude: '[x'}\n", wantErr: "field filesystem.fs_types_exclude"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	_, err := New(Config{Collectors: []string{"cpu", "nope"}}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "collectors[1]") {
		t.Fatalf("New with an unknown collector = %v", err)
	}
}
