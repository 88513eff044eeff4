package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promrules "github.com/prometheus/prometheus/rules"
)

// The JSON below mirrors Prometheus' web/api/v1 (RuleDiscovery,
// AlertDiscovery) so that Grafana and other Prometheus API clients read it
// unchanged. web/api/v1 itself is not imported: it drags in the whole server.

type apiAlert struct {
	Labels          labels.Labels `json:"labels"`
	Annotations     labels.Labels `json:"annotations"`
	State           string        `json:"state"`
	ActiveAt        *time.Time    `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time    `json:"keepFiringSince,omitempty"`
	Value           string        `json:"value"`
}

type apiRuleGroup struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	Rules          []any     `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

type apiAlertingRule struct {
	State          string               `json:"state"`
	Name           string               `json:"name"`
	Query          string               `json:"query"`
	Duration       float64              `json:"duration"`
	KeepFiringFor  float64              `json:"keepFiringFor"`
	Labels         labels.Labels        `json:"labels"`
	Annotations    labels.Labels        `json:"annotations"`
	Alerts         []*apiAlert          `json:"alerts"`
	Health         promrules.RuleHealth `json:"health"`
	LastError      string               `json:"lastError,omitempty"`
	EvaluationTime float64              `json:"evaluationTime"`
	LastEvaluation time.Time            `json:"lastEvaluation"`
	Type           string               `json:"type"`
}

type apiRecordingRule struct {
	Name           string               `json:"name"`
	Query          string               `json:"query"`
	Labels         labels.Labels        `json:"labels"`
	Health         promrules.RuleHealth `json:"health"`
	LastError      string               `json:"lastError,omitempty"`
	EvaluationTime float64              `json:"evaluationTime"`
	LastEvaluation time.Time            `json:"lastEvaluation"`
	Type           string               `json:"type"`
}

type apiResponse struct {
	Status    string `json:"status"`
	Data      any    `json:"data,omitempty"`
	ErrorType string `json:"errorType,omitempty"`
	Error     string `json:"error,omitempty"`
}

func toAPIAlerts(in []*promrules.Alert) []*apiAlert {
	out := make([]*apiAlert, len(in))
	for i, a := range in {
		out[i] = &apiAlert{
			Labels:      a.Labels,
			Annotations: a.Annotations,
			State:       a.State.String(),
			ActiveAt:    &a.ActiveAt,
			Value:       strconv.FormatFloat(a.Value, 'e', -1, 64),
		}
		if !a.KeepFiringSince.IsZero() {
			out[i].KeepFiringSince = &a.KeepFiringSince
		}
	}
	return out
}

// RegisterAPI serves GET /api/v1/rules and GET /api/v1/alerts on mux with
// Prometheus' JSON. /api/v1/rules honours type=alert|record, rule_name[],
// rule_group[], file[] and exclude_alerts like Prometheus.
func (e *Engine) RegisterAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/rules", e.serveRules)
	mux.HandleFunc("GET /api/v1/alerts", e.serveAlerts)
}

func writeAPI(w http.ResponseWriter, code int, r apiResponse) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(r)
}

func badData(w http.ResponseWriter, err error) {
	writeAPI(w, http.StatusBadRequest, apiResponse{Status: "error", ErrorType: "bad_data", Error: err.Error()})
}

func (e *Engine) serveAlerts(w http.ResponseWriter, _ *http.Request) {
	alerts := []*apiAlert{}
	for _, r := range e.manager.AlertingRules() {
		alerts = append(alerts, toAPIAlerts(r.ActiveAlerts())...)
	}
	writeAPI(w, http.StatusOK, apiResponse{Status: "success", Data: map[string]any{"alerts": alerts}})
}

func (e *Engine) serveRules(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		badData(w, fmt.Errorf("error parsing form values: %w", err))
		return
	}
	set := func(vs []string) map[string]bool {
		m := map[string]bool{}
		for _, v := range vs {
			m[v] = true
		}
		return m
	}
	names, groups, files := set(r.Form["rule_name[]"]), set(r.Form["rule_group[]"]), set(r.Form["file[]"])
	typ := strings.ToLower(r.URL.Query().Get("type"))
	if typ != "" && typ != "alert" && typ != "record" {
		badData(w, fmt.Errorf("invalid parameter \"type\": not supported value %q", typ))
		return
	}
	excludeAlerts := false
	if v := r.URL.Query().Get("exclude_alerts"); v != "" {
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			badData(w, errors.New("invalid parameter \"exclude_alerts\": error converting exclude_alerts: "+err.Error()))
			return
		}
		excludeAlerts = b
	}

	out := []*apiRuleGroup{}
	for _, g := range e.manager.RuleGroups() {
		if len(groups) > 0 && !groups[g.Name()] || len(files) > 0 && !files[g.File()] {
			continue
		}
		ag := &apiRuleGroup{
			Name: g.Name(), File: g.File(), Rules: []any{},
			Interval: g.Interval().Seconds(), Limit: g.Limit(),
			EvaluationTime: g.GetEvaluationTime().Seconds(), LastEvaluation: g.GetLastEvaluation(),
		}
		for _, rr := range g.Rules() {
			if len(names) > 0 && !names[rr.Name()] {
				continue
			}
			lastError := ""
			if err := rr.LastError(); err != nil {
				lastError = err.Error()
			}
			switch rule := rr.(type) {
			case *promrules.AlertingRule:
				if typ == "record" {
					continue
				}
				var alerts []*apiAlert
				if !excludeAlerts {
					alerts = toAPIAlerts(rule.ActiveAlerts())
				}
				ag.Rules = append(ag.Rules, apiAlertingRule{
					State: rule.State().String(), Name: rule.Name(), Query: rule.Query().String(),
					Duration: rule.HoldDuration().Seconds(), KeepFiringFor: rule.KeepFiringFor().Seconds(),
					Labels: rule.Labels(), Annotations: rule.Annotations(), Alerts: alerts,
					Health: rule.Health(), LastError: lastError,
					EvaluationTime: rule.GetEvaluationDuration().Seconds(), LastEvaluation: rule.GetEvaluationTimestamp(),
					Type: "alerting",
				})
			case *promrules.RecordingRule:
				if typ == "alert" {
					continue
				}
				ag.Rules = append(ag.Rules, apiRecordingRule{
					Name: rule.Name(), Query: rule.Query().String(), Labels: rule.Labels(),
					Health: rule.Health(), LastError: lastError,
					EvaluationTime: rule.GetEvaluationDuration().Seconds(), LastEvaluation: rule.GetEvaluationTimestamp(),
					Type: "recording",
				})
			}
		}
		if len(ag.Rules) > 0 {
			out = append(out, ag)
		}
	}
	writeAPI(w, http.StatusOK, apiResponse{Status: "success", Data: map[string]any{"groups": out}})
}
