package remediate

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestParseValid(t *testing.T) {
	c, err := Parse("fleetwatch.yml", []byte(`
remediations:
  - name: drain-and-ticket
    match: ['alertname="HostDown"', 'severity=~"critical|page"', '{site!="lab"}']
    action:
      http:
        url_file: /etc/fleetwatch/lifecycle-url
        method: post
        headers_file: /etc/fleetwatch/lifecycle-headers
        timeout: 20s
        body_template: '{"host": "{{ .Server.Hostname }}"}'
    guards:
      require_approval: true
      max_concurrent: 2
      max_per_hour: 10
      cooldown_per_server: 6h
      blast_radius: {max_servers: 5, max_percent_of_rack: 25, max_percent_of_site: 2.5}
      timeout: 2m
    verify: {window: 15m}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Remediations[0]
	if r.Action.Kind() != "http" || r.Action.HTTP.Method != "POST" || r.Action.HTTP.tmpl == nil {
		t.Errorf("action %+v", r.Action.HTTP)
	}
	if r.Guards.MaxConcurrent != 2 || time.Duration(r.Guards.CooldownPerServer) != 6*time.Hour ||
		r.Guards.BlastRadius.MaxPercentOfSite != 2.5 || r.timeout() != 2*time.Minute || time.Duration(r.Verify.Window) != 15*time.Minute {
		t.Errorf("guards %+v verify %+v", r.Guards, r.Verify)
	}
	for _, tc := range []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{"alertname": "HostDown", "severity": "critical", "site": "dc1"}, true},
		{map[string]string{"alertname": "HostDown", "severity": "page"}, true},
		{map[string]string{"alertname": "HostDown", "severity": "critical", "site": "lab"}, false},
		{map[string]string{"alertname": "HostDown", "severity": "warning"}, false},
		{map[string]string{"alertname": "DiskFull", "severity": "critical"}, false},
	} {
		if got := r.Matches(tc.labels); got != tc.want {
			t.Errorf("Matches(%v) = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if (&Remediation{}).timeout() != DefaultTimeout {
		t.Error("default timeout")
	}
}

// TestParseErrors: every mistake is reported with the file, the line and
// the field; several mistakes are all reported.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		yml  string
		want []string
	}{
		{"unknown key", `
remediations:
  - name: a
    match: ['a="b"']
    action: {exec: {command: [x], comand: [y]}}
`, []string{"f.yml:5: action.exec.comand: unknown field"}},
		{"unknown top-level key", "remediation: []\n", []string{"f.yml:1: remediation: unknown field"}},
		{"missing name, no matcher, no action", `
remediations:
  - guards: {dry_run: true}
`, []string{
			"f.yml:3: remediations[0].name: missing",
			"f.yml:3: remediations[0].match: at least one matcher is required",
			"f.yml:3: remediations[0].action: exactly one of exec, http, redfish, lifecycle is required (found 0)",
		}},
		{"duplicate name", `
remediations:
  - {name: a, match: ['x="y"'], action: {lifecycle: {state: repair}}}
  - {name: a, match: ['x="y"'], action: {lifecycle: {state: repair}}}
`, []string{`f.yml:4: remediations[1].name: "a" already used by remediations[0]`}},
		{"bad matcher", `
remediations:
  - name: a
    match: ['alertname=~"("']
    action: {lifecycle: {state: repair}}
`, []string{`f.yml:4: remediations[0].match: matcher 0 "alertname=~\"(\"":`}},
		{"two actions", `
remediations:
  - name: a
    match: ['x="y"']
    action:
      exec: {command: [x]}
      lifecycle: {state: repair}
`, []string{"f.yml:5: remediations[0].action: exactly one of exec, http, redfish, lifecycle is required (found 2)"}},
		{"exec without command, bad env", `
remediations:
  - name: a
    match: ['x="y"']
    action:
      exec: {env: {FLEETWATCH_RUN_ID: "1", "bad key": x}}
`, []string{
			"f.yml:6: remediations[0].action.exec.command: missing",
			`f.yml:6: remediations[0].action.exec.env: "FLEETWATCH_RUN_ID" is not a usable variable name`,
			`f.yml:6: remediations[0].action.exec.env: "bad key" is not a usable variable name`,
		}},
		{"http url problems", `
remediations:
  - name: a
    match: ['x="y"']
    action:
      http:
        url: ftp://user:hunter2-secret@host/x
        method: TRACE
        body_template: '{{ .Server.Hostname '
`, []string{
			"f.yml:7: remediations[0].action.http.url: scheme must be http or https",
			`f.yml:8: remediations[0].action.http.method: "TRACE" is not one of`,
			"f.yml:9: remediations[0].action.http.body_template: template:",
		}},
		{"http url and url_file", `
remediations:
  - name: a
    match: ['x="y"']
    action: {http: {url: "http://h/", url_file: /f}}
`, []string{"f.yml:5: remediations[0].action.http.url: url and url_file are exclusive"}},
		{"redfish", `
remediations:
  - {name: a, match: ['x="y"'], action: {redfish: {reset_type: Reboot}}}
  - {name: b, match: ['x="y"'], action: {redfish: {reset_type: On, pxe_once: true}}}
  - {name: c, match: ['x="y"'], action: {redfish: {}}}
`, []string{
			`f.yml:3: remediations[0].action.redfish.reset_type: "Reboot" is not one of`,
			"f.yml:4: remediations[1].action.redfish: reset_type and pxe_once are exclusive",
			"f.yml:5: remediations[2].action.redfish: one of reset_type and pxe_once is required",
		}},
		{"lifecycle state", `
remediations:
  - {name: a, match: ['x="y"'], action: {lifecycle: {state: broken}}}
`, []string{`f.yml:3: remediations[0].action.lifecycle.state: "broken" is not one of`}},
		{"guard values", `
remediations:
  - name: a
    match: ['x="y"']
    action: {lifecycle: {state: repair}}
    guards:
      max_concurrent: -1
      blast_radius:
        max_percent_of_rack: 150
`, []string{
			"f.yml:7: remediations[0].guards.max_concurrent: -1 is negative",
			"f.yml:9: remediations[0].guards.blast_radius.max_percent_of_rack: 150 is not between 0 and 100",
		}},
		{"bad duration", `
remediations:
  - name: a
    match: ['x="y"']
    action: {lifecycle: {state: repair}}
    guards: {cooldown_per_server: 5 minutes}
`, []string{"f.yml:6:", `"5 minutes"`}},
		{"wrong type", `
remediations:
  - name: a
    match: 'x="y"'
`, []string{"f.yml:4:", "cannot unmarshal"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yml", []byte(tc.yml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2-secret") {
				t.Errorf("error quotes the URL's password: %v", err)
			}
		})
	}
}

// TestEmbeddedStrict: the remediations list embedded in a larger file
// decoded without KnownFields still refuses unknown keys.
func TestEmbeddedStrict(t *testing.T) {
	var outer struct {
		Remediations []Remediation `yaml:"remediations"`
	}
	err := yaml.Unmarshal([]byte("remediations:\n  - name: a\n    gaurds: {}\n"), &outer)
	if err == nil || !strings.Contains(err.Error(), "line 3: gaurds: unknown field") {
		t.Fatalf("error %v", err)
	}
}

// TestDocumentGolden fixes the JSON a script reads on stdin (the exec
// contract in docs/remediation.md). Refresh with -update.
func TestDocumentGolden(t *testing.T) {
	st, clk := openStore(t), newClock()
	e := newEngine(t, st, clk, execConfig("/usr/local/bin/drain", ""))
	a := firing(clk, "srv-r12-05", "HostDown", "instance", "srv-r12-05:9100", "rack", "R12", "severity", "critical")
	a.IncidentID = "01JNM6Q8V4K2T3R5X7Y9Z0ABCD"
	a.GeneratorURL = "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0"
	inc := store.Incident{
		ID: a.IncidentID, GroupKey: `{}:{rack="R12"}`, Route: "/rack", Receiver: "pagerduty-dc1",
		Title: "[FIRING:1] HostDown rack=R12", Cause: "switch sw-r12 port Et49 down", Severity: "critical",
		State: store.Triggered, Labels: map[string]string{"rack": "R12", "alertname": "HostDown"},
		AlertCount: 1, FiringCount: 1, CreatedAt: clk.Now(), UpdatedAt: clk.Now(), Version: 3,
	}
	run := store.RemediationRun{ID: 42, IncidentID: inc.ID, Action: "drain", Target: "srv-r12-05", Actor: "user:alice"}
	doc := e.document(run, e.remediation("drain"), inc, []store.Alert{a, firing(clk, "srv-r12-06", "HostDown")}, 2*time.Minute)
	got, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "document.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("document differs from %s (run with -update if intended):\n%s", path, got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`
remediations:
  - name: a
    match: ['alertname="HostDown"']
    action: {exec: {command: [x], timeout: 1m, env: {A: b}}}
    guards: {dry_run: true, max_concurrent: 1, blast_radius: {max_servers: 3}}
    verify: {window: 5m}
`))
	f.Add([]byte(`remediations: [{name: b, match: ['x=~"y.*"'], action: {http: {url: "http://h/", body_template: "{{ .Run.ID }}"}}}]`))
	f.Add([]byte(`remediations: [{name: c, match: ['x!="y"'], action: {redfish: {pxe_once: true}}}]`))
	f.Add([]byte("remediations:\n  - name: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if err := c.Validate("fuzz.yml"); err != nil {
			t.Errorf("valid config fails a second Validate: %v", err)
		}
		for _, r := range c.Remediations {
			if r.Action.Kind() == "" || len(r.matchers) == 0 || r.Name == "" {
				t.Errorf("accepted remediation without action, matcher or name: %+v", r)
			}
			_ = r.Matches(map[string]string{"alertname": "x"})
		}
	})
}
