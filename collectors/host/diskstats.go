package host

import (
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/prometheus/common/model"
	"github.com/prometheus/procfs/blockdevice"
)

// diskFamily is one node_disk_* family: its position in /proc/diskstats
// (after major, minor and name), name, HELP and type.
type diskFamily struct {
	name, help string
	typ        model.MetricType
	value      func(s *blockdevice.IOStats) float64
}

// secondsPerTick converts diskstats' milliseconds. node_exporter multiplies
// by it rather than dividing by 1000, and so do we, to report the same float.
const secondsPerTick = 1.0 / 1000.0

// diskSectorSize is the unit of /proc/diskstats' sector counts, whatever the
// device's own sector size.
const diskSectorSize = 512.0

// diskFamilies lists node_disk_* in /proc/diskstats field order. A kernel
// that reports fewer fields gets the first ones only, as in node_exporter.
func diskFamilies() []diskFamily {
	return []diskFamily{
		{"node_disk_reads_completed_total", "The total number of reads completed successfully.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.ReadIOs) }},
		{"node_disk_reads_merged_total", "The total number of reads merged.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.ReadMerges) }},
		{"node_disk_read_bytes_total", "The total number of bytes read successfully.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.ReadSectors) * diskSectorSize }},
		{"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.ReadTicks) * secondsPerTick }},
		{"node_disk_writes_completed_total", "The total number of writes completed successfully.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.WriteIOs) }},
		{"node_disk_writes_merged_total", "The number of writes merged.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.WriteMerges) }},
		{"node_disk_written_bytes_total", "The total number of bytes written successfully.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.WriteSectors) * diskSectorSize }},
		{"node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.WriteTicks) * secondsPerTick }},
		{"node_disk_io_now", "The number of I/Os currently in progress.", gauge,
			func(s *blockdevice.IOStats) float64 { return float64(s.IOsInProgress) }},
		{"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.IOsTotalTicks) * secondsPerTick }},
		{"node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.WeightedIOTicks) * secondsPerTick }},
		{"node_disk_discards_completed_total", "The total number of discards completed successfully.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.DiscardIOs) }},
		{"node_disk_discards_merged_total", "The total number of discards merged.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.DiscardMerges) }},
		{"node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.DiscardSectors) }},
		{"node_disk_discard_time_seconds_total", "This is the total number of seconds spent by all discards.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.DiscardTicks) * secondsPerTick }},
		{"node_disk_flush_requests_total", "The total number of flush requests completed successfully", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.FlushRequestsCompleted) }},
		{"node_disk_flush_requests_time_seconds_total", "This is the total number of seconds spent by all flush requests.", counter,
			func(s *blockdevice.IOStats) float64 { return float64(s.TimeSpentFlushing) * secondsPerTick }},
	}
}

// udevInfo holds the udev properties node_disk_info reports.
type udevInfo struct {
	path, wwn, model, serial, revision string
}

// parseUdevData reads the "E:KEY=VALUE" property lines of a udev database
// file (/run/udev/data/b<major>:<minor>). Other lines are ignored.
func parseUdevData(data []byte) udevInfo {
	var u udevInfo
	var scsiSerial string
	for len(data) > 0 {
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		if !bytes.HasPrefix(l, []byte("E:")) {
			continue
		}
		k, v, ok := bytes.Cut(l[2:], []byte("="))
		if !ok {
			continue
		}
		switch string(k) {
		case "ID_PATH":
			u.path = string(v)
		case "ID_WWN":
			u.wwn = string(v)
		case "ID_MODEL":
			u.model = string(v)
		case "ID_SERIAL_SHORT":
			u.serial = string(v)
		case "ID_REVISION":
			u.revision = string(v)
		case "SCSI_IDENT_SERIAL":
			scsiSerial = string(v)
		}
	}
	if u.serial == "" {
		u.serial = scsiSerial
	}
	return u
}

func collectDiskstats(r *run) error {
	c := r.c
	stats, err := c.block.ProcDiskstats()
	if err != nil {
		return err
	}
	kept := stats[:0]
	for _, s := range stats {
		if !c.re.diskExclude.MatchString(s.DeviceName) {
			kept = append(kept, s)
		}
	}
	e := &r.e
	const info = "node_disk_info"
	e.family(info, gauge, "Info of /sys/block/<block_device>.")
	for i := range kept {
		s := &kept[i]
		maj, minor := strconv.FormatUint(uint64(s.MajorNumber), 10), strconv.FormatUint(uint64(s.MinorNumber), 10)
		var u udevInfo
		data, err := readFile(filepath.Join(c.cfg.UdevData, "b"+maj+":"+minor), &r.buf)
		switch {
		case err == nil:
			u = parseUdevData(data)
		case errors.Is(err, fs.ErrNotExist):
		default:
			c.logger.Debug("udev data unreadable", "device", s.DeviceName, "err", err)
		}
		e.sampleN(info, []string{
			"device", s.DeviceName, "major", maj, "minor", minor, "model", u.model,
			"path", u.path, "revision", u.revision, "serial", u.serial, "wwn", u.wwn,
		}, 1)
	}
	for fi, f := range c.disk {
		e.family(f.name, f.typ, f.help)
		for i := range kept {
			s := &kept[i]
			if fi >= s.IoStatsCount-3 {
				continue
			}
			e.sample1(f.name, "device", s.DeviceName, f.value(&s.IOStats))
		}
	}
	return nil
}
