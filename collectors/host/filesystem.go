package host

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// mount is one line of /proc/<pid>/mounts.
type mount struct {
	device, mountPoint, fsType, options string
}

// parseMounts parses the mounts file format (fstab's: device, mount point,
// type, options, dump, pass; fields separated by spaces, with spaces, tabs,
// newlines and backslashes inside a field written as octal \040, \011, \012,
// \134). It calls fn for each mount; a line with fewer than four fields is an
// error naming its line number.
func parseMounts(data []byte, fn func(m mount)) error {
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		var f [4][]byte
		n := fields(l, f[:])
		if n == 0 {
			continue
		}
		if n < 4 {
			return fmt.Errorf("line %d: want at least 4 fields, got %d in %q", line, n, l)
		}
		fn(mount{
			device:     unescapeOctal(f[0]),
			mountPoint: unescapeOctal(f[1]),
			fsType:     unescapeOctal(f[2]),
			options:    string(f[3]),
		})
	}
	return nil
}

// unescapeOctal undoes the kernel's \NNN escaping of mount fields. A
// backslash not followed by three octal digits is kept as is.
func unescapeOctal(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && isOctal(b[i+1]) && isOctal(b[i+2]) && isOctal(b[i+3]) {
			v := int(b[i+1]-'0')<<6 | int(b[i+2]-'0')<<3 | int(b[i+3]-'0')
			if v <= 0xff {
				out = append(out, byte(v))
				i += 3
				continue
			}
		}
		out = append(out, b[i])
	}
	return string(out)
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// fsStat is what statfs(2) reports, in the units node_exporter multiplies.
type fsStat struct {
	blocks, bfree, bavail, files, ffree uint64
	bsize                               int64
}

type statfsFunc func(path string) (fsStat, error)

func realStatfs(path string) (fsStat, error) {
	var s unix.Statfs_t
	if err := unix.Statfs(path, &s); err != nil {
		return fsStat{}, err
	}
	return fsStat{blocks: s.Blocks, bfree: s.Bfree, bavail: s.Bavail, files: s.Files, ffree: s.Ffree, bsize: s.Bsize}, nil
}

type statResult struct {
	st  fsStat
	err error
}

// mountState remembers statfs calls that outlived mount_timeout. Until such
// a call returns, its mount point is reported as failed without starting a
// second call, so a hung NFS server costs one goroutine, not one per
// collection.
type mountState struct {
	mu      sync.Mutex
	pending map[string]chan statResult
}

// start runs statfs(path) in a goroutine unless a call on mountPoint is
// still pending; it returns the channel the result will arrive on, or nil.
func (s *mountState) start(mountPoint, path string, statfs statfsFunc) chan statResult {
	s.mu.Lock()
	_, stuck := s.pending[mountPoint]
	s.mu.Unlock()
	if stuck {
		return nil
	}
	res := make(chan statResult, 1)
	go func() {
		st, err := statfs(path)
		s.mu.Lock()
		res <- statResult{st, err}
		if s.pending[mountPoint] == res {
			delete(s.pending, mountPoint)
		}
		s.mu.Unlock()
	}()
	return res
}

// giveUp marks the call behind res as stuck, unless its result arrived in
// the meantime, which it then returns.
func (s *mountState) giveUp(mountPoint string, res chan statResult) (statResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case r := <-res:
		return r, true
	default:
		s.pending[mountPoint] = res
		return statResult{}, false
	}
}

func (s *mountState) stuck() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

type fsEntry struct {
	m     mount
	res   chan statResult
	st    fsStat
	ok    bool
	ro    bool
	label [6]string
}

func collectFilesystem(r *run) error {
	c := r.c
	path := filepath.Join(c.cfg.Procfs, "1", "mounts")
	data, err := readFile(path, &r.buf)
	if errors.Is(err, fs.ErrNotExist) {
		path = filepath.Join(c.cfg.Procfs, "mounts")
		data, err = readFile(path, &r.buf)
	}
	if err != nil {
		return err
	}
	var entries []fsEntry
	type key struct{ device, mountPoint, fsType string }
	seen := map[key]bool{}
	err = parseMounts(data, func(m mount) {
		m.mountPoint = stripRootfs(c.cfg.Rootfs, m.mountPoint)
		if c.re.mountPointsExclude.MatchString(m.mountPoint) || c.re.fsTypesExclude.MatchString(m.fsType) {
			return
		}
		k := key{m.device, m.mountPoint, m.fsType}
		if seen[k] {
			return
		}
		seen[k] = true
		entries = append(entries, fsEntry{m: m})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}

	// Start every statfs at once, then wait for all against one deadline:
	// the collection takes at most mount_timeout however many mounts hang.
	for i := range entries {
		en := &entries[i]
		en.res = c.mnt.start(en.m.mountPoint, filepath.Join(c.cfg.Rootfs, en.m.mountPoint), c.statfs)
		en.ro = hasOption(en.m.options, "ro")
		en.label = [6]string{"device", en.m.device, "fstype", en.m.fsType, "mountpoint", en.m.mountPoint}
	}
	deadline := time.NewTimer(c.cfg.Filesystem.MountTimeout)
	defer deadline.Stop()
	expired := false
	for i := range entries {
		en := &entries[i]
		if en.res == nil {
			c.logger.Debug("mount point still unresponsive, not asked again", "mountpoint", en.m.mountPoint)
			continue
		}
		var res statResult
		got := false
		if !expired {
			select {
			case res = <-en.res:
				got = true
			case <-deadline.C:
				expired = true
			case <-r.ctx.Done():
				expired = true
			}
		}
		if !got {
			if res, got = c.mnt.giveUp(en.m.mountPoint, en.res); !got {
				c.stats.statfsTimeout.Inc()
				c.logger.Warn("statfs timed out, mount marked unresponsive", "mountpoint", en.m.mountPoint,
					"timeout", c.cfg.Filesystem.MountTimeout)
				continue
			}
		}
		if res.err != nil {
			c.logger.Debug("statfs failed", "mountpoint", en.m.mountPoint, "err", res.err)
			continue
		}
		en.st, en.ok = res.st, true
	}
	c.stats.stuckMounts.Set(float64(c.mnt.stuck()))

	e := &r.e
	const devErr = "node_filesystem_device_error"
	e.family(devErr, gauge, "Whether an error occurred while getting statistics for the given device.")
	for i := range entries {
		e.sampleN(devErr, entries[i].label[:], b2f(!entries[i].ok))
	}
	for _, f := range [...]struct {
		name, help string
		v          func(*fsEntry) float64
	}{
		{"node_filesystem_size_bytes", "Filesystem size in bytes.", func(en *fsEntry) float64 { return float64(en.st.blocks) * float64(en.st.bsize) }},
		{"node_filesystem_free_bytes", "Filesystem free space in bytes.", func(en *fsEntry) float64 { return float64(en.st.bfree) * float64(en.st.bsize) }},
		{"node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", func(en *fsEntry) float64 { return float64(en.st.bavail) * float64(en.st.bsize) }},
		{"node_filesystem_files", "Filesystem total file nodes.", func(en *fsEntry) float64 { return float64(en.st.files) }},
		{"node_filesystem_files_free", "Filesystem total free file nodes.", func(en *fsEntry) float64 { return float64(en.st.ffree) }},
		{"node_filesystem_readonly", "Filesystem read-only status.", func(en *fsEntry) float64 { return b2f(en.ro) }},
	} {
		e.family(f.name, gauge, f.help)
		for i := range entries {
			if entries[i].ok {
				e.sampleN(f.name, entries[i].label[:], f.v(&entries[i]))
			}
		}
	}
	return nil
}

// stripRootfs reports a mount point below rootfs as the host sees it.
func stripRootfs(rootfs, mp string) string {
	if rootfs == "/" {
		return mp
	}
	s := strings.TrimPrefix(mp, strings.TrimSuffix(rootfs, "/"))
	if s == "" {
		return "/"
	}
	return s
}

func hasOption(options, opt string) bool {
	for options != "" {
		var o string
		o, options, _ = strings.Cut(options, ",")
		if o == opt {
			return true
		}
	}
	return false
}
