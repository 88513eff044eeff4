package promapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Options are what the API serves from. Queryable and Engine are required;
// the rest may be left zero.
type Options struct {
	// Queryable is the storage the API reads: the embedded TSDB (tsdb.DB
	// satisfies it) or any other storage.Queryable.
	Queryable storage.Queryable
	// Engine evaluates PromQL; see NewEngine.
	Engine promql.QueryEngine
	// Targets lists the scrape targets for /api/v1/targets; nil serves none.
	Targets TargetLister
	// Metadata answers /api/v1/metadata; nil serves none.
	Metadata MetadataLister
	// BuildInfo is served at /api/v1/status/buildinfo.
	BuildInfo BuildInfo
	// LookbackDelta is how far back /federate looks for the latest sample of
	// a series; 0 means 5 minutes. Use the engine's value.
	LookbackDelta time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
	// Now is the clock for defaults such as an instant query without time;
	// nil means time.Now.
	Now func() time.Time
}

// TargetLister lists the scrape targets fleetwatch currently scrapes.
type TargetLister interface {
	ActiveTargets() []ActiveTarget
}

// MetadataLister returns metric metadata keyed by metric family name, at
// most limit families when limit >= 0, only metric's when metric != "".
type MetadataLister interface {
	Metadata(metric string, limit int) map[string][]metadata.Metadata
}

// ActiveTarget is one scrape target as /api/v1/targets reports it, with
// Prometheus' JSON keys.
type ActiveTarget struct {
	DiscoveredLabels   labels.Labels `json:"discoveredLabels"`
	Labels             labels.Labels `json:"labels"`
	ScrapePool         string        `json:"scrapePool"`
	ScrapeURL          string        `json:"scrapeUrl"`
	GlobalURL          string        `json:"globalUrl"`
	LastError          string        `json:"lastError"`
	LastScrape         time.Time     `json:"lastScrape"`
	LastScrapeDuration float64       `json:"lastScrapeDuration"` // seconds
	Health             string        `json:"health"`             // "up", "down" or "unknown"
	ScrapeInterval     string        `json:"scrapeInterval"`     // e.g. "15s"
	ScrapeTimeout      string        `json:"scrapeTimeout"`      // e.g. "10s"
}

// BuildInfo is served at /api/v1/status/buildinfo with Prometheus' keys.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// API serves the Prometheus HTTP API. Create it with New and mount it with
// Register. It is safe for concurrent use.
type API struct {
	queryable     storage.Queryable
	engine        promql.QueryEngine
	targets       TargetLister
	metadata      MetadataLister
	buildInfo     BuildInfo
	lookbackDelta time.Duration
	logger        *slog.Logger
	now           func() time.Time
	parser        parser.Parser
	startTime     time.Time

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns an API over o. It registers fleetwatch_api_requests_total and
// fleetwatch_api_request_duration_seconds on o.Registerer when set.
func New(o Options) *API {
	a := &API{
		queryable:     o.Queryable,
		engine:        o.Engine,
		targets:       o.Targets,
		metadata:      o.Metadata,
		buildInfo:     o.BuildInfo,
		lookbackDelta: o.LookbackDelta,
		logger:        o.Logger,
		now:           o.Now,
		parser:        parser.NewParser(parser.Options{}),
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	a.logger = a.logger.With("component", "promapi")
	if a.now == nil {
		a.now = time.Now
	}
	if a.lookbackDelta <= 0 {
		a.lookbackDelta = defaultLookbackDelta
	}
	a.startTime = a.now()
	a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetwatch_api_requests_total",
		Help: "Prometheus-compatible API requests served, by handler and HTTP status code.",
	}, []string{"handler", "code"})
	a.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fleetwatch_api_request_duration_seconds",
		Help:    "Time to serve a Prometheus-compatible API request, by handler.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"handler"})
	if o.Registerer != nil {
		o.Registerer.MustRegister(a.requests, a.duration)
	}
	return a
}

// result is what an endpoint function returns: data or an error, plus
// warnings, and a finalizer to run after the response is written (it
// releases the query's memory).
type result struct {
	data      any
	err       *apiError
	warnings  annotations.Annotations
	finalizer func()
}

type endpoint func(r *http.Request) result

// Register mounts every endpoint on mux, GET and POST (form-encoded) alike
// where Prometheus accepts both.
func (a *API) Register(mux *http.ServeMux) {
	getPost := func(path string, f endpoint) {
		h := a.wrap(path, f)
		mux.Handle("GET "+path, h)
		mux.Handle("POST "+path, h)
	}
	get := func(path string, f endpoint) {
		mux.Handle("GET "+path, a.wrap(path, f))
	}
	getPost("/api/v1/query", a.query)
	getPost("/api/v1/query_range", a.queryRange)
	getPost("/api/v1/query_exemplars", a.queryExemplars)
	getPost("/api/v1/format_query", a.formatQuery)
	getPost("/api/v1/series", a.series)
	getPost("/api/v1/labels", a.labelNames)
	get("/api/v1/label/{name}/values", a.labelValues)
	get("/api/v1/metadata", a.metricMetadata)
	get("/api/v1/targets", a.serveTargets)
	get("/api/v1/status/buildinfo", a.serveBuildInfo)
	get("/api/v1/status/runtimeinfo", a.serveRuntimeInfo)
	get("/api/v1/status/config", a.serveConfig)
	get("/api/v1/status/flags", a.serveFlags)
	get("/api/v1/rules", a.serveRules)
	get("/api/v1/alerts", a.serveAlerts)
	fed := a.instrument("/federate", http.HandlerFunc(a.federate))
	mux.Handle("GET /federate", fed)
}

// wrap turns an endpoint into a handler that writes Prometheus' envelope.
func (a *API) wrap(path string, f endpoint) http.Handler {
	return a.instrument(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			a.respondError(w, r, formError(err))
			return
		}
		res := f(r)
		if res.finalizer != nil {
			defer res.finalizer()
		}
		if res.err != nil {
			a.respondError(w, r, res.err)
			return
		}
		a.respond(w, r, res.data, res.warnings)
	}))
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (a *API) instrument(handler string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		a.duration.WithLabelValues(handler).Observe(time.Since(start).Seconds())
		a.requests.WithLabelValues(handler, strconv.Itoa(rec.code)).Inc()
	})
}

func (a *API) respond(w http.ResponseWriter, r *http.Request, data any, warnings annotations.Annotations) {
	warn, info := warnings.AsStrings(r.FormValue("query"), 10, 10)
	a.write(w, r, http.StatusOK, &response{Status: "success", Data: data, Warnings: warn, Infos: info})
}

func (a *API) respondError(w http.ResponseWriter, r *http.Request, e *apiError) {
	a.write(w, r, e.status(), &response{Status: "error", ErrorType: e.typ, Error: e.err.Error()})
}

func (a *API) write(w http.ResponseWriter, r *http.Request, code int, resp *response) {
	var buf bytes.Buffer
	if err := encodeResponse(&buf, resp); err != nil {
		a.logger.Error("encode response", "path", r.URL.Path, "err", err)
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if _, err := w.Write(buf.Bytes()); err != nil {
		a.logger.Debug("write response", "path", r.URL.Path, "err", err)
	}
}
