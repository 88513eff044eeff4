package fwds

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// t0 anchors the fixture: the dashboard's range is t0-1h .. t0+30m and the
// plugin's clock reads t0+30m.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

const testToken = "grafana-read-token"

func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// fixture is what the fake fleetwatch serves: four incidents in different
// states, sites and racks, each with its timeline.
func fixture() []Detail {
	ev := func(id int64, inc string, m int, kind, actor, summary string) store.TimelineEvent {
		return store.TimelineEvent{ID: id, IncidentID: inc, Time: at(m), Kind: kind, Actor: actor, Summary: summary}
	}
	return []Detail{
		{Incident: store.Incident{ID: "019a0001", Title: "FanFailed on srv-dc1-r01-02", Severity: "critical", State: store.Triggered,
			Receiver: "pagerduty-infra", Labels: map[string]string{"alertname": "FanFailed", "site": "dc1", "rack": "r01"},
			AlertCount: 2, FiringCount: 2, CreatedAt: at(10), UpdatedAt: at(11)},
			Timeline: []store.TimelineEvent{
				ev(10, "019a0001", 10, "incident_opened", "rule:FanFailed", "Fan System Fan 2 stopped on srv-dc1-r01-02"),
				ev(11, "019a0001", 11, "notification_sent", "fleetwatch", "pagerduty-infra: trigger sent"),
			}},
		{Incident: store.Incident{ID: "019a0002", Title: "PSUFailed on srv-dc1-r02-01", Severity: "critical", State: store.Acknowledged,
			Receiver: "pagerduty-infra", Labels: map[string]string{"alertname": "PSUFailed", "site": "dc1", "rack": "r02"},
			AlertCount: 1, FiringCount: 1, CreatedAt: at(5), UpdatedAt: at(12), AcknowledgedAt: at(12)},
			Timeline: []store.TimelineEvent{
				ev(5, "019a0002", 5, "incident_opened", "rule:PSUFailed", "Power Supply Bay 1 Critical"),
				ev(12, "019a0002", 12, "acknowledged", "api:oncall", "acknowledged by oncall"),
				ev(13, "019a0002", 14, "note", "api:oncall", "spare PSU on its way"),
			}},
		{Incident: store.Incident{ID: "019a0003", Title: "SwitchPortDown sw-dc2-r01 Ethernet12", Cause: "switch sw-dc2-r01 port Ethernet12 down",
			Severity: "warning", State: store.Resolved, Receiver: "slack-ops",
			Labels:     map[string]string{"alertname": "SwitchPortDown", "site": "dc2", "rack": "r01"},
			AlertCount: 3, FiringCount: 0, CreatedAt: at(-30), UpdatedAt: at(20), AcknowledgedAt: at(-20), ResolvedAt: at(20)},
			Timeline: []store.TimelineEvent{
				ev(1, "019a0003", -30, "incident_opened", "rule:SwitchPortDown", "Ethernet12 down"),
				ev(2, "019a0003", -20, "acknowledged", "user:alice", "acknowledged by alice"),
				ev(20, "019a0003", 20, "resolved", "fleetwatch", "all alerts resolved"),
			}},
		{Incident: store.Incident{ID: "019a0000", Title: "DiskFillingUp on srv-dc1-r01-01", Severity: "warning", State: store.Resolved,
			Receiver: "slack-ops", Labels: map[string]string{"alertname": "DiskFillingUp", "site": "dc1", "rack": "r01"},
			AlertCount: 1, CreatedAt: at(-180), UpdatedAt: at(-120), ResolvedAt: at(-120)},
			Timeline: []store.TimelineEvent{
				ev(0, "019a0000", -180, "incident_opened", "rule:DiskFillingUp", "/ fills in 3h"),
				ev(3, "019a0000", -120, "resolved", "fleetwatch", "all alerts resolved"),
			}},
	}
}

// fakeFleetwatch serves the incidents API over the fixture as
// alerter/incidentapi does: bearer token, filters, newest first, errors as
// {"error": ...}. It counts requests that carried no valid token.
type fakeFleetwatch struct {
	*httptest.Server
	unauthorized atomic.Int64
	requests     atomic.Int64
}

func newFake(t *testing.T) *fakeFleetwatch {
	t.Helper()
	f := &fakeFleetwatch{}
	details := fixture()
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+testToken {
				f.unauthorized.Add(1)
				fail(w, http.StatusUnauthorized, "missing or unknown token")
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /api/v1/status/buildinfo", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]string{"version": "0.1.0-test"}})
	})
	mux.HandleFunc("GET /api/v1/incidents", authed(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		states := map[store.IncidentState]bool{}
		for _, s := range strings.Split(q.Get("state"), ",") {
			switch s {
			case "":
			case "open":
				states[store.Triggered], states[store.Acknowledged] = true, true
			case "triggered", "acknowledged", "resolved":
				states[store.IncidentState(s)] = true
			default:
				fail(w, http.StatusBadRequest, "state: unknown state "+strconv.Quote(s))
				return
			}
		}
		var since time.Time
		if s := q.Get("since"); s != "" {
			var err error
			if since, err = time.Parse(time.RFC3339, s); err != nil {
				fail(w, http.StatusBadRequest, "since: "+err.Error())
				return
			}
		}
		limit := 100
		if l := q.Get("limit"); l != "" {
			limit, _ = strconv.Atoi(l)
		}
		var out []store.Incident
		for _, d := range details {
			in := d.Incident
			switch {
			case len(states) > 0 && !states[in.State]:
			case q.Get("severity") != "" && in.Severity != q.Get("severity"):
			case q.Get("site") != "" && in.Labels["site"] != q.Get("site"):
			case q.Get("rack") != "" && in.Labels["rack"] != q.Get("rack"):
			case q.Get("receiver") != "" && in.Receiver != q.Get("receiver"):
			case in.CreatedAt.Before(since):
			default:
				out = append(out, in)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
		if len(out) > limit {
			out = out[:limit]
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"incidents": out})
	}))
	mux.HandleFunc("GET /api/v1/incidents/{id}", authed(func(w http.ResponseWriter, r *http.Request) {
		for _, d := range details {
			if d.Incident.ID == r.PathValue("id") {
				_ = json.NewEncoder(w).Encode(d)
				return
			}
		}
		fail(w, http.StatusNotFound, "incident "+strconv.Quote(r.PathValue("id"))+" not found")
	}))
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if r.Method != http.MethodGet {
			fail(w, http.StatusMethodNotAllowed, "the plugin must only read")
			t.Errorf("plugin sent %s %s", r.Method, r.URL.Path)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}
