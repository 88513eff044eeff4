package app

import (
	"fmt"
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
	"github.com/fleetwatch/fleetwatch/collectors/scrape"
	"github.com/fleetwatch/fleetwatch/config"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// buildJobs turns the config's jobs into scheduler jobs: a collector per
// job, and its targets from static_configs and the inventory after
// relabel_configs. Collector self-metrics go to reg.
func buildJobs(cfg *config.Config, inv *inventory.Inventory, logger *slog.Logger, reg prometheus.Registerer) ([]collectors.Job, error) {
	jobs := make([]collectors.Job, 0, len(cfg.Jobs))
	for _, jc := range cfg.Jobs {
		c, err := newCollector(jc, logger, reg)
		if err != nil {
			return nil, fmt.Errorf("job %q: %w", jc.JobName, err)
		}
		targets, err := jobTargets(jc, inv)
		if err != nil {
			return nil, fmt.Errorf("job %q: %w", jc.JobName, err)
		}
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
	return jobs, nil
}

func newCollector(jc config.JobConfig, logger *slog.Logger, reg prometheus.Registerer) (collectors.Collector, error) {
	logger = logger.With("job", jc.JobName)
	switch jc.Type {
	case config.TypeHost:
		return host.New(*jc.Host, logger.With("collector", "host"), prometheus.WrapRegistererWith(prometheus.Labels{"job": jc.JobName}, reg))
	case config.TypeScrape:
		return scrape.New(*jc.Scrape, logger.With("collector", "scrape"), reg)
	}
	return nil, fmt.Errorf("unknown job type %q", jc.Type)
}

// jobTargets lists a job's targets. A host job with no static targets
// collects this machine, named by its host name.
func jobTargets(jc config.JobConfig, inv *inventory.Inventory) ([]collectors.Target, error) {
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
		if keep {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
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
	if jc.Scrape != nil {
		lb.Set(model.MetricsPathLabel, jc.Scrape.MetricsPath)
		lb.Set(model.SchemeLabel, jc.Scrape.Scheme)
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
