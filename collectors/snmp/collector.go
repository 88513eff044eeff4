package snmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/fleetwatch/fleetwatch/collectors"
)

// Target parameters that override the job's config for one target, with the
// names snmp_exporter users know from their relabel configs.
const (
	ParamModule = "__param_module" // comma-separated module names
	ParamAuth   = "__param_auth"   // an auth name
)

// Collector polls SNMP agents. One Collector serves every target of a job;
// it is safe for concurrent use.
type Collector struct {
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	modules map[string]*module
	creds   map[string]credentials

	mu        sync.Mutex
	neighbors map[string][]Neighbor // by device instance
}

var _ collectors.Collector = (*Collector)(nil)

// New validates cfg, loads its module files and reads the secrets of every
// auth. Self-metrics are registered on reg (several Collectors may share
// one; reg may be nil).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mods, fileAuths, err := loadModules(cfg.ModuleFiles)
	if err != nil {
		return nil, err
	}
	for i, m := range cfg.Modules {
		if mods[m] == nil {
			return nil, fmt.Errorf("snmp config: modules[%d]: unknown module %q (built-in: %s)", i, m, strings.Join(BuiltinModules(), ", "))
		}
	}
	all := map[string]*Auth{}
	def := DefaultAuth()
	all["public_v2"] = &def
	for n, a := range fileAuths {
		all[n] = a
	}
	for n, a := range cfg.Auths {
		all[n] = a
	}
	if all[cfg.Auth] == nil {
		return nil, fmt.Errorf("snmp config: auth: %q is not defined (known: %s)", cfg.Auth, keys(all))
	}
	creds := make(map[string]credentials, len(all))
	for n, a := range all {
		cr, err := a.resolve()
		if err != nil {
			return nil, fmt.Errorf("snmp auth %q: %w", n, err)
		}
		creds[n] = cr
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Collector{cfg: cfg, logger: logger, metrics: m, modules: mods, creds: creds, neighbors: map[string][]Neighbor{}}, nil
}

// targetPlan resolves a target's modules and credentials.
func (c *Collector) targetPlan(t collectors.Target) ([]*module, credentials, error) {
	names := c.cfg.Modules
	if p := t.Params[ParamModule]; p != "" {
		names = strings.Split(p, ",")
	}
	mods := make([]*module, 0, len(names))
	for _, n := range names {
		m := c.modules[strings.TrimSpace(n)]
		if m == nil {
			return nil, credentials{}, fmt.Errorf("unknown module %q", n)
		}
		mods = append(mods, m)
	}
	authName := c.cfg.Auth
	if p := t.Params[ParamAuth]; p != "" {
		authName = p
	}
	cr, ok := c.creds[authName]
	if !ok {
		return nil, credentials{}, fmt.Errorf("unknown auth %q", authName)
	}
	return mods, cr, nil
}

func (c *Collector) options() pollOptions {
	return pollOptions{
		timeout:            c.cfg.Timeout,
		retries:            c.cfg.Retries,
		maxRepetitions:     c.cfg.MaxRepetitions,
		allowNonIncreasing: c.cfg.AllowNonIncreasingOIDs,
		unconnected:        c.cfg.UseUnconnectedUDPSocket,
	}
}

// deviceContext bounds one device's poll by cfg.Deadline and by ctx's
// deadline less 5%, so that partial results are back before the scheduler
// gives up on the collection.
func (c *Collector) deviceContext(ctx context.Context) (context.Context, context.CancelFunc) {
	var deadline time.Time
	if c.cfg.Deadline > 0 {
		deadline = time.Now().Add(c.cfg.Deadline)
	}
	if d, ok := ctx.Deadline(); ok {
		d = d.Add(-time.Until(d) / 20)
		if deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline)
}

// Collect polls one device and writes its samples. A device that answers
// nothing at all is an error (up=0); one whose subtrees partly fail keeps the
// rest, and the failures show in snmp_scrape_errors{kind} and the logs.
func (c *Collector) Collect(ctx context.Context, t collectors.Target, app collectors.Appender) error {
	start := time.Now()
	mods, cr, err := c.targetPlan(t)
	if err != nil {
		c.metrics.errors.WithLabelValues(t.Job, KindOther).Inc()
		return fmt.Errorf("target %q: %w", t.Address, err)
	}
	var p plan
	for _, m := range mods {
		p.addGet(m.get...)
		p.addWalk(m.walk...)
	}
	dctx, cancel := c.deviceContext(ctx)
	res := poll(dctx, t.Address, cr, c.options(), p)
	cancel()
	c.metrics.observe(t.Job, res)
	if res.fatal != nil {
		return fmt.Errorf("target %q: %w", t.Address, res.fatal)
	}
	for _, e := range res.stats.errors {
		c.logger.Warn("part of a poll failed", "target", t.Address, "oid", e.OID, "kind", e.Kind, "err", e.Err)
	}
	set := newPDUSet(res.pdus)
	conv := newConverter(app, set, c.cfg.WrapLargeCounters)
	var extra customResult
	for _, m := range mods {
		if m.tree != nil {
			conv.module(m.tree)
		}
		if m.custom != nil {
			m.custom(conv, &extra)
		}
	}
	if conv.err != nil {
		return fmt.Errorf("target %q: %w", t.Address, conv.err)
	}
	if hasModule(mods, "lldp") {
		c.setNeighbors(t, extra.neighbors)
	}
	c.metrics.samples.WithLabelValues(t.Job).Add(float64(conv.samples))
	return c.selfSamples(conv, res, time.Since(start))
}

func hasModule(mods []*module, name string) bool {
	for _, m := range mods {
		if m.name == name {
			return true
		}
	}
	return false
}

// selfSamples writes the per-device poll figures, with snmp_exporter's
// names where it has them.
func (c *Collector) selfSamples(conv *converter, res *pollResult, total time.Duration) error {
	conv.pairs = conv.pairs[:0]
	for _, s := range []struct {
		name, help string
		v          float64
	}{
		{"snmp_scrape_walk_duration_seconds", "Time the SNMP GETs and walks of this device took.", res.duration.Seconds()},
		{"snmp_scrape_packets_sent", "Packets sent for get, bulkget and walk, retries included.", float64(res.stats.sent)},
		{"snmp_scrape_packets_retried", "Packets sent again for get, bulkget and walk after a timeout.", float64(res.stats.retries())},
		{"snmp_scrape_pdus_returned", "Varbinds returned by get, bulkget and walk.", float64(len(res.pdus))},
		{"snmp_scrape_duration_seconds", "Total time of the poll, conversion included.", total.Seconds()},
	} {
		conv.meta(s.name, model.MetricTypeGauge, s.help)
		conv.emit(s.name, s.v)
	}
	counts := map[string]int{}
	for _, e := range res.stats.errors {
		counts[e.Kind]++
	}
	conv.meta("snmp_scrape_errors", model.MetricTypeGauge, "Subtrees or GET batches of this poll that failed, by kind of failure (the rest of the poll is kept).")
	for _, k := range ErrorKinds {
		conv.emit("snmp_scrape_errors", float64(counts[k]), labelPair{"kind", k})
	}
	return conv.err
}

func (c *Collector) setNeighbors(t collectors.Target, nbs []Neighbor) {
	dev := t.Instance()
	if dev == "" {
		dev = t.Address
	}
	for i := range nbs {
		nbs[i].Device = dev
		nbs[i].Address = t.Address
	}
	c.mu.Lock()
	c.neighbors[dev] = nbs
	c.mu.Unlock()
}

// Neighbors returns the LLDP neighbours learnt by the last successful poll
// of every device polled with the lldp module, sorted by device and local
// port. The inventory uses them to place servers on switch ports.
func (c *Collector) Neighbors() []Neighbor {
	c.mu.Lock()
	var out []Neighbor
	for _, nbs := range c.neighbors {
		out = append(out, nbs...)
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Device != out[j].Device {
			return out[i].Device < out[j].Device
		}
		return out[i].LocalPortNum < out[j].LocalPortNum
	})
	return out
}

// metrics are the collector's own, shared by every Collector registered on
// the same Registerer and labelled by job.
type metrics struct {
	polls    *prometheus.CounterVec
	sent     *prometheus.CounterVec
	retries  *prometheus.CounterVec
	tooBig   *prometheus.CounterVec
	errors   *prometheus.CounterVec
	samples  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_snmp_polls_total",
			Help: "Device polls started.",
		}, []string{"job"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_snmp_packets_sent_total",
			Help: "SNMP request packets sent, retries and v3 engine discovery included.",
		}, []string{"job"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_snmp_packet_retries_total",
			Help: "SNMP request packets sent again after a timeout.",
		}, []string{"job"}),
		tooBig: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_snmp_repetitions_reduced_total",
			Help: "GETBULK requests asked again with half the max-repetitions after a tooBig or truncated response.",
		}, []string{"job"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_snmp_errors_total",
			Help: "Failed subtrees or GET batches by kind (timeout, deadline, refused, auth, not_increasing, too_big, decode, agent_error, other).",
		}, []string{"job", "kind"}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_snmp_samples_total",
			Help: "Samples converted from SNMP varbinds and handed to the appender.",
		}, []string{"job"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetwatch_snmp_walk_duration_seconds",
			Help:    "Time the SNMP requests of one device poll took.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"job"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, p := range []**prometheus.CounterVec{&m.polls, &m.sent, &m.retries, &m.tooBig, &m.errors, &m.samples} {
		got, err := registerCounter(reg, *p)
		if err != nil {
			return nil, err
		}
		*p = got
	}
	if err := reg.Register(m.duration); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, err
		}
		existing, ok := are.ExistingCollector.(*prometheus.HistogramVec)
		if !ok {
			return nil, err
		}
		m.duration = existing
	}
	return m, nil
}

// registerCounter registers v, or returns the identical one another
// Collector registered before.
func registerCounter(reg prometheus.Registerer, v *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	err := reg.Register(v)
	if err == nil {
		return v, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing, nil
		}
	}
	return nil, err
}

func (m *metrics) observe(job string, res *pollResult) {
	m.polls.WithLabelValues(job).Inc()
	m.sent.WithLabelValues(job).Add(float64(res.stats.sent))
	m.retries.WithLabelValues(job).Add(float64(res.stats.retries()))
	m.tooBig.WithLabelValues(job).Add(float64(res.stats.tooBig))
	for _, e := range res.stats.errors {
		m.errors.WithLabelValues(job, e.Kind).Inc()
	}
	m.duration.WithLabelValues(job).Observe(res.duration.Seconds())
}
