package postmortem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HandlerOptions configure the HTTP handler.
type HandlerOptions struct {
	// Logger receives failed requests (never report contents); nil drops them.
	Logger *slog.Logger
	// Registerer receives the handler's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Report and Fleet are the defaults of every request.
	Report ReportOptions
	Fleet  FleetOptions
	// Timeout bounds building one report (default 30 s).
	Timeout time.Duration
	// Auth, when set, wraps every route: the API's read-token check (it
	// answers 401/403 itself and calls next for an allowed request).
	Auth func(next http.Handler) http.Handler
}

// Handler serves postmortems, timelines and fleet reports:
//
//	GET /api/v1/incidents/{id}/postmortem?format=md|html|json&raw=1
//	GET /api/v1/incidents/{id}/timeline?raw=1            (JSON)
//	GET /api/v1/timeline?from=&to=&selector=&format=&raw=1
//	GET /api/v1/reports/fleet?from=&to=&format=&shift=&shift_start=&tz=&bucket=&top=&flap_threshold=
//
// Errors are JSON in the Prometheus API's shape: {"status":"error",
// "errorType":"not_found"|"bad_data"|"internal","error":"…"}. Every route
// goes through HandlerOptions.Auth, the API's token check.
type Handler struct {
	src      Sources
	o        HandlerOptions
	mux      *http.ServeMux
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewHandler returns the handler over src; its metrics are registered on
// o.Registerer.
func NewHandler(src Sources, o HandlerOptions) (*Handler, error) {
	if src.Store == nil {
		return nil, errors.New("postmortem handler: no store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	h := &Handler{src: src, o: o, mux: http.NewServeMux(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_postmortem_requests_total",
			Help: "Postmortem, timeline and fleet report requests, by handler and HTTP status code.",
		}, []string{"handler", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetwatch_postmortem_build_duration_seconds",
			Help:    "Time to build and render one report, by handler.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30},
		}, []string{"handler"}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{h.requests, h.duration} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("postmortem handler: registering metrics: %w", err)
			}
		}
	}
	h.Register(h.mux)
	return h, nil
}

// Register adds the handler's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	auth := h.o.Auth
	if auth == nil {
		auth = func(next http.Handler) http.Handler { return next }
	}
	mux.Handle("GET /api/v1/incidents/{id}/postmortem", auth(h.wrap("postmortem", h.postmortem)))
	mux.Handle("GET /api/v1/incidents/{id}/timeline", auth(h.wrap("incident_timeline", h.incidentTimeline)))
	mux.Handle("GET /api/v1/timeline", auth(h.wrap("timeline", h.timeline)))
	mux.Handle("GET /api/v1/reports/fleet", auth(h.wrap("fleet", h.fleet)))
}

// ServeHTTP serves the routes Register adds.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// apiError is an error with its HTTP status.
type apiError struct {
	code int
	kind string
	err  error
}

func (e *apiError) Error() string { return e.err.Error() }

func classify(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, ErrNotFound):
		return &apiError{http.StatusNotFound, "not_found", err}
	case errors.Is(err, ErrBadSelection):
		return &apiError{http.StatusBadRequest, "bad_data", err}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusServiceUnavailable, "timeout", err}
	}
	return &apiError{http.StatusInternalServerError, "internal", err}
}

func badData(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, "bad_data", fmt.Errorf(format, args...)}
}

// response is a rendered body.
type response struct {
	contentType string
	body        []byte
}

func (h *Handler) wrap(name string, f func(ctx context.Context, r *http.Request) (response, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
		defer cancel()
		resp, err := f(ctx, r)
		h.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			ae := classify(err)
			if ae.code >= 500 {
				h.o.Logger.Error("report failed", "handler", name, "path", r.URL.Path, "err", err)
			}
			h.requests.WithLabelValues(name, strconv.Itoa(ae.code)).Inc()
			var buf bytes.Buffer
			_ = writeJSON(&buf, map[string]string{"status": "error", "errorType": ae.kind, "error": ae.Error()})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(ae.code)
			_, _ = w.Write(buf.Bytes())
			return
		}
		h.requests.WithLabelValues(name, "200").Inc()
		w.Header().Set("Content-Type", resp.contentType)
		if resp.contentType == ContentType(FormatHTML) {
			// Self-contained: nothing is loaded from anywhere, no script runs.
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
		}
		_, _ = w.Write(resp.body)
	})
}

func (h *Handler) collapseOf(r *http.Request) (Collapse, error) {
	c := h.o.Report.Collapse
	if v := r.URL.Query().Get("raw"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, badData("raw %q: want true or false", v)
		}
		c.Raw = b
	}
	return c, nil
}

func formatOf(r *http.Request, def string) (string, error) {
	v := r.URL.Query().Get("format")
	if v == "" {
		v = def
	}
	f, err := ParseFormat(v)
	if err != nil {
		return "", badData("%v", err)
	}
	return f, nil
}

func render(f string, fn func(*bytes.Buffer) error) (response, error) {
	var buf bytes.Buffer
	if err := fn(&buf); err != nil {
		return response{}, err
	}
	return response{contentType: ContentType(f), body: buf.Bytes()}, nil
}

func (h *Handler) postmortem(ctx context.Context, r *http.Request) (response, error) {
	f, err := formatOf(r, FormatHTML)
	if err != nil {
		return response{}, err
	}
	o := h.o.Report
	if o.Collapse, err = h.collapseOf(r); err != nil {
		return response{}, err
	}
	rep, err := BuildReport(ctx, h.src, r.PathValue("id"), o)
	if err != nil {
		return response{}, err
	}
	return render(f, func(b *bytes.Buffer) error { return Render(b, rep, f) })
}

func (h *Handler) incidentTimeline(ctx context.Context, r *http.Request) (response, error) {
	c, err := h.collapseOf(r)
	if err != nil {
		return response{}, err
	}
	tl, err := BuildTimelineWith(ctx, h.src, Selection{IncidentID: r.PathValue("id")}, c)
	if err != nil {
		return response{}, err
	}
	return render(FormatJSON, func(b *bytes.Buffer) error { return writeJSON(b, tl) })
}

func (h *Handler) timeline(ctx context.Context, r *http.Request) (response, error) {
	f, err := formatOf(r, FormatJSON)
	if err != nil {
		return response{}, err
	}
	c, err := h.collapseOf(r)
	if err != nil {
		return response{}, err
	}
	q := r.URL.Query()
	now := h.src.now()
	var sel Selection
	if sel.From, err = ParseTime(q.Get("from"), now); err != nil {
		return response{}, badData("from: %v", err)
	}
	to := q.Get("to")
	if to == "" {
		to = "now"
	}
	if sel.To, err = ParseTime(to, now); err != nil {
		return response{}, badData("to: %v", err)
	}
	if sel.Matchers, err = ParseSelector(q.Get("selector")); err != nil {
		return response{}, badData("%v", err)
	}
	rep, err := TimelineReport(ctx, h.src, sel, c)
	if err != nil {
		return response{}, err
	}
	if f == FormatJSON {
		return render(f, func(b *bytes.Buffer) error { return writeJSON(b, rep.Timeline) })
	}
	return render(f, func(b *bytes.Buffer) error { return Render(b, rep, f) })
}

func (h *Handler) fleet(ctx context.Context, r *http.Request) (response, error) {
	f, err := formatOf(r, FormatJSON)
	if err != nil {
		return response{}, err
	}
	q := r.URL.Query()
	get := func(k, def string) string {
		if v := q.Get(k); v != "" {
			return v
		}
		return def
	}
	d := h.o.Fleet.withDefaults()
	shift := d.ShiftLength
	if v := q.Get("shift"); v != "" {
		if shift, err = parseDuration(v); err != nil {
			return response{}, badData("shift %q: %v", v, err)
		}
	}
	atoi := func(k string, def int) (int, error) {
		v := q.Get(k)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return 0, badData("%s %q: want a positive integer", k, v)
		}
		return n, nil
	}
	top, err := atoi("top", d.Top)
	if err != nil {
		return response{}, err
	}
	flap, err := atoi("flap_threshold", d.FlapThreshold)
	if err != nil {
		return response{}, err
	}
	ss := d.ShiftStart
	o, from, to, err := fleetArgs(get("from", "-7d"), get("to", "now"), shift,
		get("shift_start", fmt.Sprintf("%02d:%02d", int(ss.Hours())%24, int(ss.Minutes())%60)),
		get("tz", d.Location.String()), get("bucket", fmtDur(d.TrendBucket)), top, flap, h.src.now())
	if err != nil {
		return response{}, badData("%v", err)
	}
	rep, err := FleetReport(ctx, h.src, from, to, o)
	if err != nil {
		return response{}, err
	}
	return render(f, func(b *bytes.Buffer) error { return RenderFleet(b, rep, f) })
}
