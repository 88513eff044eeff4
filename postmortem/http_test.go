package postmortem

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHandler(t *testing.T) {
	src := scripted(t)
	reg := prometheus.NewRegistry()
	h, err := NewHandler(src, HandlerOptions{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	cases := []struct {
		name        string
		path        string
		code        int
		contentType string
		contains    []string
	}{
		{"postmortem html by default", "/api/v1/incidents/" + incID + "/postmortem", 200, "text/html", []string{"<h2 id=\"timeline\">", "<svg"}},
		{"postmortem md", "/api/v1/incidents/" + incID + "/postmortem?format=md", 200, "text/markdown", []string{"## Root-cause candidates"}},
		{"postmortem json", "/api/v1/incidents/" + incID + "/postmortem?format=json", 200, "application/json", []string{`"timeToDetect"`}},
		{"raw timeline", "/api/v1/incidents/" + incID + "/timeline?raw=1", 200, "application/json", []string{`"rawEntries": 47`}},
		{"unknown incident is 404 with a message", "/api/v1/incidents/inc-nope/postmortem", 404, "application/json",
			[]string{`"errorType": "not_found"`, `incident \"inc-nope\": not found`}},
		{"unknown incident timeline is 404", "/api/v1/incidents/inc-nope/timeline", 404, "application/json", []string{`not found`}},
		{"bad format is 400", "/api/v1/incidents/" + incID + "/postmortem?format=pdf", 400, "application/json", []string{`format \"pdf\": want md, html or json`}},
		{"bad raw is 400", "/api/v1/incidents/" + incID + "/timeline?raw=maybe", 400, "application/json", []string{`raw \"maybe\"`}},
		{"range timeline", "/api/v1/timeline?from=2021-07-30T17:00:00Z&to=2021-07-30T18:00:00Z&selector=" + `{rack="r12"}`, 200, "application/json", []string{`"entries"`, "sw-r12"}},
		{"range timeline md", "/api/v1/timeline?from=2021-07-30T17:00:00Z&to=2021-07-30T18:00:00Z&format=md", 200, "text/markdown", []string{"## Timeline"}},
		{"range without from is 400", "/api/v1/timeline?to=now", 400, "application/json", []string{"from"}},
		{"bad selector is 400", "/api/v1/timeline?from=-1h&selector=" + `{rack=}`, 400, "application/json", []string{"selector"}},
		{"fleet report", "/api/v1/reports/fleet?from=2021-07-30T00:00:00Z&to=2021-07-31T00:00:00Z", 200, "application/json", []string{`"noisiestAlerts"`, "NodeNetworkFlapping"}},
		{"fleet report html", "/api/v1/reports/fleet?from=2021-07-30T00:00:00Z&to=2021-07-31T00:00:00Z&format=html&shift=8h&shift_start=06:00", 200, "text/html", []string{"Pages per on-call shift (8h)"}},
		{"fleet bad shift start is 400", "/api/v1/reports/fleet?from=-1d&shift_start=25:00", 400, "application/json", []string{"shift start"}},
		{"fleet bad top is 400", "/api/v1/reports/fleet?top=-3", 400, "application/json", []string{"top"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + c.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.code, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.contentType) {
				t.Errorf("Content-Type %q, want %q", ct, c.contentType)
			}
			for _, s := range c.contains {
				if !strings.Contains(string(body), s) {
					t.Errorf("body lacks %q:\n%s", s, clip(body, 600))
				}
			}
			if strings.HasPrefix(c.contentType, "application/json") && !json.Valid(body) {
				t.Errorf("body is not JSON: %s", clip(body, 300))
			}
		})
	}
	if n := testutil.ToFloat64(h.requests.WithLabelValues("postmortem", "404")); n != 1 {
		t.Errorf("fleetwatch_postmortem_requests_total{handler=postmortem,code=404} = %v, want 1", n)
	}
	if n, err := testutil.GatherAndCount(reg, "fleetwatch_postmortem_build_duration_seconds"); err != nil || n == 0 {
		t.Errorf("build duration histogram: %d series, %v", n, err)
	}
}

func TestCLI(t *testing.T) {
	src := scripted(t)
	open := func() (Sources, error) { return src, nil }
	dir := t.TempDir()
	out := filepath.Join(dir, "pm.html")
	cases := []struct {
		name      string
		args      []string
		code      int
		stdout    string
		stderr    string
		checkFile bool
	}{
		{"incident as markdown", []string{"postmortem", incID}, ExitOK, "## Timeline", "", false},
		{"flags after the incident", []string{"postmortem", incID, "--format", "json"}, ExitOK, `"timeToDetect"`, "", false},
		{"html to a file", []string{"postmortem", "--format=html", "--output", out, incID}, ExitOK, "", "", true},
		{"time range with selector", []string{"postmortem", "--from", "2021-07-30T17:00:00Z", "--to", "2021-07-30T18:00:00Z", "--selector", `{site="dc2"}`}, ExitOK, "Timeline", "", false},
		{"unknown incident", []string{"postmortem", "inc-nope"}, ExitError, "", `incident "inc-nope": not found`, false},
		{"bad format", []string{"postmortem", "--format", "pdf", incID}, ExitUsage, "", `format "pdf"`, false},
		{"no incident", []string{"postmortem"}, ExitUsage, "", "name one incident", false},
		{"bad time", []string{"postmortem", "--from", "yesterday"}, ExitUsage, "", `"yesterday"`, false},
		{"fleet", []string{"report", "fleet", "--from", "2021-07-30T00:00:00Z", "--to", "2021-07-31T00:00:00Z"}, ExitOK, "## Noisiest alerts", "", false},
		{"fleet json", []string{"report", "fleet", "--from", "2021-07-30T00:00:00Z", "--to", "2021-07-31T00:00:00Z", "--format", "json"}, ExitOK, `"flappingRules"`, "", false},
		{"fleet bad tz", []string{"report", "fleet", "--tz", "Mars/Olympus"}, ExitUsage, "", "Mars/Olympus", false},
		{"report without fleet", []string{"report", "weekly"}, ExitUsage, "", "report fleet", false},
		{"unknown command", []string{"pm"}, ExitUsage, "", `unknown command "pm"`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := RunCLI(t.Context(), c.args, &stdout, &stderr, open)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), c.stdout) {
				t.Errorf("stdout lacks %q: %s", c.stdout, clip(stdout.Bytes(), 300))
			}
			if !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("stderr lacks %q: %s", c.stderr, stderr.String())
			}
			if c.checkFile {
				b, err := os.ReadFile(out)
				if err != nil || !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) {
					t.Errorf("output file: %v, %q", err, clip(b, 40))
				}
			}
		})
	}
}

// TestHTMLIsSelfContained: the report loads nothing from anywhere.
func TestHTMLIsSelfContained(t *testing.T) {
	src := scripted(t)
	var buf bytes.Buffer
	if code := RunCLI(t.Context(), []string{"postmortem", "--format", "html", incID}, &buf, io.Discard, func() (Sources, error) { return src, nil }); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, s := range []string{"<script", "src=", "<link", "@import", "url("} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("HTML contains %q", s)
		}
	}
}

func TestHandlerHonoursAuth(t *testing.T) {
	src := Sources{Store: openStore(t)}
	h, err := NewHandler(src, HandlerOptions{Auth: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer good" {
				http.Error(w, "a valid bearer token is required", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		token string
		code  int
	}{{"", 401}, {"Bearer bad", 401}, {"Bearer good", 404}} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/incidents/inc-x/postmortem", nil)
		if c.token != "" {
			req.Header.Set("Authorization", c.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.code {
			t.Errorf("token %q: status %d, want %d", c.token, rec.Code, c.code)
		}
	}
}
