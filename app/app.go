package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/prometheus/model/labels"
	promrules "github.com/prometheus/prometheus/rules"
	"golang.org/x/sync/errgroup"

	fwcollectors "github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/collectors/snmp/traps"
	"github.com/fleetwatch/fleetwatch/config"
	"github.com/fleetwatch/fleetwatch/internal/buildinfo"
	"github.com/fleetwatch/fleetwatch/inventory"
	"github.com/fleetwatch/fleetwatch/pipeline"
	"github.com/fleetwatch/fleetwatch/pipeline/promapi"
	"github.com/fleetwatch/fleetwatch/pipeline/remotewrite"
	"github.com/fleetwatch/fleetwatch/rules"
)

// Options start a server.
type Options struct {
	// ConfigFile is fleetwatch.yml; empty runs the built-in defaults.
	ConfigFile string
	// ListenAddress and DataDir override the config's when set.
	ListenAddress string
	DataDir       string
	// WebConfigFile overrides server.web_config_file when set.
	WebConfigFile string
	Logger        *slog.Logger
	// Ready, if set, receives the address the HTTP server listens on once
	// it serves.
	Ready func(addr string)
	// Reload delivers reload requests (SIGHUP); each one's result is sent
	// back on the channel it carries.
	Reload <-chan chan error
}

// Server is a running fleetwatch.
type Server struct {
	o        Options
	logger   *slog.Logger
	reg      *prometheus.Registry
	gen      *generations
	store    *pipeline.Store
	sched    *fwcollectors.Scheduler
	rules    *rules.Engine
	anomaly  *anomalyRunner
	alerting *alerting
	// rulesLookup finds an alert's rule for postmortems.
	rulesLookup ruleLookup
	events      *eventSink
	closers     []closer // collectors of the running config to close on replace
	// topology is the fleet model of the running config (nil: none), with
	// what LLDP learnt laid over it.
	topology topology
	// remoteWrite sends the TSDB's samples to remote_write receivers.
	remoteWrite *remotewrite.Writer
	// simulated is the inventory of the simulated fleet (nil: none).
	simulated *inventory.Inventory
	reloadMu  sync.Mutex
	cfg       *config.Config
	metrics   *serverMetrics
	ready     chan struct{}
}

type serverMetrics struct {
	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
	reloads    *prometheus.CounterVec
}

// Run starts fleetwatch and blocks until ctx ends, then stops every part in
// reverse order of starting.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	s := &Server{o: o, logger: o.Logger, reg: prometheus.NewRegistry(), gen: &generations{}, cfg: cfg, ready: make(chan struct{})}
	s.events = newEventSink(s.logger.With("component", "events"), s.reg)
	s.registerSelfMetrics()

	store, err := pipeline.OpenStore(pipeline.StoreOptions{
		Path:                 cfg.Storage.Path,
		RetentionTime:        time.Duration(cfg.Storage.RetentionTime),
		RetentionSize:        int64(cfg.Storage.RetentionSize),
		OutOfOrderTimeWindow: time.Duration(cfg.Storage.OutOfOrderTimeWindow),
	}, s.logger, prometheus.WrapRegistererWithPrefix("fleetwatch_", s.reg))
	if err != nil {
		return err
	}
	s.store = store
	defer func() {
		if err := store.Close(); err != nil {
			s.logger.Error("closing TSDB", "err", err)
		}
		s.logger.Info("TSDB closed")
	}()

	s.remoteWrite, err = remotewrite.New(remotewrite.Options{
		Configs: cfg.RemoteWrite, WALDir: filepath.Join(cfg.Storage.Path, "wal"), StateDir: filepath.Join(cfg.Storage.Path, "remote_write"),
		ExternalLabels: labels.FromMap(cfg.Global.ExternalLabels), Metadata: store.Metadata(),
		Logger: s.logger.With("component", "remote_write"), Registerer: s.reg,
	})
	if err != nil {
		return err
	}

	s.alerting, err = openAlerting(ctx, cfg, s.topology.inventory, s.logger, s.reg)
	if err != nil {
		return err
	}
	defer func() {
		if err := s.alerting.store.Close(); err != nil {
			s.logger.Error("closing the alert store", "err", err)
		}
	}()
	s.events.setNext(s.alerting.engine)

	engine := promapi.NewEngine(promapi.EngineOptions{
		Timeout:       time.Duration(cfg.Query.Timeout),
		MaxSamples:    cfg.Query.MaxSamples,
		LookbackDelta: time.Duration(cfg.Query.LookbackDelta),
		MaxConcurrent: cfg.Query.MaxConcurrent,
	}, s.logger.With("component", "query"), s.reg)

	extURL, err := externalURL(cfg)
	if err != nil {
		return err
	}
	var remoteQuery promrules.QueryFunc
	if cfg.RuleQuery.URL != "" {
		remoteQuery = rules.RemoteQueryFunc(cfg.RuleQuery.URL, &http.Client{Timeout: time.Duration(cfg.RuleQuery.Timeout)})
	}
	s.rules, err = rules.New(rules.Options{
		QueryFunc:          remoteQuery,
		Queryable:          store,
		Appendable:         store,
		Engine:             engine,
		Notify:             s.sendAlerts,
		EvaluationInterval: time.Duration(cfg.Global.EvaluationInterval),
		ExternalURL:        extURL,
		ExternalLabels:     labels.FromMap(cfg.Global.ExternalLabels),
		Logger:             s.logger.With("component", "rules"),
		Registerer:         s.reg,
	})
	if err != nil {
		return err
	}
	s.anomaly = newAnomalyRunner(engine, remoteQuery, store, store, s.sendAlerts, cfg.Storage.Path, extURL, s.logger.With("component", "anomaly"))
	if cfg.Simulate != nil {
		// Not under ctx: the simulated devices stop after the collectors that
		// poll them have logged out (the deferred calls run after them).
		simCtx, stopSim := context.WithCancel(context.Background())
		defer stopSim()
		f, err := startSimulation(simCtx, cfg, s)
		if err != nil {
			return err
		}
		defer f.Close()
		s.simulated = f.Inventory
	}
	s.sched = fwcollectors.NewScheduler(fwcollectors.SchedulerOptions{
		Storage:     store,
		Metadata:    store.Metadata(),
		Concurrency: cfg.Global.Concurrency,
		Logger:      s.logger.With("component", "scheduler"),
		Registerer:  s.reg,
	})
	if err := s.apply(cfg); err != nil {
		return err
	}

	bi := buildinfo.Get()
	api := promapi.New(promapi.Options{
		Queryable:     store,
		Engine:        engine,
		Targets:       targetLister{s.sched},
		Metadata:      store.Metadata(),
		BuildInfo:     promapi.BuildInfo{Version: bi.Version, Revision: bi.Revision, Branch: bi.Branch, BuildUser: bi.BuildUser, BuildDate: bi.BuildDate, GoVersion: bi.GoVersion},
		LookbackDelta: time.Duration(cfg.Query.LookbackDelta),
		Logger:        s.logger.With("component", "api"),
		Registerer:    s.reg,
	})

	var trapReceiver *traps.Receiver
	if cfg.SNMPTraps != nil {
		if trapReceiver, err = traps.New(*cfg.SNMPTraps, s.events, s.deviceLabels, s.logger.With("component", "snmp_traps"), s.reg); err != nil {
			return err
		}
	}

	listen := cfg.Server.ListenAddress
	if o.ListenAddress != "" {
		listen = o.ListenAddress
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	handler, err := s.routes(api, engine)
	if err != nil {
		ln.Close()
		return err
	}
	// Bounded reads: a client sending its headers or body byte by byte is cut
	// off; WriteTimeout stays unset so long queries can answer.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	// Sinks before sources: storage is open, the alerter next, then rules,
	// collectors last.
	// remote_write reads the TSDB's WAL; it must stop before the TSDB closes,
	// which the deferred Close does after Wait.
	g.Go(func() error { return s.remoteWrite.Run(gctx) })
	g.Go(func() error { return s.alerting.run(gctx, time.Duration(cfg.Alerting.Retention)) })
	g.Go(func() error { return s.rules.Run(gctx) })
	g.Go(func() error { return s.anomaly.run(gctx) })
	g.Go(func() error { return s.sched.Run(gctx) })
	if trapReceiver != nil {
		g.Go(func() error { return trapReceiver.Run(gctx) })
	}
	webConfig := cfg.Server.WebConfigFile
	if o.WebConfigFile != "" {
		webConfig = o.WebConfigFile
	}
	if webConfig != "" {
		if err := web.Validate(webConfig); err != nil {
			return fmt.Errorf("web config %s: %w", webConfig, err)
		}
	}
	g.Go(func() error {
		// exporter-toolkit serves Prometheus' web config file format: TLS and
		// basic authentication exactly as Prometheus and its exporters do.
		if err := web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &webConfig}, s.logger.With("component", "web")); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("HTTP server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case reply := <-o.Reload:
				reply <- s.Reload()
			}
		}
	})
	g.Go(func() error {
		<-gctx.Done()
		shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		return srv.Shutdown(shutdownCtx)
	})
	close(s.ready)
	s.logger.Info("fleetwatch started", "listen", ln.Addr().String(), "config", cfg.File, "data", cfg.Storage.Path, "version", bi.Version)
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}
	err = g.Wait()
	s.logger.Info("fleetwatch stopping")
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 3*time.Second)
	closeAll(closeCtx, s.closers, s.logger)
	cancelClose()
	return err
}

func loadConfig(o Options) (*config.Config, error) {
	cfg := config.Default()
	if o.ConfigFile != "" {
		var err error
		if cfg, err = config.Load(o.ConfigFile); err != nil {
			return nil, err
		}
	} else if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.DataDir != "" {
		cfg.Storage.Path = o.DataDir
	} else {
		cfg.Storage.Path = cfg.Resolve(cfg.Storage.Path)
	}
	return cfg, nil
}

func externalURL(cfg *config.Config) (*url.URL, error) {
	raw := cfg.Server.ExternalURL
	if raw == "" {
		raw = "http://" + cfg.Server.ListenAddress + "/"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("server.external_url %q: %w", raw, err)
	}
	return u, nil
}

// Reload reads the config file again and applies it. On any error the
// running configuration stays as it was.
func (s *Server) Reload() error {
	err := s.reload()
	s.metrics.reloads.WithLabelValues(map[bool]string{true: "success", false: "failure"}[err == nil]).Inc()
	if err != nil {
		s.metrics.reloadOK.Set(0)
		s.logger.Error("config reload failed, the running configuration stays", "err", err)
		return err
	}
	s.metrics.reloadOK.Set(1)
	s.metrics.reloadTime.SetToCurrentTime()
	s.logger.Info("config reloaded", "file", s.o.ConfigFile)
	return nil
}

func (s *Server) reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.o.ConfigFile == "" {
		return errors.New("no config file to reload (running the built-in defaults)")
	}
	cfg, err := loadConfig(s.o)
	if err != nil {
		return err
	}
	if cfg.Storage != s.cfg.Storage || cfg.Server.ListenAddress != s.cfg.Server.ListenAddress {
		s.logger.Warn("storage and server.listen_address changes take effect at the next restart")
	}
	return s.apply(cfg)
}

// apply builds everything cfg needs first and swaps it in only when all of
// it succeeded.
func (s *Server) apply(cfg *config.Config) error {
	var inv *inventory.Inventory
	if cfg.Inventory.File != "" {
		var err error
		if inv, err = inventory.Load(cfg.Resolve(cfg.Inventory.File)); err != nil {
			return err
		}
	}
	inv = mergeInventories(inv, s.simulated)
	reg := prometheus.NewRegistry()
	jobs, closers, neighbors, err := buildJobs(cfg, inv, s.events, s.logger, reg)
	if err != nil {
		return err
	}
	// Anything below that fails must release what buildJobs opened.
	committed := false
	defer func() {
		if !committed {
			closeAll(context.Background(), closers, s.logger)
		}
	}()
	// rule_files are already relative to the config file (config resolves
	// every *_files key); a plain path that does not exist is an error.
	ruleFiles := cfg.RuleFiles
	for _, f := range ruleFiles {
		if strings.HasPrefix(f, rules.PackPrefix) || strings.ContainsAny(f, "*?[") {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("rule_files: %w", err)
		}
	}
	anomalyGroups, err := parseAnomalyRules(ruleFiles)
	if err != nil {
		return err
	}
	evaluator, err := s.anomaly.prepare(anomalyGroups, reg)
	if err != nil {
		return err
	}
	if err := s.rules.Load(ruleFiles); err != nil {
		return err
	}
	if err := s.rulesLookup.set(ruleFiles); err != nil {
		return err
	}
	if s.cfg != cfg { // a reload: alerting and remote_write may have changed too
		if err := s.remoteWrite.ApplyConfig(cfg.RemoteWrite); err != nil {
			return err
		}
		// Receivers register their metrics on the main registry, where a
		// reload finds and reuses them.
		if err := s.alerting.apply(cfg, inv, s.logger, s.reg); err != nil {
			return err
		}
	}
	s.anomaly.swap(evaluator)
	s.gen.set(reg)
	s.sched.Update(jobs)
	s.topology.set(inv, neighbors)
	s.alerting.setInventory(s.topology.inventory())
	closeAll(context.Background(), s.closers, s.logger)
	s.closers = closers
	committed = true
	s.cfg = cfg
	return nil
}

func (s *Server) registerSelfMetrics() {
	bi := buildinfo.Get()
	s.metrics = &serverMetrics{
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetwatch_config_last_reload_successful",
			Help: "1 if the last configuration load or reload succeeded, 0 if it failed (the previous configuration is still running).",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetwatch_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_config_reloads_total",
			Help: "Configuration reloads by result (success, failure).",
		}, []string{"result"}),
	}
	s.metrics.reloadOK.Set(1)
	s.metrics.reloadTime.SetToCurrentTime()
	s.reg.MustRegister(
		s.metrics.reloadOK, s.metrics.reloadTime, s.metrics.reloads,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "fleetwatch_build_info",
			Help:        "A metric with a constant 1 labelled by fleetwatch's version, revision and Go version.",
			ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "goversion": bi.GoVersion},
		}, func() float64 { return 1 }),
	)
}

// generations holds the registry of the collectors built by the current
// configuration: a reload builds new collectors on a new registry and swaps
// it in, so their self-metrics never collide with the previous ones.
type generations struct {
	mu  sync.RWMutex
	reg *prometheus.Registry
}

func (g *generations) set(r *prometheus.Registry) {
	g.mu.Lock()
	g.reg = r
	g.mu.Unlock()
}

// Gather implements prometheus.Gatherer.
func (g *generations) Gather() ([]*dto.MetricFamily, error) {
	g.mu.RLock()
	r := g.reg
	g.mu.RUnlock()
	if r == nil {
		return nil, nil
	}
	return r.Gather()
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(prometheus.Gatherers{s.reg, s.gen}, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelError)})
}

// sendAlerts hands the alerts of fleetwatch's rules and anomaly rules to
// the alerter.
func (s *Server) sendAlerts(ctx context.Context, expr string, alerts ...*promrules.Alert) {
	s.alerting.engine.Notify(ctx, expr, alerts...)
}
