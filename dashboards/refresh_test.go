package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// promClient runs Prometheus API requests the way Grafana's Prometheus
// datasource sends them (POST, form-encoded).
type promClient struct {
	base string
	hc   *http.Client
}

type apiResult struct {
	Status    string `json:"status"`
	Error     string `json:"error"`
	ErrorType string `json:"errorType"`
	Data      struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	} `json:"data"`
}

func (c promClient) post(ctx context.Context, path string, form url.Values) (*apiResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r apiResult
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s: HTTP %d: %.200s", path, resp.StatusCode, body)
	}
	if r.Status != "success" {
		return &r, fmt.Errorf("%s: %s: %s", path, r.ErrorType, r.Error)
	}
	return &r, nil
}

// labelValues answers a label_values variable query as Grafana does:
// /api/v1/label/<name>/values with match[] = the selector.
func (c promClient) labelValues(ctx context.Context, q LabelValuesQuery, start, end time.Time) ([]string, error) {
	form := url.Values{"start": {unix(start)}, "end": {unix(end)}}
	if q.Selector != "" {
		form.Set("match[]", q.Selector)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/label/"+q.Label+"/values?"+form.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string   `json:"status"`
		Error  string   `json:"error"`
		Data   []string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("label %s values: HTTP %d: %w", q.Label, resp.StatusCode, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("label %s values: %s", q.Label, r.Error)
	}
	return r.Data, nil
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }

// queryOutcome is one panel query as Grafana ran it.
type queryOutcome struct {
	Panel, RefID, Expr string
	Series             int
	Err                error
	Took               time.Duration
}

// Selection says how variables are set: every multi-value variable to
// "All" (its allValue), or each to the first value its query returns.
type Selection int

const (
	SelectAll Selection = iota
	SelectFirst
)

// resolveVars sets every variable of m as Grafana would on load, querying
// the label values in order so later variables see earlier selections.
func resolveVars(ctx context.Context, c promClient, m *Model, sel Selection, iv Interval, now time.Time) (map[string][]string, error) {
	vals := map[string][]string{}
	for _, v := range m.Templating.List {
		if v.Type == "datasource" {
			vals[v.Name] = []string{"fleetwatch"}
			continue
		}
		q, err := ParseVarQuery(v.VarQuery())
		if err != nil {
			return nil, fmt.Errorf("variable %q: %w", v.Name, err)
		}
		if q.Selector != "" {
			if q.Selector, err = Expand(q.Selector, vals, iv); err != nil {
				return nil, fmt.Errorf("variable %q: %w", v.Name, err)
			}
		}
		got, err := c.labelValues(ctx, q, now.Add(-iv.Range), now)
		if err != nil {
			return nil, fmt.Errorf("variable %q: %w", v.Name, err)
		}
		if len(got) == 0 {
			return nil, fmt.Errorf("variable %q: %s has no values", v.Name, v.VarQuery())
		}
		sort.Strings(got)
		switch {
		case sel == SelectAll && v.IncludeAll:
			vals[v.Name] = []string{v.AllValue}
		default:
			vals[v.Name] = got[:1]
		}
	}
	return vals, nil
}

// refresh runs every Prometheus query of every panel of m, concurrently as
// a browser does (Grafana runs panel queries in parallel), and returns the
// outcomes in panel order. Plugin panels are returned in skipped.
func refresh(ctx context.Context, c promClient, m *Model, vals map[string][]string, iv Interval, now time.Time) (out []queryOutcome, skipped []string) {
	type job struct {
		i         int
		panel     string
		ref, expr string
		instant   bool
	}
	var jobs []job
	for _, p := range m.Panels {
		if p.Datasource.Type != PrometheusType {
			skipped = append(skipped, p.Title)
			continue
		}
		for _, tg := range p.Targets {
			jobs = append(jobs, job{i: len(jobs), panel: p.Title, ref: tg.RefID, expr: tg.Expr, instant: tg.Instant})
		}
	}
	out = make([]queryOutcome, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6) // a browser's connections per host
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			o := queryOutcome{Panel: j.panel, RefID: j.ref}
			expr, err := Expand(j.expr, vals, iv)
			o.Expr = expr
			if err != nil {
				o.Err = err
				out[j.i] = o
				return
			}
			form := url.Values{"query": {expr}}
			path := "/api/v1/query_range"
			if j.instant {
				path = "/api/v1/query"
				form.Set("time", unix(now))
			} else {
				start := now.Add(-iv.Range).Truncate(iv.Step())
				form.Set("start", unix(start))
				form.Set("end", unix(now))
				form.Set("step", strconv.FormatFloat(iv.Step().Seconds(), 'f', -1, 64))
			}
			t0 := time.Now()
			r, err := c.post(ctx, path, form)
			o.Took = time.Since(t0)
			o.Err = err
			if r != nil {
				o.Series = len(r.Data.Result)
			}
			out[j.i] = o
		}()
	}
	wg.Wait()
	return out, skipped
}

// fleetwatchBinary builds fleetwatch from this module (or uses
// $FLEETWATCH_BIN, a binary built beforehand).
func fleetwatchBinary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("FLEETWATCH_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "fleetwatch")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/fleetwatch")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/fleetwatch: %v\n%s", err, out)
	}
	return bin
}

type liveFleetwatch struct {
	Base, Control string
	Client        promClient
}

// startFleetwatch runs `fleetwatch serve` with testdata/fleetwatch.yml (the
// simulated datacenter) on free loopback ports, extra appended to its jobs,
// and returns once /-/ready answers.
func startFleetwatch(t testing.TB, extraJobs string) liveFleetwatch {
	t.Helper()
	bin := fleetwatchBinary(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bmc-password"), []byte("simulated-bmc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testdata, _ := filepath.Abs("testdata")
	repo, _ := filepath.Abs("..")
	tmpl := template.Must(template.ParseFiles("testdata/fleetwatch.yml"))
	params := map[string]string{
		"Listen":   "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t)),
		"Control":  "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t)),
		"Traps":    "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t)),
		"Dir":      dir,
		"Testdata": testdata,
		"Repo":     repo,
		"Extra":    extraJobs,
	}
	var cfg bytes.Buffer
	if err := tmpl.Execute(&cfg, params); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "fleetwatch.yml")
	if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	testpeer.Start(t, bin, "serve", "--config.file="+cfgPath, "--log.level=warn")
	base := "http://" + params["Listen"]
	testpeer.WaitHTTP(t, base+"/-/ready", 60*time.Second)
	return liveFleetwatch{
		Base: base, Control: "http://" + params["Control"],
		Client: promClient{base: base, hc: &http.Client{Timeout: 60 * time.Second}},
	}
}

// dashboardFiles returns the decoded dashboards Grafana loads, by file name.
func dashboardFiles(t testing.TB) map[string]*Model {
	t.Helper()
	out := map[string]*Model{}
	for path, raw := range loadFiles(t) {
		m, err := Decode(raw)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[filepath.Base(path)] = m
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
