package amapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	promlabels "github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

const cfgFast = `
route:
  receiver: pd
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
receivers: [{name: pd}]
`

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMalformedAlerts(t *testing.T) {
	f := start(t, cfgFast)
	cases := []struct{ name, body, field string }{
		{"not JSON", `[{"labels": {"a": "b"}`, "body: invalid JSON"},
		{"not an array", `{"labels": {"a": "b"}}`, "body: want a JSON array"},
		{"labels missing", `[{"labels": {"alertname": "ok"}}, {"annotations": {"x": "y"}}]`, "alerts[1].labels: is required"},
		{"labels wrong type", `[{"labels": ["a"]}]`, "alerts[0].labels: want"},
		{"bad label name", `[{"labels": {"alert-name": "x"}}]`, `alerts[0].labels: "alert-name" is not a valid label name`},
		{"bad startsAt", `[{"labels": {"a": "b"}, "startsAt": "yesterday"}]`, `alerts[0].startsAt: "yesterday" is not an RFC 3339 time`},
		{"endsAt before startsAt", `[{"labels": {"a": "b"}, "startsAt": "2026-01-02T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"}]`, "alerts[0].endsAt"},
		{"annotation value wrong type", `[{"labels": {"a": "b"}, "annotations": {"v": 3}}]`, "alerts[0].annotations: want string"},
		{"invalid UTF-8", "[{\"labels\": {\"a\": \"\xff\"}}]", "body: not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(t, f.srv.URL+"/api/v2/alerts", c.body)
			if code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", code, body)
			}
			var e struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Message, c.field) {
				t.Fatalf("answer %s does not name %q", body, c.field)
			}
			got, err := f.store.ListAlerts(context.Background(), store.AlertFilter{})
			if err != nil || len(got) != 0 {
				t.Fatalf("a rejected batch stored %d alerts (%v)", len(got), err)
			}
		})
	}
}

func TestAlertsAndSilencesRoundTrip(t *testing.T) {
	f := start(t, cfgFast)
	now := time.Now().UTC()
	body := fmt.Sprintf(`[{"labels": {"alertname": "HostDown", "instance": "h1", "severity": "critical"}, "annotations": {"summary": "h1 down"}, "startsAt": %q, "generatorURL": "http://prom/graph"},
	  {"labels": {"alertname": "HostDown", "instance": "h2"}, "startsAt": %q}]`, now.Format(time.RFC3339), now.Format(time.RFC3339))
	if code, b := post(t, f.srv.URL+"/api/v2/alerts", body); code != 200 {
		t.Fatalf("post: %d %s", code, b)
	}
	var alerts []GettableAlert
	getJSON(t, f.srv.URL+"/api/v2/alerts?filter=instance%3D%22h1%22", &alerts)
	if len(alerts) != 1 || alerts[0].Labels["instance"] != "h1" || alerts[0].Status.State != "active" || alerts[0].Receivers[0].Name != "pd" {
		t.Fatalf("GET alerts: %+v", alerts)
	}
	// Silence h2 as Grafana does.
	sil := fmt.Sprintf(`{"matchers": [{"name": "instance", "value": "h2", "isRegex": false, "isEqual": true}], "startsAt": %q, "endsAt": %q, "createdBy": "grafana", "comment": "planned"}`,
		now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	code, b := post(t, f.srv.URL+"/api/v2/silences", sil)
	if code != 200 {
		t.Fatalf("post silence: %d %s", code, b)
	}
	var id struct {
		SilenceID string `json:"silenceID"`
	}
	_ = json.Unmarshal([]byte(b), &id)
	getJSON(t, f.srv.URL+"/api/v2/alerts?silenced=false", &alerts)
	if len(alerts) != 1 || alerts[0].Labels["instance"] != "h1" {
		t.Fatalf("silenced=false: %+v", alerts)
	}
	getJSON(t, f.srv.URL+"/api/v2/alerts?filter=instance%3D%22h2%22", &alerts)
	if len(alerts) != 1 || alerts[0].Status.State != "suppressed" || len(alerts[0].Status.SilencedBy) != 1 || alerts[0].Status.SilencedBy[0] != id.SilenceID {
		t.Fatalf("silenced alert: %+v", alerts)
	}
	var groups []AlertGroup
	getJSON(t, f.srv.URL+"/api/v2/alerts/groups", &groups)
	if len(groups) != 1 || groups[0].Labels["alertname"] != "HostDown" || len(groups[0].Alerts) != 2 {
		t.Fatalf("groups: %+v", groups)
	}
	var s GettableSilence
	getJSON(t, f.srv.URL+"/api/v2/silence/"+id.SilenceID, &s)
	if s.Status.State != "active" || s.Comment != "planned" {
		t.Fatalf("silence: %+v", s)
	}
	req, _ := http.NewRequest(http.MethodDelete, f.srv.URL+"/api/v2/silence/"+id.SilenceID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	resp.Body.Close()
	getJSON(t, f.srv.URL+"/api/v2/silence/"+id.SilenceID, &s)
	if s.Status.State != "expired" {
		t.Fatalf("after delete: %+v", s)
	}
	var sils []GettableSilence
	getJSON(t, f.srv.URL+"/api/v2/silences?filter=instance%3D%22h2%22", &sils)
	if len(sils) != 1 {
		t.Fatalf("silences filter: %+v", sils)
	}
	var recv []Receiver
	getJSON(t, f.srv.URL+"/api/v2/receivers", &recv)
	if len(recv) != 1 || recv[0].Name != "pd" {
		t.Fatalf("receivers: %+v", recv)
	}
	var status map[string]any
	getJSON(t, f.srv.URL+"/api/v2/status", &status)
	if _, ok := status["versionInfo"]; !ok {
		t.Fatalf("status: %v", status)
	}
}

func TestBadSilence(t *testing.T) {
	f := start(t, cfgFast)
	cases := []struct{ name, body, want string }{
		{"no matchers", `{"matchers": [], "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-01-02T00:00:00Z", "createdBy": "a", "comment": "c"}`, "matchers"},
		{"bad regexp", `{"matchers": [{"name": "a", "value": "(", "isRegex": true}], "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-01-02T00:00:00Z", "createdBy": "a", "comment": "c"}`, "matchers[0]"},
		{"ends before start", `{"matchers": [{"name": "a", "value": "b"}], "startsAt": "2030-01-02T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z", "createdBy": "a", "comment": "c"}`, "endsAt"},
		{"no comment", `{"matchers": [{"name": "a", "value": "b"}], "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-01-02T00:00:00Z", "createdBy": "a"}`, "comment"},
		{"matches every alert", `{"matchers": [{"name": "a", "value": ".*", "isRegex": true}], "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-01-02T00:00:00Z", "createdBy": "a", "comment": "c"}`, "must not match the empty string"},
		{"invalid UTF-8", "{\"matchers\": [{\"name\": \"a\", \"value\": \"b\"}], \"startsAt\": \"2030-01-01T00:00:00Z\", \"endsAt\": \"2030-01-02T00:00:00Z\", \"createdBy\": \"a\", \"comment\": \"\xff\"}", "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, b := post(t, f.srv.URL+"/api/v2/silences", c.body)
			if code != 400 || !strings.Contains(b, c.want) {
				t.Fatalf("%d %s, want 400 naming %s", code, b, c.want)
			}
		})
	}
}

func TestEventIntake(t *testing.T) {
	f := start(t, cfgFast)
	code, b := post(t, f.srv.URL+"/api/v1/events", `{"kind": "deploy", "summary": "rolled out v2", "labels": {"service": "api"}}`)
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	code, b = post(t, f.srv.URL+"/api/v1/events", `[{"kind": "deploy", "labels": {}}]`)
	if code != 400 || !strings.Contains(b, "events[0].labels") {
		t.Fatalf("%d %s", code, b)
	}
	evs, err := f.store.ListEvents(context.Background(), store.EventFilter{Kinds: []string{store.EventExternal}})
	if err != nil || len(evs) != 1 || evs[0].Summary != "rolled out v2" || evs[0].Actor != "event:api" {
		t.Fatalf("timeline: %+v %v", evs, err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func FuzzDecodeAlerts(f *testing.F) {
	f.Add([]byte(`[{"labels": {"alertname": "X"}, "startsAt": "2026-01-01T00:00:00Z"}]`))
	f.Add([]byte(`[{"labels": {}}]`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, err := DecodeAlerts(body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "alerts[") && !strings.HasPrefix(err.Error(), "body") {
				t.Fatalf("error names no field: %v", err)
			}
			return
		}
		for _, a := range alerts {
			if len(a.Labels) == 0 && a.Labels != nil {
				continue
			}
		}
	})
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add([]byte(`{"kind": "linkDown", "labels": {"switch": "sw1"}}`))
	f.Add([]byte(`[{"kind": "x", "labels": {"a": "b"}, "severity": "critical"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := DecodeEvents(body)
		if err != nil {
			return
		}
		for _, e := range evs {
			if e.Kind == "" || len(e.Labels) == 0 {
				t.Fatalf("accepted an event without kind or labels: %+v", e)
			}
		}
	})
}

// TestResentAlerts: an alert re-sent with the same bytes (as Prometheus
// does every evaluation) is taken from the engine's memory rather than
// decoded again; what the engine holds must be exactly what a fresh
// decode gives, whatever changes between sends.
func TestResentAlerts(t *testing.T) {
	f := start(t, cfgFast)
	now := time.Now().UTC().Truncate(time.Second)
	send := func(labels, annotations string, ends time.Time) (int, string) {
		ann := ""
		if annotations != "" {
			ann = `, "annotations": ` + annotations
		}
		return post(t, f.srv.URL+"/api/v2/alerts", fmt.Sprintf(`[{"labels": %s%s, "startsAt": %q, "endsAt": %q, "generatorURL": "http://prom/g"}]`,
			labels, ann, now.Format(time.RFC3339), ends.Format(time.RFC3339)))
	}
	alert := func() GettableAlert {
		t.Helper()
		var as []GettableAlert
		getJSON(t, f.srv.URL+"/api/v2/alerts", &as)
		if len(as) != 1 {
			t.Fatalf("want one alert, got %+v", as)
		}
		return as[0]
	}
	const labels = `{"alertname": "HostDown", "instance": "h1", "empty": ""}`
	steps := []struct {
		name, labels, annotations string
		ends                      time.Duration
		wantSummary               string
	}{
		{"first", labels, `{"summary": "one"}`, time.Hour, "one"},
		{"same bytes, later end", labels, `{"summary": "one"}`, 2 * time.Hour, "one"},
		{"annotations changed", labels, `{"summary": "two"}`, 3 * time.Hour, "two"},
		{"annotations dropped", labels, ``, 4 * time.Hour, ""},
		{"labels written in another order", `{"instance": "h1", "alertname": "HostDown"}`, `{"summary": "three"}`, 5 * time.Hour, "three"},
		{"first spelling again", labels, `{"summary": "three"}`, 6 * time.Hour, "three"},
	}
	var fp string
	for _, s := range steps {
		if code, b := send(s.labels, s.annotations, now.Add(s.ends)); code != 200 {
			t.Fatalf("%s: %d %s", s.name, code, b)
		}
		a := alert()
		if fp == "" {
			fp = a.Fingerprint
		}
		if a.Fingerprint != fp || len(a.Labels) != 2 || a.Labels["instance"] != "h1" {
			t.Fatalf("%s: alert %+v, want fingerprint %s and labels alertname, instance", s.name, a, fp)
		}
		if a.Annotations["summary"] != s.wantSummary || (s.wantSummary == "" && len(a.Annotations) != 0) {
			t.Fatalf("%s: annotations %v, want summary %q", s.name, a.Annotations, s.wantSummary)
		}
		if !a.EndsAt.Equal(now.Add(s.ends)) {
			t.Fatalf("%s: endsAt %s, want %s", s.name, a.EndsAt, now.Add(s.ends))
		}
	}
	// The same alert from fleetwatch's own rules with other annotations,
	// then the sender's bytes again: the sender's annotations, not the
	// rules' under the sender's key.
	f.engine.Notify(context.Background(), "up == 0", &rules.Alert{
		Labels:      promlabels.FromStrings("alertname", "HostDown", "instance", "h1"),
		Annotations: promlabels.FromStrings("summary", "from rules"),
		FiredAt:     now, ValidUntil: now.Add(7 * time.Hour),
	})
	if a := alert(); a.Annotations["summary"] != "from rules" {
		t.Fatalf("after the rules' send: %v", a.Annotations)
	}
	if code, b := send(labels, `{"summary": "three"}`, now.Add(8*time.Hour)); code != 200 {
		t.Fatalf("after the rules' send: %d %s", code, b)
	}
	if a := alert(); a.Annotations["summary"] != "three" {
		t.Fatalf("the sender's bytes again: annotations %v, want summary three", a.Annotations)
	}
	// A new generatorURL on a known alert is taken.
	if code, b := post(t, f.srv.URL+"/api/v2/alerts", fmt.Sprintf(`[{"labels": %s, "annotations": {"summary": "three"}, "startsAt": %q, "endsAt": %q, "generatorURL": "http://prom/other"}]`,
		labels, now.Format(time.RFC3339), now.Add(6*time.Hour).Format(time.RFC3339))); code != 200 {
		t.Fatalf("new generatorURL: %d %s", code, b)
	}
	if a := alert(); a.GeneratorURL != "http://prom/other" {
		t.Fatalf("generatorURL %q after a change, want http://prom/other", a.GeneratorURL)
	}
	// A known alert is still checked: a bad time or annotation name is
	// refused with its field named, and nothing changes.
	for _, c := range []struct{ body, field string }{
		{fmt.Sprintf(`[{"labels": %s, "annotations": {"summary": "three"}, "endsAt": "tomorrow"}]`, labels), `alerts[0].endsAt: \"tomorrow\"`},
		{fmt.Sprintf(`[{"labels": %s, "annotations": {"bad-name": "x"}}]`, labels), `alerts[0].annotations: \"bad-name\"`},
	} {
		code, b := post(t, f.srv.URL+"/api/v2/alerts", c.body)
		if code != http.StatusBadRequest || !strings.Contains(b, c.field) {
			t.Fatalf("%s: %d %s, want 400 naming %s", c.body, code, b, c.field)
		}
	}
	if a := alert(); a.Annotations["summary"] != "three" || !a.EndsAt.Equal(now.Add(6*time.Hour)) {
		t.Fatalf("a refused batch changed the alert: %+v", a)
	}
}
