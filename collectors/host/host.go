package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
	"github.com/prometheus/procfs/blockdevice"
	"github.com/prometheus/procfs/sysfs"

	"github.com/fleetwatch/fleetwatch/collectors"
)

// errNoData marks a sub-collector that found nothing to report on this host
// (for example no /sys/class/hwmon). As in node_exporter, it is reported as
// node_scrape_collector_success 0 and logged at debug level only.
var errNoData = errors.New("collector returned no data")

// Collector collects the metrics of the machine it runs on, with
// node_exporter's metric names, labels and units. It is safe for concurrent
// use: the state it keeps between collections (CPU counters for the
// jump-back check, statfs calls still pending on hung mounts) is locked.
type Collector struct {
	cfg    Config
	re     compiled
	logger *slog.Logger
	subs   []subCollector

	proc  procfs.FS
	sys   sysfs.FS
	block blockdevice.FS

	// Injected for tests; real implementations by default.
	now    func() time.Time
	statfs statfsFunc
	uname  func() (utsname, error)

	disk     []diskFamily
	hwmonRE  *regexp.Regexp
	netdev   []netdevFamily
	netclass []netclassFamily
	cpu      cpuState
	mem      memNames
	mnt      mountState
	pool     sync.Pool
	stats    selfMetrics
}

var _ collectors.Collector = (*Collector)(nil)

type subCollector struct {
	name string
	fn   func(r *run) error
}

// run is the state of one collection: the emitter and what several
// sub-collectors read (/proc/stat is parsed once for cpu and stat).
type run struct {
	ctx     context.Context
	c       *Collector
	e       emitter
	stat    *procfs.Stat
	serr    error
	buf     []byte // reused read buffer
	attrBuf [4096]byte
}

// procStat parses /proc/stat once per collection.
func (r *run) procStat() (*procfs.Stat, error) {
	if r.stat == nil && r.serr == nil {
		s, err := r.c.proc.Stat()
		if err != nil {
			r.serr = err
		} else {
			r.stat = &s
		}
	}
	return r.stat, r.serr
}

type selfMetrics struct {
	errors        *prometheus.CounterVec
	statfsTimeout prometheus.Counter
	stuckMounts   prometheus.Gauge
}

// New returns a host Collector. cfg's zero fields get their defaults; an
// invalid cfg is an error naming the field. reg may be nil (no self-metrics).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Collector, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	proc, err := procfs.NewFS(cfg.Procfs)
	if err != nil {
		return nil, fmt.Errorf("host: procfs %q: %w", cfg.Procfs, err)
	}
	sys, err := sysfs.NewFS(cfg.Sysfs)
	if err != nil {
		return nil, fmt.Errorf("host: sysfs %q: %w", cfg.Sysfs, err)
	}
	block, err := blockdevice.NewFS(cfg.Procfs, cfg.Sysfs)
	if err != nil {
		return nil, fmt.Errorf("host: block devices: %w", err)
	}
	c := &Collector{
		cfg:    cfg,
		re:     cfg.compile(),
		logger: logger.With("collector", "host"),
		proc:   proc,
		sys:    sys,
		block:  block,
		now:    time.Now,
		statfs: realStatfs,
		uname:  realUname,
	}
	c.disk = diskFamilies()
	c.hwmonRE = regexp.MustCompile(hwmonFilenameFormat)
	c.netdev = newNetdevFamilies()
	c.netclass = newNetclassFamilies()
	c.cpu.last = map[int64]cpuTimes{}
	c.mnt.pending = map[string]chan statResult{}
	all := map[string]func(*run) error{
		SubCPU:         collectCPU,
		SubStat:        collectStat,
		SubMeminfo:     collectMeminfo,
		SubLoadavg:     collectLoadavg,
		SubDiskstats:   collectDiskstats,
		SubFilesystem:  collectFilesystem,
		SubNetdev:      collectNetdev,
		SubNetclass:    collectNetclass,
		SubPressure:    collectPressure,
		SubHwmon:       collectHwmon,
		SubEDAC:        collectEDAC,
		SubThermalZone: collectThermalZone,
		SubUname:       collectUname,
		SubTime:        collectTime,
	}
	for _, n := range cfg.Collectors {
		c.subs = append(c.subs, subCollector{name: n, fn: all[n]})
	}
	c.stats = selfMetrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_host_collector_errors_total",
			Help: "Collections in which a host sub-collector failed, by sub-collector.",
		}, []string{"collector"}),
		statfsTimeout: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetwatch_host_statfs_timeouts_total",
			Help: "statfs calls that did not return within filesystem.mount_timeout.",
		}),
		stuckMounts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetwatch_host_stuck_mounts",
			Help: "Mount points whose last statfs call has not returned yet.",
		}),
	}
	if reg != nil {
		for _, m := range []prometheus.Collector{c.stats.errors, c.stats.statfsTimeout, c.stats.stuckMounts} {
			if err := reg.Register(m); err != nil {
				return nil, fmt.Errorf("host: register self-metrics: %w", err)
			}
		}
	}
	c.pool.New = func() any { return &run{c: c} }
	return c, nil
}

// Config returns the collector's configuration with defaults applied.
func (c *Collector) Config() Config { return c.cfg }

// Collect runs every enabled sub-collector in turn and writes their samples,
// then node_scrape_collector_success and node_scrape_collector_duration_seconds
// for each. A failing sub-collector is logged and reported with success 0;
// the others still run. Collect fails only when ctx ends or app refuses a
// sample.
func (c *Collector) Collect(ctx context.Context, _ collectors.Target, app collectors.Appender) error {
	r := c.pool.Get().(*run)
	r.ctx, r.e.app, r.e.err, r.stat, r.serr = ctx, app, nil, nil, nil
	defer func() {
		r.ctx, r.e.app, r.stat = nil, nil, nil
		c.pool.Put(r)
	}()

	var okBuf [16]bool
	var durBuf [16]float64
	ok, dur := okBuf[:0], durBuf[:0]
	for _, s := range c.subs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("host: collection stopped before %s: %w", s.name, err)
		}
		start := c.now()
		err := s.fn(r)
		d := c.now().Sub(start).Seconds()
		if r.e.err != nil {
			return fmt.Errorf("host: %s: append: %w", s.name, r.e.err)
		}
		switch {
		case err == nil:
		case errors.Is(err, errNoData):
			c.logger.Debug("sub-collector found no data", "sub", s.name, "err", err)
		case ctx.Err() != nil:
			return fmt.Errorf("host: %s: %w", s.name, ctx.Err())
		default:
			c.logger.Error("sub-collector failed", "sub", s.name, "err", err)
			c.stats.errors.WithLabelValues(s.name).Inc()
		}
		ok = append(ok, err == nil)
		dur = append(dur, d)
	}
	e := &r.e
	e.family("node_scrape_collector_duration_seconds", gauge, "node_exporter: Duration of a collector scrape.")
	for i, s := range c.subs {
		e.sample1("node_scrape_collector_duration_seconds", "collector", s.name, dur[i])
	}
	e.family("node_scrape_collector_success", gauge, "node_exporter: Whether a collector succeeded.")
	for i, s := range c.subs {
		e.sample1("node_scrape_collector_success", "collector", s.name, b2f(ok[i]))
	}
	if e.err != nil {
		return fmt.Errorf("host: append: %w", e.err)
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
