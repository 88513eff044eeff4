package host

import (
	"strconv"
	"sync"

	"github.com/prometheus/procfs"
)

// jumpBackSeconds is how far a CPU's idle time may go backwards before the
// CPU is taken as hot-plugged and its counters restart (node_exporter's rule).
const jumpBackSeconds = 3.0

// cpuTimes are the monotonic per-CPU counters last reported.
type cpuTimes = procfs.CPUStat

// cpuState keeps the counters of the previous collection so that a value the
// kernel reports lower than before (some kernels do, by a tick) is not
// exposed as a counter reset.
type cpuState struct {
	mu   sync.Mutex
	last map[int64]cpuTimes
}

// update folds the new readings into the kept counters and returns them.
// The caller holds s.mu while it calls update and reads the result.
func (s *cpuState) update(cur map[int64]procfs.CPUStat) map[int64]cpuTimes {
	for id, n := range cur {
		o, seen := s.last[id]
		if !seen || o.Idle-n.Idle >= jumpBackSeconds {
			s.last[id] = n
			continue
		}
		o.User = maxf(o.User, n.User)
		o.Nice = maxf(o.Nice, n.Nice)
		o.System = maxf(o.System, n.System)
		o.Idle = maxf(o.Idle, n.Idle)
		o.Iowait = maxf(o.Iowait, n.Iowait)
		o.IRQ = maxf(o.IRQ, n.IRQ)
		o.SoftIRQ = maxf(o.SoftIRQ, n.SoftIRQ)
		o.Steal = maxf(o.Steal, n.Steal)
		o.Guest = maxf(o.Guest, n.Guest)
		o.GuestNice = maxf(o.GuestNice, n.GuestNice)
		s.last[id] = o
	}
	if len(s.last) != len(cur) { // CPUs went offline
		for id := range s.last {
			if _, ok := cur[id]; !ok {
				delete(s.last, id)
			}
		}
	}
	return s.last
}

func maxf(a, b float64) float64 {
	if b > a {
		return b
	}
	return a
}

func collectCPU(r *run) error {
	st, err := r.procStat()
	if err != nil {
		return err
	}
	c := r.c
	c.cpu.mu.Lock()
	defer c.cpu.mu.Unlock()
	cpus := c.cpu.update(st.CPU)

	e := &r.e
	const name = "node_cpu_seconds_total"
	e.family(name, counter, "Seconds the CPUs spent in each mode.")
	for id, t := range cpus {
		cpu := strconv.FormatInt(id, 10)
		e.sample2(name, "cpu", cpu, "mode", "user", t.User)
		e.sample2(name, "cpu", cpu, "mode", "nice", t.Nice)
		e.sample2(name, "cpu", cpu, "mode", "system", t.System)
		e.sample2(name, "cpu", cpu, "mode", "idle", t.Idle)
		e.sample2(name, "cpu", cpu, "mode", "iowait", t.Iowait)
		e.sample2(name, "cpu", cpu, "mode", "irq", t.IRQ)
		e.sample2(name, "cpu", cpu, "mode", "softirq", t.SoftIRQ)
		e.sample2(name, "cpu", cpu, "mode", "steal", t.Steal)
	}
	const guest = "node_cpu_guest_seconds_total"
	e.family(guest, counter, "Seconds the CPUs spent in guests (VMs) for each mode.")
	for id, t := range cpus {
		cpu := strconv.FormatInt(id, 10)
		e.sample2(guest, "cpu", cpu, "mode", "user", t.Guest)
		e.sample2(guest, "cpu", cpu, "mode", "nice", t.GuestNice)
	}
	return nil
}

func collectStat(r *run) error {
	st, err := r.procStat()
	if err != nil {
		return err
	}
	e := &r.e
	e.family("node_intr_total", counter, "Total number of interrupts serviced.")
	e.sample0("node_intr_total", float64(st.IRQTotal))
	e.family("node_context_switches_total", counter, "Total number of context switches.")
	e.sample0("node_context_switches_total", float64(st.ContextSwitches))
	e.family("node_forks_total", counter, "Total number of forks.")
	e.sample0("node_forks_total", float64(st.ProcessCreated))
	e.family("node_boot_time_seconds", gauge, "Node boot time, in unixtime.")
	e.sample0("node_boot_time_seconds", float64(st.BootTime))
	e.family("node_procs_running", gauge, "Number of processes in runnable state.")
	e.sample0("node_procs_running", float64(st.ProcessesRunning))
	e.family("node_procs_blocked", gauge, "Number of processes blocked waiting for I/O to complete.")
	e.sample0("node_procs_blocked", float64(st.ProcessesBlocked))
	return nil
}
