package hostile

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
	"github.com/fleetwatch/fleetwatch/test/fwproc"
)

// The secrets the secrets test configures; none may appear anywhere
// fleetwatch writes or serves.
var secretValues = map[string]string{
	"BMC password":                "bmcPw-Qz81xVt3LrKk",
	"PagerDuty routing key":       "pdKey0123456789abcdefABCDEF0123ab",
	"SNMP v3 auth password":       "snmpAuth-K9w2Pq7Yzz",
	"SNMP v3 privacy password":    "snmpPriv-M4x8Rt2Wyy",
	"remediation env secret":      "remedTok-H3k5L7n9Pp",
	"fleetwatch's own env secret": "procEnv-S3cr3t-Vb6N",
}

// TestNoSecretLeaks runs fleetwatch with every kind of secret it takes —
// a BMC password file (the simulated BMCs and the redfish job), a
// PagerDuty routing key file (the fake PagerDuty echoes it back in its
// error answer), API tokens, SNMP v3 passwords (the simulated switches do
// not speak v3, so every poll fails and is logged), an exec remediation
// with a secret in its env — plus a secret in fleetwatch's own environment.
// It then reads the log, every API answer, /metrics, the UI pages and the
// postmortem in every format: no secret may appear. The exec remediation
// must see only PATH, the FLEETWATCH_* variables and its configured env.
func TestNoSecretLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	sec := secretValues
	// A PagerDuty that refuses every event and quotes it back, routing key
	// included, as a badly behaved proxy might.
	var (
		pdMu     sync.Mutex
		pdBodies []string
	)
	pdSeen := func() []string {
		pdMu.Lock()
		defer pdMu.Unlock()
		return slices.Clone(pdBodies)
	}
	pd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		pdMu.Lock()
		pdBodies = append(pdBodies, string(b))
		pdMu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"status":"invalid event","message":"Event object is invalid","errors":["routing_key %s is unknown"],"echo":%q}`, sec["PagerDuty routing key"], b)
	}))
	defer pd.Close()

	dir := t.TempDir()
	write(t, dir, "secrets/bmc", sec["BMC password"]+"\n")
	write(t, dir, "secrets/pd", sec["PagerDuty routing key"])
	write(t, dir, "secrets/snmp-auth", sec["SNMP v3 auth password"])
	write(t, dir, "secrets/snmp-priv", sec["SNMP v3 privacy password"])
	write(t, dir, "secrets/tokens.yml", tokensFile)
	write(t, dir, "alerting.yml", fmt.Sprintf(`route:
  receiver: pd
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: pd
    pagerduty_configs:
      - routing_key_file: secrets/pd
        url: %s/v2/enqueue
        rate_limit_per_minute: 0
`, pd.URL))
	write(t, dir, "remediations.yml", `remediations:
  - name: envdump
    match: ['alertname="EnvDump"']
    action:
      exec:
        command: [/usr/bin/env]
        env: {DUMP_TOKEN: "`+sec["remediation env secret"]+`"}
`)
	control := "127.0.0.1:" + fmt.Sprint(testpeer.FreePort(t))
	srv := fwproc.Start(t, fwproc.Build(t), fwproc.Options{Dir: dir,
		Env:  []string{"HOSTILE_PROCESS_SECRET=" + sec["fleetwatch's own env secret"]},
		Args: []string{"--log.level=debug"},
		Config: `
global: {scrape_interval: 2s, scrape_timeout: 1s, evaluation_interval: 2s}
storage: {path: data}
simulate:
  sites: 1
  racks_per_site: 1
  servers_per_rack: 2
  bmc_username: admin
  bmc_password_file: secrets/bmc
  control_address: ` + control + `
snmp_auths:
  v3:
    version: 3
    username: monitor
    security_level: authPriv
    auth_protocol: SHA256
    password_file: secrets/snmp-auth
    priv_protocol: AES
    priv_password_file: secrets/snmp-priv
alerting:
  config_file: alerting.yml
  remediation_file: remediations.yml
  tokens_file: secrets/tokens.yml
rule_files: [pack:server]
jobs:
  - job_name: redfish
    type: redfish
    inventory: {role: bmc}
    redfish: {username: admin, password_file: secrets/bmc}
  - job_name: redfish_wrong_user
    type: redfish
    inventory: {role: bmc}
    redfish: {username: intruder, password_file: secrets/bmc}
  - job_name: snmp3
    type: snmp
    inventory: {role: switch}
    snmp: {auth: v3, modules: [if_mib]}
`})
	c := &client{base: srv.Base, token: writeToken, hc: &http.Client{Timeout: 30 * time.Second}}

	// An alert for a simulated server: the PagerDuty trigger fails (and is
	// retried), the exec remediation runs.
	if code, b := c.postJSON(t, "/api/v2/alerts", `[{"labels":{"alertname":"EnvDump","server":"srv-dc1-r01-01","severity":"critical"},"annotations":{"summary":"env dump"}}]`); code != http.StatusOK {
		t.Fatalf("alert: %d %s", code, clip(b))
	}
	inc := c.waitIncident(t, "EnvDump")
	type run struct {
		Target, Status, Reason, Output string
	}
	runs := func() []run {
		var d struct {
			Remediations []run `json:"remediations"`
		}
		c.getJSON(t, "/api/v1/incidents/"+inc.ID, &d)
		return d.Remediations
	}
	var rs []run
	waitFor(t, 20*time.Second, "the remediation of srv-dc1-r01-01 to be decided", func() bool {
		rs = runs()
		return len(rs) > 0 && final(rs[0].Status)
	})
	if rs[0].Status != "succeeded" {
		// The remediation engine's fleet is only filled by a reload (see
		// docs/testing.md): reload and try the second server.
		t.Errorf("exec remediation on a simulated server right after start: %s (%s), want succeeded", rs[0].Status, rs[0].Reason)
		if code, b := c.do(http.MethodPost, "/-/reload", "", nil); code != http.StatusOK {
			t.Fatalf("reload: %d %s", code, clip(b))
		}
		if code, b := c.postJSON(t, "/api/v2/alerts", `[{"labels":{"alertname":"EnvDump","server":"srv-dc1-r01-02","severity":"critical"}}]`); code != http.StatusOK {
			t.Fatalf("alert: %d %s", code, clip(b))
		}
		waitFor(t, 20*time.Second, "the remediation of srv-dc1-r01-02", func() bool {
			rs = runs()
			return len(rs) > 1 && final(rs[1].Status)
		})
		rs = rs[1:]
	}
	if rs[0].Status != "succeeded" {
		t.Fatalf("exec remediation: %+v", rs[0])
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(rs[0].Output), "\n") {
		k, v, _ := strings.Cut(l, "=")
		names = append(names, k)
		if k == "DUMP_TOKEN" && v != "<redacted>" {
			t.Errorf("the remediation's output keeps DUMP_TOKEN=%q, want it redacted", v)
		}
	}
	slices.Sort(names)
	want := []string{"DUMP_TOKEN", "FLEETWATCH_BMC", "FLEETWATCH_INCIDENT_ID", "FLEETWATCH_REMEDIATION", "FLEETWATCH_RUN_ID", "FLEETWATCH_SERVER", "PATH"}
	if !slices.Equal(names, want) {
		t.Errorf("the exec remediation's environment has %v, want exactly %v", names, want)
	}

	// Give the collectors a few failing cycles (SNMP v3, the wrong BMC
	// user) and the notifier a few refused attempts; hang a BMC so its
	// errors are logged too.
	resp, err := http.Post("http://"+control+"/faults?bmc=1&fault=http_500", "", nil)
	if err == nil {
		resp.Body.Close()
	}
	waitFor(t, 30*time.Second, "refused PagerDuty attempts and failing v3 polls", func() bool {
		// One refused trigger is enough: a 400 is not retried.
		return len(pdSeen()) >= 1 && strings.Count(srv.Log(), "snmp3") >= 2
	})
	for _, b := range pdSeen()[:1] {
		if !strings.Contains(b, sec["PagerDuty routing key"]) {
			t.Errorf("the PagerDuty event does not carry the routing key (the fake saw %s)", clip([]byte(b)))
		}
	}
	if code, b := c.postJSON(t, "/api/v1/incidents/"+inc.ID+"/notes", `{"text":"checked"}`); code != http.StatusCreated {
		t.Errorf("note: %d %s", code, clip(b))
	}

	// Everything a user or a scraper can read.
	pages := map[string][]byte{"log": []byte(srv.Log())}
	for _, p := range []string{
		"/metrics", "/api/v2/alerts", "/api/v2/alerts/groups", "/api/v2/silences", "/api/v2/status", "/api/v2/receivers",
		"/api/v1/incidents", "/api/v1/incidents/" + inc.ID, "/api/v1/incidents/" + inc.ID + "/timeline",
		"/api/v1/incidents/" + inc.ID + "/postmortem?format=md", "/api/v1/incidents/" + inc.ID + "/postmortem?format=html",
		"/api/v1/incidents/" + inc.ID + "/postmortem?format=json", "/api/v1/timeline?from=-1h&to=now",
		"/api/v1/reports/fleet?from=-1h&to=now", "/api/v1/targets", "/api/v1/rules", "/api/v1/alerts",
		"/api/v1/status/buildinfo", "/api/v1/label/__name__/values", "/api/v1/metadata",
		"/federate?match[]=%7B__name__%3D~%22.%2B%22%7D",
		"/incidents", "/incidents/" + inc.ID, "/silences", "/fleet", "/targets", "/login",
		"/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=2",
	} {
		code, b := c.do(http.MethodGet, p, "", nil)
		if code != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, code, clip(b))
		}
		pages[p] = b
	}
	// The query API over the labels that carry errors and details.
	for _, q := range []string{`{__name__=~".+",job=~"redfish.*|snmp3"}`, `ALERTS`, `up`} {
		_, pages["query "+q] = c.do(http.MethodGet, "/api/v1/query?query="+urlQuery(q), "", nil)
	}
	secretsChecked := map[string]string{"write token": writeToken, "read token": readToken}
	for k, v := range sec {
		secretsChecked[k] = v
	}
	for where, b := range pages {
		for what, s := range secretsChecked {
			if i := strings.Index(string(b), s); i >= 0 {
				t.Errorf("%s shows the %s: …%s…", where, what, b[max(0, i-150):min(len(b), i+len(s)+20)])
			}
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d pages and the log (%d bytes) checked for %d secrets", len(pages)-1, len(pages["log"]), len(secretsChecked))
}

// final reports whether a remediation run's status will not change.
func final(status string) bool {
	switch status {
	case "succeeded", "failed", "skipped", "rejected", "escalated", "dry_run":
		return true
	}
	return false
}

func urlQuery(q string) string {
	return strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D", "\"", "%22", "=", "%3D", "~", "%7E", "+", "%2B", "|", "%7C", "*", "%2A", " ", "%20").Replace(q)
}

// waitFor polls cond every 200 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}
