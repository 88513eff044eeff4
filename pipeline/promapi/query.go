package promapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// queryOpts reads lookback_delta and the X-Prometheus-Use-Start-Timestamps
// header, as Prometheus does.
func (a *API) queryOpts(r *http.Request) (promql.QueryOpts, *apiError) {
	var lookback time.Duration
	if s := r.FormValue("lookback_delta"); s != "" {
		d, err := ParseDuration(s)
		if err != nil {
			return nil, badData(fmt.Errorf("error parsing lookback delta duration: %w", err))
		}
		lookback = d
	}
	var useST *bool
	if v := r.Header.Get("X-Prometheus-Use-Start-Timestamps"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, badData(fmt.Errorf("error parsing X-Prometheus-Use-Start-Timestamps header: %w", err))
		}
		useST = &b
	}
	return promql.NewPrometheusQueryOpts(false, lookback, useST), nil
}

// queryTimeout reads the optional per-request "timeout"; the engine's own
// timeout still applies when it is shorter.
func queryTimeout(r *http.Request) (time.Duration, *apiError) {
	v := r.FormValue("timeout")
	if v == "" {
		return 0, nil
	}
	d, err := ParseDuration(v)
	if err != nil {
		return 0, invalidParam(err, "timeout")
	}
	if d <= 0 {
		return 0, invalidParam(fmt.Errorf("timeout must be positive, got %s", d), "timeout")
	}
	return d, nil
}

func (a *API) query(r *http.Request) (res result) {
	limit, err := limitParam(r.FormValue("limit"))
	if err != nil {
		return result{err: invalidParam(err, "limit")}
	}
	ts, err := timeParam(r, "time", a.now())
	if err != nil {
		return result{err: invalidParam(err, "time")}
	}
	ctx := r.Context()
	timeout, aerr := queryTimeout(r)
	if aerr != nil {
		return result{err: aerr}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	opts, aerr := a.queryOpts(r)
	if aerr != nil {
		return result{err: aerr}
	}
	if aerr := checkQuery(r.FormValue("query")); aerr != nil {
		return result{err: aerr}
	}
	qry, err := a.engine.NewInstantQuery(ctx, a.queryable, opts, r.FormValue("query"), ts)
	if err != nil {
		return result{err: constructionError(err)}
	}
	return a.exec(ctx, qry, limit)
}

func (a *API) queryRange(r *http.Request) result {
	limit, err := limitParam(r.FormValue("limit"))
	if err != nil {
		return result{err: invalidParam(err, "limit")}
	}
	start, err := ParseTime(r.FormValue("start"))
	if err != nil {
		return result{err: invalidParam(err, "start")}
	}
	end, err := ParseTime(r.FormValue("end"))
	if err != nil {
		return result{err: invalidParam(err, "end")}
	}
	if end.Before(start) {
		return result{err: invalidParam(errors.New("end timestamp must not be before start time"), "end")}
	}
	step, err := ParseDuration(r.FormValue("step"))
	if err != nil {
		return result{err: invalidParam(err, "step")}
	}
	if step <= 0 {
		return result{err: invalidParam(errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"), "step")}
	}
	if end.Sub(start)/step > maxPointsPerSeries {
		return result{err: badData(errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))}
	}
	ctx := r.Context()
	timeout, aerr := queryTimeout(r)
	if aerr != nil {
		return result{err: aerr}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	opts, aerr := a.queryOpts(r)
	if aerr != nil {
		return result{err: aerr}
	}
	if aerr := checkQuery(r.FormValue("query")); aerr != nil {
		return result{err: aerr}
	}
	qry, err := a.engine.NewRangeQuery(ctx, a.queryable, opts, r.FormValue("query"), start, end, step)
	if err != nil {
		return result{err: constructionError(err)}
	}
	return a.exec(ctx, qry, limit)
}

// exec runs qry and hands its result to the caller with qry.Close as the
// finalizer, so the result's memory stays valid while it is encoded.
func (a *API) exec(ctx context.Context, qry promql.Query, limit int) result {
	res := qry.Exec(ctx)
	if res.Err != nil {
		qry.Close()
		return result{err: queryError(res.Err), warnings: res.Warnings}
	}
	warnings := res.Warnings
	if limit > 0 && truncate(res, limit) {
		warnings = warnings.Add(errors.New("results truncated due to limit"))
	}
	return result{
		data:      &queryData{ResultType: res.Value.Type(), Result: res.Value},
		warnings:  warnings,
		finalizer: qry.Close,
	}
}

// truncate keeps the first limit series of a vector or matrix result.
func truncate(res *promql.Result, limit int) bool {
	switch v := res.Value.(type) {
	case promql.Matrix:
		if len(v) > limit {
			res.Value = v[:limit]
			return true
		}
	case promql.Vector:
		if len(v) > limit {
			res.Value = v[:limit]
			return true
		}
	}
	return false
}

// queryExemplars validates its parameters like Prometheus and answers an
// empty list: fleetwatch stores no exemplars yet. Grafana probes this
// endpoint to decide whether to offer exemplars.
func (a *API) queryExemplars(r *http.Request) result {
	start, err := timeParam(r, "start", minTime())
	if err != nil {
		return result{err: invalidParam(err, "start")}
	}
	end, err := timeParam(r, "end", maxTime())
	if err != nil {
		return result{err: invalidParam(err, "end")}
	}
	if end.Before(start) {
		return result{err: badData(errors.New("end timestamp must not be before start timestamp"))}
	}
	if aerr := checkQuery(r.FormValue("query")); aerr != nil {
		return result{err: aerr}
	}
	if _, err := a.parser.ParseExpr(r.FormValue("query")); err != nil {
		return result{err: badData(err)}
	}
	return result{data: []struct{}{}}
}

// formatQuery pretty-prints a PromQL expression.
func (a *API) formatQuery(r *http.Request) result {
	if aerr := checkQuery(r.FormValue("query")); aerr != nil {
		return result{err: aerr}
	}
	expr, err := a.parser.ParseExpr(r.FormValue("query"))
	if err != nil {
		return result{err: invalidParam(err, "query")}
	}
	return result{data: parser.Prettify(expr)}
}
