package remediate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// TestSecretsNeverStored runs actions whose endpoints and scripts echo
// their secrets back (URL token in the path and the query, a password in
// the URL, header values, an env token) through success, retry and failure,
// then greps every place a secret could end up — runs, the timeline, the
// logs, the metrics — for each of them.
func TestSecretsNeverStored(t *testing.T) {
	secrets := []string{
		"pathtoken0123456789abcdef",            // URL path segment
		"querytoken-5566778899",                // URL query value
		"urlpassword-4433",                     // URL userinfo password
		"hdr-bearer-secret-7788",               // Authorization header (Bearer token)
		"apikey-secret-3344",                   // another header value
		"env-secret-112233",                    // exec env value of a secret-looking key
		"ZmxlZXR3YXRjaDp1cmxwYXNzd29yZC00NDMz", // base64 of the URL's user:password (Basic auth)
	}
	api := &lifecycleAPI{echo: true, statuses: []int{500, 400}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	dir := t.TempDir()
	headers := filepath.Join(dir, "headers")
	writeFile(t, headers, "Authorization: Bearer hdr-bearer-secret-7788\nX-Api-Key: apikey-secret-3344\n")
	u := strings.Replace(srv.URL, "http://", "http://fleetwatch:urlpassword-4433@", 1) +
		"/hooks/pathtoken0123456789abcdef?token=querytoken-5566778899"
	urlFile := filepath.Join(dir, "url")
	writeFile(t, urlFile, strings.Replace(u, "/hooks/", "/file-hooks/", 1))
	sh := script(t, dir, "echo \"token is $API_TOKEN\"\necho \"stderr $API_TOKEN\" >&2\nexit 1")

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewPedanticRegistry()
	st, clk := openStore(t), newClock()
	e := newEngine(t, st, clk, fmt.Sprintf(`
remediations:
  - name: webhook
    match: ['alertname="HostDown"', 'rack="R12"']
    action:
      http: {url: %q, headers_file: %q}
    guards: {timeout: 10s}
  - name: webhook-file
    match: ['alertname="HostDown"', 'rack="R13"']
    action:
      http: {url_file: %q}
  - name: webhook-dry
    match: ['alertname="HostDown"', 'rack="R14"']
    action:
      http: {url: %q}
    guards: {dry_run: true}
  - name: script
    match: ['alertname="DiskFull"']
    action:
      exec:
        command: [%q]
        env: {API_TOKEN: env-secret-112233}
`, u, headers, urlFile, u, sh), func(o *Options) { o.Logger = logger; o.Registerer = reg })
	e.backoff = time.Millisecond
	openIncident(t, st, e, "inc-1",
		firing(clk, "srv-r12-01", "HostDown", "rack", "R12"),
		firing(clk, "srv-r13-01", "HostDown", "rack", "R13"),
		firing(clk, "srv-r14-01", "HostDown", "rack", "R14"),
		firing(clk, "srv-r12-02", "DiskFull"),
	)
	stop := startWorker(t, e)
	for _, r := range listRuns(t, st, store.RemediationFilter{}) {
		waitRun(t, st, r.ID, StatusSucceeded, StatusFailed, StatusSkipped)
	}
	stop() // no more log lines after this

	var where = map[string]string{}
	runs := listRuns(t, st, store.RemediationFilter{})
	b, _ := json.Marshal(runs)
	where["remediation runs"] = string(b)
	evs, err := st.ListEvents(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(evs)
	where["timeline"] = string(b)
	where["logs"] = logs.String()
	var m bytes.Buffer
	if _, err := testutil.GatherAndCount(reg); err != nil {
		t.Fatal(err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		m.WriteString(mf.String())
	}
	where["metrics"] = m.String()
	for place, text := range where {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret %q found in %s:\n%s", s, place, text)
			}
		}
	}
	// The echoes did happen, and were redacted: the test is not vacuous.
	redacted := 0
	for _, r := range runs {
		redacted += strings.Count(r.Output, "<redacted>")
	}
	if api.count() == 0 || redacted < 6 {
		t.Fatalf("nothing was redacted; runs: %s", where["remediation runs"])
	}
	var script store.RemediationRun
	for _, r := range runs {
		if r.Action == "script" {
			script = r
		}
	}
	if !strings.Contains(script.Output, "token is <redacted>") || script.Status != StatusFailed {
		t.Errorf("script run %+v", script)
	}
}
