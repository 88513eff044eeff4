package rules

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

type runningEngine struct {
	e      *Engine
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func startEngine(t *testing.T, o Options, files ...string) *runningEngine {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Load(files); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	re := &runningEngine{e: e, reg: reg, cancel: cancel, done: done}
	t.Cleanup(re.stop)
	return re
}

func (r *runningEngine) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.cancel = nil
}

func activeAlert(e *Engine, name string) *promrules.Alert {
	for _, r := range e.Manager().AlertingRules() {
		if r.Name() != name {
			continue
		}
		if as := r.ActiveAlerts(); len(as) == 1 {
			return as[0]
		}
	}
	return nil
}

// TestEngineRestoresForStateAfterRestart: an alert pending in `for` when the
// engine stops keeps its pending time over a restart on the same TSDB
// directory: it is neither reset (state lost) nor fired before the rest of
// its `for` has passed.
func TestEngineRestoresForStateAfterRestart(t *testing.T) {
	dir := t.TempDir()
	rulesDir := t.TempDir()
	const hold = 8 * time.Second
	file := writeFile(t, rulesDir, "restart.yml", `
groups:
  - name: restart
    interval: 1s
    rules:
      - alert: AlwaysPending
        expr: vector(1)
        for: 8s
        labels:
          severity: page
`)
	opts := func(db storage.Queryable, app storage.AppendableV2) Options {
		return Options{
			Queryable: db, Appendable: app, Engine: newPromQLEngine(),
			EvaluationInterval: time.Second, ForGracePeriod: time.Second, OutageTolerance: time.Hour,
		}
	}

	db := openTSDB(t, dir)
	first := startEngine(t, opts(db, db), file)
	var orig *promrules.Alert
	forState := labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "ALERTS_FOR_STATE")
	waitFor(t, "pending for 4s with ALERTS_FOR_STATE written", 20*time.Second, func() bool {
		orig = activeAlert(first.e, "AlwaysPending")
		return orig != nil && time.Since(orig.ActiveAt) > 4*time.Second && len(samplesOf(t, db, forState)) > 0
	})
	first.stop()
	if orig.State != promrules.StatePending {
		t.Fatalf("alert %s before the restart, want pending", orig.State)
	}
	// What the restore will read: the last ALERTS_FOR_STATE sample.
	var last [2]float64
	for _, s := range samplesOf(t, db, forState) {
		last = s[len(s)-1]
	}
	if value.IsStaleNaN(last[1]) || int64(last[1]) != orig.ActiveAt.Unix() {
		t.Fatalf("ALERTS_FOR_STATE = %v, want the activeAt %d", last[1], orig.ActiveAt.Unix())
	}
	pendingBefore := time.Duration(int64(last[0])/1000-int64(last[1])) * time.Second
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openTSDB(t, dir)
	defer db.Close()
	restart := time.Now()
	second := startEngine(t, opts(db, db), file)
	var fired *promrules.Alert
	waitFor(t, "firing after the restart", 40*time.Second, func() bool {
		fired = activeAlert(second.e, "AlwaysPending")
		return fired != nil && fired.State == promrules.StateFiring
	})
	second.stop()

	if !fired.ActiveAt.Before(restart) {
		t.Errorf("for state lost: activeAt %s is after the restart at %s", fired.ActiveAt, restart)
	}
	remaining := hold - pendingBefore
	if early := restart.Add(remaining - time.Second); fired.FiredAt.Before(early) {
		t.Errorf("fired early at %s: %s were left of `for` at the restart %s", fired.FiredAt, remaining, restart)
	}
	if fired.FiredAt.Sub(fired.ActiveAt) < hold {
		t.Errorf("fired %s after activeAt, want at least %s", fired.FiredAt.Sub(fired.ActiveAt), hold)
	}
}

// TestEngineBrokenReloadKeepsOldRules: a reload with a broken file returns
// the file:line and the previous rules keep being evaluated.
func TestEngineBrokenReloadKeepsOldRules(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	defer db.Close()
	dir := t.TempDir()
	file := writeFile(t, dir, "rules.yml", `
groups:
  - name: keep
    interval: 1s
    rules:
      - record: fleetwatch_test:one
        expr: vector(1)
`)
	re := startEngine(t, Options{Queryable: db, Appendable: db, Engine: newPromQLEngine(), EvaluationInterval: time.Second}, file)
	recorded := labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "fleetwatch_test:one")
	waitFor(t, "recording rule written", 10*time.Second, func() bool { return len(samplesOf(t, db, recorded)) > 0 })

	writeFile(t, dir, "rules.yml", `
groups:
  - name: keep
    interval: 1s
    rules:
      - record: fleetwatch_test:one
        expr: vector(1) +
`)
	err := re.e.Load([]string{file})
	if err == nil {
		t.Fatal("broken reload succeeded")
	}
	if want := file + ": 7:15: group \"keep\", rule 1"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %q", err, want)
	}
	if got := counterValue(t, re.reg, "fleetwatch_rules_loads_total", map[string]string{"result": "failure"}); got != 1 {
		t.Errorf("failed loads = %v, want 1", got)
	}
	gs := re.e.Manager().RuleGroups()
	if len(gs) != 1 || gs[0].Rules()[0].Query().String() != "vector(1)" {
		t.Fatalf("old rules not kept: %v", gs)
	}
	before := len(samplesOf(t, db, recorded)["{__name__=\"fleetwatch_test:one\"}"])
	waitFor(t, "old rule still evaluated", 10*time.Second, func() bool {
		return len(samplesOf(t, db, recorded)["{__name__=\"fleetwatch_test:one\"}"]) >= before+2
	})
}

// blockingQueryable blocks every Select of slow_metric until the query's
// context ends, like a remote store that hangs.
type blockingQueryable struct{ storage.Queryable }

func (b blockingQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := b.Queryable.Querier(mint, maxt)
	return blockingQuerier{q}, err
}

type blockingQuerier struct{ storage.Querier }

func (b blockingQuerier) Select(ctx context.Context, sort bool, h *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	for _, m := range ms {
		if m.Name == labels.MetricName && m.Value == "slow_metric" {
			<-ctx.Done()
			return storage.ErrSeriesSet(ctx.Err())
		}
	}
	return b.Querier.Select(ctx, sort, h, ms...)
}

func (b blockingQuerier) LabelValues(ctx context.Context, name string, h *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return b.Querier.LabelValues(ctx, name, h, ms...)
}

// TestEngineRuleTimeoutCountedPerRule: a rule whose query hangs is cut at
// RuleQueryTimeout, counted per rule, and the rules after it in the same
// group keep being evaluated.
func TestEngineRuleTimeoutCountedPerRule(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	defer db.Close()
	file := writeFile(t, t.TempDir(), "slow.yml", `
groups:
  - name: mixed
    interval: 1s
    rules:
      - alert: Slow
        expr: slow_metric > 0
      - record: fleetwatch_test:fast
        expr: vector(1)
`)
	q := blockingQueryable{db}
	re := startEngine(t, Options{Queryable: q, Appendable: db, Engine: newPromQLEngine(),
		EvaluationInterval: time.Second, RuleQueryTimeout: 200 * time.Millisecond}, file)
	fast := labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "fleetwatch_test:fast")
	key := promrules.GroupKey(file, "mixed")
	waitFor(t, "two timeouts of Slow and the fast rule written after them", 20*time.Second, func() bool {
		return counterValue(t, re.reg, "fleetwatch_rules_query_timeouts_total", map[string]string{"rule": "Slow", "rule_group": key}) >= 2 &&
			len(samplesOf(t, db, fast)) > 0
	})
	re.stop()
	rs := re.e.Manager().RuleGroups()[0].Rules()
	if rs[0].Health() != promrules.HealthBad || !isTimeout(rs[0].LastError()) {
		t.Errorf("Slow: health %s, last error %v; want bad with a timeout", rs[0].Health(), rs[0].LastError())
	}
	if rs[1].Health() != promrules.HealthGood {
		t.Errorf("fast rule health %s, want ok", rs[1].Health())
	}
	if n := counterValue(t, re.reg, "fleetwatch_rules_evaluation_failures_total", map[string]string{"rule": "fleetwatch_test:fast"}); n != 0 {
		t.Errorf("fast rule failures = %v, want 0", n)
	}
	if n := counterValue(t, re.reg, "fleetwatch_rules_evaluation_failures_total", map[string]string{"rule": "Slow"}); n < 2 {
		t.Errorf("Slow failures = %v, want >= 2", n)
	}
}

func TestNewRequiresStorage(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	defer db.Close()
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"no appendable", Options{Queryable: db, Engine: newPromQLEngine()}},
		{"no queryable", Options{Appendable: db, Engine: newPromQLEngine()}},
		{"no engine", Options{Queryable: db, Appendable: db}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.o); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestLoadUnknownPack(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	defer db.Close()
	e, err := New(Options{Queryable: db, Appendable: db, Engine: newPromQLEngine()})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Load([]string{"pack:nope"})
	if err == nil || !strings.Contains(err.Error(), `"pack:nope"`) {
		t.Fatalf("Load(pack:nope) = %v", err)
	}
	if err := e.Load([]string{"pack:server", "pack:network", "pack:latency"}); err != nil {
		t.Fatalf("loading the packs: %v", err)
	}
	if n := len(e.Manager().RuleGroups()); n != 6 {
		t.Errorf("%d groups loaded from the packs, want 6", n)
	}
}
