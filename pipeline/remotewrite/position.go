package remotewrite

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Position is a place in the WAL: the record that starts at byte Offset of
// segment Segment. A queue's committed position means "every sample of every
// record before this one has been acknowledged by the receiver".
type Position struct {
	Segment int
	Offset  int64
}

// Before reports whether p comes before q in the WAL.
func (p Position) Before(q Position) bool {
	if p.Segment != q.Segment {
		return p.Segment < q.Segment
	}
	return p.Offset < q.Offset
}

func (p Position) String() string { return fmt.Sprintf("%08d@%d", p.Segment, p.Offset) }

const positionHeader = "fleetwatch remote_write position v1"

// MarshalText is the position file's content.
func (p Position) MarshalText() ([]byte, error) {
	return fmt.Appendf(nil, "%s\nsegment %d\noffset %d\n", positionHeader, p.Segment, p.Offset), nil
}

// ParsePosition reads a position file's content; the error names the line.
func ParsePosition(b []byte) (Position, error) {
	var p Position
	var seen [2]bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			if text != positionHeader {
				return Position{}, fmt.Errorf("line 1: not a position file (want %q)", positionHeader)
			}
			continue
		}
		if text == "" {
			continue
		}
		key, val, ok := strings.Cut(text, " ")
		if !ok {
			return Position{}, fmt.Errorf("line %d: want \"<key> <value>\"", line)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if err != nil || n < 0 {
			return Position{}, fmt.Errorf("line %d: %s: want a non-negative integer, got %q", line, key, val)
		}
		switch key {
		case "segment":
			if n > 1<<31-1 {
				return Position{}, fmt.Errorf("line %d: segment: %d is out of range", line, n)
			}
			p.Segment, seen[0] = int(n), true
		case "offset":
			p.Offset, seen[1] = n, true
		default:
			return Position{}, fmt.Errorf("line %d: unknown key %q", line, key)
		}
	}
	if err := sc.Err(); err != nil {
		return Position{}, err
	}
	if line == 0 {
		return Position{}, errors.New("empty file")
	}
	if !seen[0] || !seen[1] {
		return Position{}, errors.New("segment and offset are both required")
	}
	return p, nil
}

// readPosition loads path; ok is false when the file does not exist.
func readPosition(path string) (p Position, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Position{}, false, nil
	}
	if err != nil {
		return Position{}, false, err
	}
	p, err = ParsePosition(b)
	if err != nil {
		return Position{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return p, true, nil
}

// writePosition replaces path atomically and durably (write, fsync,
// rename, fsync of the directory), so a crash leaves the old or the new
// position, never a torn file.
func writePosition(path string, p Position) error {
	b, _ := p.MarshalText()
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
