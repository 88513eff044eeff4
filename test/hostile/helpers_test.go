package hostile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/test/fwproc"
)

// The API tokens of every server these tests start (tokens_file is set, so
// every API needs one).
const (
	writeToken = "hostile-write-token-4f8a2c9e71"
	readToken  = "hostile-read-token-7b3d1e5f02"
)

const tokensFile = `tokens:
  - name: tester
    scope: write
    token: "` + writeToken + `"
  - name: viewer
    scope: read
    token: "` + readToken + `"
`

// quietAlerting opens an incident as soon as an alert arrives and pages
// nobody, so the store changes only when a test changes it.
const quietAlerting = `route:
  receiver: nobody
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: nobody
`

// startPlain runs fleetwatch with no collectors and no rules: the store
// holds exactly what the test posts.
func startPlain(t testing.TB) (*fwproc.Server, *client) {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "tokens.yml", tokensFile)
	write(t, dir, "alerting.yml", quietAlerting)
	srv := fwproc.Start(t, fwproc.Build(t), fwproc.Options{Dir: dir, Config: `
storage: {path: data}
alerting:
  config_file: alerting.yml
  tokens_file: tokens.yml
jobs: []
`})
	return srv, &client{base: srv.Base, token: writeToken, hc: &http.Client{Timeout: 60 * time.Second}}
}

func write(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// client talks to one fleetwatch with one bearer token.
type client struct {
	base, token string
	hc          *http.Client
}

// do sends a request and returns the status and the body. A transport
// error is returned as status 0 with the error text as body.
func (c *client) do(method, path, contentType string, body io.Reader) (int, []byte) {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, b
}

func (c *client) get(t *testing.T, path string) []byte {
	t.Helper()
	code, b := c.do(http.MethodGet, path, "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, clip(b))
	}
	return b
}

func (c *client) postJSON(t *testing.T, path, body string) (int, []byte) {
	t.Helper()
	return c.do(http.MethodPost, path, "application/json", strings.NewReader(body))
}

// getJSON decodes a GET answer into v.
func (c *client) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(c.get(t, path), v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

type incident struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	Title       string `json:"title"`
	AlertCount  int    `json:"alertCount"`
	FiringCount int    `json:"firingCount"`
	Version     int    `json:"version"`
}

func (c *client) incidents(t *testing.T) []incident {
	t.Helper()
	var l struct {
		Incidents []incident `json:"incidents"`
	}
	c.getJSON(t, "/api/v1/incidents?limit=10000", &l)
	return l.Incidents
}

// waitIncident waits until an incident titled title exists and returns it.
func (c *client) waitIncident(t *testing.T, title string) incident {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, inc := range c.incidents(t) {
			if inc.Title == title {
				return inc
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no incident %q after 30 s", title)
	return incident{}
}

// snapshot describes everything a client can read of the stored state:
// alerts, silences, incidents (state, counts, version) and the timeline.
// Two equal snapshots mean nothing was stored in between.
func (c *client) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	var alerts []struct {
		Fingerprint string            `json:"fingerprint"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	}
	c.getJSON(t, "/api/v2/alerts", &alerts)
	var fps []string
	for _, a := range alerts {
		fps = append(fps, fmt.Sprintf("%s %v %v", a.Fingerprint, a.Labels, a.Annotations))
	}
	slices.Sort(fps)
	fmt.Fprintf(&b, "alerts: %q\n", fps)
	var silences []struct {
		ID      string `json:"id"`
		Comment string `json:"comment"`
	}
	c.getJSON(t, "/api/v2/silences", &silences)
	var sids []string
	for _, s := range silences {
		sids = append(sids, s.ID+" "+s.Comment)
	}
	slices.Sort(sids)
	fmt.Fprintf(&b, "silences: %q\n", sids)
	for _, inc := range c.incidents(t) {
		fmt.Fprintf(&b, "incident: %+v\n", inc)
		var d struct {
			Timeline []struct {
				Kind    string `json:"kind"`
				Summary string `json:"summary"`
			} `json:"timeline"`
		}
		c.getJSON(t, "/api/v1/incidents/"+inc.ID, &d)
		for _, e := range d.Timeline {
			fmt.Fprintf(&b, "  %s %s\n", e.Kind, e.Summary)
		}
	}
	var tl struct {
		Entries []struct {
			Kind    string `json:"kind"`
			Summary string `json:"summary"`
		} `json:"entries"`
	}
	c.getJSON(t, "/api/v1/timeline?from=-24h&to=now", &tl)
	for _, e := range tl.Entries {
		fmt.Fprintf(&b, "timeline: %s %s\n", e.Kind, e.Summary)
	}
	return b.String()
}

// diffLines returns the lines of b that are not in a.
func diffLines(a, b string) []string {
	seen := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		seen[l]++
	}
	var out []string
	for _, l := range strings.Split(b, "\n") {
		if seen[l] > 0 {
			seen[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}

// clipLines joins lines, each shortened to 200 bytes.
func clipLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		if len(l) > 200 {
			l = fmt.Sprintf("%s… (%d bytes)", l[:200], len(l))
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

// clip shortens a body for a failure message.
func clip(b []byte) string {
	const n = 300
	if len(b) > n {
		return fmt.Sprintf("%s… (%d bytes)", b[:n], len(b))
	}
	return string(b)
}

// nested returns depth opening brackets around inner and the closing ones.
func nested(open, close, inner string, depth int) string {
	return strings.Repeat(open, depth) + inner + strings.Repeat(close, depth)
}

// padded is a JSON text of at least size bytes: body preceded by white
// space, which JSON allows, so the body stays valid at any size.
func padded(body string, size int) *bytes.Reader {
	n := max(size-len(body), 0)
	b := make([]byte, 0, n+len(body))
	b = append(b, bytes.Repeat([]byte{' '}, n)...)
	b = append(b, body...)
	return bytes.NewReader(b)
}

// zeros is a reader of n 'a' bytes that allocates nothing in the test.
type zeros struct{ left int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), z.left)
	for i := range p[:n] {
		p[i] = 'a'
	}
	z.left -= n
	return int(n), nil
}
