package fwds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/prometheus/client_golang/prometheus"
)

// PluginID is the plugin's id in plugin.json.
const PluginID = "fleetwatch-incidents-datasource"

// Query types (the query's queryType).
const (
	QueryIncidents = "incidents"
	QueryTimeline  = "timeline"
	QueryMetrics   = "metrics"
)

// Query is the JSON model of a query, as the query editor writes it.
type Query struct {
	QueryType  string `json:"queryType"`
	State      string `json:"state"`    // triggered, acknowledged, resolved, open; comma-separated
	Severity   string `json:"severity"` // one value, or several comma-separated
	Site       string `json:"site"`
	Rack       string `json:"rack"`
	Receiver   string `json:"receiver"`
	IncidentID string `json:"incidentId"` // timeline of one incident
	Limit      int    `json:"limit"`      // incidents listed or followed; default 100 (timeline: 50)
}

// Options are what the instance factory takes from main (or a test).
type Options struct {
	Logger *slog.Logger
	// Registerer receives the plugin's metrics (registered once, shared by
	// all instances).
	Registerer prometheus.Registerer
	// HTTPClient overrides the client built from the settings' timeout.
	HTTPClient *http.Client
	// Now is the clock (durations of open incidents, metric buckets).
	Now func() time.Time
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewFactory returns the instance factory datasource.Manage runs: one
// Datasource per configured Grafana datasource.
func NewFactory(opts Options) (datasource.InstanceFactoryFunc, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_grafana_plugin_requests_total",
			Help: "Requests the Grafana plugin sent to fleetwatch's API, by endpoint and HTTP status code (error: no answer).",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetwatch_grafana_plugin_request_duration_seconds",
			Help:    "Duration of one request of the Grafana plugin to fleetwatch's API.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}, []string{"endpoint"}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("fleetwatch plugin metrics: %w", err)
			}
		}
	}
	return func(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
		set, err := ParseSettings(s.URL, s.JSONData, s.DecryptedSecureJSONData)
		if err != nil {
			return nil, fmt.Errorf("datasource %q: %w", s.Name, err)
		}
		c := newClient(set, opts.HTTPClient)
		c.metrics = m
		return &Datasource{
			name: s.Name, client: c, now: opts.Now,
			logger: opts.Logger.With("datasource", s.Name, "url", set.URL),
		}, nil
	}, nil
}

// Datasource is one configured fleetwatch datasource.
type Datasource struct {
	name   string
	client *client
	now    func() time.Time
	logger *slog.Logger
}

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Dispose releases idle connections when Grafana replaces the instance.
func (d *Datasource) Dispose() { d.client.hc.CloseIdleConnections() }

// QueryData answers each query on its own: one failing query (a bad
// filter, an unknown incident) does not fail the others.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(ctx, q)
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery) backend.DataResponse {
	var q Query
	if len(dq.JSON) > 0 {
		if err := json.Unmarshal(dq.JSON, &q); err != nil {
			return backend.ErrDataResponse(backend.StatusBadRequest, fmt.Sprintf("query %s: %v", dq.RefID, err))
		}
	}
	if q.QueryType == "" {
		q.QueryType = dq.QueryType
	}
	if q.QueryType == "" {
		q.QueryType = QueryIncidents
	}
	var (
		res backend.DataResponse
		err error
	)
	switch q.QueryType {
	case QueryIncidents:
		res, err = d.queryIncidents(ctx, q)
	case QueryTimeline:
		res, err = d.queryTimeline(ctx, q, dq.TimeRange)
	case QueryMetrics:
		res, err = d.queryMetrics(ctx, q, dq.TimeRange, dq.Interval, dq.MaxDataPoints)
	default:
		return backend.ErrDataResponse(backend.StatusBadRequest,
			fmt.Sprintf("query %s: field queryType: %q is not incidents, timeline or metrics", dq.RefID, q.QueryType))
	}
	if err != nil {
		return errResponse(dq.RefID, err)
	}
	return res
}

// errResponse says whose fault an error is: a bad filter is the user's
// (400, plugin), anything fleetwatch answered or failed to is downstream.
func errResponse(ref string, err error) backend.DataResponse {
	msg := fmt.Sprintf("query %s: %v", ref, err)
	var fe *filterError
	if errors.As(err, &fe) {
		return backend.ErrDataResponse(backend.StatusBadRequest, msg)
	}
	var ae *APIError
	if errors.As(err, &ae) {
		st := backend.StatusBadGateway
		switch ae.Status {
		case http.StatusUnauthorized:
			st = backend.StatusUnauthorized
		case http.StatusForbidden:
			st = backend.StatusForbidden
		case http.StatusNotFound:
			st = backend.StatusNotFound
		case http.StatusBadRequest:
			st = backend.StatusBadRequest
		}
		return backend.ErrDataResponseWithSource(st, backend.ErrorSourceDownstream, msg)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream, msg)
	}
	return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, msg)
}

type filterError struct{ field, msg string }

func (e *filterError) Error() string { return "field " + e.field + ": " + e.msg }

// values splits a filter value as Grafana sends variables (comma-separated
// for several; ".*", "*", "All", "$__all" or "" for all) into its values,
// nil meaning "no filter".
func values(v string) []string {
	v = strings.TrimSpace(v)
	switch v {
	case "", ".*", "*", "All", "$__all":
		return nil
	}
	v = strings.TrimSuffix(strings.TrimPrefix(v, "{"), "}")
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var validStates = map[string]bool{"triggered": true, "acknowledged": true, "resolved": true, "open": true}

// filter turns the query's filters into an API filter (single values) and
// a local check (several values of one label).
func (q Query) filter(defLimit int) (Filter, func(labels map[string]string, severity string) bool, error) {
	f := Filter{Limit: q.Limit}
	if f.Limit == 0 {
		f.Limit = defLimit
	}
	if f.Limit < 0 || f.Limit > 10000 {
		return f, nil, &filterError{"limit", strconv.Itoa(q.Limit) + " is outside 1..10000"}
	}
	for _, s := range values(q.State) {
		if !validStates[s] {
			return f, nil, &filterError{"state", fmt.Sprintf("%q is not triggered, acknowledged, resolved or open", s)}
		}
		f.States = append(f.States, s)
	}
	f.Receiver = strings.TrimSpace(q.Receiver)
	multi := map[string][]string{}
	for _, x := range []struct {
		name string
		val  string
		dst  *string
	}{{"severity", q.Severity, &f.Severity}, {"site", q.Site, &f.Site}, {"rack", q.Rack, &f.Rack}} {
		vs := values(x.val)
		switch len(vs) {
		case 0:
		case 1:
			*x.dst = vs[0]
		default:
			multi[x.name] = vs
		}
	}
	keep := func(labels map[string]string, severity string) bool {
		for name, vs := range multi {
			got := labels[name]
			if name == "severity" {
				got = severity
			}
			found := false
			for _, v := range vs {
				found = found || v == got
			}
			if !found {
				return false
			}
		}
		return true
	}
	return f, keep, nil
}
