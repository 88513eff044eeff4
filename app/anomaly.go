package app

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"

	"github.com/fleetwatch/fleetwatch/rules"
	"github.com/fleetwatch/fleetwatch/rules/anomaly"
	"github.com/fleetwatch/fleetwatch/rules/packs"
)

// anomalyRunner runs the anomaly rules found in the rule files. A reload
// builds a new evaluator; the old one stops first and saves its state, which
// the new one loads, so baselines and pending alerts survive reloads as they
// survive restarts.
type anomalyRunner struct {
	query      promrules.QueryFunc
	appendable storage.Appendable
	notify     promrules.NotifyFunc
	stateDir   string
	extURL     *url.URL
	logger     *slog.Logger

	mu     sync.Mutex
	ctx    context.Context // set by run
	cancel context.CancelFunc
	done   chan struct{}
	next   *anomaly.Evaluator // built before run starts
}

// newAnomalyRunner evaluates through remote when set, else engine over store.
func newAnomalyRunner(engine *promql.Engine, remote promrules.QueryFunc, store storage.Queryable, app storage.Appendable, notify promrules.NotifyFunc, dataDir string, extURL *url.URL, logger *slog.Logger) *anomalyRunner {
	query := remote
	if query == nil {
		query = promrules.EngineQueryFunc(engine, store)
	}
	return &anomalyRunner{
		query:      query,
		appendable: app,
		notify:     notify,
		stateDir:   filepath.Join(dataDir, "anomaly"),
		extURL:     extURL,
		logger:     logger,
	}
}

// parseAnomalyRules reads the anomaly: items of every rule file and pack.
func parseAnomalyRules(ruleFiles []string) ([]anomaly.Group, error) {
	files, err := rules.ExpandRuleFiles(ruleFiles)
	if err != nil {
		return nil, err
	}
	var groups []anomaly.Group
	var errs []error
	for _, f := range files {
		var gs []anomaly.Group
		if name, ok := strings.CutPrefix(f, rules.PackPrefix); ok {
			data, err := packs.Read(name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			gs, err = anomaly.ParseBytes(f, data)
			if err != nil {
				errs = append(errs, err)
			}
		} else {
			gs, err = anomaly.ParseFile(f)
			if err != nil {
				errs = append(errs, err)
			}
		}
		groups = append(groups, gs...)
	}
	return groups, errors.Join(errs...)
}

// prepare builds the evaluator for groups without starting it: a config
// that fails here leaves the running evaluator alone.
func (r *anomalyRunner) prepare(groups []anomaly.Group, reg prometheus.Registerer) (*anomaly.Evaluator, error) {
	return anomaly.New(anomaly.Options{
		Groups:      groups,
		Query:       r.query,
		Appendable:  r.appendable,
		Notify:      r.notify,
		StateDir:    r.stateDir,
		Logger:      r.logger,
		Registerer:  reg,
		ExternalURL: r.extURL,
	})
}

// swap stops the running evaluator (it saves its state) and starts ev.
func (r *anomalyRunner) swap(ev *anomaly.Evaluator) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil {
		r.next = ev
		return
	}
	r.stopLocked()
	r.startLocked(ev)
}

func (r *anomalyRunner) startLocked(ev *anomaly.Evaluator) {
	if ev == nil {
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	r.cancel, r.done = cancel, done
	go func() {
		defer close(done)
		if err := ev.Run(ctx); err != nil {
			r.logger.Error("anomaly evaluator stopped", "err", err)
		}
	}()
}

func (r *anomalyRunner) stopLocked() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel, r.done = nil, nil
	}
}

// run starts the prepared evaluator and blocks until ctx ends.
func (r *anomalyRunner) run(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	r.startLocked(r.next)
	r.next = nil
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	r.stopLocked()
	r.mu.Unlock()
	return nil
}
