package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// Prometheus' defaults for the alert options.
const (
	DefaultEvaluationInterval = time.Minute
	DefaultOutageTolerance    = time.Hour
	DefaultForGracePeriod     = 10 * time.Minute
	DefaultResendDelay        = time.Minute
)

// Options configures an Engine (and Backtest, which uses the query side only).
type Options struct {
	// Queryable is read by the rules' queries (through Engine) and by the
	// restore of the `for` state from ALERTS_FOR_STATE. Required.
	Queryable storage.Queryable
	// Appendable receives recording-rule results, ALERTS and
	// ALERTS_FOR_STATE. Prometheus v0.316.0's rule manager writes through
	// storage.AppendableV2 (tsdb.DB implements it). Required for Engine.
	Appendable storage.AppendableV2
	// Engine runs the rules' PromQL against Queryable. Required unless
	// QueryFunc is set.
	Engine *promql.Engine
	// QueryFunc, if set, replaces Engine+Queryable for rule queries, e.g.
	// RemoteQueryFunc to evaluate against VictoriaMetrics, Mimir, Thanos or
	// Prometheus. Queryable is still used to restore the `for` state.
	QueryFunc promrules.QueryFunc
	// Notify receives the alerts to send (Prometheus' rules.NotifyFunc).
	// Nil drops them.
	Notify promrules.NotifyFunc

	// EvaluationInterval is global.evaluation_interval; a group's own
	// `interval` overrides it. Default 1m.
	EvaluationInterval time.Duration
	ExternalURL        *url.URL
	ExternalLabels     labels.Labels
	// OutageTolerance, ForGracePeriod and ResendDelay are Prometheus'
	// --rules.alert.* options. Defaults 1h, 10m, 1m.
	OutageTolerance, ForGracePeriod, ResendDelay time.Duration
	// RuleQueryTimeout bounds one rule's query (and its template queries).
	// A rule that times out is counted and marked unhealthy; the group moves
	// on to its next rule. Default: the evaluation interval.
	RuleQueryTimeout time.Duration

	// Parser parses PromQL. Default: parser.NewParser(parser.Options{}).
	Parser parser.Parser
	Logger *slog.Logger
	// Registerer receives Prometheus' own rule metrics (prometheus_rule_*)
	// and fleetwatch's per-rule counters. Nil registers nothing.
	Registerer prometheus.Registerer
}

func (o *Options) defaults() {
	if o.EvaluationInterval <= 0 {
		o.EvaluationInterval = DefaultEvaluationInterval
	}
	if o.OutageTolerance <= 0 {
		o.OutageTolerance = DefaultOutageTolerance
	}
	if o.ForGracePeriod <= 0 {
		o.ForGracePeriod = DefaultForGracePeriod
	}
	if o.ResendDelay <= 0 {
		o.ResendDelay = DefaultResendDelay
	}
	if o.RuleQueryTimeout <= 0 {
		o.RuleQueryTimeout = o.EvaluationInterval
	}
	if o.Parser == nil {
		o.Parser = parser.NewParser(parser.Options{})
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Notify == nil {
		o.Notify = func(context.Context, string, ...*promrules.Alert) {}
	}
}

func (o *Options) queryFunc() (promrules.QueryFunc, error) {
	if o.QueryFunc != nil {
		return o.QueryFunc, nil
	}
	if o.Engine == nil {
		return nil, errors.New("rules: Options.Engine or Options.QueryFunc is required")
	}
	if o.Queryable == nil {
		return nil, errors.New("rules: Options.Queryable is required")
	}
	return promrules.EngineQueryFunc(o.Engine, o.Queryable), nil
}

// withTimeout bounds every call of q by d.
func withTimeout(q promrules.QueryFunc, d time.Duration) promrules.QueryFunc {
	return func(ctx context.Context, qs string, t time.Time) (promql.Vector, error) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return q(ctx, qs, t)
	}
}

// engineMetrics are fleetwatch's per-rule counters; Prometheus' own metrics
// count per group only.
type engineMetrics struct {
	failures *prometheus.CounterVec
	timeouts *prometheus.CounterVec
	loads    *prometheus.CounterVec
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	m := &engineMetrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_rules_evaluation_failures_total",
			Help: "Rule evaluations that failed (query error, timeout, limit exceeded or write error), per rule.",
		}, []string{"rule_group", "rule"}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_rules_query_timeouts_total",
			Help: "Rule evaluations whose query ran past the rule query timeout, per rule.",
		}, []string{"rule_group", "rule"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_rules_loads_total",
			Help: "Rule file loads and reloads, by result (success or failure).",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.failures, m.timeouts, m.loads)
	}
	return m
}

// Engine evaluates Prometheus rule files with Prometheus' rules.Manager.
type Engine struct {
	opts    Options
	manager *promrules.Manager
	metrics *engineMetrics
	cancel  context.CancelFunc

	mu    sync.Mutex
	files []string
}

// New builds an Engine. It starts nothing: call Load, then Run.
func New(o Options) (*Engine, error) {
	o.defaults()
	if o.Appendable == nil {
		return nil, errors.New("rules: Options.Appendable is required")
	}
	if o.Queryable == nil {
		return nil, errors.New("rules: Options.Queryable is required")
	}
	qf, err := o.queryFunc()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{opts: o, metrics: newEngineMetrics(o.Registerer), cancel: cancel}
	e.manager = promrules.NewManager(&promrules.ManagerOptions{
		ExternalURL:     o.ExternalURL,
		QueryFunc:       withTimeout(qf, o.RuleQueryTimeout),
		NotifyFunc:      o.Notify,
		Context:         ctx,
		AppendableV2:    o.Appendable,
		Queryable:       o.Queryable,
		Logger:          o.Logger,
		Registerer:      o.Registerer,
		OutageTolerance: o.OutageTolerance,
		ForGracePeriod:  o.ForGracePeriod,
		ResendDelay:     o.ResendDelay,
		GroupLoader:     groupLoader{parser: o.Parser, logger: o.Logger},
		Parser:          o.Parser,
	})
	return e, nil
}

// Load (re)loads the rule files: globs and "pack:NAME" entries, as in
// rule_files. All files are parsed before anything changes: a broken file
// returns an error naming file:line and the previously loaded rules keep
// running. Unchanged groups keep their state; changed groups take over the
// alerts of the group they replace.
func (e *Engine) Load(patterns []string) error {
	files, err := ExpandRuleFiles(patterns)
	if err != nil {
		e.metrics.loads.WithLabelValues("failure").Inc()
		return err
	}
	var errs []error
	for _, f := range files {
		_, ferrs := ParseRuleFile(f, false, e.opts.Parser, e.opts.Logger)
		errs = append(errs, ferrs...)
	}
	if len(errs) > 0 {
		e.metrics.loads.WithLabelValues("failure").Inc()
		return fmt.Errorf("loading rules failed, previous rules kept: %w", errors.Join(errs...))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	url := ""
	if e.opts.ExternalURL != nil {
		url = e.opts.ExternalURL.String()
	}
	if err := e.manager.Update(e.opts.EvaluationInterval, files, e.opts.ExternalLabels, url, e.evalIteration); err != nil {
		e.metrics.loads.WithLabelValues("failure").Inc()
		return fmt.Errorf("loading rules: %w", err)
	}
	e.files = files
	e.metrics.loads.WithLabelValues("success").Inc()
	e.opts.Logger.Info("rules loaded", "files", len(files), "groups", len(e.manager.RuleGroups()))
	return nil
}

// Files returns the rule files (and packs) currently loaded.
func (e *Engine) Files() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.files...)
}

// evalIteration is Prometheus' DefaultEvalIterationFunc followed by the
// per-rule accounting of failures and timeouts.
func (e *Engine) evalIteration(ctx context.Context, g *promrules.Group, ts time.Time) {
	start := time.Now()
	promrules.DefaultEvalIterationFunc(ctx, g, ts)
	key := promrules.GroupKey(g.File(), g.Name())
	for _, r := range g.Rules() {
		err := r.LastError()
		if err == nil || r.GetEvaluationTimestamp().Before(start) {
			continue
		}
		e.metrics.failures.WithLabelValues(key, r.Name()).Inc()
		if isTimeout(err) {
			e.metrics.timeouts.WithLabelValues(key, r.Name()).Inc()
		}
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	_, ok := errors.AsType[promql.ErrQueryTimeout](err)
	return ok
}

// Run evaluates the loaded groups until ctx ends, then stops them. An Engine
// runs once.
func (e *Engine) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		e.manager.Run()
		close(done)
	}()
	<-ctx.Done()
	e.manager.Stop()
	e.cancel()
	<-done
	return nil
}

// Manager returns the underlying Prometheus rule manager (read-only use:
// RuleGroups, AlertingRules).
func (e *Engine) Manager() *promrules.Manager { return e.manager }
