package fwds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
)

// CheckHealth is Grafana's "Save & test": fleetwatch answers, and the
// token may read incidents.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	version, err := d.client.buildInfo(ctx)
	if err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError,
			Message: fmt.Sprintf("fleetwatch at %s does not answer: %v", d.client.base, err)}, nil
	}
	incs, err := d.client.incidents(ctx, Filter{Limit: 1, States: []string{"open"}})
	var ae *APIError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		msg := "fleetwatch refused the token (HTTP 401): set a token of alerting.tokens_file"
		if d.client.token == "" {
			msg = "fleetwatch wants a token (HTTP 401): set one of alerting.tokens_file in the datasource's Token field"
		}
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}, nil
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return &backend.CheckHealthResult{Status: backend.HealthStatusError,
			Message: fmt.Sprintf("fleetwatch %s at %s serves no incidents API (HTTP 404 on /api/v1/incidents)", version, d.client.base)}, nil
	case err != nil:
		return &backend.CheckHealthResult{Status: backend.HealthStatusError,
			Message: fmt.Sprintf("fleetwatch %s: incidents API: %v", version, err)}, nil
	}
	open := "no open incident"
	if len(incs) > 0 {
		open = "open incidents present"
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk,
		Message: fmt.Sprintf("fleetwatch %s at %s: incidents API readable, %s", version, d.client.base, open)}, nil
}

// CallResource serves the query editor: GET incidents (the filters of a
// query as URL parameters) and GET incidents/{id}. Nothing else; nothing is
// changed.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return httpadapter.New(d.resourceMux()).CallResource(ctx, req, sender)
}

func (d *Datasource) resourceMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /incidents", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Query()
		q := Query{State: p.Get("state"), Severity: p.Get("severity"), Site: p.Get("site"), Rack: p.Get("rack"), Receiver: p.Get("receiver")}
		if l := p.Get("limit"); l != "" {
			if _, err := fmt.Sscan(l, &q.Limit); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "parameter limit: " + err.Error()})
				return
			}
		}
		incs, err := d.list(r.Context(), q, 100, time.Time{})
		if err != nil {
			writeError(w, err)
			return
		}
		out := make([]map[string]string, len(incs))
		for i, in := range incs {
			out[i] = map[string]string{"id": in.ID, "title": in.Title, "state": string(in.State), "severity": in.Severity,
				"label": in.ID + " " + in.Title}
		}
		writeJSON(w, http.StatusOK, map[string]any{"incidents": out})
	})
	mux.HandleFunc("GET /incidents/{id}", func(w http.ResponseWriter, r *http.Request) {
		det, err := d.client.incident(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, det)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no resource %s %s (GET incidents, GET incidents/{id})", r.Method, strings.TrimPrefix(r.URL.Path, "/"))})
	})
	return mux
}

func writeError(w http.ResponseWriter, err error) {
	var fe *filterError
	var ae *APIError
	switch {
	case errors.As(err, &fe):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case errors.As(err, &ae) && ae.Status/100 == 4:
		writeJSON(w, ae.Status, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
	}
}
