package remediate

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lifecycleAPI is a stand-in for the lifecycle system: it answers with the
// statuses given in turn (the last one repeated) and keeps the requests.
type lifecycleAPI struct {
	mu       sync.Mutex
	statuses []int
	reqs     []*http.Request
	bodies   []string
	echo     bool // answer with the request's URL and headers
}

func (l *lifecycleAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.bodies = append(l.bodies, string(b))
	st := http.StatusOK
	if len(l.statuses) > 0 {
		st = l.statuses[0]
		if len(l.statuses) > 1 {
			l.statuses = l.statuses[1:]
		}
	}
	l.mu.Unlock()
	w.WriteHeader(st)
	if l.echo {
		fmt.Fprintf(w, "url=%s\nheaders=%v\n", r.URL.String(), r.Header)
		return
	}
	fmt.Fprintf(w, `{"ticket":"RT-%d"}`, len(l.reqs))
}

func (l *lifecycleAPI) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

func httpConfig(action string) string {
	return `
remediations:
  - name: drain
    match: ['alertname="HostDown"']
    action:
      http: ` + action + `
`
}

// TestHTTPAction covers the http action against a live HTTP server: the
// body, the method, headers from a file, templates, retries on 429 and
// 5xx, no retry on 4xx, and an unreachable endpoint.
func TestHTTPAction(t *testing.T) {
	cases := []struct {
		name     string
		statuses []int
		action   func(url, dir string) string
		down     bool
		status   string
		requests int
		reason   string
		check    func(t *testing.T, api *lifecycleAPI)
	}{
		{
			name: "document as JSON body, headers from file",
			action: func(u, dir string) string {
				return fmt.Sprintf("{url: %q, headers_file: %q}", u+"/drain", filepath.Join(dir, "headers"))
			},
			status:   StatusSucceeded,
			requests: 1,
			check: func(t *testing.T, api *lifecycleAPI) {
				r := api.reqs[0]
				if r.Method != "POST" || r.URL.Path != "/drain" || r.Header.Get("Content-Type") != "application/json" ||
					r.Header.Get("Authorization") != "Bearer lifecycle-token-0042" {
					t.Errorf("request %s %s headers %v", r.Method, r.URL, r.Header)
				}
				var doc Document
				if err := json.Unmarshal([]byte(api.bodies[0]), &doc); err != nil {
					t.Fatalf("body: %v", err)
				}
				if doc.Server.Hostname != "srv-r12-01" || doc.Incident.ID != "inc-1" || doc.Run.Action != "http" {
					t.Errorf("document %+v", doc)
				}
			},
		},
		{
			name: "body_template and method",
			action: func(u, dir string) string {
				return fmt.Sprintf(`{url: %q, method: put, body_template: '{"host":"{{ .Server.Hostname }}","rack":"{{ .Server.Rack }}","incident":"{{ .Incident.ID }}"}'}`, u)
			},
			status:   StatusSucceeded,
			requests: 1,
			check: func(t *testing.T, api *lifecycleAPI) {
				if api.reqs[0].Method != "PUT" || api.bodies[0] != `{"host":"srv-r12-01","rack":"R12","incident":"inc-1"}` {
					t.Errorf("%s %q", api.reqs[0].Method, api.bodies[0])
				}
			},
		},
		{
			name:     "5xx and 429 retried",
			statuses: []int{503, 429, 200},
			action:   func(u, dir string) string { return fmt.Sprintf("{url: %q}", u) },
			status:   StatusSucceeded,
			requests: 3,
		},
		{
			name:     "5xx until the attempts run out",
			statuses: []int{502},
			action:   func(u, dir string) string { return fmt.Sprintf("{url: %q}", u) },
			status:   StatusFailed,
			requests: httpAttempts,
			reason:   "failed: attempt 4: POST to the configured url: HTTP 502",
		},
		{
			name:     "400 not retried",
			statuses: []int{400},
			action:   func(u, dir string) string { return fmt.Sprintf("{url: %q}", u) },
			status:   StatusFailed,
			requests: 1,
			reason:   "failed: attempt 1: POST to the configured url: HTTP 400 (not retried)",
		},
		{
			name:     "url_file read at run time",
			action:   func(u, dir string) string { return fmt.Sprintf("{url_file: %q}", filepath.Join(dir, "url")) },
			status:   StatusSucceeded,
			requests: 1,
			check: func(t *testing.T, api *lifecycleAPI) {
				if api.reqs[0].URL.Path != "/from-file" {
					t.Errorf("path %q", api.reqs[0].URL.Path)
				}
			},
		},
		{
			name:   "unreachable endpoint",
			down:   true,
			action: func(u, dir string) string { return fmt.Sprintf("{url: %q}", u) },
			status: StatusFailed,
			reason: "failed: attempt 4: POST to the configured url: dial tcp",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := &lifecycleAPI{statuses: tc.statuses}
			srv := httptest.NewServer(api)
			defer srv.Close()
			if tc.down {
				srv.Close()
			}
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "headers"), "# lifecycle API\nAuthorization: Bearer lifecycle-token-0042\n")
			writeFile(t, filepath.Join(dir, "url"), srv.URL+"/from-file\n")
			st, clk := openStore(t), newClock()
			e := newEngine(t, st, clk, httpConfig(tc.action(srv.URL, dir)))
			e.backoff = time.Millisecond
			run := runOne(t, st, e, clk)
			if run.Status != tc.status || !strings.HasPrefix(run.Reason, tc.reason) {
				t.Fatalf("run status %q reason %q output %q, want %q %q", run.Status, run.Reason, run.Output, tc.status, tc.reason)
			}
			if strings.Contains(run.Reason, srv.URL) {
				t.Errorf("reason quotes the URL: %q", run.Reason)
			}
			if got := api.count(); got != tc.requests {
				t.Errorf("%d requests, want %d", got, tc.requests)
			}
			if tc.check != nil && api.count() > 0 {
				tc.check(t, api)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHTTPHeadersFileErrors: a bad headers file fails the run naming the
// file and line, never the values.
func TestHTTPHeadersFileErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "headers"), "Authorization: Bearer ok-token-1234\nthis line has no colon secret-9876\n")
	st, clk := openStore(t), newClock()
	e := newEngine(t, st, clk, httpConfig(fmt.Sprintf("{url: %q, headers_file: %q}", "http://127.0.0.1:1/", filepath.Join(dir, "headers"))))
	run := runOne(t, st, e, clk)
	want := fmt.Sprintf("failed: headers_file %q: line 2: want `Name: value`", filepath.Join(dir, "headers"))
	if run.Status != StatusFailed || run.Reason != want {
		t.Fatalf("run %q %q, want %q", run.Status, run.Reason, want)
	}
}
