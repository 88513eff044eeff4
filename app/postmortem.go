package app

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/prometheus/promql"

	"github.com/fleetwatch/fleetwatch/postmortem"
	"github.com/fleetwatch/fleetwatch/rules"
)

// ruleLookup finds the alerting rule behind an alert in the running rule
// files, for the postmortem's time to detect; reloads replace it.
type ruleLookup struct {
	current atomic.Pointer[postmortem.RuleLookup]
}

func (l *ruleLookup) set(ruleFiles []string) error {
	files, err := rules.ExpandRuleFiles(ruleFiles)
	if err != nil {
		return err
	}
	lookup, err := postmortem.RulesFromFiles(files)
	if err != nil {
		return err
	}
	l.current.Store(&lookup)
	return nil
}

func (l *ruleLookup) lookup(alertLabels map[string]string) (postmortem.Rule, bool) {
	if f := l.current.Load(); f != nil {
		return (*f)(alertLabels)
	}
	return postmortem.Rule{}, false
}

// postmortemHandler serves reports over the alert store and the TSDB.
func (s *Server) postmortemHandler(engine *promql.Engine) (*postmortem.Handler, error) {
	return postmortem.NewHandler(postmortem.Sources{
		Store: s.alerting.store, Queryable: s.store, Engine: engine, Rules: s.rulesLookup.lookup,
		Logger: s.logger.With("component", "postmortem"),
	}, postmortem.HandlerOptions{
		Logger: s.logger.With("component", "postmortem"), Registerer: s.reg, Auth: s.readAuth,
	})
}

// readAuth lets a request through when it carries a token with read scope
// (or when alerting.tokens_file is not set).
func (s *Server) readAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.requireToken(w, r, false) {
			next.ServeHTTP(w, r)
		}
	})
}
