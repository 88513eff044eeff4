package host

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/collectors"
)

// hangingStatfs blocks on the given paths until release is closed, counting
// the calls it receives per path; other paths answer at once.
type hangingStatfs struct {
	hang    map[string]bool
	release chan struct{}
	mu      sync.Mutex
	calls   map[string]int
	blocked atomic.Int32
}

func (h *hangingStatfs) statfs(path string) (fsStat, error) {
	h.mu.Lock()
	h.calls[path]++
	h.mu.Unlock()
	if h.hang[path] {
		h.blocked.Add(1)
		<-h.release
		h.blocked.Add(-1)
	}
	return fsStat{blocks: 100, bfree: 50, bavail: 40, files: 10, ffree: 5, bsize: 4096}, nil
}

func (h *hangingStatfs) count(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[path]
}

func TestHungMount(t *testing.T) {
	const timeout = 200 * time.Millisecond
	const margin = 2 * time.Second // generous: this is a bound, not a timing assertion
	h := &hangingStatfs{
		hang:    map[string]bool{"/mnt2/nfs": true},
		release: make(chan struct{}),
		calls:   map[string]int{},
	}
	c := newFixture(t, "full", Config{Filesystem: FilesystemConfig{MountTimeout: timeout}}, h.statfs, nil)
	var once sync.Once
	release := func() { once.Do(func() { close(h.release) }) }
	defer release()

	for round := 1; round <= 3; round++ {
		start := time.Now()
		rec := newRecorder()
		done := make(chan error, 1)
		go func() { done <- c.Collect(context.Background(), collectors.Target{}, rec) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: Collect: %v", round, err)
			}
		case <-time.After(timeout + margin):
			t.Fatalf("round %d: Collect did not return within mount_timeout (%v) + %v with a hung mount", round, timeout, margin)
		}
		t.Logf("round %d took %v", round, time.Since(start))
		if v, ok := rec.value("node_filesystem_device_error", "mountpoint", "/mnt2/nfs"); !ok || v != 1 {
			t.Errorf("round %d: device_error{mountpoint=/mnt2/nfs} = %v (found %v), want 1", round, v, ok)
		}
		if _, ok := rec.value("node_filesystem_size_bytes", "mountpoint", "/mnt2/nfs"); ok {
			t.Errorf("round %d: size reported for the hung mount", round)
		}
		if v, ok := rec.value("node_filesystem_device_error", "mountpoint", "/"); !ok || v != 0 {
			t.Errorf("round %d: device_error{mountpoint=/} = %v, want 0", round, v)
		}
		if v, ok := rec.value("node_filesystem_size_bytes", "mountpoint", "/"); !ok || v != 100*4096 {
			t.Errorf("round %d: size{mountpoint=/} = %v, want %v", round, v, 100*4096)
		}
		for _, fam := range []string{"node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_network_up", "node_disk_io_now"} {
			if len(rec.series[fam]) == 0 {
				t.Errorf("round %d: %s missing", round, fam)
			}
		}
		if v, _ := rec.value("node_scrape_collector_success", "collector", "filesystem"); v != 1 {
			t.Errorf("round %d: filesystem success = %v, want 1 (a hung mount is a device error, not a collector failure)", round, v)
		}
	}
	if n := h.count("/mnt2/nfs"); n != 1 {
		t.Errorf("statfs was started %d times on the hung mount, want 1 (no second call while the first is stuck)", n)
	}
	if n := h.count("/"); n != 3 {
		t.Errorf("statfs on / ran %d times in 3 collections", n)
	}
	if got := c.mnt.stuck(); got != 1 {
		t.Errorf("stuck mounts = %d, want 1", got)
	}

	// Once the hung call returns, the mount is asked again and reported.
	release()
	deadline := time.Now().Add(5 * time.Second)
	for c.mnt.stuck() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	rec := collect(t, c)
	if v, ok := rec.value("node_filesystem_device_error", "mountpoint", "/mnt2/nfs"); !ok || v != 0 {
		t.Errorf("after recovery: device_error = %v (found %v), want 0", v, ok)
	}
	if n := h.count("/mnt2/nfs"); n != 2 {
		t.Errorf("after recovery statfs ran %d times on the mount, want 2", n)
	}
}

func TestMountsParsing(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []mount
		wantErr  bool
	}{
		{"plain", "/dev/sda1 / ext4 rw 0 0\n", []mount{{"/dev/sda1", "/", "ext4", "rw"}}, false},
		{"escaped space and tab", `/dev/sdb /srv/a\040b\011c xfs ro 0 0`, []mount{{"/dev/sdb", "/srv/a b\tc", "xfs", "ro"}}, false},
		{"backslash", `x /a\134b tmpfs rw 0 0`, []mount{{"x", `/a\b`, "tmpfs", "rw"}}, false},
		{"not octal kept", `x /a\9b tmpfs rw 0 0`, []mount{{"x", `/a\9b`, "tmpfs", "rw"}}, false},
		{"blank lines", "\n\nx / ext4 rw 0 0\n\n", []mount{{"x", "/", "ext4", "rw"}}, false},
		{"short line", "x / ext4\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []mount
			err := parseMounts([]byte(tc.in), func(m mount) { got = append(got, m) })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("mount %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestStripRootfs(t *testing.T) {
	for _, tc := range []struct{ rootfs, mp, want string }{
		{"/", "/home", "/home"},
		{"/host", "/host", "/"},
		{"/host/", "/host/var", "/var"},
		{"/host", "/proc", "/proc"},
	} {
		if got := stripRootfs(tc.rootfs, tc.mp); got != tc.want {
			t.Errorf("stripRootfs(%q, %q) = %q, want %q", tc.rootfs, tc.mp, got, tc.want)
		}
	}
}
