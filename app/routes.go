package app

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/fleetwatch/fleetwatch/alerter"
	"github.com/fleetwatch/fleetwatch/alerter/amapi"
	"github.com/fleetwatch/fleetwatch/alerter/incidentapi"

	fwcollectors "github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/pipeline/promapi"
	"github.com/fleetwatch/fleetwatch/web"
)

func (s *Server) routes(api *promapi.API, engine *promql.Engine) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "fleetwatch is healthy.")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-s.ready:
			fmt.Fprintln(w, "fleetwatch is ready.")
		default:
			http.Error(w, "fleetwatch is starting.", http.StatusServiceUnavailable)
		}
	})
	// For load balancers: 200 on the instance that groups and pages, 503 on
	// a standby (several instances on one PostgreSQL store).
	mux.HandleFunc("GET /-/active", func(w http.ResponseWriter, _ *http.Request) {
		if s.alerting.engine.Active() {
			fmt.Fprintln(w, "fleetwatch is the active alerting instance.")
			return
		}
		owner, _ := s.alerting.engine.ActiveInstance()
		http.Error(w, "fleetwatch is a standby; the active instance is "+owner, http.StatusServiceUnavailable)
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if !s.requireToken(w, r, true) {
			return
		}
		if err := s.Reload(); err != nil {
			http.Error(w, "reload failed, the running configuration stays: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "configuration reloaded.")
	})
	api.Register(mux)
	amapi.New(amapi.Options{Engine: s.alerting.engine, Logger: s.logger.With("component", "amapi"), Authorize: s.authorize}).Register(mux)
	incidentapi.New(incidentapi.Options{Engine: s.alerting.engine, Reader: s.alerting.store, Tokens: s.alerting.tokens, Logger: s.logger.With("component", "incidentapi")}).Register(mux)
	var auth web.Authenticator
	if s.alerting.tokens != nil {
		auth = web.CheckerAuth(s.alerting.tokens.Check, incidentapi.ErrForbidden)
	}
	ui, err := web.New(web.Options{
		Store: s.alerting.store,
		Actions: web.AlerterActions(s.alerting.engine, web.AlerterOptions{
			NotFound: alerter.ErrNoIncident, BadState: alerter.ErrBadState, Reject: s.alerting.remediate.Reject,
		}),
		Inventory:  s.topology.inventory,
		Querier:    web.EngineQuerier(engine, s.store),
		Targets:    web.TargetListerFunc(s.webTargets),
		Auth:       auth,
		Logger:     s.logger.With("component", "web"),
		Registerer: s.reg,
	})
	if err != nil {
		return nil, err
	}
	ui.Register(mux)
	pm, err := s.postmortemHandler(engine)
	if err != nil {
		return nil, err
	}
	pm.Register(mux)
	// Go's profiler, as Prometheus serves it, for memory and CPU questions.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// The rule engine answers /api/v1/rules and /api/v1/alerts itself; the
	// query API's own fallbacks for them stay behind it.
	rulesMux := http.NewServeMux()
	s.rules.RegisterAPI(rulesMux)
	top := http.NewServeMux()
	top.Handle("/api/v1/rules", rulesMux)
	top.Handle("/api/v1/alerts", rulesMux)
	top.Handle("/", mux)
	return top, nil
}

// webTargets lists the scheduler's targets for the UI.
func (s *Server) webTargets() []web.TargetStatus {
	sts := s.sched.Targets()
	out := make([]web.TargetStatus, 0, len(sts))
	for _, st := range sts {
		out = append(out, web.TargetStatus{
			Job: st.Job, Address: st.Address, Labels: st.Labels.Map(), Health: st.Health, LastError: st.LastError,
			LastCollection: st.LastCollection, LastDuration: st.LastDuration, Interval: st.Interval,
		})
	}
	return out
}

// targetLister adapts the scheduler to /api/v1/targets.
type targetLister struct{ s *fwcollectors.Scheduler }

func (t targetLister) ActiveTargets() []promapi.ActiveTarget {
	sts := t.s.Targets()
	out := make([]promapi.ActiveTarget, 0, len(sts))
	for _, st := range sts {
		out = append(out, promapi.ActiveTarget{
			DiscoveredLabels:   labels.FromStrings("__address__", st.Address, "job", st.Job),
			Labels:             st.Labels,
			ScrapePool:         st.Job,
			ScrapeURL:          st.Address,
			GlobalURL:          st.Address,
			LastError:          st.LastError,
			LastScrape:         st.LastCollection,
			LastScrapeDuration: st.LastDuration.Seconds(),
			Health:             st.Health,
			ScrapeInterval:     st.Interval.String(),
			ScrapeTimeout:      st.Timeout.String(),
		})
	}
	return out
}

// requireToken answers 401 or 403 and returns false when the request's
// token (if alerting.tokens_file is set) may not read, or with write
// change, fleetwatch's state.
func (s *Server) requireToken(w http.ResponseWriter, r *http.Request, write bool) bool {
	if _, err := s.authorize(r, write); err != nil {
		code := http.StatusUnauthorized
		if errors.Is(err, amapi.ErrForbidden) {
			code = http.StatusForbidden
		}
		http.Error(w, err.Error(), code)
		return false
	}
	return true
}

// authorize checks the API token of a request to the Alertmanager API when
// alerting.tokens_file is set; without it every request may read and write.
func (s *Server) authorize(r *http.Request, write bool) (string, error) {
	if s.alerting.tokens == nil {
		return "anonymous", nil
	}
	name, err := s.alerting.tokens.Check(r, write)
	switch {
	case err == nil:
		return name, nil
	case errors.Is(err, incidentapi.ErrForbidden):
		return name, fmt.Errorf("%w: %v", amapi.ErrForbidden, err)
	default:
		return "", fmt.Errorf("%w: %v", amapi.ErrUnauthorized, err)
	}
}
