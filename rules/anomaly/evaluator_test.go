package anomaly

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb"
)

const evalRules = `
groups:
  - name: latency
    interval: 30s
    rules:
      - anomaly: ProbeRTTAnomaly
        expr: probe_duration_seconds{job="icmp"}
        preset: latency
        min_history: 20
        for: 2m
        labels: {severity: warning}
        annotations: {summary: "RTT to {{ $labels.instance }} is anomalous (score {{ $value | printf \"%.0f\" }})"}
`

// testDB opens a TSDB in a temporary directory holding probe_duration_seconds
// for two targets every 30 s for n steps; target "a" triples its RTT from
// step jump on.
func testDB(t *testing.T, t0 time.Time, n, jump int) *tsdb.DB {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	app := db.Appender(context.Background())
	r := rand.New(rand.NewPCG(9, 9))
	for _, inst := range []string{"a", "b"} {
		l := labels.FromStrings("__name__", "probe_duration_seconds", "job", "icmp", "instance", inst)
		for i := 0; i < n; i++ {
			v := 0.010 * (1 + 0.05*r.NormFloat64())
			if inst == "a" && i >= jump {
				v *= 3
			}
			if _, err := app.Append(0, l, t0.Add(time.Duration(i)*30*time.Second).UnixMilli(), v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

type alertLog struct {
	mu     sync.Mutex
	alerts []rules.Alert
}

func (l *alertLog) notify(_ context.Context, _ string, alerts ...*rules.Alert) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range alerts {
		l.alerts = append(l.alerts, *a)
	}
}

func (l *alertLog) firing() []rules.Alert {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []rules.Alert
	for _, a := range l.alerts {
		if a.State == rules.StateFiring {
			out = append(out, a)
		}
	}
	return out
}

func newTestEvaluator(t *testing.T, db *tsdb.DB, stateDir string, log *alertLog, reg prometheus.Registerer) *Evaluator {
	t.Helper()
	groups, err := ParseBytes("latency.yml", []byte(evalRules))
	if err != nil {
		t.Fatal(err)
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: 10 * time.Second})
	e, err := New(Options{
		Groups:     groups,
		Query:      rules.EngineQueryFunc(engine, db),
		Appendable: db,
		Notify:     log.notify,
		StateDir:   stateDir,
		Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEvaluatorOverTSDB(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	const n, jump = 120, 100
	db := testDB(t, t0, n, jump)
	var log alertLog
	reg := prometheus.NewRegistry()
	e := newTestEvaluator(t, db, "", &log, reg)
	ctx := context.Background()
	for i := 0; i < n; i++ {
		e.EvalAt(ctx, t0.Add(time.Duration(i)*30*time.Second))
	}

	// anomaly_score samples were written back for both targets.
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: 10 * time.Second})
	q, err := engine.NewInstantQuery(ctx, db, nil, `anomaly_score{alertname="ProbeRTTAnomaly"}`, t0.Add(jump*30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	res := q.Exec(ctx)
	vec, err := res.Vector()
	if err != nil {
		t.Fatal(err)
	}
	scores := map[string]float64{}
	for _, s := range vec {
		scores[s.Metric.Get("instance")] = s.F
		if s.Metric.Get("job") != "icmp" {
			t.Errorf("score series %s lost the input labels", s.Metric)
		}
	}
	th := e.groups[0].rules[0].r.Params.Threshold
	if len(scores) != 2 || !(scores["a"] > th) || !(scores["b"] < th) {
		t.Errorf("scores at the jump = %v, want a above the threshold %v and b below", scores, th)
	}

	// One alert, for "a", firing 2m (for) after the jump, with Prometheus' labels and annotations.
	fired := log.firing()
	if len(fired) == 0 {
		t.Fatal("no firing alert")
	}
	a := fired[0]
	want := labels.FromStrings("alertname", "ProbeRTTAnomaly", "instance", "a", "job", "icmp", "severity", "warning")
	if !labels.Equal(a.Labels, want) {
		t.Errorf("alert labels %s, want %s", a.Labels, want)
	}
	if s := a.Annotations.Get("summary"); !strings.HasPrefix(s, "RTT to a is anomalous (score ") {
		t.Errorf("summary %q not templated", s)
	}
	if wantActive := t0.Add(jump * 30 * time.Second); !a.ActiveAt.Equal(wantActive) || !a.FiredAt.Equal(wantActive.Add(2*time.Minute)) {
		t.Errorf("active %v fired %v, want %v and 2m later", a.ActiveAt, a.FiredAt, wantActive)
	}
	if !a.ValidUntil.After(a.FiredAt) {
		t.Errorf("ValidUntil %v not after FiredAt %v", a.ValidUntil, a.FiredAt)
	}
	for _, f := range fired {
		if f.Labels.Get("instance") != "a" {
			t.Errorf("unexpected alert %s", f.Labels)
		}
	}
	if got := testutil.ToFloat64(e.m.tracked.WithLabelValues("latency")); got != 2 {
		t.Errorf("fleetwatch_anomaly_tracked_series = %v, want 2", got)
	}
	if got := testutil.ToFloat64(e.m.firing.WithLabelValues("latency")); got != 1 {
		t.Errorf("fleetwatch_anomaly_alerts_firing = %v, want 1", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
}

func TestEvaluatorRestartKeepsPendingFor(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	const n, jump = 120, 100
	db := testDB(t, t0, n, jump)
	stateDir := t.TempDir()
	ctx := context.Background()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 30 * time.Second) }

	// First life: evaluate up to one minute into the jump (pending, for 2m).
	var log1 alertLog
	e1 := newTestEvaluator(t, db, stateDir, &log1, nil)
	for i := 0; i <= jump+2; i++ {
		e1.EvalAt(ctx, at(i))
	}
	if len(log1.firing()) != 0 {
		t.Fatal("alert fired before for elapsed")
	}
	if err := e1.SaveState(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(stateDir, "*.anomaly"))
	if len(files) != 1 {
		t.Fatalf("state files %v, want one", files)
	}

	// Second life: a new evaluator loads the state and goes on.
	var log2 alertLog
	e2 := newTestEvaluator(t, db, stateDir, &log2, nil)
	if err := e2.LoadState(); err != nil {
		t.Fatal(err)
	}
	if got := e2.TrackedSeries(); got != 2 {
		t.Fatalf("tracked series after restart = %d, want 2", got)
	}
	for i := jump + 3; i < n; i++ {
		e2.EvalAt(ctx, at(i))
	}
	fired := log2.firing()
	if len(fired) == 0 {
		t.Fatal("no alert after restart: pending state or baseline lost")
	}
	if !fired[0].ActiveAt.Equal(at(jump)) || !fired[0].FiredAt.Equal(at(jump).Add(2*time.Minute)) {
		t.Errorf("after restart active %v fired %v, want %v and 2m later (the pending for survives)", fired[0].ActiveAt, fired[0].FiredAt, at(jump))
	}
}

func TestEvaluatorDamagedStateStartsEmpty(t *testing.T) {
	db := testDB(t, time.Unix(1.7e9, 0), 10, 100)
	stateDir := t.TempDir()
	var log alertLog
	e := newTestEvaluator(t, db, stateDir, &log, nil)
	if err := os.WriteFile(e.statePath(e.groups[0].g), []byte("FWAE\x01garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := e.LoadState()
	if err == nil || !strings.Contains(err.Error(), `group "latency"`) {
		t.Fatalf("LoadState error %v, want one naming the group", err)
	}
	if e.TrackedSeries() != 0 {
		t.Fatal("damaged state half-loaded")
	}
}

func TestEvaluatorDropsVanishedSeries(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	db := testDB(t, t0, 40, 1000)
	var log alertLog
	e := newTestEvaluator(t, db, "", &log, nil)
	e.opts.SeriesTTL = 10 * time.Minute
	ctx := context.Background()
	for i := 0; i < 40; i++ {
		e.EvalAt(ctx, t0.Add(time.Duration(i)*30*time.Second))
	}
	if e.TrackedSeries() != 2 {
		t.Fatalf("tracked %d, want 2", e.TrackedSeries())
	}
	// No samples after step 40: past the 5m lookback the series vanish and
	// past the TTL they are forgotten.
	e.EvalAt(ctx, t0.Add(40*30*time.Second+20*time.Minute))
	if e.TrackedSeries() != 0 {
		t.Fatalf("tracked %d after the series vanished, want 0", e.TrackedSeries())
	}
}

func TestEvaluatorRunSavesOnStop(t *testing.T) {
	db := testDB(t, time.Now().Add(-time.Hour), 120, 1000)
	stateDir := t.TempDir()
	var log alertLog
	e := newTestEvaluator(t, db, stateDir, &log, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for e.TrackedSeries() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(stateDir, "*.anomaly"))
	if len(files) != 1 {
		t.Fatalf("state files after stop: %v", files)
	}
}
