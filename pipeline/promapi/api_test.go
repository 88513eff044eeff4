package promapi

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	nowUnix   = "1704067800" // testNow
	startUnix = "1704067200" // testBase
)

func TestGolden(t *testing.T) {
	db := openDB(t)
	fillTestDB(t, db)
	api := newTestAPI(t, db, EngineOptions{})

	cases := []struct {
		name   string
		method string
		path   string
		form   []string
		code   int
	}{
		{"query_up", "GET", "/api/v1/query", []string{"query", "up", "time", nowUnix}, 200},
		{"query_up_post", "POST", "/api/v1/query", []string{"query", "up", "time", nowUnix}, 200},
		{"query_default_time", "GET", "/api/v1/query", []string{"query", "sum(up)"}, 200},
		{"query_rate", "GET", "/api/v1/query", []string{"query", "rate(node_cpu_seconds_total[1m])", "time", nowUnix}, 200},
		{"query_scalar", "GET", "/api/v1/query", []string{"query", "1+1", "time", "4"}, 200},
		{"query_string", "GET", "/api/v1/query", []string{"query", `"fleet"`, "time", nowUnix}, 200},
		{"query_rfc3339", "GET", "/api/v1/query", []string{"query", "node_load1", "time", "2024-01-01T00:09:00Z"}, 200},
		{"query_limit", "GET", "/api/v1/query", []string{"query", "up", "time", nowUnix, "limit", "1"}, 200},
		{"query_empty", "GET", "/api/v1/query", []string{"query", "does_not_exist", "time", nowUnix}, 200},
		{"query_bad_syntax", "GET", "/api/v1/query", []string{"query", "rate(up[5m]", "time", nowUnix}, 400},
		{"query_bad_time", "GET", "/api/v1/query", []string{"query", "up", "time", "yesterday"}, 400},
		{"query_bad_limit", "GET", "/api/v1/query", []string{"query", "up", "limit", "-1"}, 400},
		{"query_exec_error", "GET", "/api/v1/query", []string{"query", `label_replace(up, "instance", "x", "instance", ".*")`, "time", nowUnix}, 422},
		{"query_range", "GET", "/api/v1/query_range", []string{"query", "node_load1", "start", "1704067500", "end", nowUnix, "step", "60"}, 200},
		{"query_range_post_duration_step", "POST", "/api/v1/query_range", []string{"query", "rate(node_cpu_seconds_total[1m])", "start", "2024-01-01T00:08:00Z", "end", nowUnix, "step", "1m"}, 200},
		{"query_range_too_many_points", "GET", "/api/v1/query_range", []string{"query", "up", "start", "0", "end", nowUnix, "step", "1"}, 400},
		{"query_range_end_before_start", "GET", "/api/v1/query_range", []string{"query", "up", "start", nowUnix, "end", startUnix, "step", "15"}, 400},
		{"query_range_zero_step", "GET", "/api/v1/query_range", []string{"query", "up", "start", startUnix, "end", nowUnix, "step", "0"}, 400},
		{"query_range_missing_start", "GET", "/api/v1/query_range", []string{"query", "up", "end", nowUnix, "step", "15"}, 400},
		{"query_range_matrix_expr", "GET", "/api/v1/query_range", []string{"query", "up[5m]", "start", startUnix, "end", nowUnix, "step", "60"}, 400},
		{"series", "GET", "/api/v1/series", []string{"match[]", "up"}, 200},
		{"series_two_matchers_post", "POST", "/api/v1/series", []string{"match[]", "up", "match[]", `node_cpu_seconds_total{mode="idle"}`}, 200},
		{"series_limit", "GET", "/api/v1/series", []string{"match[]", `{job="node"}`, "limit", "2"}, 200},
		{"series_no_match", "GET", "/api/v1/series", nil, 400},
		{"series_empty_matcher", "GET", "/api/v1/series", []string{"match[]", `{job=~".*"}`}, 400},
		{"series_bad_selector", "GET", "/api/v1/series", []string{"match[]", `up{`}, 400},
		{"labels", "GET", "/api/v1/labels", nil, 200},
		{"labels_match_post", "POST", "/api/v1/labels", []string{"match[]", "node_cpu_seconds_total", "start", startUnix, "end", nowUnix}, 200},
		{"labels_limit", "GET", "/api/v1/labels", []string{"limit", "2"}, 200},
		{"label_values_name", "GET", "/api/v1/label/__name__/values", nil, 200},
		{"label_values_match", "GET", "/api/v1/label/instance/values", []string{"match[]", "up"}, 200},
		{"label_values_unknown", "GET", "/api/v1/label/nope/values", nil, 200},
		{"label_values_bad_start", "GET", "/api/v1/label/job/values", []string{"start", "soon"}, 400},
		{"metadata", "GET", "/api/v1/metadata", nil, 200},
		{"metadata_metric", "GET", "/api/v1/metadata", []string{"metric", "up"}, 200},
		{"metadata_bad_limit", "GET", "/api/v1/metadata", []string{"limit", "x"}, 400},
		{"targets", "GET", "/api/v1/targets", nil, 200},
		{"buildinfo", "GET", "/api/v1/status/buildinfo", nil, 200},
		{"format_query", "GET", "/api/v1/format_query", []string{"query", "sum(rate(node_cpu_seconds_total{mode!='idle'}[5m]))by(instance)"}, 200},
		{"format_query_bad", "GET", "/api/v1/format_query", []string{"query", "sum("}, 400},
		{"query_exemplars", "GET", "/api/v1/query_exemplars", []string{"query", "test", "start", startUnix, "end", nowUnix}, 200},
		{"rules", "GET", "/api/v1/rules", nil, 200},
		{"alerts", "GET", "/api/v1/alerts", nil, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, api.srv.URL, tc.method, tc.path, form(tc.form...))
			if code != tc.code {
				t.Errorf("HTTP %d, want %d: %s", code, tc.code, body)
			}
			checkGolden(t, tc.name, body)
		})
	}
}

// apiResp is Prometheus' envelope as a client decodes it.
type apiResp struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

type vectorData struct {
	ResultType string `json:"resultType"`
	Result     []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	} `json:"result"`
}

func decode(t *testing.T, body []byte) apiResp {
	t.Helper()
	var r apiResp
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return r
}

// TestQueryValues checks the numbers a user reads off the API against the
// data the test wrote.
func TestQueryValues(t *testing.T) {
	db := openDB(t)
	fillTestDB(t, db)
	api := newTestAPI(t, db, EngineOptions{})

	tests := []struct {
		query string
		want  map[string]float64 // by the "mode" or "instance" label
		key   string
	}{
		{"up", map[string]float64{"a:9100": 1, "b:9100": 0}, "instance"},
		// Counters grow by 10 and 2 every 15 s.
		{"rate(node_cpu_seconds_total[1m])", map[string]float64{"idle": 10.0 / 15, "user": 2.0 / 15}, "mode"},
		{"increase(node_cpu_seconds_total[2m])", map[string]float64{"idle": 80, "user": 16}, "mode"},
		// Sample 40 is the last: 40 % 4 = 0.
		{"node_load1", map[string]float64{"a:9100": 0}, "instance"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			code, body := do(t, api.srv.URL, "GET", "/api/v1/query", form("query", tc.query, "time", nowUnix))
			if code != 200 {
				t.Fatalf("HTTP %d: %s", code, body)
			}
			var d vectorData
			if err := json.Unmarshal(decode(t, body).Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.ResultType != "vector" || len(d.Result) != len(tc.want) {
				t.Fatalf("got %s with %d series, want vector with %d: %s", d.ResultType, len(d.Result), len(tc.want), body)
			}
			for _, s := range d.Result {
				if ts := s.Value[0].(float64); ts != float64(testNow.Unix()) {
					t.Errorf("timestamp %v, want %d", ts, testNow.Unix())
				}
				got, err := strconv.ParseFloat(s.Value[1].(string), 64)
				if err != nil {
					t.Fatal(err)
				}
				want, ok := tc.want[s.Metric[tc.key]]
				if !ok {
					t.Fatalf("unexpected series %v", s.Metric)
				}
				if math.Abs(got-want) > 1e-9 {
					t.Errorf("%v = %v, want %v", s.Metric, got, want)
				}
			}
		})
	}
}

// TestRangePoints checks a range query has one point per step.
func TestRangePoints(t *testing.T) {
	db := openDB(t)
	fillTestDB(t, db)
	api := newTestAPI(t, db, EngineOptions{})
	code, body := do(t, api.srv.URL, "POST", "/api/v1/query_range", form("query", "node_load1", "start", startUnix, "end", nowUnix, "step", "15s"))
	if code != 200 {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	var d struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	if err := json.Unmarshal(decode(t, body).Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.ResultType != "matrix" || len(d.Result) != 1 || len(d.Result[0].Values) != 41 {
		t.Fatalf("want one matrix series of 41 points, got %s", body)
	}
	for i, p := range d.Result[0].Values {
		if want := strconv.Itoa(i % 4); p[1] != want {
			t.Errorf("point %d = %v, want %s", i, p[1], want)
		}
	}
}

// TestLimits checks that the engine's limits come back as Prometheus'
// error JSON and status codes.
func TestLimits(t *testing.T) {
	db := openDB(t)
	fillTestDB(t, db)
	tests := []struct {
		name      string
		eo        EngineOptions
		query     string
		code      int
		errorType string
		errorText string
	}{
		{"max samples", EngineOptions{MaxSamples: 10}, "node_load1[10m]", http.StatusUnprocessableEntity, "execution", "too many samples"},
		{"timeout", EngineOptions{Timeout: time.Nanosecond}, "up", http.StatusServiceUnavailable, "timeout", "query timed out"},
		{"within limits", EngineOptions{MaxSamples: 1000, Timeout: time.Minute}, "node_load1[10m]", http.StatusOK, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newTestAPI(t, db, tc.eo)
			code, body := do(t, api.srv.URL, "GET", "/api/v1/query", form("query", tc.query, "time", nowUnix))
			if code != tc.code {
				t.Fatalf("HTTP %d, want %d: %s", code, tc.code, body)
			}
			r := decode(t, body)
			if r.ErrorType != tc.errorType || !strings.Contains(r.Error, tc.errorText) {
				t.Errorf("errorType %q error %q, want %q containing %q", r.ErrorType, r.Error, tc.errorType, tc.errorText)
			}
			if tc.code != 200 && r.Status != "error" {
				t.Errorf("status %q, want error", r.Status)
			}
		})
	}
}

// TestSelfMetrics checks the request counter and the engine's metrics
// under fleetwatch's names.
func TestSelfMetrics(t *testing.T) {
	db := openDB(t)
	fillTestDB(t, db)
	api := newTestAPI(t, db, EngineOptions{MaxConcurrent: 3})
	do(t, api.srv.URL, "GET", "/api/v1/query", form("query", "up", "time", nowUnix))
	do(t, api.srv.URL, "GET", "/api/v1/query", form("query", "up(", "time", nowUnix))
	do(t, api.srv.URL, "GET", "/api/v1/labels", nil)

	want := `
# HELP fleetwatch_api_requests_total Prometheus-compatible API requests served, by handler and HTTP status code.
# TYPE fleetwatch_api_requests_total counter
fleetwatch_api_requests_total{code="200",handler="/api/v1/labels"} 1
fleetwatch_api_requests_total{code="200",handler="/api/v1/query"} 1
fleetwatch_api_requests_total{code="400",handler="/api/v1/query"} 1
# HELP fleetwatch_promql_queries_concurrent_max The max number of concurrent queries.
# TYPE fleetwatch_promql_queries_concurrent_max gauge
fleetwatch_promql_queries_concurrent_max 3
`
	if err := testutil.GatherAndCompare(api.reg, strings.NewReader(want),
		"fleetwatch_api_requests_total", "fleetwatch_promql_queries_concurrent_max"); err != nil {
		t.Error(err)
	}
	n, err := testutil.GatherAndCount(api.reg, "fleetwatch_api_request_duration_seconds", "fleetwatch_promql_query_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("no request duration or engine duration series")
	}
	mfs, err := api.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "fleetwatch_") || mf.GetHelp() == "" {
			t.Errorf("metric %q (help %q) is not a documented fleetwatch_ metric", mf.GetName(), mf.GetHelp())
		}
	}
}
