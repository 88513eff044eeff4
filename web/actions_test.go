package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

func formOf(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestActions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		path     string
		form     url.Values
		code     int
		location string
		call     string // the Actions call expected ("" none)
		body     string // expected in the body for errors
		check    func(t *testing.T, st store.Store)
	}{
		{name: "ack", path: "/incidents/inc-dc1-node/ack", code: 303, location: "/incidents/inc-dc1-node?done=ack",
			call: "ack inc-dc1-node user:anonymous", check: func(t *testing.T, st store.Store) {
				inc, _ := st.GetIncident(ctx, "inc-dc1-node")
				if inc.State != store.Acknowledged || !inc.AcknowledgedAt.Equal(testNow) || inc.Assignee != "anonymous" {
					t.Errorf("after ack: %+v", inc)
				}
			}},
		{name: "resolve", path: "/incidents/inc-dc2-disk/resolve", code: 303, location: "/incidents/inc-dc2-disk?done=resolve",
			call: "resolve inc-dc2-disk user:anonymous", check: func(t *testing.T, st store.Store) {
				inc, _ := st.GetIncident(ctx, "inc-dc2-disk")
				if inc.State != store.Resolved {
					t.Errorf("after resolve: %s", inc.State)
				}
			}},
		{name: "note", path: "/incidents/inc-dc1-node/note", form: formOf("text", "  optics replaced  "), code: 303,
			location: "/incidents/inc-dc1-node?done=note", call: `note inc-dc1-node user:anonymous "optics replaced"`},
		{name: "empty note", path: "/incidents/inc-dc1-node/note", form: formOf("text", "   "), code: 400, body: "field text: the note is empty"},
		{name: "long note", path: "/incidents/inc-dc1-node/note", form: formOf("text", strings.Repeat("x", maxNoteLen+1)), code: 400, body: "longer than 4000"},
		{name: "ack resolved", path: "/incidents/inc-dc1-old/ack", code: 400, call: "ack inc-dc1-old user:anonymous", body: "is resolved"},
		{name: "approve", path: "/incidents/inc-dc1-node/remediations/1/approve", code: 303, location: "/incidents/inc-dc1-node?done=approve",
			call: "approve inc-dc1-node 1 user:anonymous", check: func(t *testing.T, st store.Store) {
				runs, _ := st.ListRemediationRuns(ctx, store.RemediationFilter{IncidentID: "inc-dc1-node"})
				if len(runs) != 1 || runs[0].Status != "running" || runs[0].Actor != "user:anonymous" {
					t.Errorf("after approve: %+v", runs)
				}
			}},
		{name: "reject", path: "/incidents/inc-dc1-node/remediations/1/reject", form: formOf("reason", "not during peak"), code: 303,
			location: "/incidents/inc-dc1-node?done=reject", call: `reject inc-dc1-node 1 user:anonymous "not during peak"`},
		{name: "bad run", path: "/incidents/inc-dc1-node/remediations/x1/approve", code: 400, body: `remediation run &#34;x1&#34; is not a run number`},
		{name: "unknown run", path: "/incidents/inc-dc1-node/remediations/9/approve", code: 404, call: "approve inc-dc1-node 9 user:anonymous"},
		{name: "silence from incident", path: "/incidents/inc-dc1-node/silence",
			form: formOf("matchers", `{alertname="NodeDown", rack=~"r1[0-9]"}`, "duration", "90m", "comment", "recabling"), code: 303,
			location: "/incidents/inc-dc1-node?done=silence", call: `silence {alertname="NodeDown", rack=~"r1[0-9]"} user:anonymous "recabling"`,
			check: func(t *testing.T, st store.Store) {
				ss, _ := st.ListSilences(ctx)
				i := slices.IndexFunc(ss, func(s store.Silence) bool { return s.Comment == "recabling" })
				if i < 0 || !ss[i].EndsAt.Equal(testNow.Add(90*time.Minute)) || ss[i].CreatedBy != "anonymous" {
					t.Errorf("silence stored: %+v", ss)
				}
			}},
		{name: "silence page", path: "/silences", form: formOf("matchers", `site="dc2"`, "ends", "2026-03-14T05:00:00Z", "comment", "dc2 power work"),
			code: 303, location: "/silences?done=silence", call: `silence {site="dc2"} user:anonymous "dc2 power work"`},
		{name: "silence bad matchers", path: "/silences", form: formOf("matchers", `{site=dc2"}`, "comment", "x"), code: 400, body: "field matchers:"},
		{name: "silence matches all", path: "/silences", form: formOf("matchers", `{site=~".*"}`, "comment", "x"), code: 400, body: "match every alert"},
		{name: "silence no comment", path: "/silences", form: formOf("matchers", `{site="dc2"}`), code: 400, body: "field comment"},
		{name: "silence too long", path: "/silences", form: formOf("matchers", `{site="dc2"}`, "duration", "90d", "comment", "x"), code: 400, body: "field duration: longer than"},
		{name: "silence in the past", path: "/silences", form: formOf("matchers", `{site="dc2"}`, "ends", "2020-01-01T00:00:00Z", "comment", "x"), code: 400, body: "field ends"},
		{name: "expire", path: "/silences/sil-active/expire", code: 303, location: "/silences?done=expire", call: "expire sil-active user:anonymous",
			check: func(t *testing.T, st store.Store) {
				ss, _ := st.ListSilences(ctx)
				for _, s := range ss {
					if s.ID == "sil-active" && !s.EndsAt.Equal(testNow) {
						t.Errorf("sil-active ends %v, want now", s.EndsAt)
					}
				}
			}},
		{name: "expire unknown", path: "/silences/sil-nope/expire", code: 404, call: "expire sil-nope user:anonymous", body: "silence &#34;sil-nope&#34;: not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			c := f.client(t)
			_, page, _ := get(t, c, f.srv.URL+"/silences")
			form := tc.form
			if form == nil {
				form = url.Values{}
			}
			form.Set("csrf", csrfOf(t, page))
			code, body, hdr := post(t, c, f.srv.URL+tc.path, form)
			if code != tc.code {
				t.Fatalf("status %d, want %d:\n%s", code, tc.code, body)
			}
			if tc.location != "" && hdr.Get("Location") != tc.location {
				t.Errorf("redirect to %q, want %q", hdr.Get("Location"), tc.location)
			}
			if tc.body != "" && !strings.Contains(body, tc.body) {
				t.Errorf("body lacks %q:\n%s", tc.body, body)
			}
			calls := f.actions.Calls()
			if tc.call == "" && len(calls) != 0 || tc.call != "" && !slices.Equal(calls, []string{tc.call}) {
				t.Errorf("Actions calls = %q, want %q", calls, tc.call)
			}
			if tc.check != nil {
				tc.check(t, f.st)
			}
		})
	}
}

func TestActionShownAfterwards(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	_, page, _ := get(t, c, f.srv.URL+"/incidents/inc-dc1-node")
	_, _, hdr := post(t, c, f.srv.URL+"/incidents/inc-dc1-node/ack", formOf("csrf", csrfOf(t, page)))
	code, page, _ := get(t, c, f.srv.URL+hdr.Get("Location"))
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{`id="done">Acknowledged.<`, `id="incident-state">acknowledged<`, `by anonymous`, "acknowledged by user:anonymous"} {
		if !strings.Contains(page, want) {
			t.Errorf("page after ack lacks %q", want)
		}
	}
	if strings.Contains(page, `id="ack"`) {
		t.Error("an acknowledged incident must not offer Acknowledge again")
	}
	if n := testutil.ToFloat64(f.ui.metrics.actions.WithLabelValues("ack", "ok")); n != 1 {
		t.Errorf(`actions{action="ack",result="ok"} = %v`, n)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	_, page, _ := get(t, c, f.srv.URL+"/incidents/inc-dc1-node")
	tok := csrfOf(t, page)
	other := f.client(t) // another browser: its own csrf cookie
	get(t, other, f.srv.URL+"/incidents")
	for _, tc := range []struct {
		name string
		c    *http.Client
		form url.Values
		hdr  []string
		code int
	}{
		{"no token", c, url.Values{}, nil, 403},
		{"wrong token", c, formOf("csrf", "AAAA"), nil, 403},
		{"token of another browser", other, formOf("csrf", tok), nil, 403},
		{"cross-site request", c, formOf("csrf", tok), []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"foreign origin", c, formOf("csrf", tok), []string{"Origin", "https://evil.example"}, 403},
		{"header token", c, url.Values{}, []string{"X-CSRF-Token", tok}, 303},
		{"form token", c, formOf("csrf", tok), []string{"Sec-Fetch-Site", "same-origin"}, 303},
		{"API client with bearer header", f.client(t), url.Values{}, []string{"Authorization", "Bearer x"}, 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := post(t, tc.c, f.srv.URL+"/incidents/inc-dc1-node/note", formOf(append([]string{"text", "hi"}, flatten(tc.form)...)...), tc.hdr...)
			if code != tc.code {
				t.Errorf("status %d, want %d:\n%s", code, tc.code, body)
			}
		})
	}
}

func flatten(v url.Values) []string {
	var out []string
	for k, vs := range v {
		for _, x := range vs {
			out = append(out, k, x)
		}
	}
	return out
}

func TestAuth(t *testing.T) {
	tokens := StaticTokens{
		"rw-secret-token": {Name: "alice"},
		"ro-secret-token": {Name: "viewer", ReadOnly: true},
	}
	f := newFixture(t, func(o *Options) { o.Auth = tokens })
	c := f.client(t)

	code, _, hdr := get(t, c, f.srv.URL+"/incidents?site=dc1")
	if code != http.StatusSeeOther || hdr.Get("Location") != "/login?next=%2Fincidents%3Fsite%3Ddc1" {
		t.Fatalf("anonymous GET: status %d → %q, want 303 to the login form", code, hdr.Get("Location"))
	}
	code, body, _ := get(t, c, f.srv.URL+"/login?next=%2Fincidents%3Fsite%3Ddc1")
	if code != 200 || !strings.Contains(body, `name="next" value="/incidents?site=dc1"`) {
		t.Fatalf("login form: %d\n%s", code, body)
	}

	code, body, _ = post(t, c, f.srv.URL+"/login", formOf("token", "guess", "next", "/incidents"))
	if code != http.StatusUnauthorized || !strings.Contains(body, "That token is not valid.") {
		t.Errorf("bad token: status %d", code)
	}
	if n := testutil.ToFloat64(f.ui.metrics.loginFailures); n != 1 {
		t.Errorf("login failures = %v", n)
	}

	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/login", strings.NewReader(formOf("token", "rw-secret-token", "next", "/incidents?site=dc1").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/incidents?site=dc1" {
		t.Errorf("login: status %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == tokenCookie {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Errorf("token cookie = %+v, want HttpOnly, SameSite=Strict, Path=/", cookie)
	}

	code, body, _ = get(t, c, f.srv.URL+"/incidents/inc-dc1-node")
	if code != 200 || !strings.Contains(body, `<span id="user">alice</span>`) || !strings.Contains(body, `id="ack"`) {
		t.Errorf("logged-in page: status %d, want alice with action buttons", code)
	}
	if strings.Contains(body, "secret-token") {
		t.Error("the page shows the token")
	}
	_, _, hdr = post(t, c, f.srv.URL+"/incidents/inc-dc1-node/ack", formOf("csrf", csrfOf(t, body)))
	if hdr.Get("Location") != "/incidents/inc-dc1-node?done=ack" || !slices.Equal(f.actions.Calls(), []string{"ack inc-dc1-node user:alice"}) {
		t.Errorf("ack as alice: → %q, calls %q", hdr.Get("Location"), f.actions.Calls())
	}

	// Read-only: sees, cannot act.
	ro := f.client(t)
	post(t, ro, f.srv.URL+"/login", formOf("token", "ro-secret-token"))
	code, body, _ = get(t, ro, f.srv.URL+"/incidents/inc-dc2-disk")
	if code != 200 || strings.Contains(body, `id="resolve"`) || strings.Contains(body, `/remediations/`) || !strings.Contains(body, "read-only") {
		t.Errorf("read-only page: status %d, must show no action buttons", code)
	}
	code, body, _ = post(t, ro, f.srv.URL+"/incidents/inc-dc2-disk/resolve", url.Values{}, "X-CSRF-Token", "whatever")
	if code != http.StatusForbidden || !strings.Contains(body, "viewer has a read-only token") {
		t.Errorf("read-only POST: status %d:\n%s", code, body)
	}

	// API clients send the header.
	anon := f.client(t)
	if code, _, _ := get(t, anon, f.srv.URL+"/incidents", "Authorization", "Bearer ro-secret-token"); code != 200 {
		t.Errorf("GET with a bearer header: %d", code)
	}
	if code, _, _ := get(t, anon, f.srv.URL+"/incidents", "Authorization", "Bearer nope"); code != http.StatusUnauthorized {
		t.Errorf("GET with a bad bearer header: %d, want 401", code)
	}
	if code, _, _ := post(t, anon, f.srv.URL+"/incidents/inc-dc2-disk/resolve", url.Values{}); code != http.StatusUnauthorized {
		t.Errorf("POST without a token: %d, want 401", code)
	}

	// Logging out drops the cookie.
	if code, _, _ := post(t, c, f.srv.URL+"/logout", url.Values{}); code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := get(t, c, f.srv.URL+"/incidents"); code != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect to the login form", code)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "/incidents",
		"/incidents/x?y=1":      "/incidents/x?y=1",
		"//evil.example/":       "/incidents",
		"/\\evil.example":       "/incidents",
		"https://evil.example/": "/incidents",
		"javascript:alert(1)":   "/incidents",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStaticTokens(t *testing.T) {
	s := StaticTokens{"a": {Name: "alice"}}
	ctx := context.Background()
	if p, err := s.Authenticate(ctx, "a"); err != nil || p.Name != "alice" {
		t.Errorf("known token: %v %v", p, err)
	}
	for _, tok := range []string{"", "b", "aa"} {
		if _, err := s.Authenticate(ctx, tok); err == nil {
			t.Errorf("token %q accepted", tok)
		}
	}
}
