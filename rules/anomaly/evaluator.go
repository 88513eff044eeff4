package anomaly

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/template"
)

// ScoreMetric is the name of the series the Evaluator writes: one per rule
// and input series, labelled alertname plus the input series' labels.
const ScoreMetric = "anomaly_score"

// resolvedRetention is how long a resolved alert is still sent (as
// Prometheus does).
const resolvedRetention = 15 * time.Minute

// Options configure an Evaluator. Query and Notify are required.
type Options struct {
	Groups []Group
	// Query runs an instant PromQL query (rules.EngineQueryFunc or a remote
	// endpoint).
	Query rules.QueryFunc
	// Appendable receives the anomaly_score samples; nil writes none. An
	// Appendable that also implements storage.AppendableV2 is written
	// through AppenderV2.
	Appendable storage.Appendable
	// Notify receives firing and resolved alerts.
	Notify rules.NotifyFunc
	// StateDir keeps one state file per group; "" keeps state in memory only.
	StateDir   string
	Logger     *slog.Logger
	Registerer prometheus.Registerer

	// DefaultInterval applies to groups without an interval (default 1m).
	DefaultInterval time.Duration
	// SaveInterval is how often state is written while running (default 5m).
	SaveInterval time.Duration
	// SeriesTTL drops a series' detector after it has been absent this long
	// (default 1h).
	SeriesTTL time.Duration
	// ResendDelay is the minimum time between sends of a firing alert
	// (default 1m, as Prometheus).
	ResendDelay time.Duration
	// ExternalURL is given to templates as $externalURL.
	ExternalURL *url.URL
}

// Evaluator runs anomaly rule groups. Create it with New, then call Run.
type Evaluator struct {
	opts   Options
	log    *slog.Logger
	groups []*groupState
	m      *metrics
}

type groupState struct {
	g        *Group
	interval time.Duration
	mu       sync.Mutex
	rules    []*ruleState
}

type ruleState struct {
	r      *Rule
	series map[uint64][]*series
	count  int
}

// series is one tracked input series of a rule.
type series struct {
	lset      labels.Labels // as the query returned it
	det       *Detector
	alert     alertState
	lastSeen  int64 // ms
	lastScore float64
	lastSent  int64 // ms
}

// New checks the options and builds an Evaluator. It starts nothing and
// reads no state: Run does.
func New(o Options) (*Evaluator, error) {
	if o.Query == nil {
		return nil, errors.New("anomaly: Options.Query is required")
	}
	if o.Notify == nil {
		return nil, errors.New("anomaly: Options.Notify is required")
	}
	if err := Validate(o.Groups); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DefaultInterval <= 0 {
		o.DefaultInterval = time.Minute
	}
	if o.SaveInterval <= 0 {
		o.SaveInterval = 5 * time.Minute
	}
	if o.SeriesTTL <= 0 {
		o.SeriesTTL = time.Hour
	}
	if o.ResendDelay <= 0 {
		o.ResendDelay = time.Minute
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	e := &Evaluator{opts: o, log: o.Logger.With("component", "anomaly"), m: m}
	for i := range o.Groups {
		g := &o.Groups[i]
		gs := &groupState{g: g, interval: g.Interval}
		if gs.interval <= 0 {
			gs.interval = o.DefaultInterval
		}
		for j := range g.Rules {
			gs.rules = append(gs.rules, &ruleState{r: &g.Rules[j], series: map[uint64][]*series{}})
		}
		e.groups = append(e.groups, gs)
	}
	return e, nil
}

// Run loads saved state, evaluates every group at its interval until ctx is
// done, saving state every SaveInterval and once more on the way out.
func (e *Evaluator) Run(ctx context.Context) error {
	if err := e.LoadState(); err != nil {
		e.log.Warn("anomaly state not loaded; baselines start empty", "err", err)
	}
	var wg sync.WaitGroup
	for _, gs := range e.groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.runGroup(ctx, gs)
		}()
	}
	t := time.NewTicker(e.opts.SaveInterval)
	defer t.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
			if err := e.SaveState(); err != nil {
				e.log.Error("saving anomaly state", "err", err)
			}
		}
	}
	wg.Wait()
	return e.SaveState()
}

func (e *Evaluator) runGroup(ctx context.Context, gs *groupState) {
	t := time.NewTicker(gs.interval)
	defer t.Stop()
	for {
		e.evalGroup(ctx, gs, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// EvalAt evaluates every group once at ts (tests, backfills).
func (e *Evaluator) EvalAt(ctx context.Context, ts time.Time) {
	for _, gs := range e.groups {
		e.evalGroup(ctx, gs, ts)
	}
}

// TrackedSeries is the number of series with a detector.
func (e *Evaluator) TrackedSeries() int {
	n := 0
	for _, gs := range e.groups {
		gs.mu.Lock()
		for _, rs := range gs.rules {
			n += rs.count
		}
		gs.mu.Unlock()
	}
	return n
}

func (e *Evaluator) evalGroup(ctx context.Context, gs *groupState, ts time.Time) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	start := time.Now()
	ms := ts.UnixMilli()
	app := newScoreAppender(ctx, e.opts.Appendable)
	firing := 0
	for _, rs := range gs.rules {
		vec, err := e.opts.Query(ctx, rs.r.Expr, ts)
		if err != nil {
			e.m.failures.WithLabelValues(gs.g.Name).Inc()
			e.log.Warn("anomaly rule query failed", "group", gs.g.Name, "anomaly", rs.r.Name, "err", err)
			continue
		}
		var out []*rules.Alert
		touched := make(map[*series]struct{}, len(vec))
		for _, smpl := range vec {
			if smpl.H != nil {
				continue // native histograms have no single value to score
			}
			s := rs.get(smpl.Metric)
			touched[s] = struct{}{}
			score, ready := s.det.Observe(ms, smpl.F)
			s.lastSeen = ms
			s.lastScore = score
			if ready {
				if err := app.add(rs.r.Name, smpl.Metric, ms, score); err != nil {
					e.log.Warn("writing anomaly_score", "group", gs.g.Name, "anomaly", rs.r.Name, "series", smpl.Metric.String(), "err", err)
				}
			}
			s.alert.step(ms, ready && score > rs.r.Params.Threshold, &rs.r.Params)
		}
		for _, list := range rs.series {
			for _, s := range list {
				if _, ok := touched[s]; !ok {
					s.vanish(ms)
				}
				if s.alert.State == stateFiring {
					firing++
				}
				if a := e.alertToSend(ctx, gs, rs, s, ts); a != nil {
					out = append(out, a)
				}
			}
		}
		rs.dropStale(ms, e.opts.SeriesTTL)
		if len(out) > 0 {
			e.opts.Notify(ctx, rs.r.Expr, out...)
		}
	}
	if err := app.commit(); err != nil {
		e.log.Warn("committing anomaly_score samples", "group", gs.g.Name, "err", err)
	}
	n := 0
	for _, rs := range gs.rules {
		n += rs.count
	}
	e.m.tracked.WithLabelValues(gs.g.Name).Set(float64(n))
	e.m.firing.WithLabelValues(gs.g.Name).Set(float64(firing))
	e.m.duration.WithLabelValues(gs.g.Name).Observe(time.Since(start).Seconds())
}

// get returns the series for lset, creating its detector.
func (rs *ruleState) get(lset labels.Labels) *series {
	h := lset.Hash()
	for _, s := range rs.series[h] {
		if labels.Equal(s.lset, lset) {
			return s
		}
	}
	s := &series{lset: lset.Copy(), det: NewDetector(&rs.r.Params)}
	rs.series[h] = append(rs.series[h], s)
	rs.count++
	return s
}

// vanish handles a series missing from this evaluation: its alert ends.
func (s *series) vanish(ms int64) {
	switch s.alert.State {
	case statePending:
		s.alert = alertState{}
	case stateFiring:
		s.alert.State = stateInactive
		s.alert.ResolvedAt = ms
		s.alert.KeepSince = 0
	}
}

// dropStale forgets series absent for longer than ttl whose alerts are done.
func (rs *ruleState) dropStale(ms int64, ttl time.Duration) {
	for h, list := range rs.series {
		kept := list[:0]
		for _, s := range list {
			gone := time.Duration(ms-s.lastSeen)*time.Millisecond > ttl
			recent := s.alert.ResolvedAt > 0 && time.Duration(ms-s.alert.ResolvedAt)*time.Millisecond <= resolvedRetention
			if gone && s.alert.State == stateInactive && !recent {
				rs.count--
				continue
			}
			kept = append(kept, s)
		}
		if len(kept) == 0 {
			delete(rs.series, h)
		} else {
			rs.series[h] = kept
		}
	}
}

// alertToSend returns the alert to notify for s at ts, or nil, following
// Prometheus: firing alerts are resent every ResendDelay, resolved ones are
// sent when they resolve and for resolvedRetention after.
func (e *Evaluator) alertToSend(ctx context.Context, gs *groupState, rs *ruleState, s *series, ts time.Time) *rules.Alert {
	ms := ts.UnixMilli()
	a := &s.alert
	var state rules.AlertState
	switch {
	case a.State == stateFiring:
		state = rules.StateFiring
	case a.State == stateInactive && a.FiredAt > 0 && a.ResolvedAt > 0 &&
		time.Duration(ms-a.ResolvedAt)*time.Millisecond <= resolvedRetention:
		state = rules.StateInactive
	default:
		return nil
	}
	due := s.lastSent == 0 || time.Duration(ms-s.lastSent)*time.Millisecond >= e.opts.ResendDelay
	if state == rules.StateInactive && a.ResolvedAt > s.lastSent {
		due = true
	}
	if !due {
		return nil
	}
	s.lastSent = ms
	lbls, ann := e.expand(ctx, rs.r, s.lset, s.lastScore, ts)
	out := &rules.Alert{
		State:       state,
		Labels:      lbls,
		Annotations: ann,
		Value:       s.lastScore,
		ActiveAt:    time.UnixMilli(a.ActiveAt),
		FiredAt:     time.UnixMilli(a.FiredAt),
		LastSentAt:  ts,
		ValidUntil:  ts.Add(4 * max(gs.interval, e.opts.ResendDelay)),
	}
	if state == rules.StateInactive {
		out.ResolvedAt = time.UnixMilli(a.ResolvedAt)
	}
	if a.KeepSince > 0 {
		out.KeepFiringSince = time.UnixMilli(a.KeepSince)
	}
	return out
}

// expand builds an alert's labels (alertname, the series' labels without
// __name__, the rule's templated labels) and templated annotations, with
// $labels and $value as in Prometheus.
func (e *Evaluator) expand(ctx context.Context, r *Rule, lset labels.Labels, value float64, ts time.Time) (labels.Labels, labels.Labels) {
	data := template.AlertTemplateData(lset.Map(), nil, urlString(e.opts.ExternalURL), promql.Sample{Metric: lset, F: value})
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	expandText := func(text string) string {
		if !strings.Contains(text, "{{") {
			return text
		}
		tmpl := template.NewTemplateExpander(ctx, defs+text, "__alert_"+r.Name, data,
			model.Time(ts.UnixMilli()), template.QueryFunc(e.opts.Query), e.opts.ExternalURL, nil)
		res, err := tmpl.Expand()
		if err != nil {
			e.log.Warn("expanding anomaly alert template", "anomaly", r.Name, "err", err)
			return fmt.Sprintf("<error expanding template: %s>", err)
		}
		return res
	}
	b := labels.NewBuilder(lset)
	b.Del(labels.MetricName)
	r.Labels.Range(func(l labels.Label) { b.Set(l.Name, expandText(l.Value)) })
	b.Set(labels.AlertName, r.Name)
	ab := labels.NewScratchBuilder(r.Annotations.Len())
	r.Annotations.Range(func(l labels.Label) { ab.Add(l.Name, expandText(l.Value)) })
	return b.Labels(), ab.Labels()
}

func urlString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

// scoreAppender writes anomaly_score samples through V2 when it can.
type scoreAppender struct {
	v1  storage.Appender
	v2  storage.AppenderV2
	lb  *labels.Builder
	any bool
}

func newScoreAppender(ctx context.Context, a storage.Appendable) *scoreAppender {
	sa := &scoreAppender{lb: labels.NewBuilder(labels.EmptyLabels())}
	switch {
	case a == nil:
	default:
		if v2, ok := a.(storage.AppendableV2); ok {
			sa.v2 = v2.AppenderV2(ctx)
		} else {
			sa.v1 = a.Appender(ctx)
		}
	}
	return sa
}

func (sa *scoreAppender) add(name string, lset labels.Labels, ms int64, v float64) error {
	if sa.v1 == nil && sa.v2 == nil {
		return nil
	}
	sa.lb.Reset(lset)
	sa.lb.Set(labels.MetricName, ScoreMetric)
	sa.lb.Set(labels.AlertName, name)
	l := sa.lb.Labels()
	sa.any = true
	var err error
	if sa.v2 != nil {
		_, err = sa.v2.Append(0, l, 0, ms, v, nil, nil, storage.AOptions{})
	} else {
		_, err = sa.v1.Append(0, l, ms, v)
	}
	return err
}

func (sa *scoreAppender) commit() error {
	switch {
	case sa.v2 != nil:
		return sa.v2.Commit()
	case sa.v1 != nil:
		return sa.v1.Commit()
	}
	return nil
}
