package app

import (
	"fmt"
	"html/template"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/fleetwatch/fleetwatch/alerter/amapi"
	"github.com/fleetwatch/fleetwatch/alerter/incidentapi"

	fwcollectors "github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/internal/buildinfo"
	"github.com/fleetwatch/fleetwatch/pipeline/promapi"
)

func (s *Server) routes(api *promapi.API) http.Handler {
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
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.Reload(); err != nil {
			http.Error(w, "reload failed, the running configuration stays: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "configuration reloaded.")
	})
	api.Register(mux)
	amapi.New(amapi.Options{Engine: s.alerting.engine, Logger: s.logger.With("component", "amapi"), Authorize: s.authorize}).Register(mux)
	incidentapi.New(incidentapi.Options{Engine: s.alerting.engine, Reader: s.alerting.store, Tokens: s.alerting.tokens, Logger: s.logger.With("component", "incidentapi")}).Register(mux)
	mux.HandleFunc("GET /{$}", s.statusPage)
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
	return top
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

var statusTemplate = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fleetwatch</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}
.up{color:#1a7f37}.down{color:#cf222e}.unknown{color:#888}code{background:#f4f4f4;padding:1px 4px}
</style></head><body>
<h1>fleetwatch</h1>
<p>Version {{.Version}} · config <code>{{.Config}}</code> · data <code>{{.Data}}</code></p>
<p>Query with PromQL at <a href="/api/v1/query?query=up">/api/v1/query</a> (Grafana: add a Prometheus data source with this URL),
own health at <a href="/metrics">/metrics</a>, rules at <a href="/api/v1/rules">/api/v1/rules</a>.</p>
<h2>Targets</h2>
<table><tr><th>Job</th><th>Target</th><th>Labels</th><th>State</th><th>Last collection</th><th>Took</th><th>Error</th></tr>
{{range .Targets}}<tr><td>{{.Job}}</td><td>{{.Address}}</td><td><code>{{.Labels}}</code></td><td class="{{.Health}}">{{.Health}}</td>
<td>{{if not .LastCollection.IsZero}}{{.LastCollection.Format "15:04:05"}}{{end}}</td><td>{{.LastDuration}}</td><td>{{.LastError}}</td></tr>
{{end}}</table>
</body></html>
`))

func (s *Server) statusPage(w http.ResponseWriter, _ *http.Request) {
	s.reloadMu.Lock()
	cfgFile, data := s.cfg.File, s.cfg.Storage.Path
	s.reloadMu.Unlock()
	if cfgFile == "" {
		cfgFile = "(built-in defaults)"
	}
	targets := s.sched.Targets()
	for i := range targets {
		targets[i].LastDuration = targets[i].LastDuration.Round(time.Microsecond)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = statusTemplate.Execute(w, map[string]any{
		"Version": buildinfo.Get().Version, "Config": cfgFile, "Data": data, "Targets": targets,
	})
}

// authorize checks the API token of a request to the Alertmanager API when
// alerting.tokens_file is set; without it every request may read and write.
func (s *Server) authorize(r *http.Request, write bool) (string, error) {
	if s.alerting.tokens == nil {
		return "anonymous", nil
	}
	return s.alerting.tokens.Check(r, write)
}
