package app

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/collectors/host"
	"github.com/fleetwatch/fleetwatch/collectors/probe"
	"github.com/fleetwatch/fleetwatch/collectors/redfish"
	"github.com/fleetwatch/fleetwatch/collectors/scrape"
	"github.com/fleetwatch/fleetwatch/collectors/snmp"
	"github.com/fleetwatch/fleetwatch/config"
	"github.com/fleetwatch/fleetwatch/events"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// buildJobs turns the config's jobs into scheduler jobs: a collector per
// job, and its targets from static_configs and the inventory after
// relabel_configs. Collector self-metrics go to reg.
//
// Collectors that hold connections (Redfish sessions) are returned as
// closers: the caller closes them when the jobs are replaced.
//
// SNMP collectors are also returned as neighbour sources: their LLDP tables
// complete the inventory's topology.
func buildJobs(cfg *config.Config, inv *inventory.Inventory, sink events.Sink, logger *slog.Logger, reg prometheus.Registerer) ([]collectors.Job, []closer, []neighborSource, error) {
	jobs := make([]collectors.Job, 0, len(cfg.Jobs))
	var (
		closers   []closer
		neighbors []neighborSource
	)
	fail := func(err error) ([]collectors.Job, []closer, []neighborSource, error) {
		closeAll(context.Background(), closers, logger)
		return nil, nil, nil, err
	}
	for _, jc := range cfg.Jobs {
		c, err := newCollector(jc, sink, logger, reg)
		if err != nil {
			return fail(fmt.Errorf("job %q: %w", jc.JobName, err))
		}
		if cl, ok := c.(closer); ok {
			closers = append(closers, cl)
		}
		if ns, ok := c.(neighborSource); ok {
			neighbors = append(neighbors, ns)
		}
		targets := jobTargets(jc, inv, cfg.Sharding)
		jobs = append(jobs, collectors.Job{
			Name:          jc.JobName,
			Collector:     c,
			Interval:      time.Duration(jc.ScrapeInterval),
			Timeout:       time.Duration(jc.ScrapeTimeout),
			HonorLabels:   jc.HonorLabels,
			MetricRelabel: jc.MetricRelabelConfigs,
			SampleLimit:   jc.SampleLimit,
			Targets:       targets,
		})
	}
	return jobs, closers, neighbors, nil
}

// closer is a collector that holds connections to release when replaced.
type closer interface {
	Close(ctx context.Context) error
}

func closeAll(ctx context.Context, cs []closer, logger *slog.Logger) {
	for _, c := range cs {
		if err := c.Close(ctx); err != nil {
			logger.Warn("closing a collector", "err", err)
		}
	}
}

// newCollector builds a job's collector. Collectors whose self-metrics carry
// no job label get one, so two jobs of a type never collide.
func newCollector(jc config.JobConfig, sink events.Sink, logger *slog.Logger, reg prometheus.Registerer) (collectors.Collector, error) {
	logger = logger.With("job", jc.JobName, "collector", jc.Type)
	perJob := prometheus.WrapRegistererWith(prometheus.Labels{"job": jc.JobName}, reg)
	switch jc.Type {
	case config.TypeHost:
		return host.New(*jc.Host, logger, perJob)
	case config.TypeScrape:
		return scrape.New(*jc.Scrape, logger, reg)
	case config.TypeSNMP:
		return snmp.New(*jc.SNMP, logger, reg)
	case config.TypeRedfish:
		return redfish.New(*jc.Redfish, sink, logger, perJob)
	case config.TypeProbe:
		return probe.New(*jc.Probe, logger, reg)
	}
	return nil, fmt.Errorf("unknown job type %q", jc.Type)
}

// jobTargets lists a job's targets. A host job with no static targets
// collects this machine, named by its host name.
//
// With sharding, only the targets this shard owns are kept; a host job
// (this machine) is kept by every shard.
func jobTargets(jc config.JobConfig, inv *inventory.Inventory, shards config.ShardingConfig) []collectors.Target {
	if jc.Type == config.TypeHost {
		shards = config.ShardingConfig{}
	}
	type raw struct {
		addr   string
		labels map[string]string
	}
	var raws []raw
	for _, sc := range jc.StaticConfigs {
		for _, t := range sc.Targets {
			raws = append(raws, raw{t, sc.Labels})
		}
	}
	if jc.Inventory != nil && inv != nil {
		for _, t := range inv.Targets(*jc.Inventory) {
			raws = append(raws, raw{t.Address, t.Labels})
		}
	}
	if jc.Type == config.TypeHost && len(raws) == 0 {
		name, err := os.Hostname()
		if err != nil {
			name = "localhost"
		}
		raws = append(raws, raw{"localhost", map[string]string{"instance": name}})
	}
	out := make([]collectors.Target, 0, len(raws))
	for _, r := range raws {
		t, keep := relabelTarget(jc, r.addr, r.labels)
		if keep && ownsTarget(shards, jc.JobName, t.Address) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// relabelTarget applies relabel_configs as Prometheus does: the target
// starts with __address__, job and its discovered labels (plus
// __metrics_path__ and __scheme__ for scrape jobs); after relabeling,
// instance defaults to __address__ and labels starting with __ are removed.
func relabelTarget(jc config.JobConfig, addr string, discovered map[string]string) (collectors.Target, bool) {
	lb := labels.NewBuilder(labels.EmptyLabels())
	for k, v := range discovered {
		lb.Set(k, v)
	}
	lb.Set(model.AddressLabel, addr)
	lb.Set("job", jc.JobName)
	if jc.Scrape != nil { // a target's own __metrics_path__ / __scheme__ wins, as in Prometheus
		if lb.Get(model.MetricsPathLabel) == "" {
			lb.Set(model.MetricsPathLabel, jc.Scrape.MetricsPath)
		}
		if lb.Get(model.SchemeLabel) == "" {
			lb.Set(model.SchemeLabel, jc.Scrape.Scheme)
		}
	}
	if !relabel.ProcessBuilder(lb, jc.RelabelConfigs...) {
		return collectors.Target{}, false
	}
	address := lb.Get(model.AddressLabel)
	if address == "" {
		return collectors.Target{}, false
	}
	if lb.Get("instance") == "" {
		lb.Set("instance", address)
	}
	// Labels starting with __ are settings for the collector, not labels.
	params := map[string]string{}
	lb.Labels().Range(func(l labels.Label) {
		if strings.HasPrefix(l.Name, model.ReservedLabelPrefix) {
			params[l.Name] = l.Value
			lb.Del(l.Name)
		}
	})
	return collectors.Target{Job: jc.JobName, Address: address, Labels: lb.Labels(), Params: params}, true
}

// ownsTarget reports whether shard s.Shard of s.Shards collects the target:
// a stable hash of job and address, so every instance with the same config
// agrees and each target is collected by exactly one of them.
func ownsTarget(s config.ShardingConfig, job, address string) bool {
	if s.Shards <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(job))
	h.Write([]byte{0xff})
	h.Write([]byte(address))
	return h.Sum64()%uint64(s.Shards) == uint64(s.Shard)
}
