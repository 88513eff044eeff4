package host

import (
	"bytes"
	"errors"
	"strconv"

	"golang.org/x/sys/unix"
)

// attrDir reads small sysfs attribute files relative to an open directory
// with openat(2). Resolving /sys/class/net/<iface>/<attr> (through its
// symlink) for every attribute costs about four times as much CPU as one
// open of the directory and an openat per attribute.
type attrDir struct{ fd int }

func openAttrDir(path string) (attrDir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return attrDir{fd: -1}, &pathError{path, err}
	}
	return attrDir{fd: fd}, nil
}

func (d attrDir) close() { _ = unix.Close(d.fd) }

// read returns the content of the attribute file name, without its trailing
// newline, in buf's storage (valid until the next read).
func (d attrDir) read(name string, buf []byte) ([]byte, error) {
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return bytes.TrimRight(buf[:n], "\n"), nil
	}
}

// ignorableAttrErr reports errors that mean "this attribute has no value
// here" (absent, not permitted, not supported by the driver, interface
// down), which leave the attribute out rather than failing the interface.
func ignorableAttrErr(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENODATA)
}

// parseInt64 parses a decimal integer attribute; nil when it is not one.
func parseInt64(b []byte) *int64 {
	if len(b) == 0 {
		return nil
	}
	neg := b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		v, err := strconv.ParseInt(string(b), 0, 64)
		if err != nil {
			return nil
		}
		return &v
	}
	var v int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			// sysfs writes some attributes in hex (flags: 0x1003).
			v, err := strconv.ParseInt(string(b), 0, 64)
			if err != nil {
				return nil
			}
			return &v
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return &v
}

type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }
