package hostile

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// marker is in every hostile body, so a stored remnant shows up in the GET
// APIs whatever field it landed in.
const marker = "zzevil"

// bodyCase is one hostile request and the status it must get.
type bodyCase struct {
	name, path string
	// form: the body is application/x-www-form-urlencoded, else JSON.
	form bool
	body string
	// want is the exact status; 0 accepts any 4xx.
	want int
}

// malformedCases are, for every POST endpoint that reads a body, bodies
// that must be refused: not JSON, the wrong shape, deep nesting, numbers
// JSON has no room for, wrong types, invalid UTF-8, trailing garbage,
// huge strings, and a valid item next to an invalid one.
func malformedCases(incidentID string) []bodyCase {
	const deep = 100000
	big := strings.Repeat("x", 4<<20)
	inc := "/api/v1/incidents/" + incidentID
	var cs []bodyCase
	add := func(path string, form bool, want int, pairs ...string) {
		for i := 0; i < len(pairs); i += 2 {
			cs = append(cs, bodyCase{name: path + " " + pairs[i], path: path, form: form, body: pairs[i+1], want: want})
		}
	}
	// Alertmanager API v2: POST /api/v2/alerts.
	add("/api/v2/alerts", false, http.StatusBadRequest,
		"empty body", ``,
		"not JSON", marker,
		"object instead of array", `{"labels":{"alertname":"`+marker+`"}}`,
		"deep nesting", nested("[", "]", "", deep),
		"deep nesting in labels", `[{"labels":{"alertname":`+nested("[", "]", `"`+marker+`"`, deep)+`}}]`,
		"NaN", `[{"labels":{"alertname":NaN,"m":"`+marker+`"}}]`,
		"Infinity", `[{"labels":{"alertname":Infinity,"m":"`+marker+`"}}]`,
		"number out of range", `[{"labels":{"alertname":1e999,"m":"`+marker+`"}}]`,
		"labels as array", `[{"labels":["alertname","`+marker+`"]}]`,
		"label value as number", `[{"labels":{"alertname":"`+marker+`","n":1}}]`,
		"startsAt as number", `[{"labels":{"alertname":"`+marker+`"},"startsAt":12}]`,
		"startsAt not a time", `[{"labels":{"alertname":"`+marker+`"},"startsAt":"yesterday"}]`,
		"endsAt before startsAt", `[{"labels":{"alertname":"`+marker+`"},"startsAt":"2026-01-02T00:00:00Z","endsAt":"2026-01-01T00:00:00Z"}]`,
		"annotations as string", `[{"labels":{"alertname":"`+marker+`"},"annotations":"x"}]`,
		"no labels", `[{"annotations":{"m":"`+marker+`"}}]`,
		"empty labels", `[{"labels":{},"annotations":{"m":"`+marker+`"}}]`,
		"invalid label name", `[{"labels":{"alertname":"`+marker+`","0bad":"x"}}]`,
		"NUL in label name", `[{"labels":{"alertname":"`+marker+`","a\u0000b":"x"}}]`,
		"invalid UTF-8 in a label value", "[{\"labels\":{\"alertname\":\""+marker+"\xff\xfe\"}}]",
		"trailing garbage", `[{"labels":{"alertname":"`+marker+`"}}] {"x":`,
		"4 MiB label name", `[{"labels":{"alertname":"`+marker+`","`+big+`-":"x"}}]`,
		"4 MiB value with a bad time", `[{"labels":{"alertname":"`+marker+big+`"},"startsAt":"never"}]`,
		"valid alert then invalid one", `[{"labels":{"alertname":"`+marker+`-valid"}},{"labels":{}}]`,
	)
	// Event intake: POST /api/v1/events (one object or an array).
	add("/api/v1/events", false, http.StatusBadRequest,
		"empty body", ``,
		"not JSON", marker,
		"string", `"`+marker+`"`,
		"deep nesting", nested("[", "]", "", deep),
		"deep nesting in attributes", `{"kind":"`+marker+`","labels":{"server":"s"},"attributes":{"a":`+nested("[", "]", "1", deep)+`}}`,
		"NaN", `{"kind":NaN,"labels":{"server":"`+marker+`"}}`,
		"number out of range", `{"kind":"`+marker+`","labels":{"server":1e999}}`,
		"kind missing", `{"labels":{"server":"`+marker+`"}}`,
		"labels missing", `{"kind":"`+marker+`"}`,
		"labels as array", `{"kind":"`+marker+`","labels":["server"]}`,
		"time not a time", `{"kind":"`+marker+`","labels":{"server":"s"},"time":"yesterday"}`,
		"severity unknown", `{"kind":"`+marker+`","labels":{"server":"s"},"severity":"apocalyptic"}`,
		"invalid label name", `{"kind":"`+marker+`","labels":{"server":"s","0bad":"x"}}`,
		"invalid UTF-8 in kind", "{\"kind\":\""+marker+"\xff\xfe\",\"labels\":{\"server\":\"s\"}}",
		"trailing garbage", `{"kind":"`+marker+`","labels":{"server":"s"}} {"x":`,
		"4 MiB label name", `{"kind":"`+marker+`","labels":{"`+big+`-":"s"}}`,
		"valid event then one without kind", `[{"kind":"`+marker+`-valid","labels":{"server":"s"}},{"labels":{"server":"s"}}]`,
		"valid event then a maintenance window with a bad duration", `[{"kind":"`+marker+`-valid","labels":{"server":"s"}},{"kind":"maintenance_start","labels":{"server":"s"},"summary":"`+marker+`","attributes":{"duration":"forever"}}]`,
	)
	// Silences: POST /api/v2/silences.
	silence := func(matchers, extra string) string {
		return `{"matchers":` + matchers + `,"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"` + marker + `","comment":"` + marker + `"` + extra + `}`
	}
	add("/api/v2/silences", false, http.StatusBadRequest,
		"empty body", ``,
		"not JSON", marker,
		"array instead of object", `[`+silence(`[{"name":"a","value":"b"}]`, "")+`]`,
		"deep nesting", nested("[", "]", "", deep),
		"deep nesting in matchers", silence(nested("[", "]", "", deep), ""),
		"NaN", silence(`[{"name":"a","value":NaN}]`, ""),
		"matchers missing", `{"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"`+marker+`","comment":"`+marker+`"}`,
		"matchers as object", silence(`{"name":"a","value":"b"}`, ""),
		"matcher without name", silence(`[{"value":"b"}]`, ""),
		"matcher value as number", silence(`[{"name":"a","value":1}]`, ""),
		"invalid regex", silence(`[{"name":"a","value":"(","isRegex":true}]`, ""),
		"matchers that match every alert", silence(`[{"name":"alertname","value":".*","isRegex":true}]`, ""),
		"startsAt not a time", `{"matchers":[{"name":"a","value":"b"}],"startsAt":"soon","endsAt":"2030-01-02T00:00:00Z","createdBy":"x","comment":"`+marker+`"}`,
		"endsAt before startsAt", `{"matchers":[{"name":"a","value":"b"}],"startsAt":"2030-01-02T00:00:00Z","endsAt":"2030-01-01T00:00:00Z","createdBy":"x","comment":"`+marker+`"}`,
		"endsAt in the past", `{"matchers":[{"name":"a","value":"b"}],"startsAt":"2001-01-01T00:00:00Z","endsAt":"2001-01-02T00:00:00Z","createdBy":"x","comment":"`+marker+`"}`,
		"no comment", `{"matchers":[{"name":"a","value":"b"}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"`+marker+`"}`,
		"invalid UTF-8 in the comment", silence(`[{"name":"a","value":"b"}]`, ",\"x\":\"\xff\""),
		"trailing garbage", silence(`[{"name":"a","value":"b"}]`, "")+` {"x":`,
	)
	cs = append(cs, bodyCase{name: "/api/v2/silences unknown id", path: "/api/v2/silences",
		body: silence(`[{"name":"a","value":"b"}]`, `,"id":"`+marker+`"`), want: http.StatusNotFound})
	// Incidents API: notes and resolve.
	add(inc+"/notes", false, http.StatusBadRequest,
		"empty body", ``,
		"not JSON", marker,
		"deep nesting", nested("[", "]", "", deep),
		"text missing", `{"txt":"`+marker+`"}`,
		"text empty", `{"text":"   "}`,
		"text as number", `{"text":1e999}`,
		"text as array", `{"text":["`+marker+`"]}`,
		"unknown field", `{"text":"`+marker+`","admin":true}`,
		"invalid UTF-8", "{\"text\":\""+marker+"\xff\xfe\"}",
		"trailing garbage", `{"text":"`+marker+`"} {"x":`,
		"two objects", `{"text":"`+marker+`"}{"text":"`+marker+`"}`,
	)
	add(inc+"/resolve", false, http.StatusBadRequest,
		"not JSON", marker,
		"reason as number", `{"reason":1}`,
		"unknown field", `{"reason":"`+marker+`","force":true}`,
		"deep nesting", nested("[", "]", "", deep),
		"trailing garbage", `{"reason":"`+marker+`"} {"x":`,
	)
	add("/api/v1/incidents/"+marker+"/notes", false, http.StatusNotFound, "unknown incident", `{"text":"`+marker+`"}`)
	add(inc+"/remediations/"+marker+"/approve", false, http.StatusBadRequest, "run not a number", ``)
	add(inc+"/remediations/99999999999999999999/approve", false, http.StatusBadRequest, "run out of range", ``)
	add(inc+"/remediations/424242/approve", false, http.StatusNotFound, "unknown run", ``)
	// The UI's forms (a bearer header stands in for the CSRF token).
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	add("/incidents/"+incidentID+"/note", true, http.StatusBadRequest,
		"empty note", form("text", "  "),
		"note too long", form("text", marker+strings.Repeat("x", 5000)),
		"invalid UTF-8", "text="+marker+"%ff%fe",
		"bad form encoding", "text=%zz"+marker,
	)
	add("/silences", true, http.StatusBadRequest,
		"no matchers", form("comment", marker),
		"matchers unparsable", form("matchers", `{alertname=`, "comment", marker),
		"matchers match everything", form("matchers", `{alertname=~".*"}`, "comment", marker),
		"duration not a duration", form("matchers", `{alertname="x"}`, "duration", "forever", "comment", marker),
		"duration too long", form("matchers", `{alertname="x"}`, "duration", "3650d", "comment", marker),
		"no comment", form("matchers", `{alertname="`+marker+`"}`),
		"invalid UTF-8 comment", "matchers=%7Balertname%3D%22x%22%7D&comment="+marker+"%ff",
	)
	// The query API takes POST forms too; nothing is stored, but a bad
	// query must be a 400, not a crash.
	add("/api/v1/query", true, http.StatusBadRequest,
		"not PromQL", form("query", marker+"{"),
		// Prometheus' parser takes time quadratic in the nesting depth
		// (20,000 levels: seconds of CPU; 100,000: minutes), before the
		// query timeout applies: the depth must be bounded up front.
		"parentheses 20,000 deep", form("query", nested("(", ")", "1", 20000)),
		"time not a time", form("query", "up", "time", marker),
		"4 MiB label matcher", form("query", `up{a="`+big+`"`),
	)
	add("/api/v1/query_range", true, http.StatusBadRequest,
		"step zero", form("query", "up", "start", "0", "end", "100", "step", "0"),
		"too many points", form("query", "up", "start", "0", "end", "1e12", "step", "1"),
		"end before start", form("query", "up", "start", "100", "end", "0", "step", "1"),
	)
	return cs
}

// TestMalformedBodies posts every hostile body and checks the status, that
// fleetwatch keeps running, and that nothing of a refused request was
// stored: the alerts, silences, incidents and timeline read through the
// GET APIs are the same before and after, and no answer carries the marker.
func TestMalformedBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	srv, c := startPlain(t)
	if code, b := c.postJSON(t, "/api/v2/alerts", `[{"labels":{"alertname":"HostileSeed","server":"s1"}}]`); code != http.StatusOK {
		t.Fatalf("seed alert: %d %s", code, clip(b))
	}
	seed := c.waitIncident(t, "HostileSeed")
	// The seed's page is sent by the outbox worker in the background: wait
	// for it, so the snapshot holds only what requests can change.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(string(c.get(t, "/api/v1/incidents/"+seed.ID)), "notification_sent") {
		if time.Now().After(deadline) {
			t.Fatal("the seed incident's notification was not sent within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := c.snapshot(t)

	for _, tc := range malformedCases(seed.ID) {
		t.Run(tc.name, func(t *testing.T) {
			ctype := "application/json"
			if tc.form {
				ctype = "application/x-www-form-urlencoded"
			}
			code, body := c.do(http.MethodPost, tc.path, ctype, strings.NewReader(tc.body))
			switch {
			case tc.want == 0 && (code < 400 || code > 499):
				t.Errorf("status %d, want 4xx; body %s", code, clip(body))
			case tc.want != 0 && code != tc.want:
				t.Errorf("status %d, want %d; body %s", code, tc.want, clip(body))
			case len(strings.TrimSpace(string(body))) == 0:
				t.Errorf("status %d with an empty body: the client is not told what is wrong", code)
			}
			if srv.Exited() {
				t.Fatalf("fleetwatch exited")
			}
		})
	}

	after := c.snapshot(t)
	if after != before {
		t.Errorf("refused requests changed the stored state; new or changed lines:\n%s", clipLines(diffLines(before, after)))
	}
	for _, p := range []string{"/api/v2/alerts", "/api/v2/silences", "/api/v1/incidents?limit=10000",
		"/api/v1/incidents/" + seed.ID, "/api/v1/timeline?from=-24h&to=now", "/incidents", "/silences",
		"/incidents/" + seed.ID} {
		if b := c.get(t, p); strings.Contains(string(b), marker) {
			i := strings.Index(string(b), marker)
			t.Errorf("GET %s shows a refused request's content: …%s…", p, b[max(0, i-120):min(len(b), i+80)])
		}
	}
	if got := c.incidents(t); len(got) != 1 || got[0].State != "triggered" {
		t.Errorf("incidents after the hostile bodies: %+v, want only the seed, still triggered", got)
	}
}

// The endpoints that change state without reading a body must not be
// tricked by one either (ack ignores it; /-/reload needs a token).
func TestStateChangesNeedAToken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	_, c := startPlain(t)
	anon := &client{base: c.base, hc: c.hc}
	reader := &client{base: c.base, token: readToken, hc: c.hc}
	for _, tc := range []struct {
		method, path string
		who          *client
		want         int
	}{
		{"POST", "/api/v2/alerts", anon, http.StatusUnauthorized},
		{"POST", "/api/v2/alerts", reader, http.StatusForbidden},
		{"POST", "/api/v2/silences", anon, http.StatusUnauthorized},
		{"POST", "/api/v1/events", reader, http.StatusForbidden},
		{"POST", "/api/v1/incidents/x/ack", anon, http.StatusUnauthorized},
		{"DELETE", "/api/v2/silence/x", reader, http.StatusForbidden},
		{"GET", "/api/v1/incidents", anon, http.StatusUnauthorized},
		{"GET", "/api/v2/alerts", anon, http.StatusUnauthorized},
		{"GET", "/api/v1/timeline", anon, http.StatusUnauthorized},
		{"POST", "/incidents/x/ack", anon, http.StatusUnauthorized},
		{"POST", "/incidents/x/ack", reader, http.StatusForbidden},
		// A reload re-reads every file and rebuilds every collector: with
		// tokens_file set, an anonymous client must not be able to ask.
		{"POST", "/-/reload", anon, http.StatusUnauthorized},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, body := tc.who.do(tc.method, tc.path, "application/json", io.NopCloser(strings.NewReader(`[]`)))
			if code != tc.want {
				t.Errorf("status %d, want %d; body %s", code, tc.want, clip(body))
			}
		})
	}
}
