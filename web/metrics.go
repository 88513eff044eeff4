package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	actions       *prometheus.CounterVec
	loginFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_web_requests_total",
			Help: "UI requests served, by page and HTTP status code.",
		}, []string{"page", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetwatch_web_request_duration_seconds",
			Help:    "Time to render a UI page or perform a UI action, by page.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"page"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_web_actions_total",
			Help: "State changes asked for through the UI (ack, resolve, note, silence, expire, approve, reject), by result (ok or error).",
		}, []string{"action", "result"}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetwatch_web_login_failures_total",
			Help: "Login form submissions with an unknown token.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.actions, m.loginFailures} {
		if err := reg.Register(c); err != nil {
			are := prometheus.AlreadyRegisteredError{}
			if errors.As(err, &are) {
				return nil, errors.New("web: metrics already registered (one UI per registry)")
			}
			return nil, err
		}
	}
	return m, nil
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (u *UI) instrument(page string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		u.metrics.requests.WithLabelValues(page, strconv.Itoa(sw.code)).Inc()
		u.metrics.duration.WithLabelValues(page).Observe(time.Since(start).Seconds())
	})
}

func (u *UI) countAction(action string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	u.metrics.actions.WithLabelValues(action, result).Inc()
}
