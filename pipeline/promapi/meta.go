package promapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// hintLimit asks the storage for one more item than the limit, so that a
// truncation can be reported as a warning.
func hintLimit(limit int) int {
	if limit > 0 && limit < math.MaxInt {
		return limit + 1
	}
	return limit
}

// rangeParams reads the optional start, end and limit of the metadata
// endpoints.
func rangeParams(r *http.Request) (start, end time.Time, limit int, err *apiError) {
	limit, e := limitParam(r.FormValue("limit"))
	if e != nil {
		return start, end, 0, invalidParam(e, "limit")
	}
	start, e = timeParam(r, "start", minTime())
	if e != nil {
		return start, end, 0, invalidParam(e, "start")
	}
	end, e = timeParam(r, "end", maxTime())
	if e != nil {
		return start, end, 0, invalidParam(e, "end")
	}
	return start, end, limit, nil
}

func (a *API) series(r *http.Request) (res result) {
	if len(r.Form["match[]"]) == 0 {
		return result{err: badData(errors.New("no match[] parameter provided"))}
	}
	start, end, limit, aerr := rangeParams(r)
	if aerr != nil {
		return result{err: aerr}
	}
	sets, err := ParseMatchers(a.parser, r.Form["match[]"])
	if err != nil {
		return result{err: invalidParam(err, "match[]")}
	}
	q, err := a.queryable.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return result{err: queryError(err)}
	}
	// The series' labels may point into the querier's memory: it is closed
	// after the response is written.
	closer := func() { _ = q.Close() }
	defer func() {
		if res.finalizer == nil {
			closer()
		}
	}()

	ctx := r.Context()
	hints := &storage.SelectHints{
		Start: timestamp.FromTime(start),
		End:   timestamp.FromTime(end),
		Func:  "series", // no samples needed
		Limit: hintLimit(limit),
	}
	var set storage.SeriesSet
	if len(sets) > 1 {
		var all []storage.SeriesSet
		for _, ms := range sets {
			all = append(all, q.Select(ctx, true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(all, 0, storage.ChainedSeriesMerge)
	} else {
		set = q.Select(ctx, false, hints, sets[0]...)
	}
	metrics := []labels.Labels{}
	warnings := set.Warnings()
	for i := 1; set.Next(); i++ {
		if i%128 == 0 {
			if err := ctx.Err(); err != nil {
				return result{err: queryError(err), warnings: warnings, finalizer: closer}
			}
		}
		metrics = append(metrics, set.At().Labels())
		if limit > 0 && len(metrics) > limit {
			metrics = metrics[:limit]
			warnings.Add(errors.New("results truncated due to limit"))
			break
		}
	}
	if err := set.Err(); err != nil {
		return result{err: queryError(err), warnings: warnings, finalizer: closer}
	}
	return result{data: metrics, warnings: warnings, finalizer: closer}
}

func (a *API) labelNames(r *http.Request) result {
	start, end, limit, aerr := rangeParams(r)
	if aerr != nil {
		return result{err: aerr}
	}
	sets, err := ParseMatchers(a.parser, r.Form["match[]"])
	if err != nil {
		return result{err: badData(err)}
	}
	q, err := a.queryable.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return result{err: queryError(err)}
	}
	defer q.Close()
	hints := &storage.LabelHints{Limit: hintLimit(limit)}

	var (
		names    []string
		warnings annotations.Annotations
	)
	if len(sets) > 1 {
		seen := map[string]struct{}{}
		for _, ms := range sets {
			vals, w, err := q.LabelNames(r.Context(), hints, ms...)
			if err != nil {
				return result{err: queryError(err), warnings: warnings}
			}
			warnings.Merge(w)
			for _, v := range vals {
				seen[v] = struct{}{}
			}
		}
		names = make([]string, 0, len(seen))
		for n := range seen {
			names = append(names, n)
		}
		slices.Sort(names)
	} else {
		var ms []*labels.Matcher
		if len(sets) == 1 {
			ms = sets[0]
		}
		names, warnings, err = q.LabelNames(r.Context(), hints, ms...)
		if err != nil {
			return result{err: &apiError{typ: errorExec, err: err}, warnings: warnings}
		}
	}
	if names == nil {
		names = []string{}
	}
	if limit > 0 && len(names) > limit {
		names = names[:limit]
		warnings = warnings.Add(errors.New("results truncated due to limit"))
	}
	return result{data: names, warnings: warnings}
}

func (a *API) labelValues(r *http.Request) result {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		return result{err: badData(fmt.Errorf("invalid label name: %q", name))}
	}
	start, end, limit, aerr := rangeParams(r)
	if aerr != nil {
		return result{err: aerr}
	}
	sets, err := ParseMatchers(a.parser, r.Form["match[]"])
	if err != nil {
		return result{err: badData(err)}
	}
	q, err := a.queryable.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return result{err: &apiError{typ: errorExec, err: err}}
	}
	defer q.Close()
	hints := &storage.LabelHints{Limit: hintLimit(limit)}

	var (
		vals     []string
		warnings annotations.Annotations
	)
	if len(sets) > 1 {
		seen := map[string]struct{}{}
		for _, ms := range sets {
			vs, w, err := q.LabelValues(r.Context(), name, hints, ms...)
			if err != nil {
				return result{err: &apiError{typ: errorExec, err: err}, warnings: warnings}
			}
			warnings.Merge(w)
			for _, v := range vs {
				seen[v] = struct{}{}
			}
		}
		vals = make([]string, 0, len(seen))
		for v := range seen {
			vals = append(vals, v)
		}
	} else {
		var ms []*labels.Matcher
		if len(sets) == 1 {
			ms = sets[0]
		}
		vals, warnings, err = q.LabelValues(r.Context(), name, hints, ms...)
		if err != nil {
			return result{err: &apiError{typ: errorExec, err: err}, warnings: warnings}
		}
		if vals == nil {
			vals = []string{}
		}
	}
	// The values are copied: the querier that owns their memory is closed
	// before the response is written.
	vals = slices.Clone(vals)
	slices.Sort(vals)
	if limit > 0 && len(vals) > limit {
		vals = vals[:limit]
		warnings = warnings.Add(errors.New("results truncated due to limit"))
	}
	return result{data: vals, warnings: warnings}
}

func (a *API) metricMetadata(r *http.Request) result {
	limit := -1
	if s := r.FormValue("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return result{err: badData(errors.New("limit must be a number"))}
		}
		limit = n
	}
	limitPerMetric := -1
	if s := r.FormValue("limit_per_metric"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return result{err: badData(errors.New("limit_per_metric must be a number"))}
		}
		limitPerMetric = n
	}
	out := map[string][]metadata.Metadata{}
	if a.metadata == nil {
		return result{data: out}
	}
	for name, mds := range a.metadata.Metadata(r.FormValue("metric"), limit) {
		if limit >= 0 && len(out) >= limit {
			break
		}
		if limitPerMetric > 0 && len(mds) > limitPerMetric {
			mds = mds[:limitPerMetric]
		}
		if mds == nil {
			mds = []metadata.Metadata{}
		}
		out[name] = mds
	}
	return result{data: out}
}

// targetDiscovery is the data of /api/v1/targets.
type targetDiscovery struct {
	ActiveTargets       []ActiveTarget  `json:"activeTargets"`
	DroppedTargets      []droppedTarget `json:"droppedTargets"`
	DroppedTargetCounts map[string]int  `json:"droppedTargetCounts"`
}

type droppedTarget struct {
	DiscoveredLabels labels.Labels `json:"discoveredLabels"`
	ScrapePool       string        `json:"scrapePool"`
}

func (a *API) serveTargets(r *http.Request) result {
	pool := r.FormValue("scrapePool")
	state := strings.ToLower(r.FormValue("state"))
	showActive := state == "" || state == "any" || state == "active"
	res := &targetDiscovery{
		ActiveTargets:       []ActiveTarget{},
		DroppedTargets:      []droppedTarget{},
		DroppedTargetCounts: map[string]int{},
	}
	if showActive && a.targets != nil {
		for _, t := range a.targets.ActiveTargets() {
			if pool != "" && t.ScrapePool != pool {
				continue
			}
			if t.Health == "" {
				t.Health = "unknown"
			}
			res.ActiveTargets = append(res.ActiveTargets, t)
		}
		slices.SortStableFunc(res.ActiveTargets, func(x, y ActiveTarget) int {
			return strings.Compare(x.ScrapePool, y.ScrapePool)
		})
	}
	return result{data: res}
}

func (a *API) serveBuildInfo(*http.Request) result { return result{data: a.buildInfo} }

// runtimeInfo has the keys of Prometheus' /api/v1/status/runtimeinfo that
// apply to fleetwatch.
type runtimeInfo struct {
	StartTime           time.Time `json:"startTime"`
	CWD                 string    `json:"CWD"`
	Hostname            string    `json:"hostname"`
	ServerTime          time.Time `json:"serverTime"`
	ReloadConfigSuccess bool      `json:"reloadConfigSuccess"`
	LastConfigTime      time.Time `json:"lastConfigTime"`
	CorruptionCount     int64     `json:"corruptionCount"`
	GoroutineCount      int       `json:"goroutineCount"`
	GOMAXPROCS          int       `json:"GOMAXPROCS"`
	GOGC                string    `json:"GOGC"`
	GODEBUG             string    `json:"GODEBUG"`
	StorageRetention    string    `json:"storageRetention"`
}

func (a *API) serveRuntimeInfo(*http.Request) result {
	cwd, _ := os.Getwd()
	host, _ := os.Hostname()
	return result{data: runtimeInfo{
		StartTime:           a.startTime,
		CWD:                 cwd,
		Hostname:            host,
		ServerTime:          a.now(),
		ReloadConfigSuccess: true,
		LastConfigTime:      a.startTime,
		GoroutineCount:      runtime.NumGoroutine(),
		GOMAXPROCS:          runtime.GOMAXPROCS(0),
		GOGC:                os.Getenv("GOGC"),
		GODEBUG:             os.Getenv("GODEBUG"),
	}}
}

// serveConfig answers Prometheus' config endpoint with an empty
// configuration: fleetwatch's own configuration is not a Prometheus one.
func (a *API) serveConfig(*http.Request) result {
	return result{data: map[string]string{"yaml": ""}}
}

func (a *API) serveFlags(*http.Request) result { return result{data: map[string]string{}} }

// serveRules and serveAlerts answer the rules and alerts endpoints Grafana
// reads on start-up (recording-rule expansion) with empty lists; fleetwatch's
// rules are served by the rules component.
func (a *API) serveRules(*http.Request) result {
	return result{data: map[string][]struct{}{"groups": {}}}
}

func (a *API) serveAlerts(*http.Request) result {
	return result{data: map[string][]struct{}{"alerts": {}}}
}
